{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- Per contributor and work date: active time (the sum of their sessions), the apps they
-- used and their episodes. Incremental by work date: none of it depends on other days.
-- The workflow counts do (the clustering is over all episodes, and shifts as nights
-- come in), so contributor_daily adds them from the whole clustering.
with sessions as (
    select contributor_id, work_date, count(*) as session_count,
           sum(duration_s) as active_s, sum(action_count) as action_count,
           min(started_at) as first_action_at, max(ended_at) as last_action_at
    from {{ ref('int_sessions_aggregated') }}
    where {{ in_work_dates('work_date') }}
    group by all
),

episodes as (
    select e.contributor_id, e.work_date,
           count(*) as episode_count
    from {{ ref('int_episodes_aggregated') }} as e
    where {{ in_work_dates('e.work_date') }}
    group by all
),

apps as (
    select contributor_id, work_date, list(distinct app order by app) as apps_used
    from {{ ref('int_actions_framed') }}
    where {{ in_work_dates('work_date') }}
    group by all
)

select
    s.contributor_id,
    s.work_date,
    s.contributor_id || '/' || strftime(s.work_date, '%Y-%m-%d') as contributor_day_id,
    s.session_count,
    round(s.active_s, 1) as active_s,
    s.action_count,
    s.first_action_at,
    s.last_action_at,
    len(a.apps_used) as app_count,
    a.apps_used,
    coalesce(e.episode_count, 0) as episode_count
from sessions as s
left join episodes as e using (contributor_id, work_date)
left join apps as a using (contributor_id, work_date)
