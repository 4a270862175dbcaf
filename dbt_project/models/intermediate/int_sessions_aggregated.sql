-- Stretches of uninterrupted work per device and work date: split at idle gaps and
-- pauses (by the contributor, a denylisted window or a full spool). A view: it covers
-- the work dates being rebuilt (those int_actions_segmented holds); the sessions mart
-- keeps the history.
select
    session_id,
    device_id,
    any_value(contributor_id) as contributor_id,
    work_date,
    min(started_at) as started_at,
    max(ended_at) as ended_at,
    {{ seconds_between('min(started_at)', 'max(ended_at)') }} as duration_s,
    count(*) as action_count,
    count(distinct episode_id) as episode_count
from {{ ref('int_actions_segmented') }}
group by session_id, device_id, work_date
