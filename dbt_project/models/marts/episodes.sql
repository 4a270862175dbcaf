-- A session cut into task episodes (method: int_action_boundaries).
select
    episode_id,
    any_value(session_id) as session_id,
    device_id,
    any_value(contributor_id) as contributor_id,
    min(started_at) as started_at,
    max(ended_at) as ended_at,
    epoch(max(ended_at) - min(started_at)) as duration_s,
    count(*) as action_count,
    arg_min(app, started_at) as first_app,
    list_distinct(list(app order by started_at)) as apps
from {{ ref('int_action_boundaries') }}
group by episode_id, device_id
