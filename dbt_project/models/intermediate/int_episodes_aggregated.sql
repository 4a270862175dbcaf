{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- Sessions cut into task episodes, one task each (method: int_actions_segmented); kept whole
-- (incremental), as the workflow clustering reads every episode. An
-- interrupted episode spans its interruption, which is an episode of its own.
with app_use as (
    -- the app an episode spends most actions in (ties: the one used first)
    select episode_id, device_id, work_date, task_app, count(*) as n, min(started_at) as first_at
    from {{ ref('int_actions_segmented') }}
    group by all
),

main_apps as (
    select episode_id, device_id, work_date, arg_max(task_app, (n, -epoch_us(first_at))) as main_app
    from app_use
    group by all
)

select
    episode_id,
    any_value(session_id) as session_id,
    device_id,
    any_value(contributor_id) as contributor_id,
    work_date,
    min(started_at) as started_at,
    max(ended_at) as ended_at,
    {{ seconds_between('min(started_at)', 'max(ended_at)') }} as duration_s,
    count(*) as action_count,
    count(*) filter (where is_resume) as resume_count,
    count(*) filter (where is_resume) > 0 as is_interrupted,
    arg_min(task_app, (started_at, action_id)) as first_app,
    any_value(m.main_app) as main_app,
    arg_min(window_title, (started_at, action_id)) as first_window_title,
    list_distinct(list(task_app order by started_at, action_id)) as apps,
    -- its action types in order (C click, D double click, R right click, G drag,
    -- S scroll, T type, K hotkey): how instances of a workflow vary
    string_agg(
        case action_type
            when 'click' then 'C' when 'double_click' then 'D' when 'right_click' then 'R'
            when 'drag' then 'G' when 'scroll' then 'S' when 'type' then 'T'
            when 'hotkey' then 'K'
        end, '' order by started_at, action_id
    ) as variant
from {{ ref('int_actions_segmented') }}
inner join main_apps as m using (episode_id, device_id, work_date)
group by episode_id, device_id, work_date
