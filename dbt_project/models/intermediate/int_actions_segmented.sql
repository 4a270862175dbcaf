-- Sessions and episodes, per device and work date (method: dbt_project/README.md).
--   second pass: an action opens an episode when the session starts, when the first pass
--     cut there and its signature is not an inner one, or when its signature is an anchor;
--   resumes: a segment that returns to the app left for a short interruption continues
--     the episode it interrupted. The interruption stays an episode of its own.
with signed as (
    select
        g.*,
        -- typing and a bare key (Enter, Backspace, Tab) go on with what is in progress:
        -- only a click or a shortcut can open a task as an anchor
        coalesce(s.is_anchor, false) and not g.is_editing as is_anchor,
        coalesce(s.is_inner, false) as is_inner,
        -- input can share one instant (coarse clocks, a burst): nothing opens there, so
        -- no two sessions or episodes of a device ever start at the same instant
        coalesce(
            g.started_at = lag(g.started_at) over (
                partition by g.device_id, g.work_date order by g.started_at, g.action_id
            ),
            false
        ) as is_same_instant,
        -- the action after a tab or window switch does not open a task of its own: the
        -- switch opened it (the anchor it may be is the task's first step)
        coalesce(
            lag(g.is_switch) over (
                partition by g.device_id, g.work_date order by g.started_at, g.action_id
            ),
            false
        ) as is_after_switch
    from {{ ref('int_actions_gapped') }} as g
    left join {{ ref('int_action_signatures_rated') }} as s
        using (device_id, work_date, action_signature)
),

actions as (
    select * replace (is_session_start and not is_same_instant as is_session_start)
    from signed
),

starts as (
    select
        *,
        is_session_start
            or (not is_dialog and not is_same_instant and is_cut and not is_inner)
            or (not is_dialog and not is_same_instant and is_anchor and not is_after_switch)
            as is_opening,
        -- a segment is a run of actions in one task app, cut where an episode may open
        is_session_start
            or (not is_dialog and not is_same_instant and is_cut and not is_inner)
            or (not is_dialog and not is_same_instant and is_anchor and not is_after_switch)
            or (task_context is distinct from prev_task_context) as is_segment_start
    from actions
),

numbered as (
    select
        *,
        sum(is_session_start::int) over w as session_no,
        sum(is_segment_start::int) over w as segment_no
    from starts
    window w as (partition by device_id, work_date order by started_at, action_id)
),

segments as (
    select
        device_id,
        work_date,
        segment_no,
        any_value(session_no) as session_no,
        arg_min(action_id, (started_at, action_id)) as segment_id,
        arg_min(task_context, (started_at, action_id)) as first_app,
        arg_max(task_context, (started_at, action_id)) as last_app,
        arg_min(task_title, (started_at, action_id)) as first_title,
        arg_max(task_title, (started_at, action_id)) as last_title,
        bool_or(is_anchor and is_segment_start) as is_opened_by_anchor,
        bool_or(is_opening and is_segment_start) as is_opening,
        arg_min(gap_s, (started_at, action_id)) as first_gap_s,
        count(*) as action_count,
        bool_or(action_type = 'type') as has_typing,
        bool_or(is_segment_start and is_same_instant) as is_at_taken_instant,
        min(started_at) as started_at,
        max(ended_at) as ended_at,
        count(distinct task_app) as app_count
    from numbered
    group by device_id, work_date, segment_no
),

-- segment k resumes segment k-2 when k-1 was a short excursion to another app, entered
-- and left without a pause, and k comes back to the app and window k-2 was left in, in
-- the same session, without opening a task
resumes as (
    select
        *,
        lag(segment_id, 1) over w as previous_segment_id,
        lag(segment_id, 2) over w as resumed_segment_id,
        coalesce(
            lag(session_no, 2) over w = session_no
            and lag(last_app, 2) over w = first_app
            and lag(first_app, 1) over w != first_app
            and lag(action_count, 1) over w <= {{ var('interruption_max_actions') }}
            and {{ seconds_between('lag(ended_at, 2) over w', 'started_at') }} <= {{ var('interruption_max_s') }}
            -- an interruption is left for and come back from without a pause: a task
            -- between two pauses is a task of its own, not an interruption
            and coalesce(lag(first_gap_s, 1) over w, 0) < {{ var('episode_gap_s') }}
            and coalesce(first_gap_s, 0) < {{ var('episode_gap_s') }}
            -- and it comes back to the window it was left in: a return to another page
            -- of the site (its list, its start page) begins a new task there
            and (not {{ var('resume_same_window') }}
                 or lag(last_title, 2) over w is not distinct from first_title)
            and not is_opened_by_anchor,
            false
        ) as is_resume
    from segments
    window w as (partition by device_id, work_date order by segment_no)
),

-- an excursion the task is resumed after is an interruption of its own when text was
-- typed there (a chat answered): a window only looked at (a reference, a figure copied)
-- belongs to the task. A switch to a window used moments ago opens nothing in the first
-- pass, so without this a reply typed in a chat open in the last few actions would join
-- the task around it.
excursions as (
    select
        *,
        coalesce(
            {{ var('typed_excursion_is_task') }} and lead(is_resume) over w and has_typing
            -- nothing opens at an instant already taken (step 7 of the README)
            and not is_at_taken_instant,
            false
        ) as is_typed_excursion,
        sum((not is_resume)::int) over w as alternation_no
    from resumes
    window w as (partition by device_id, work_date order by segment_no)
),

-- when tasks alternate (form, chat, form, chat, form), each segment from the third on
-- reads as resuming the one two back. An alternation begins at a segment that resumes
-- nothing: that one and every second one after it are the excursions, the others the
-- task coming back. A typed excursion is an interruption of its own; the task's own
-- segments, typed too, resume the task. So a second chat reply, with the task resumed
-- after it, is not the first one resumed, nor a reply in a chat glanced at before.
roles as (
    select
        *,
        is_typed_excursion and (
            row_number() over (
                partition by device_id, work_date, alternation_no order by segment_no
            ) % 2 = 1
        ) as is_interruption
    from excursions
),

-- each segment joins an episode: its own when it is an interruption, the one it resumes,
-- the one before it (a plain switch of window that opens nothing), or its own; chains
-- (A, B, A, C, A) follow to the root
parents as (
    select
        * replace (is_resume and not is_interruption as is_resume),
        case
            when is_interruption then null
            when is_resume then resumed_segment_id
            when not is_opening then previous_segment_id
        end as parent_segment_id
    from roles
),

episode_roots as (
    with recursive chain(segment_id, root_id) as (
        select segment_id, segment_id from parents where parent_segment_id is null  -- noqa: AL08
        union all
        select p.segment_id, c.root_id
        from parents as p
        inner join chain as c on p.parent_segment_id = c.segment_id
    )

    select segment_id, root_id from chain
),

assigned as (
    select
        n.*,
        r.root_id,
        s.is_resume and n.is_segment_start as is_resume_start,
        {{ title_shape('n.task_title') }} as shape
    from numbered as n
    inner join parents as s using (device_id, work_date, segment_no)
    inner join episode_roots as r on r.segment_id = s.segment_id
),

-- within an episode (its interruptions left out), work that comes back to the page the
-- episode began on in that context, from another page, starts the next task: the list
-- of expenses, a site's home page, a saved document. This catches the returns that the
-- first pass cannot see because an interruption came in between.
returns as (
    select
        *,
        lag(shape) over e as prev_shape,
        lag(task_context) over e as prev_context,
        first_value(shape) over (
            partition by device_id, work_date, root_id, task_context
            order by started_at, action_id
        ) as context_first_shape
    from assigned
    window e as (partition by device_id, work_date, root_id order by started_at, action_id)
),

split as (
    select
        *,
        coalesce(
            {{ var('segment_on_episode_return') }}
            and not is_dialog
            and not is_same_instant
            and action_id != root_id
            and task_context = prev_context
            and shape = context_first_shape
            and shape != prev_shape,
            false
        ) as is_return_start
    from returns
),

parts as (
    select
        *,
        sum(is_return_start::int) over (
            partition by device_id, work_date, root_id order by started_at, action_id
        ) as part_no
    from split
)

select
    action_id,
    device_id,
    contributor_id,
    work_date,
    action_date,
    started_at,
    ended_at,
    action_type,
    app,
    task_app,
    window_title,
    gap_s,
    is_after_pause,
    is_dialog,
    is_session_start,
    action_id = root_id or is_return_start as is_episode_start,
    is_resume_start as is_resume,
    -- a session or an episode is named by its first action
    first_value(action_id) over (partition by device_id, work_date, session_no
                                 order by started_at, action_id) as session_id,
    first_value(action_id) over (partition by device_id, work_date, root_id, part_no
                                 order by started_at, action_id) as episode_id
from parts
