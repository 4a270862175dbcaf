{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- Sessions per device and work date (logic: int_sessions_aggregated, which holds the
-- work dates being rebuilt; this table keeps them all).
select * from {{ ref('int_sessions_aggregated') }}
