-- How often each action signature (app, window title shape, action type, place on the
-- screen) starts an episode in the first pass, per device and work date. Tasks tend to
-- open with the same action ("New expense", the search box) and a pause before one of
-- their middle steps is thinking, not a new task: the second pass uses both.
select
    device_id,
    work_date,
    action_signature,
    count(*) as action_count,
    count(*) filter (where is_session_start or is_cut) as start_count,
    start_count / action_count as start_rate,
    action_count >= {{ var('signature_min_actions') }}
        and start_rate >= {{ var('anchor_start_rate') }} as is_anchor,
    action_count >= {{ var('signature_min_actions') }}
        and start_rate < {{ var('inner_start_rate') }} as is_inner
from {{ ref('int_actions_gapped') }}
group by all
