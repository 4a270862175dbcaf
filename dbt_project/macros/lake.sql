{# Attach a DuckLake raw layer before the models run, when var lake_catalog is set
   (worktape.lake.attach_sql writes the same statements). #}
{% macro attach_lake() -%}
{%- if var('lake_catalog') -%}
    {%- for path in var('lake_extensions') %}LOAD '{{ path }}'; {% endfor -%}
    ATTACH IF NOT EXISTS 'ducklake:postgres:{{ var("lake_catalog") }}' AS lake
        (DATA_PATH '{{ var("lake_data_path") }}')
{%- else -%}
    select 1
{%- endif -%}
{%- endmacro %}
