-- Each action of the work dates being rebuilt, in order per device and work date, with
-- what the segmentation looks at: the gap before it, a pause in between, the task app
-- and context (a browser's site counts as an app; a dialog counts as the window it came
-- from), the shape of its window title, and the first-pass cuts.
with pauses as (
    select b.device_id, e.event_at as paused_at
    from {{ ref('stg_worktape__events') }} as e
    inner join {{ ref('stg_worktape__bundles') }} as b using (bundle_id)
    where e.event_kind = 'pause'
),

-- a key that switches tabs or windows (Ctrl+2, Ctrl+Tab, Alt+Tab) is pressed in the
-- window it leaves, but it is the first step of what follows: it takes the app and title
-- of the next action, when that comes within a few seconds
switches as (
    select
        action_id, device_id, contributor_id, work_date, action_date, started_at, ended_at,
        action_type, x_norm, y_norm,
        {{ var('switch_keys_lead') }}
            and action_type = 'hotkey'
            and regexp_full_match(
                coalesce(keys, ''),
                '(ctrl\+(shift\+)?([1-9]|tab|page_up|page_down))|(alt\+(shift\+)?tab)|(cmd\+[1-9])'
            )
            and {{ seconds_between('started_at', 'lead(started_at) over w') }} < 10
            as is_switch,
        action_type = 'type' or (action_type = 'hotkey' and coalesce(keys, '') not like '%+%')
            as is_editing,
        app, window_title,
        lead(app) over w as next_app,
        lead(window_title) over w as next_title
    from {{ ref('int_actions_framed') }}
    where {{ in_work_dates('work_date') }}
    window w as (partition by device_id, work_date order by started_at, action_id)
),

switched as (
    select
        * replace (
            case when is_switch then next_app else app end as app,
            case when is_switch then next_title else window_title end as window_title
        )
    from switches
),

actions as (
    select
        action_id, device_id, contributor_id, work_date, action_date, started_at, ended_at,
        action_type, x_norm, y_norm, app, window_title, is_switch, is_editing,
        {{ site_of('window_title') }} as site,
        {{ title_shape('window_title') }} as title_shape,
        lag(ended_at) over w as prev_ended_at,
        lag(app) over w as prev_app,
        lead(app) over w as next_app
    from switched
    window w as (partition by device_id, work_date order by started_at, action_id)
),

-- a dialog is one action in another app that returns to the app it came from (a file
-- chooser, a print dialog): it belongs to the window around it
tasks as (
    select
        *,
        coalesce(app != prev_app and app != next_app and prev_app = next_app, false)
            as is_dialog,
        case when app != prev_app and app != next_app and prev_app = next_app
             then prev_app else app end as task_app
    from actions
),

-- a dialog takes the site and title shape of the window it came from
task_contexts as (
    select
        * replace (
            case when is_dialog then lag(site) over w else site end as site,
            case when is_dialog then lag(title_shape) over w else title_shape end
                as title_shape
        ),
        case when is_dialog then lag(window_title) over w else window_title end as task_title
    from tasks
    window w as (partition by device_id, work_date order by started_at, action_id)
),

in_context as (
    select
        *,
        task_app
        || case when {{ var('segment_by_site') }} then coalesce(' / ' || site, '') else '' end
            as task_context
    from task_contexts
),

contexts as (
    select
        t.*,
        {{ seconds_between('t.prev_ended_at', 't.started_at') }} as gap_s,
        lag(t.task_app) over w as prev_task_app,
        lag(t.task_context) over w as prev_task_context,
        lag(t.title_shape) over w as prev_title_shape,
        -- the title this context showed when it was last worked in
        lag(t.task_title) over (
            partition by t.device_id, t.work_date, t.task_context
            order by t.started_at, t.action_id
        ) as context_last_title,
        list(t.task_context) over (partition by t.device_id, t.work_date
                                   order by t.started_at, t.action_id
                                   rows between {{ var('recent_actions') }} preceding
                                            and 1 preceding) as recent_contexts,
        exists (  -- noqa: LT06
            select 1 from pauses as p
            where p.device_id = t.device_id
              and p.paused_at between t.prev_ended_at and t.started_at
        ) as is_after_pause
    from in_context as t
    window w as (partition by t.device_id, t.work_date order by t.started_at, t.action_id)
),

first_pass as (
    select
        *,
        prev_ended_at is null
            or gap_s >= {{ var('session_gap_s') }}
            or is_after_pause as is_session_start,
        not is_dialog and (
            gap_s >= {{ var('episode_gap_s') }}
            or (task_context is distinct from prev_task_context
                and (gap_s >= {{ var('episode_app_gap_s') }}
                     or not coalesce(list_contains(recent_contexts, task_context), false)
                     -- back in a context, on another page than it was left on: a
                     -- window switched to mid-task (a reference, a chat) is come back
                     -- to as it was left
                     or ({{ var('segment_on_new_page') }}
                         and task_title is distinct from context_last_title)))
        ) as is_context_cut
    from contexts
),

-- a run: the actions from one first-pass cut to the next. Work that returns to the
-- window a run began in (the list of expenses, the ticket queue, a site's home page)
-- after other windows of the same context starts over: the next instance of a task
runs as (
    select
        *,
        sum((is_session_start or is_context_cut)::int) over w as run_no
    from first_pass
    window w as (partition by device_id, work_date order by started_at, action_id)
),

returns as (
    select
        *,
        first_value(title_shape) over (
            partition by device_id, work_date, run_no order by started_at, action_id
        ) as run_first_shape,
        row_number() over (
            partition by device_id, work_date, run_no order by started_at, action_id
        ) as run_position
    from runs
)

-- only what the second pass reads: a wide table (the recent apps are a list a row) costs
-- more to write than to compute
select
    action_id, device_id, contributor_id, work_date, action_date, started_at, ended_at,
    action_type, app, task_app, window_title, gap_s, is_after_pause, is_dialog, is_switch,
    is_editing, prev_task_app, task_context, prev_task_context, site, task_title,
    is_session_start,
    is_context_cut
        or ({{ var('segment_on_return') }}
            and not is_dialog
            and run_position > 1
            and title_shape = run_first_shape
            and title_shape is distinct from prev_title_shape
            and task_context = prev_task_context) as is_cut,
    -- what an action is, wherever it happens: the same button in the same kind of window
    concat_ws('|', task_app, {{ title_shape('window_title') }},
              action_type, cast(floor(x_norm * 20) as integer),
              cast(floor(y_norm * 20) as integer)) as action_signature
from returns
