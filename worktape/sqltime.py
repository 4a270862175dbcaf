"""SQL for the warehouse's UTC timestamps that stays off ICU's calendar.

DuckDB hands timestamptz subtraction, casts to date and strftime to ICU: about 2.5 us a
row for `a - b`, 0.13 us for a cast to date and 0.3 us for strftime. Every timestamp
here is UTC, so the instant itself (`epoch_us`) says the same at the cost of integer
arithmetic. `dbt_project/macros/time.sql` and `days.sql` are the dbt twins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

_ONE_DAY = timedelta(days=1)


def seconds_between(start: str, end: str) -> str:
    """Seconds from `start` to `end` as a double: what epoch(end - start) gives."""
    return f"((epoch_us({end}) - epoch_us({start})) / 1000000.0)"


def iso_utc(column: str) -> str:
    """ISO 8601 with microseconds and Z: what strftime(column, '...%fZ') gives in UTC."""
    return f"strftime(make_timestamp(epoch_us({column})), '%Y-%m-%dT%H:%M:%S.%fZ')"


def day_runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """`days` as [first, after) runs of consecutive days, in order."""
    runs: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if runs and runs[-1][1] == d:
            runs[-1] = (runs[-1][0], d + _ONE_DAY)
        else:
            runs.append((d, d + _ONE_DAY))
    return runs


def in_utc_days(column: str, days: Sequence[date] | None) -> str:
    """A timestamptz column on the UTC `days` (true when None or empty), as ranges: exact
    for UTC days, and DuckDB skips other days' row groups by their min and max.

    The twin of dbt's `in_days_at` macro (dbt_project/macros/days.sql), kept because
    queries outside dbt need it: counting a night's events to decide dbt's batches
    (worktape.transform.batches) runs before dbt does, and the raw gate's per-bundle
    staging query (worktape.publish.stage) is not a dbt model. tests/test_sqltime.py
    holds it to DuckDB's date test."""
    if not days:
        return "true"

    def between(first: date, after: date) -> str:
        return (
            f"{column} >= TIMESTAMPTZ '{first} 00:00:00+00' AND "
            f"{column} < TIMESTAMPTZ '{after} 00:00:00+00'"
        )

    runs = day_runs(days)
    outer = between(runs[0][0], runs[-1][1])
    if len(runs) == 1:
        return f"({outer})"
    return f"({outer} AND (" + " OR ".join(f"({between(*r)})" for r in runs) + "))"
