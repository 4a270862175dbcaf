{{ config(materialized='table') }}
-- Each episode as an instance of its workflow. Rebuilt whole (one row per episode): the
-- clustering behind it is over all episodes.
select
    e.episode_id,
    w.workflow_id,
    e.device_id,
    e.contributor_id,
    e.work_date,
    e.started_at,
    e.ended_at,
    e.duration_s,
    e.action_count,
    e.is_interrupted,
    e.main_app,
    e.apps,
    regexp_replace(e.first_window_title, '[0-9]+', '#', 'g') as first_title_shape,
    e.variant
from {{ ref('int_episodes_aggregated') }} as e
inner join {{ ref('int_episodes_clustered') }} as w using (episode_id)
