{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='action_date',
        on_schema_change='append_new_columns',
    )
}}
-- One row per action, with the frame before it (never after its start), the frame after
-- it, normalised coordinates and an AgentNet/pyautogui-style action code. A night
-- rebuilds the UTC days it loaded (var days); a backfilled day rebuilds only itself.

with actions as (
    select * from {{ ref('int_actions_coalesced') }}
),

frames as (
    select s.screenshot_id, s.taken_at, b.device_id
    from {{ ref('stg_worktape__screenshots') }} as s
    inner join {{ ref('stg_worktape__bundles') }} as b using (bundle_id)
),

latest_frames as (
    select
        a.*,
        before.screenshot_id as latest_frame_id,
        before.taken_at as latest_frame_at
    from actions as a
    asof left join frames as before
        on a.device_id = before.device_id and a.started_at >= before.taken_at
),

-- the device's last frame is the screen before the action unless it is too old to trust
with_frames as (
    select
        * exclude (latest_frame_id, latest_frame_at),
        case
            when {{ seconds_between('latest_frame_at', 'started_at') }}
                <= {{ var('frame_max_age_s') }}
                then latest_frame_id
        end as frame_before_id
    from latest_frames
),

with_after as (
    select
        w.*,
        after.screenshot_id as frame_after_id
    from with_frames as w
    asof left join frames as after
        on w.device_id = after.device_id and w.ended_at < after.taken_at
),

screens as (
    select distinct on (b.device_id, s.monitor)
        b.device_id, s.monitor, s.screen_left, s.screen_top, s.screen_width, s.screen_height
    from {{ ref('int_screens_unnested') }} as s
    inner join {{ ref('stg_worktape__bundles') }} as b using (bundle_id)
    order by b.device_id, s.monitor, b.started_at desc
),

-- the contributor's local day (their UTC offset when the action happened): sessions and
-- episodes never cross it, and nights rebuild them whole work dates at a time
offsets as (
    select device_id, started_at, utc_offset_minutes
    from {{ ref('stg_worktape__bundles') }}
),

normalised as (
    select
        a.*,
        {{ local_date('a.started_at', 'coalesce(o.utc_offset_minutes, 0)') }} as work_date,
        round((a.x - s.screen_left) / s.screen_width, 4) as x_norm,
        round((a.y - s.screen_top) / s.screen_height, 4) as y_norm,
        round((a.end_x - s.screen_left) / s.screen_width, 4) as end_x_norm,
        round((a.end_y - s.screen_top) / s.screen_height, 4) as end_y_norm
    from with_after as a
    left join screens as s using (device_id, monitor)
    asof left join offsets as o
        on a.device_id = o.device_id and a.started_at >= o.started_at
)

select
    action_id,
    device_id,
    contributor_id,
    {{ utc_date('started_at') }} as action_date,
    work_date,
    action_type,
    started_at,
    ended_at,
    epoch_ms(ended_at) - epoch_ms(started_at) as duration_ms,
    x, y, monitor, x_norm, y_norm, end_x, end_y, end_x_norm, end_y_norm,
    typed_text,
    redacted_chars,
    redacted_chars > 0 as is_redacted,
    keys,
    scroll_dx,
    scroll_dy,
    app,
    window_title,
    {{ site_of('window_title') }} as site,
    frame_before_id,
    frame_after_id,
    case action_type
        when 'click' then format('pyautogui.click(x={}, y={})', x_norm, y_norm)
        when 'double_click' then format('pyautogui.doubleClick(x={}, y={})', x_norm, y_norm)
        when 'right_click' then format('pyautogui.rightClick(x={}, y={})', x_norm, y_norm)
        when 'drag' then format('pyautogui.moveTo(x={}, y={}); pyautogui.dragTo(x={}, y={})',
                                x_norm, y_norm, end_x_norm, end_y_norm)
        when 'scroll' then format('pyautogui.scroll({})', coalesce(scroll_dy, 0))
        when 'type' then format('pyautogui.write({})',
                                '''' || replace(replace(typed_text, '\', '\\'), '''', '\''')
                                || '''')
        when 'hotkey' then case
            when keys like '%+%' then format('pyautogui.hotkey({})',
                 list_aggregate(list_transform(string_split(keys, '+'), k -> '''' || k || ''''),
                                'string_agg', ', '))
            else format('pyautogui.press(''{}'')', keys)
        end
    end as action_code,
    -- last, where a warehouse built before them has them (on_schema_change appends)
    element_role,
    element_name,
    element_x,
    element_y,
    element_width,
    element_height
from normalised
