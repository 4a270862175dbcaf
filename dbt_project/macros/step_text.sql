{#- A step said in words, from what was recorded: "Click 'New expense'", "Type 'Taxi'
into 'Merchant'", "Press Ctrl+S to save", "Scroll down in Ledgerly". The element acted
on (its accessible name, else a role that says something) names what was clicked or
typed into; without one, the page or app says where. Typed text is quoted as recorded,
redactions included (`<redacted:email>`). Deterministic: templates, no model. -#}

{#- An element's role in everyday words; NULL for roles that say nothing about what
was acted on (a filler, a panel, the window itself). -#}
{% macro role_words(role) -%}
case {{ role }}
    when 'push button' then 'button'
    when 'toggle button' then 'toggle'
    when 'button' then 'button'
    when 'entry' then 'text field'
    when 'text' then 'text field'
    when 'password text' then 'password field'
    when 'spin button' then 'number field'
    when 'combo box' then 'drop-down'
    when 'check box' then 'checkbox'
    when 'radio button' then 'option'
    when 'menu item' then 'menu item'
    when 'check menu item' then 'menu item'
    when 'radio menu item' then 'menu item'
    when 'menu' then 'menu'
    when 'link' then 'link'
    when 'page tab' then 'tab'
    when 'list item' then 'list item'
    when 'table cell' then 'table cell'
    when 'heading' then 'heading'
    when 'image' then 'image'
    when 'slider' then 'slider'
    when 'tree item' then 'tree item'
    when 'document web' then 'page'
    when 'document text' then 'document'
end
{%- endmacro %}

{#- What was acted on, as words: 'Name' (quoted, at most 60 characters), else "the
<role>", else NULL. -#}
{% macro element_words(role, name) -%}
case
    when nullif(trim({{ name }}), '') is not null
        then '''' || {{ clipped('trim(' ~ name ~ ')', 60) }} || ''''
    when {{ role_words(role) }} is not null then 'the ' || {{ role_words(role) }}
end
{%- endmacro %}

{% macro clipped(text, n) -%}
case when length({{ text }}) > {{ n }} then left({{ text }}, {{ n - 1 }}) || '…'
     else {{ text }} end
{%- endmacro %}

{#- "ctrl+shift+s" as "Ctrl+Shift+S", "page_down" as "Page Down". -#}
{% macro key_words(keys) -%}
array_to_string(list_transform(string_split({{ keys }}, '+'),
    k -> case when length(k) = 1 then upper(k)
              else array_to_string(list_transform(string_split(k, '_'),
                  w -> upper(left(w, 1)) || substr(w, 2)), ' ') end), '+')
{%- endmacro %}

{#- What a well-known shortcut does, as " to <verb>", else ''. -#}
{% macro shortcut_purpose(keys) -%}
coalesce(case lower({{ keys }})
    when 'ctrl+s' then ' to save'
    when 'cmd+s' then ' to save'
    when 'ctrl+c' then ' to copy'
    when 'cmd+c' then ' to copy'
    when 'ctrl+v' then ' to paste'
    when 'cmd+v' then ' to paste'
    when 'ctrl+x' then ' to cut'
    when 'ctrl+z' then ' to undo'
    when 'cmd+z' then ' to undo'
    when 'ctrl+y' then ' to redo'
    when 'ctrl+shift+z' then ' to redo'
    when 'ctrl+a' then ' to select all'
    when 'ctrl+f' then ' to find'
    when 'ctrl+p' then ' to print'
    when 'ctrl+t' then ' to open a new tab'
    when 'ctrl+w' then ' to close the tab'
    when 'ctrl+l' then ' to go to the address bar'
    when 'ctrl+tab' then ' to go to the next tab'
    when 'alt+tab' then ' to switch windows'
    when 'enter' then ' to confirm'
end, '')
{%- endmacro %}

{#- A step's text. `place` is where it happened (the site, else the app). -#}
{% macro step_text(action_type, role, name, typed_text, keys, scroll_dy, place) -%}
case {{ action_type }}
    when 'click' then 'Click ' || coalesce({{ element_words(role, name) }}, 'in ' || {{ place }}, 'on the screen')
    when 'double_click' then 'Double-click ' || coalesce({{ element_words(role, name) }}, 'in ' || {{ place }}, 'on the screen')
    when 'right_click' then 'Right-click ' || coalesce({{ element_words(role, name) }}, 'in ' || {{ place }}, 'on the screen')
    when 'drag' then 'Drag ' || coalesce({{ element_words(role, name) }}, 'in ' || {{ place }}, 'on the screen')
    when 'scroll' then 'Scroll ' || case when coalesce({{ scroll_dy }}, 0) > 0 then 'up' else 'down' end
        || coalesce(' in ' || {{ place }}, '')
    when 'type' then 'Type ''' || {{ clipped(typed_text, 40) }} || ''''
        || coalesce(' into ' || {{ element_words(role, name) }}, '')
    when 'hotkey' then 'Press ' || {{ key_words(keys) }} || {{ shortcut_purpose(keys) }}
end
{%- endmacro %}

{#- A list of phrases as English: "a", "a and b", "a, b and c". -#}
{% macro said_as_list(items) -%}
case len({{ items }})
    when 1 then {{ items }}[1]
    else array_to_string({{ items }}[1:len({{ items }}) - 1], ', ')
        || ' and ' || {{ items }}[len({{ items }})]
end
{%- endmacro %}
