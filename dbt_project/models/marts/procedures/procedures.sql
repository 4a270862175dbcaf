{{ config(materialized='table') }}
-- A procedure per recurring workflow: how the work is really done, from all its
-- instances. Its steps are procedure_steps; its variants are the ways its sampled
-- instances leave the usual path (an optional step taken, a step left out), with their
-- share; has_path_changed says the most common way of the last week is not the one
-- before. Counts of people and instances only: no contributor is named.
with steps as (
    select * from {{ ref('procedure_steps') }}
),

units as (
    select * from {{ ref('procedure_units') }} where not is_path_step
),

instances as (
    select
        i.workflow_id,
        i.episode_id,
        i.started_at,
        i.duration_s
    from {{ ref('workflow_instances') }} as i
    semi join steps on i.workflow_id = steps.procedure_id
),

-- per sampled instance, how it left the path: optional steps it took, required ones
-- it did not
ways as (
    select
        e.workflow_id,
        e.episode_id,
        coalesce(
            nullif(
                concat_ws(
                    ', ',
                    nullif(string_agg(
                        case when s.is_optional and u.episode_id is not null
                            then 'with ' || s.step_text end,
                        ', ' order by s.step_index
                    ), ''),
                    nullif(string_agg(
                        case when not s.is_optional and u.episode_id is null
                            then 'without ' || s.step_text end,
                        ', ' order by s.step_index
                    ), '')
                ),
                ''
            ),
            'usual path'
        ) as variant
    from (select distinct workflow_id, episode_id from units) as e
    inner join steps as s on e.workflow_id = s.procedure_id
    left join (
        select distinct workflow_id, episode_id, path_index from units
        where path_index is not null
    ) as u
        on e.workflow_id = u.workflow_id and e.episode_id = u.episode_id
        and s.step_index = u.path_index
    group by e.workflow_id, e.episode_id
),

ways_timed as (
    select w.*, i.started_at, i.duration_s
    from ways as w
    inner join instances as i using (workflow_id, episode_id)
),

variants as (
    select
        workflow_id,
        variant,
        count(*) as n,
        count(*) / sum(count(*)) over (partition by workflow_id) as instance_share,
        median(duration_s) as median_duration_s
    from ways_timed
    group by workflow_id, variant
),

variant_lists as (
    select
        workflow_id,
        list(
            {'variant': variant, 'instance_share': round(instance_share, 4),
             'median_duration_s': round(median_duration_s, 1)}
            order by n desc, variant
        ) as variants
    from variants
    group by all
),

-- the most common way in the last 7 days of the workflow's sample, and before
recent as (
    select
        workflow_id,
        variant,
        started_at >= max(started_at) over (partition by workflow_id) - interval 7 day
            as is_recent
    from ways_timed
),

top_ways as (
    select
        workflow_id,
        is_recent,
        variant
    from recent
    group by workflow_id, is_recent, variant
    qualify row_number() over (
        partition by workflow_id, is_recent order by count(*) desc, variant
    ) = 1
),

window_counts as (
    select workflow_id, is_recent, count(*) as n from recent group by all
),

changed as (
    select
        w.workflow_id,
        coalesce(bool_or(
            n_new.n >= 3 and n_old.n >= 3 and t_new.variant != t_old.variant
        ), false) as has_path_changed
    from (select distinct workflow_id from recent) as w
    left join top_ways as t_new on w.workflow_id = t_new.workflow_id and t_new.is_recent
    left join top_ways as t_old on w.workflow_id = t_old.workflow_id and not t_old.is_recent
    left join window_counts as n_new
        on w.workflow_id = n_new.workflow_id and n_new.is_recent
    left join window_counts as n_old
        on w.workflow_id = n_old.workflow_id and not n_old.is_recent
    group by w.workflow_id
),

durations as (
    select
        workflow_id,
        median(duration_s) as median_duration_s,
        quantile_cont(duration_s, 0.25) as p25_duration_s,
        quantile_cont(duration_s, 0.75) as p75_duration_s
    from instances
    group by all
),

sites as (
    select u.workflow_id, mode(st.site) as site
    from units as u
    inner join {{ ref('steps') }} as st on u.first_step_id = st.step_id
    group by all
),

paths as (
    select
        procedure_id as workflow_id,
        count(*) as step_count,
        count(*) filter (where is_optional) as optional_step_count,
        -- the most time it adds to an instance on average: an optional step counts for
        -- the share of instances that take it
        arg_max(step_index, coalesce(median_duration_s * instance_share, 0) * 1000 - step_index)
            as slowest_step_index,
        string_agg(
            lower(left(step_text, 1)) || substr(step_text, 2), ', ' order by step_index
        ) filter (where not is_optional) as required_texts,
        md5(string_agg(
            concat_ws('|', step_index, step_key, step_text, app, page, instance_share,
                      is_optional, median_duration_s, p25_duration_s, p75_duration_s,
                      example_frame_id, example_x_norm, example_y_norm),
            '\n' order by step_index
        )) as steps_digest
    from steps
    group by all
),

procedures as (
    select
        w.workflow_id as procedure_id,
        w.workflow_id,
        w.workflow_name as title,
        'In ' || coalesce(si.site, w.main_app) || ': ' || p.required_texts || '.' as purpose,
        w.main_app as app,
        si.site,
        w.instance_count,
        w.contributor_count,
        p.step_count,
        p.optional_step_count,
        round(d.median_duration_s, 1) as median_duration_s,
        round(d.p25_duration_s, 1) as p25_duration_s,
        round(d.p75_duration_s, 1) as p75_duration_s,
        p.slowest_step_index,
        v.variants,
        w.first_seen_at,
        w.last_seen_at,
        c.has_path_changed,
        p.steps_digest
    from {{ ref('workflows') }} as w
    inner join paths as p using (workflow_id)
    left join durations as d using (workflow_id)
    left join variant_lists as v using (workflow_id)
    left join changed as c using (workflow_id)
    left join sites as si using (workflow_id)
)

select
    * exclude (steps_digest),
    md5(concat_ws('|', procedure_id, title, purpose, app, site, instance_count,
        contributor_count, median_duration_s, p25_duration_s, p75_duration_s,
        slowest_step_index, cast(variants as varchar), cast(first_seen_at as varchar),
        cast(last_seen_at as varchar), has_path_changed, steps_digest)) as fingerprint
from procedures
