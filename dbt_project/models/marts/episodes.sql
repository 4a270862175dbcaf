-- A session cut into task episodes (method: int_action_boundaries).
with numbered as (
    select
        *,
        sum(case when is_session_start then 1 else 0 end)
            over (partition by device_id order by started_at, action_id) as session_no,
        sum(case when is_episode_start then 1 else 0 end)
            over (partition by device_id order by started_at, action_id) as episode_no
    from {{ ref('int_action_boundaries') }}
),

sessions as (
    select device_id, session_no, arg_min(action_id, started_at) as session_id
    from numbered
    group by 1, 2
)

select
    arg_min(n.action_id, n.started_at) as episode_id,
    any_value(s.session_id) as session_id,
    n.device_id,
    any_value(n.contributor_id) as contributor_id,
    min(n.started_at) as started_at,
    max(n.ended_at) as ended_at,
    epoch(max(n.ended_at) - min(n.started_at)) as duration_s,
    count(*) as action_count,
    arg_min(n.app, n.started_at) as first_app,
    list_distinct(list(n.app order by n.started_at)) as apps
from numbered as n
inner join sessions as s using (device_id, session_no)
group by n.device_id, n.episode_no
