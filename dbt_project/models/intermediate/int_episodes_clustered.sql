-- Each episode's workflow: its shape's, from int_episode_shapes_clustered.
select s.episode_id, s.device_id, s.work_date, w.workflow_id
from {{ ref('int_episodes_shaped') }} as s
inner join {{ ref('int_episode_shapes_clustered') }} as w using (main_app, words_key)
