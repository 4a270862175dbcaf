-- Each episode as an instance of its workflow, with its variant: the sequence of its
-- action types (C click, D double click, R right click, G drag, S scroll, T type,
-- K hotkey). Rebuilt whole: the clustering behind it is over all episodes.
with variants as (
    select
        episode_id,
        string_agg(
            case action_type
                when 'click' then 'C' when 'double_click' then 'D'
                when 'right_click' then 'R' when 'drag' then 'G'
                when 'scroll' then 'S' when 'type' then 'T' when 'hotkey' then 'K'
            end, '' order by step_index
        ) as variant
    from {{ ref('steps') }}
    group by episode_id
)

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
    v.variant
from {{ ref('episodes') }} as e
inner join {{ ref('int_episode_workflows') }} as w using (episode_id)
left join variants as v using (episode_id)
