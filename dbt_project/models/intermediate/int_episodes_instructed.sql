{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='work_date',
    )
}}
-- Each episode's instruction, in words, from templates: where it happened and what was
-- done there, as a person would ask for it: "In Ledgerly, click 'New expense', fill in
-- 'Merchant' and 'Amount', and click 'Save'." Its parts are the steps that say what the
-- task is: clicks on named controls, the named fields typed into (consecutive ones as one
-- "fill in"), text typed in an episode that names no field, and shortcuts with a purpose;
-- at most five, each said once in a row. An episode with none of them (an app that names no
-- elements) says which page it worked on. Deterministic; a model may rewrite it when one
-- is configured (worktape/publish/narration.py).
-- depends_on: {{ ref('int_actions_framed') }}  (in_work_dates reads it only when days are given)
with acts as (
    select
        s.episode_id,
        s.work_date,
        s.started_at,
        s.action_id,
        s.is_dialog,
        a.action_type,
        a.typed_text,
        a.keys,
        a.window_title,
        nullif(trim(a.element_name), '') as element_name,
        {{ role_words('a.element_role') }} as role,
        coalesce({{ site_of('a.window_title') }}, s.task_app) as place
    from {{ ref('int_actions_segmented') }} as s
    inner join {{ ref('int_actions_framed') }} as a using (action_id)
    where {{ in_work_dates('s.work_date') }}
),

phrased as (
    select
        *,
        action_type = 'type' and element_name is not null as is_field,
        -- typing whose field went unnamed (a lookup that failed, a correction after a
        -- Backspace) belongs to the fields the episode names, when it names any
        bool_or(action_type = 'type' and element_name is not null)
            over (partition by episode_id) as names_fields,
        case
            when action_type = 'click' and element_name is not null
                and role in ('button', 'toggle', 'link', 'menu item', 'menu', 'tab',
                             'checkbox', 'option', 'list item', 'tree item', 'table cell')
                then 'click ''' || {{ clipped('element_name', 40) }} || ''''
            when action_type = 'double_click' and element_name is not null
                then 'open ''' || {{ clipped('element_name', 40) }} || ''''
            when action_type = 'type' and element_name is not null
                then '''' || {{ clipped('element_name', 40) }} || ''''
            when action_type = 'type' and not names_fields
                then 'type ''' || {{ clipped('typed_text', 30) }} || ''''
            when action_type = 'hotkey'
                and {{ shortcut_purpose('keys') }} not in ('', ' to confirm')
                then substr({{ shortcut_purpose('keys') }}, 5)
        end as phrase
    from acts
),

-- each phrase once in a row
said as (
    select *
    from (
        select
            *,
            lag(phrase) over (partition by episode_id order by started_at, action_id)
                as previous_phrase
        from phrased
        where phrase is not null
    )
    where previous_phrase is null or previous_phrase != phrase
),

-- consecutive fields are one part
grouped as (
    select
        *,
        sum(case when is_field and coalesce(previous_is_field, false) then 0 else 1 end)
            over (partition by episode_id order by started_at, action_id) as part_no
    from (
        select
            *,
            lag(is_field) over (partition by episode_id order by started_at, action_id)
                as previous_is_field
        from said
    )
),

parts as (
    select
        episode_id,
        part_no,
        case
            when bool_and(is_field)
                then 'fill in ' || {{ said_as_list('list(phrase order by started_at, action_id)') }}
            else arg_min(phrase, started_at)
        end as part
    from grouped
    group by episode_id, part_no
),

told as (
    select
        episode_id,
        list(part order by part_no)[1:5] as parts
    from parts
    group by episode_id
),

places as (
    select
        episode_id,
        any_value(work_date) as work_date,
        -- the episode's place: where most of its steps were, dialogs aside
        coalesce(
            mode(place) filter (where not is_dialog), mode(place)
        ) as place,
        arg_min(
            regexp_replace(window_title, {{ browser_suffix() }}, ''), (started_at, action_id)
        ) filter (where not is_dialog) as first_page
    from acts
    group by episode_id
)

select
    p.episode_id,
    p.work_date,
    case
        when len(t.parts) > 0
            then 'In ' || coalesce(p.place, 'the app') || ', '
                || {{ said_as_list('t.parts') }} || '.'
        when p.first_page is not null
            then 'In ' || coalesce(p.place, 'the app') || ', work on '''
                || {{ clipped('p.first_page', 60) }} || '''.'
        else 'Work in ' || coalesce(p.place, 'the app') || '.'
    end as instruction
from places as p
left join told as t using (episode_id)
