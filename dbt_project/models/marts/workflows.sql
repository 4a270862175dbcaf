-- Recurring episodes clustered into workflows (method: worktape/workflows.py). A
-- workflow is named for the window it usually starts in and the apps it uses.
with instances as (
    select * from {{ ref('int_workflow_instances_joined') }}
),

titles as (
    select workflow_id, first_title_shape, count(*) as n
    from instances
    group by all
),

apps as (
    select workflow_id, app, count(*) as n
    from (select workflow_id, unnest(apps) as app from instances)
    group by all
),

variants as (
    select workflow_id, variant, count(*) as n
    from instances
    group by all
),

ranked_variants as (
    select
        *,
        row_number() over (partition by workflow_id order by n desc, variant) as rank
    from variants
),

summary as (
    select
        workflow_id,
        any_value(main_app) as main_app,
        count(*) as instance_count,
        count(distinct contributor_id) as contributor_count,
        list(distinct contributor_id order by contributor_id) as contributor_ids,
        median(duration_s) as median_duration_s,
        min(started_at) as first_seen_at,
        max(started_at) as last_seen_at,
        avg(is_interrupted::int) as interrupted_share
    from instances
    group by workflow_id
)

select
    s.workflow_id,
    concat_ws(' — ',
        (select arg_max(t.first_title_shape, (t.n, t.first_title_shape)) from titles as t
         where t.workflow_id = s.workflow_id),
        (select string_agg(a.app, ' + ' order by a.n desc, a.app) from apps as a
         where a.workflow_id = s.workflow_id
           and a.n >= 0.2 * s.instance_count)
    ) as workflow_name,
    s.main_app,
    s.instance_count,
    {{ is_recurring('s.instance_count') }} as is_recurring,
    s.contributor_count,
    s.contributor_ids,
    s.median_duration_s,
    s.first_seen_at,
    s.last_seen_at,
    round(s.interrupted_share, 3) as interrupted_share,
    (select list({'variant': v.variant, 'instance_count': v.n} order by v.rank)
     from ranked_variants as v
     where v.workflow_id = s.workflow_id and v.rank <= 3) as main_variants
from summary as s
