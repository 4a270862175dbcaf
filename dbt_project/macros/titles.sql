{#- What a window title says beyond the app.

title_shape: the title lowercased with numbers as '#', so that "Ticket #4471" and
"Ticket #4472" are one kind of window.

site_of: for a browser, the site or web app. A browser's title ends with its own name
(" - Google Chrome", " — Mozilla Firefox"); before that, pages put their site last
("New expense · Expensify", "Acme | Account | Salesforce", "Inbox (3) - Gmail"). NULL for
other apps, and for a browser page whose title names no site. -#}

{% macro title_shape(title) -%}
regexp_replace(lower({{ title }}), '[0-9]+', '#', 'g')
{%- endmacro %}

{% macro browser_suffix() -%}
'\s+[-—–]\s+(Google Chrome|Chromium|Mozilla Firefox|Firefox|Microsoft Edge|Brave|Opera|Vivaldi|Safari|Epiphany)$'
{%- endmacro %}

{% macro site_of(title) -%}
case when regexp_matches({{ title }}, {{ browser_suffix() }}) then nullif(trim(
    regexp_extract(
        regexp_replace({{ title }}, {{ browser_suffix() }}, ''),
        '^(?:.*(?: · | \| | - | — | – ))?(.*)$', 1
    )
), '') end
{%- endmacro %}
