-- What the gate's gate_workflows suite checks of each workflow: its instance count
-- beside the instances counted in workflow_instances. A view, over every workflow.
with counted as (
    select workflow_id, count(*) as n
    from {{ ref('workflow_instances') }}
    group by 1
)

select
    w.workflow_id,
    w.workflow_name,
    w.instance_count,
    coalesce(i.n, 0) as counted_instances
from {{ ref('workflows') }} as w
left join counted as i using (workflow_id)
