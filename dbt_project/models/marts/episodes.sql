{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- Task episodes per device and work date (logic: int_episodes_aggregated), the work
-- dates being rebuilt.
select * from {{ ref('int_episodes_aggregated') }}
where {{ in_work_dates('work_date') }}
