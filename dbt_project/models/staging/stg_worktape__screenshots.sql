select
    screenshot_id,
    bundle_id,
    ts as taken_at,
    monitor,
    width,
    height,
    trigger as screenshot_trigger,
    sha256,
    bytes,
    phash
from {{ source('worktape', 'screenshots') }}
