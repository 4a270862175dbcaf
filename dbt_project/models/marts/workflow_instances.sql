-- Each episode as an instance of its workflow (logic: int_workflow_instances_joined).
-- Rebuilt whole: the clustering behind it is over all episodes.
select * from {{ ref('int_workflow_instances_joined') }}
