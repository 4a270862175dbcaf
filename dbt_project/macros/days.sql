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

{# the same for a UTC timestamp column, with a range beside the exact test: a cast hides
   the column from DuckDB's min/max pruning, the range lets it skip old row groups #}
{% macro in_days_at(column) -%}
{%- set days = var('days') -%}
{%- if days -%}
    {%- set first = days | min -%}
    {%- set after = modules.datetime.date.fromisoformat(days | max)
                    + modules.datetime.timedelta(days=1) -%}
    ({{ column }} >= timestamptz '{{ first }} 00:00:00+00'
     and {{ column }} < timestamptz '{{ after }} 00:00:00+00'
     and {{ in_days('cast(' ~ column ~ ' as date)') }})
{%- else -%}
    true
{%- endif -%}
{%- endmacro %}

{# the work dates (contributor-local days) that hold an action on the days this run
   rebuilds: sessions, episodes and steps are rebuilt whole work dates at a time #}
{% macro in_work_dates(column, actions=none) -%}
{%- if var('days') -%}
    {{ column }} in (select distinct work_date from {{ actions or ref('actions') }}
                     where {{ in_days('action_date') }})
{%- else -%}
    true
{%- endif -%}
{%- endmacro %}

{# Tests on large tables look only at what this build rebuilt, so a night costs what its
   data costs: a test's `where` config of `__in_days__:<column>` or
   `__in_work_dates__:<column>` becomes the filter above (dbt's own hook for `where`;
   test configs cannot call project macros themselves). A full build tests everything. #}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if where.startswith('__in_days__:') -%}
            {%- set where = in_days(where[12:]) -%}
        {%- elif where.startswith('__in_days_at__:') -%}
            {%- set where = in_days_at(where[15:]) -%}
        {%- elif where.startswith('__in_work_dates__:') -%}
            {#- a test cannot ref() here (dbt would not see the dependency): name it -#}
            {%- set actions = api.Relation.create(
                database=target.database, schema='marts', identifier='actions') -%}
            {%- set where = in_work_dates(where[18:], actions) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
