-- The step-text templates (macros/step_text.sql) on the cases they must say right: a
-- named element, a role without a name, a role that says nothing, no element at all,
-- long text clipped, redactions kept, shortcuts with and without a purpose. A row
-- returned is a step said wrong.
with cases as (
    select *
    from (values
        ('click', 'push button', 'New expense', null, null, null, 'Ledgerly',
         'Click ''New expense'''),
        ('double_click', 'list item', '  Q3 report  ', null, null, null, 'Files',
         'Double-click ''Q3 report'''),
        ('click', 'entry', '', null, null, null, 'Orbit CRM', 'Click the text field'),
        ('click', 'filler', '', null, null, null, 'Orbit CRM', 'Click in Orbit CRM'),
        ('right_click', null, null, null, null, null, null, 'Right-click on the screen'),
        ('type', 'entry', 'Merchant', 'Taxi to airport', null, null, 'Ledgerly',
         'Type ''Taxi to airport'' into ''Merchant'''),
        ('type', 'text', '', 'call the bank', null, null, 'mousepad',
         'Type ''call the bank'' into the text field'),
        ('type', null, null, 'mail <redacted:email> now', null, null, 'Postbox',
         'Type ''mail <redacted:email> now'''),
        ('type', null, null, 'a very long note that goes on and on past forty', null, null,
         'x', 'Type ''a very long note that goes on and on pa…'''),
        ('hotkey', null, null, null, 'ctrl+s', null, 'mousepad', 'Press Ctrl+S to save'),
        ('hotkey', null, null, null, 'ctrl+shift+page_down', null, 'x',
         'Press Ctrl+Shift+Page Down'),
        ('hotkey', null, null, null, 'enter', null, 'x', 'Press Enter to confirm'),
        ('scroll', null, null, null, null, -3, 'Helpdesk', 'Scroll down in Helpdesk'),
        ('scroll', null, null, null, null, 2, null, 'Scroll up')
    ) as v(action_type, element_role, element_name, typed_text, keys, scroll_dy, place, expected)  -- noqa: AL05
)

select *, {{ step_text('action_type', 'element_role', 'element_name', 'typed_text', 'keys',
                       'scroll_dy', 'place') }} as got
from cases
where {{ step_text('action_type', 'element_role', 'element_name', 'typed_text', 'keys',
                   'scroll_dy', 'place') }} is distinct from expected
