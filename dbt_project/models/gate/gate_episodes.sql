-- What the gate's gate_episodes suite checks of each episode (expectations/suites.py):
-- its steps counted beside its actions. A view: the gate sees the marts as they are
-- when a night publishes; the publisher keeps the work dates the night rebuilt.
with step_counts as (
    select episode_id, count(*) as step_count
    from {{ ref('steps') }}
    group by 1
)

select
    e.episode_id,
    e.device_id,
    e.started_at,
    e.duration_s,
    e.action_count,
    coalesce(s.step_count, 0) as step_count,
    e.work_date
from {{ ref('episodes') }} as e
left join step_counts as s using (episode_id)
