select
    bundle_id,
    seq,
    bundle_id || '-' || seq as event_id,
    ts as event_at,
    kind as event_kind,
    x,
    y,
    monitor,
    button,
    dx,
    dy,
    key,
    modifiers,
    app,
    window_title,
    screenshot_id,
    redacted as is_redacted,
    detail,
    -- format 1.1: the element acted on (a press's, a typed run's first key's), as the
    -- platform's accessibility tree named it; null in a 1.0 bundle and where none was
    element_role,
    element_name,
    element_x,
    element_y,
    element_width,
    element_height
from {{ source('worktape', 'events') }}
