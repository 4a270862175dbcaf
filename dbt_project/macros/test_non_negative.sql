{# a generic test: no negative values (kept local: no package downloads at run time) #}
{% test non_negative(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0
{% endtest %}
