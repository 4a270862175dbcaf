{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- Task episodes per device and work date (logic: int_episodes_aggregated), the work
-- dates being rebuilt.
select
    e.*,
    -- last, where a table built before it has it (on_schema_change appends)
    i.instruction
from {{ ref('int_episodes_aggregated') }} as e
left join {{ ref('int_episodes_instructed') }} as i using (episode_id)
where {{ in_work_dates('e.work_date') }}
