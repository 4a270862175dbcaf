{{ config(materialized='table') }}
-- Per contributor and work date: what int_contributor_days_aggregated keeps (incremental),
-- with the number of workflows their episodes belong to and how many of those episodes
-- are of recurring workflows. Rebuilt whole, like workflow_instances: a night's episodes
-- can regroup past ones, and a past day's counts must read as a full build would.
with recurring as (
    select workflow_id
    from {{ ref('int_workflow_instances_joined') }}
    group by workflow_id
    having {{ is_recurring('count(*)') }}
),

workflows as (
    select
        i.contributor_id,
        i.work_date,
        count(distinct i.workflow_id) as workflow_count,
        count(*) filter (where r.workflow_id is not null) as recurring_episode_count
    from {{ ref('int_workflow_instances_joined') }} as i
    left join recurring as r using (workflow_id)
    group by all
)

select
    d.contributor_id,
    d.work_date,
    d.contributor_day_id,
    d.session_count,
    d.active_s,
    d.action_count,
    d.first_action_at,
    d.last_action_at,
    d.app_count,
    d.apps_used,
    d.episode_count,
    coalesce(w.workflow_count, 0) as workflow_count,
    coalesce(w.recurring_episode_count, 0) as recurring_episode_count
from {{ ref('int_contributor_days_aggregated') }} as d
left join workflows as w using (contributor_id, work_date)
