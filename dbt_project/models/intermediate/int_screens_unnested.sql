-- one row per monitor of each bundle, from the manifest's `screens`
with screens as (
    select
        bundle_id,
        unnest(from_json(screens, '[{"monitor": "INTEGER", "left": "INTEGER", "top": "INTEGER",
                                     "width": "INTEGER", "height": "INTEGER"}]')) as s
    from {{ ref('stg_worktape__bundles') }}
)

select
    bundle_id,
    s.monitor,
    s."left" as screen_left,
    s.top as screen_top,
    s.width as screen_width,
    s.height as screen_height
from screens
