-- the events that make actions, with who, where on which screen, and which UTC day
select
    e.event_id,
    e.bundle_id,
    e.seq,
    b.device_id,
    b.contributor_id,
    e.event_at,
    {{ utc_date('e.event_at') }} as event_date,
    e.event_kind,
    e.x,
    e.y,
    coalesce(e.monitor, 1) as monitor,
    e.button,
    e.dx,
    e.dy,
    e.key,
    e.modifiers,
    e.app,
    e.window_title,
    e.is_redacted,
    e.element_role,
    e.element_name,
    e.element_x,
    e.element_y,
    e.element_width,
    e.element_height
from {{ ref('stg_worktape__events') }} as e
inner join {{ ref('stg_worktape__bundles') }} as b using (bundle_id)
where e.event_kind in ('mouse_down', 'mouse_up', 'scroll', 'key_down')
    and {{ in_days_at('e.event_at') }}
