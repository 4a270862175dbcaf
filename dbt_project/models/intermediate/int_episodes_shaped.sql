{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- What each episode looks like to the workflow clustering: its main app (with the site,
-- for a browser), the distinct words of its window titles (digits dropped: ids and
-- amounts vary between instances; the browser's name dropped; dialogs left out) and of
-- the controls it clicked (buttons, links, menu items, tabs, as the accessibility tree
-- named them, up to the first number in the name, marked '@' so a button's "save" is
-- not a title's), as a sorted list and a
-- key to group on. Two tasks on one page differ by what they act on; the weighting in
-- worktape.workflows lets names that vary between instances count little.
-- depends_on: {{ ref('int_actions_framed') }}  (in_work_dates reads it only when days are given)
with words as (
    select distinct a.episode_id, a.device_id, a.work_date, w.word
    from {{ ref('int_actions_segmented') }} as a,
        unnest(regexp_extract_all(
            lower(regexp_replace(coalesce(a.window_title, ''), {{ browser_suffix() }}, '')),
            '[a-z][a-z]+'
        )) as w(word)
    where not a.is_dialog and {{ in_work_dates('a.work_date') }}
    {%- if var('workflow_by_elements') %}
    union
    select distinct a.episode_id, a.device_id, a.work_date, '@' || w.word as word
    from {{ ref('int_actions_segmented') }} as a
    inner join {{ ref('int_actions_framed') }} as f using (action_id),
        -- the words before the name's first number: what follows an id is the record's
        -- data ('#4471 Refund not received', 'Report 2242 — Dana Reyes')
        unnest(regexp_extract_all(
            regexp_extract(lower(coalesce(f.element_name, '')), '^[^0-9]*'), '[a-z][a-z]+'
        )) as w(word)
    where not a.is_dialog and {{ in_work_dates('a.work_date') }}
        and f.action_type in ('click', 'double_click')
        and {{ role_words('f.element_role') }} in (
            'button', 'toggle', 'link', 'menu item', 'menu', 'tab', 'checkbox', 'option'
        )
    {%- endif %}
),

-- a browser's workflows are told apart by site first, as its apps are
contexts as (
    select
        a.episode_id, a.device_id, a.work_date,
        mode(a.task_app || coalesce(' / ' || {{ site_of('a.window_title') }}, ''))
            as main_context
    from {{ ref('int_actions_segmented') }} as a
    where not a.is_dialog
    group by all
),

shapes as (
    select episode_id, device_id, work_date, list(word order by word) as words
    from words
    group by all
)

select
    e.episode_id,
    e.device_id,
    e.work_date,
    coalesce(
        case when {{ var('workflow_by_site') }} then c.main_context end, e.main_app, ''
    ) as main_app,
    coalesce(s.words, []) as words,
    array_to_string(coalesce(s.words, []), ' ') as words_key
from {{ ref('int_episodes_aggregated') }} as e
left join shapes as s using (episode_id, device_id, work_date)
left join contexts as c using (episode_id, device_id, work_date)
where {{ in_work_dates('e.work_date') }}
