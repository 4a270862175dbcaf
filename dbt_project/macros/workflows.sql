{# a workflow seen at least var('workflow_min_instances') times is recurring: the
   workflows mart and contributor_daily count its instances with this one rule #}
{% macro is_recurring(instance_count) -%}
    ({{ instance_count }} >= {{ var('workflow_min_instances') }})
{%- endmacro %}
