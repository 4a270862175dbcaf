{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- What each episode looks like to the workflow clustering: the words of its window titles (digits dropped: ids and amounts vary between instances), each with
-- the share of the episode's actions whose window showed it.
with actions as (
    select episode_id, device_id, work_date, task_app, window_title, is_dialog
    from {{ ref('int_action_boundaries') }}
),

episode_sizes as (
    select
        episode_id,
        device_id,
        work_date,
        count(*) as action_count
    from actions
    group by all
),

words as (
    select distinct
        a.episode_id, a.device_id, a.work_date, a.action_id_n, w.word
    from (
        select *, row_number() over () as action_id_n
        from actions
        where not is_dialog
    ) as a,
    unnest(regexp_extract_all(lower(coalesce(a.window_title, '')), '[a-z][a-z]+')) as w(word)
)

select
    e.episode_id,
    e.device_id,
    e.work_date,
    w.word as token,
    round(count(*) / any_value(e.action_count), 3) as action_share
from words as w
inner join episode_sizes as e using (episode_id, device_id, work_date)
group by e.episode_id, e.device_id, e.work_date, w.word
