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

{# the same for a UTC timestamp column, as ranges: one per run of consecutive days. A
   range is exact for UTC days and lets DuckDB skip other days' row groups by min/max,
   where a cast to date would hide the column and cost ICU's calendar on every row #}
{% macro in_days_at(column, days=none) -%}
{%- set days = var('days') if days is none else days -%}
{%- if days -%}
    {%- set one = modules.datetime.timedelta(days=1) -%}
    {%- set listed = days | map('string') | unique | sort | list -%}
    {%- set starts = [] -%}
    {%- set ends = [] -%}
    {%- for d in listed -%}
        {%- set day = modules.datetime.date.fromisoformat(d) -%}
        {%- if (day - one).isoformat() not in listed %}{% do starts.append(d) %}{% endif -%}
        {%- if (day + one).isoformat() not in listed -%}
            {%- do ends.append((day + one).isoformat()) -%}
        {%- endif -%}
    {%- endfor -%}
    ({{ column }} >= timestamptz '{{ starts[0] }} 00:00:00+00'
     and {{ column }} < timestamptz '{{ ends[-1] }} 00:00:00+00'
    {%- if starts | length > 1 %}
     and (
        {%- for i in range(starts | length) %}
        {%- if not loop.first %} or {% endif -%}
        ({{ column }} >= timestamptz '{{ starts[i] }} 00:00:00+00'
         and {{ column }} < timestamptz '{{ ends[i] }} 00:00:00+00')
        {%- endfor -%}
     )
    {%- endif -%})
{%- else -%}
    true
{%- endif -%}
{%- endmacro %}

{# the work dates (contributor-local days) that hold an action on the days this run
   rebuilds: sessions, episodes and steps are rebuilt whole work dates at a time #}
{% macro in_work_dates(column, actions=none) -%}
{%- if var('days') -%}
    {{ column }} in (select distinct work_date from {{ actions or ref('int_actions_framed') }}
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
                database=target.database, schema='intermediate', identifier='int_actions_framed') -%}
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
