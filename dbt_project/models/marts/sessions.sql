-- Stretches of uninterrupted work per device: split at idle gaps and pauses.
with numbered as (
    select
        *,
        sum(case when is_session_start then 1 else 0 end)
            over (partition by device_id order by started_at, action_id) as session_no
    from {{ ref('int_action_boundaries') }}
)

select
    arg_min(action_id, started_at) as session_id,
    device_id,
    any_value(contributor_id) as contributor_id,
    min(started_at) as started_at,
    max(ended_at) as ended_at,
    epoch(max(ended_at) - min(started_at)) as duration_s,
    count(*) as action_count
from numbered
group by device_id, session_no
