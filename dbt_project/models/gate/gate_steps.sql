-- What the gate's gate_steps suite checks of each step: how far its frames are from
-- its action in time (the frame before never after the action started, nor older than
-- frame_max_age_s; the frame after never before it ended) and its normalised
-- coordinates. A view, like gate_episodes; work_date is its episode's.
select
    s.step_id,
    s.episode_id,
    {{ seconds_between('s.started_at', 'fb.taken_at') }} as frame_before_lead_s,
    {{ seconds_between('fb.taken_at', 's.started_at') }} as frame_before_age_s,
    {{ seconds_between('a.ended_at', 'fa.taken_at') }} as frame_after_lag_s,
    a.x_norm,
    a.y_norm,
    a.end_x_norm,
    a.end_y_norm,
    e.work_date
from {{ ref('steps') }} as s
inner join {{ ref('actions') }} as a on s.step_id = a.action_id
inner join {{ ref('episodes') }} as e using (episode_id)
left join {{ ref('stg_worktape__screenshots') }} as fb on s.frame_before_id = fb.screenshot_id
left join {{ ref('stg_worktape__screenshots') }} as fa on s.frame_after_id = fa.screenshot_id
