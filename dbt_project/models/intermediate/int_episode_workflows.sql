-- Each episode's workflow: its shape's, from int_shape_workflows.
select s.episode_id, s.device_id, s.work_date, w.workflow_id
from {{ ref('int_episode_shapes') }} as s
inner join {{ ref('int_shape_workflows') }} as w using (main_app, words_key)
