-- Which work dates (contributor-local days) hold an action on which UTC day: the
-- publisher gates the episodes and steps of the work dates that hold an action on the
-- night's days, which are the work dates its dbt build rebuilt (the in_work_dates macro).
select distinct
    action_date,
    work_date
from {{ ref('actions') }}
