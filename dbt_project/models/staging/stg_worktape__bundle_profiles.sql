-- One row per loaded bundle: what the loader measured of its events
-- (worktape/loader/profile.py), which the raw gate judges.
select
    bundle_id,
    events as event_count,
    duplicate_event_ids,
    unknown_kinds,
    null_ts,
    min_x_on_screen,
    max_x_on_screen,
    min_y_on_screen,
    max_y_on_screen,
    min_ts_step_s,
    first_at as first_event_at,
    last_at as last_event_at,
    unknown_kind_example,
    off_screen_example,
    backwards_example
from {{ source('worktape', 'bundle_profiles') }}
