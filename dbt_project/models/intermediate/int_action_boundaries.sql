-- Each action with the gap before it and whether it starts a session or an episode.
-- Sessions split where the contributor was idle (session_gap_s without an action) or
-- recording paused (by them, a denylisted window, or a full spool). Episodes split a
-- session where activity pauses (episode_gap_s), where it pauses more briefly while the
-- app changes (episode_app_gap_s), and where the app switches to one not used in the
-- last `recent_actions` actions (a new task or an interruption, unlike a dialog closing
-- or a return to the task at hand). `worktape evaluate` scores it against the
-- simulator's ground truth.
with pauses as (
    select b.device_id, e.event_at as paused_at
    from {{ ref('stg_worktape__events') }} as e
    inner join {{ ref('stg_worktape__bundles') }} as b using (bundle_id)
    where e.event_kind = 'pause'
),

actions as (
    select
        action_id, device_id, contributor_id, action_date, started_at, ended_at, app,
        lag(ended_at) over w as prev_ended_at,
        lag(app) over w as prev_app,
        list(app) over (partition by device_id order by started_at, action_id
                        rows between {{ var('recent_actions') }} preceding and 1 preceding)
            as recent_apps
    from {{ ref('actions') }}
    window w as (partition by device_id order by started_at, action_id)
),

flagged as (
    select
        a.*,
        epoch(a.started_at - a.prev_ended_at) as gap_s,
        exists (
            select 1 from pauses p
            where p.device_id = a.device_id
              and p.paused_at between a.prev_ended_at and a.started_at
        ) as paused_before
    from actions as a
),

starts as (
    select
        *,
        prev_ended_at is null
            or gap_s >= {{ var('session_gap_s') }}
            or paused_before as is_session_start,
        prev_ended_at is null
            or gap_s >= {{ var('session_gap_s') }}
            or paused_before
            or gap_s >= {{ var('episode_gap_s') }}
            or (app is distinct from prev_app and gap_s >= {{ var('episode_app_gap_s') }})
            -- a switch to an app not used in the last few actions: a new task or an
            -- interruption, not a dialog closing or a return to the task at hand
            or (app is distinct from prev_app
                and not coalesce(list_contains(recent_apps, app), false))
            as is_episode_start
    from flagged
),

numbered as (
    select
        *,
        sum(case when is_session_start then 1 else 0 end)
            over (partition by device_id order by started_at, action_id) as session_no,
        sum(case when is_episode_start then 1 else 0 end)
            over (partition by device_id order by started_at, action_id) as episode_no
    from starts
)

-- a session or an episode is named by its first action
select
    *,
    first_value(action_id) over (partition by device_id, session_no
                                 order by started_at, action_id) as session_id,
    first_value(action_id) over (partition by device_id, episode_no
                                 order by started_at, action_id) as episode_id
from numbered
