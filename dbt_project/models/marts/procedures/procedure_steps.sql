{{ config(materialized='table') }}
-- The canonical steps of each recurring workflow's procedure (the path procedure_units
-- found by aligning its instances), with how often and how long, and an example: the
-- newest instance's step at that place that has a frame, for the published crop.
with units as (
    select * from {{ ref('procedure_units') }}
),

path as (
    select * from units where is_path_step
),

timing as (
    select
        workflow_id,
        path_index,
        median(duration_s) as median_duration_s,
        quantile_cont(duration_s, 0.25) as p25_duration_s,
        quantile_cont(duration_s, 0.75) as p75_duration_s,
        -- the page and app most instances did it on (ties: the first in order)
        mode(page order by page) as page,
        mode(app order by app) as app
    from units
    where not is_path_step and path_index is not null
    group by all
),

examples as (
    select
        u.workflow_id,
        u.path_index,
        u.first_step_id as example_step_id,
        s.frame_before_id as example_frame_id,
        a.x_norm as example_x_norm,
        a.y_norm as example_y_norm
    from units as u
    inner join {{ ref('steps') }} as s on u.first_step_id = s.step_id
    left join {{ ref('actions') }} as a on u.first_step_id = a.action_id
    where not u.is_path_step and u.path_index is not null
    qualify row_number() over (
        partition by u.workflow_id, u.path_index
        order by s.frame_before_id is null, u.started_at desc, u.first_step_id
    ) = 1
)

select
    p.workflow_id || '/' || lpad(cast(p.path_index as varchar), 2, '0') as procedure_step_id,
    p.workflow_id as procedure_id,
    p.path_index as step_index,
    p.unit_key as step_key,
    p.step_text,
    p.verb as action_type,
    p.element_role,
    p.element_name,
    coalesce(t.app, p.app) as app,
    coalesce(t.page, p.page) as page,
    p.path_share as instance_share,
    p.is_optional,
    round(t.median_duration_s, 1) as median_duration_s,
    round(t.p25_duration_s, 1) as p25_duration_s,
    round(t.p75_duration_s, 1) as p75_duration_s,
    e.example_step_id,
    e.example_frame_id,
    e.example_x_norm,
    e.example_y_norm
from path as p
left join timing as t using (workflow_id, path_index)
left join examples as e using (workflow_id, path_index)
