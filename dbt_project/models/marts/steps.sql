{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- The state-action pairs of each episode, in order: the screen before the action, the
-- action, the screen after it. What an agent learns from.
select
    a.action_id as step_id,
    b.episode_id,
    row_number() over (partition by b.episode_id order by a.started_at, a.action_id)
        as step_index,
    a.device_id,
    a.contributor_id,
    b.work_date,
    a.started_at,
    a.frame_before_id,
    a.action_type,
    a.action_code,
    a.frame_after_id,
    a.app,
    a.window_title,
    a.site,
    a.is_redacted,
    -- last, where a table built before them has them (on_schema_change appends)
    a.element_role,
    a.element_name,
    a.element_x,
    a.element_y,
    a.element_width,
    a.element_height
from {{ ref('int_actions_framed') }} as a
inner join {{ ref('int_actions_segmented') }} as b using (action_id)
where {{ in_work_dates('a.work_date') }}
