select
    bundle_id,
    device_id,
    contributor_id,
    started_at,
    ended_at,
    utc_offset_minutes,
    screens,
    frame_format,
    consent_policy_version,
    is_simulated,
    event_count,
    screenshot_count,
    loaded_at
from {{ source('worktape', 'bundles') }}
