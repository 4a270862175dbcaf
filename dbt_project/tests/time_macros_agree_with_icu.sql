-- The time macros (macros/time.sql, macros/days.sql) work on the instant to stay off
-- ICU's calendar; here they must agree with DuckDB's own timestamptz arithmetic, on
-- instants around day, month, leap-day and year ends and before 1970. A row returned
-- is a disagreement.
with instants as (
    select cast(t as timestamptz) as instant
    from (values
        ('1969-12-31 23:59:59.75+00'), ('1970-01-01 00:00:00+00'),
        ('2024-02-28 23:59:59.999999+00'), ('2024-02-29 12:00:00.5+00'),
        ('2025-12-31 23:59:59.999999+00'), ('2026-01-01 00:00:00+00'),
        ('2026-03-29 01:30:00+00'), ('2026-11-02 00:00:00+00'),
        ('2026-11-03 00:00:00.000001+00'), ('2026-11-04 07:15:42.123456+00'),
        ('2026-11-05 23:59:59.999999+00')
    ) as v(t)  -- noqa: AL05
),

pairs as (
    select a.instant as a_at, b.instant as b_at
    from instants as a
    cross join instants as b
)

select a_at, b_at, 'seconds_between' as disagrees_on
from pairs
-- epoch() of a span of days adds its parts in floating point: equal to the microsecond
where round({{ seconds_between('a_at', 'b_at') }}, 6) != round(epoch(b_at - a_at), 6)

union all

select a_at, b_at, 'ms_between'
from pairs
where round({{ ms_between('a_at', 'b_at') }}, 3) != round(epoch(b_at - a_at) * 1000, 3)

union all

select instant, null, 'utc_date'
from instants
where {{ utc_date('instant') }} != cast(instant as date)

union all

select instant, null, 'local_date'
from instants
cross join (values (-720), (-300), (0), (90), (840)) as o(offset_minutes)  -- noqa: AL05
where {{ local_date('instant', 'offset_minutes') }}
    != cast(instant + to_minutes(offset_minutes) as date)

union all

-- two runs of days (the 2nd and 3rd, then the 5th): the ranges and the dates agree
select instant, null, 'in_days_at'
from instants
where ({{ in_days_at('instant', ['2026-11-05', '2026-11-02', '2026-11-03']) }})
    != coalesce(cast(instant as date)
                in (date '2026-11-02', date '2026-11-03', date '2026-11-05'), false)
