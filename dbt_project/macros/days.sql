{# `column in (the days this run rebuilds)`, or `true` when var('days') is empty (all days) #}
{% macro in_days(column) -%}
{%- set days = var('days') -%}
{%- if days -%}
    {{ column }} in (
        {%- for d in days %}date '{{ d }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    )
{%- else -%}
    true
{%- endif -%}
{%- endmacro %}

{# the work dates (contributor-local days) that hold an action on the days this run
   rebuilds: sessions, episodes and steps are rebuilt whole work dates at a time #}
{% macro in_work_dates(column) -%}
{%- if var('days') -%}
    {{ column }} in (select distinct work_date from {{ ref('actions') }}
                     where {{ in_days('action_date') }})
{%- else -%}
    true
{%- endif -%}
{%- endmacro %}
