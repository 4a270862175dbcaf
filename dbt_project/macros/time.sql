{# Time arithmetic on UTC timestamps (timestamptz) done on the instant itself.
   DuckDB hands timestamptz subtraction and the cast to date to ICU's calendar: about
   2.5 us a row for `a - b` and 0.13 us for `cast(a as date)`, which made a night's
   typing gaps alone cost 20 s. epoch_us() is the instant as an integer, so these cost
   next to nothing. tests/time_macros_agree_with_icu.sql holds them to ICU's results. #}

{# seconds from `start` to `end`, as a double (what epoch(end - start) gives) #}
{% macro seconds_between(start, end) -%}
    ((epoch_us({{ end }}) - epoch_us({{ start }})) / 1000000.0)
{%- endmacro %}

{# milliseconds from `start` to `end`, as a double #}
{% macro ms_between(start, end) -%}
    ((epoch_us({{ end }}) - epoch_us({{ start }})) / 1000.0)
{%- endmacro %}

{# the UTC date of a timestamptz (what cast(column as date) gives under TimeZone UTC) #}
{% macro utc_date(column) -%}
    cast(make_timestamp(epoch_us({{ column }})) as date)
{%- endmacro %}

{# the local date `offset_minutes` east of UTC #}
{% macro local_date(column, offset_minutes) -%}
    cast(make_timestamp(epoch_us({{ column }})
                        + 60000000 * cast({{ offset_minutes }} as bigint)) as date)
{%- endmacro %}
