-- Raw input coalesced into actions, per device in time order:
--   click / double_click / right_click / drag  from press-release pairs
--   scroll                                     a burst of scroll events
--   type                                       a run of character keys (no ctrl/alt/cmd)
--   hotkey                                     a named key or a combination
-- Each action carries the element its first input event names (format 1.1): the agent
-- names one on a press (the element under the pointer) and on a typed run's first key
-- (the focused element), and none on a release, a later key or a scroll.
with inputs as (
    select
        *,
        case
            when event_kind in ('mouse_down', 'mouse_up') then 'mouse'
            when event_kind = 'scroll' then 'scroll'
            when is_redacted or (length(key) = 1
                 and coalesce(modifiers, '') not similar to '.*(ctrl|alt|cmd).*') then 'char'
            else 'hotkey'
        end as category
    from {{ ref('int_input_events_joined') }}
    -- a modifier pressed on its own is part of the next key's combination
    where not (event_kind = 'key_down' and coalesce(key, '') in ('ctrl', 'alt', 'shift', 'cmd'))
),

ordered as (
    select
        *,
        lag(category) over w as prev_category,
        lag(event_at) over w as prev_at,
        -- the order within a device, as one integer: cheaper to aggregate by than
        -- (event_at, bundle_id, seq)
        row_number() over w as event_no
    from inputs
    where event_kind != 'mouse_up'
    window w as (partition by device_id order by event_at, bundle_id, seq)
),

-- typed runs and scroll bursts: a new group starts when the kind of input changes or
-- the gap is too long
grouped as (
    select
        *,
        sum(case
            when category != coalesce(prev_category, '')
                 or category in ('mouse', 'hotkey')
                 or (category = 'char'
                     and {{ ms_between('prev_at', 'event_at') }} > {{ var('typing_gap_ms') }})
                 or (category = 'scroll'
                     and {{ ms_between('prev_at', 'event_at') }} > {{ var('scroll_gap_ms') }})
            then 1 else 0 end) over w as group_no
    from ordered
    window w as (partition by device_id order by event_at, bundle_id, seq)
),

runs as (
    select
        device_id,
        any_value(contributor_id) as contributor_id,
        category,
        arg_min(event_id, event_no) as action_id,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        arg_min(x, event_no) as x,
        arg_min(y, event_no) as y,
        arg_min(monitor, event_no) as monitor,
        sum(dx) as scroll_dx,
        sum(dy) as scroll_dy,
        regexp_replace(
            -- sorted after aggregating: an ordered aggregate sorts each group apart
            array_to_string(list_transform(
                list_sort(list({'event_no': event_no,
                                'key': case when is_redacted then chr(1) else key end})),
                typed -> typed.key), ''),
            chr(1) || '+', '<redacted>', 'g') as typed_text,
        count(*) filter (where is_redacted) as redacted_chars,
        count(*) as n_events,
        arg_min(key, event_no) as first_key,
        arg_min(modifiers, event_no) as first_modifiers,
        arg_min(app, event_no) as app,
        arg_min(window_title, event_no) as window_title,
        -- the first event's element, whole: arg_min skips a null value, and a later
        -- key's element is not the run's (a struct is never null)
        arg_min({'role': element_role, 'name': element_name, 'x': element_x, 'y': element_y,
                 'width': element_width, 'height': element_height}, event_no) as element
    from grouped
    where category in ('char', 'scroll', 'hotkey')
    group by device_id, group_no, category
),

-- press/release pairs
mouse as (
    select
        *,
        lead(event_kind) over w as next_kind,
        lead(event_at) over w as released_at,
        lead(x) over w as release_x,
        lead(y) over w as release_y
    from inputs
    where category = 'mouse'
    window w as (partition by device_id, button order by event_at, bundle_id, seq)
),

presses as (
    select
        *,
        next_kind = 'mouse_up'
            and abs(release_x - x) + abs(release_y - y) >= {{ var('drag_min_px') }} as is_drag
    from mouse
    where event_kind = 'mouse_down'
),

clicks as (
    select
        *,
        lag(event_at) over w as prev_click_at,
        lag(x) over w as prev_x,
        lag(y) over w as prev_y,
        lead(event_at) over w as next_click_at,
        lead(x) over w as next_x,
        lead(y) over w as next_y,
        lead(released_at) over w as next_released_at
    from presses
    where not is_drag
    window w as (partition by device_id, button order by event_at, bundle_id, seq)
),

pointer_actions as (
    select
        device_id,
        contributor_id,
        event_id as action_id,
        case
            when button = 'right' then 'right_click'
            when {{ ms_between('event_at', 'next_click_at') }} <= {{ var('double_click_ms') }}
                 and abs(next_x - x) + abs(next_y - y) <= {{ var('double_click_px') }}
            then 'double_click'
            else 'click'
        end as action_type,
        event_at as started_at,
        case
            when button != 'right'
                 and {{ ms_between('event_at', 'next_click_at') }} <= {{ var('double_click_ms') }}
                 and abs(next_x - x) + abs(next_y - y) <= {{ var('double_click_px') }}
            then coalesce(next_released_at, next_click_at)
            else coalesce(released_at, event_at)
        end as ended_at,
        x, y, monitor,
        cast(null as integer) as end_x,
        cast(null as integer) as end_y,
        app, window_title,
        -- a double click's is its first press's
        element_role, element_name, element_x, element_y, element_width, element_height
    from clicks
    -- the second click of a double click belongs to the first
    where not (button != 'right'
               and prev_click_at is not null
               and {{ ms_between('prev_click_at', 'event_at') }} <= {{ var('double_click_ms') }}
               and abs(x - prev_x) + abs(y - prev_y) <= {{ var('double_click_px') }})

    union all

    select
        device_id, contributor_id, event_id, 'drag', event_at, released_at,
        x, y, monitor, release_x, release_y, app, window_title,
        element_role, element_name, element_x, element_y, element_width, element_height
    from presses
    where is_drag
)

select
    action_id, device_id, contributor_id, action_type, started_at, ended_at,
    x, y, monitor, end_x, end_y,
    cast(null as varchar) as typed_text, 0 as redacted_chars,
    cast(null as varchar) as keys, cast(null as integer) as scroll_dy,
    cast(null as integer) as scroll_dx, app, window_title,
    element_role, element_name, element_x, element_y, element_width, element_height
from pointer_actions

union all

select
    action_id, device_id, contributor_id,
    case category when 'char' then 'type' else category end,
    started_at, ended_at,
    x, y, monitor, null, null,
    case when category = 'char' then typed_text end,
    case when category = 'char' then redacted_chars else 0 end,
    case when category = 'hotkey'
         then coalesce(first_modifiers || '+', '') || first_key end,
    case when category = 'scroll' then scroll_dy end,
    case when category = 'scroll' then scroll_dx end,
    app, window_title,
    element.role as element_role, element.name as element_name, element.x as element_x,
    element.y as element_y, element.width as element_width, element.height as element_height
from runs
