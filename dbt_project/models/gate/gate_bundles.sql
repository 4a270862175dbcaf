-- What the gate's raw_bundles suite checks of each bundle (expectations/suites.py): the
-- loader's measures of its events, and the gap from the device's previous bundle, which
-- must not be negative (time does not run backwards from one bundle to the next, over
-- the device's whole history). The publisher keeps the bundles that started on the
-- night's UTC days (started_on).
with profiled as (
    select
        p.*,
        b.device_id,
        b.started_at,
        lag(p.last_event_at) over (
            partition by b.device_id order by b.started_at, p.bundle_id
        ) as previous_last_event_at
    from {{ ref('stg_worktape__bundle_profiles') }} as p
    inner join {{ ref('stg_worktape__bundles') }} as b using (bundle_id)
)

select
    bundle_id,
    event_count as events,
    duplicate_event_ids,
    unknown_kinds,
    null_ts,
    min_x_on_screen,
    max_x_on_screen,
    min_y_on_screen,
    max_y_on_screen,
    min_ts_step_s,
    first_event_at as first_at,
    last_event_at as last_at,
    unknown_kind_example,
    off_screen_example,
    backwards_example,
    device_id,
    coalesce(
        {{ seconds_between('previous_last_event_at', 'first_event_at') }}, 0
    ) as gap_after_previous_bundle_s,
    {{ utc_date('started_at') }} as started_on
from profiled
