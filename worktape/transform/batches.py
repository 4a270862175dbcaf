"""A night's days cut into dbt batches, by how many raw events each day holds."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worktape.warehouse import WarehouseSettings


def day_batches(
    days: list[str], events: dict[str, int], *, max_events: int, max_days: int
) -> list[list[str]]:
    """Consecutive runs of `days` holding at most `max_events` events (a day larger than
    that goes alone) and at most `max_days` days. Never empty: [[]] for no days."""
    batches: list[list[str]] = []
    current: list[str] = []
    n = 0
    for d in days:
        c = events.get(d, 0)
        if current and (n + c > max_events or len(current) >= max(1, max_days)):
            batches.append(current)
            current, n = [], 0
        current.append(d)
        n += c
    if current:
        batches.append(current)
    return batches or [[]]


def events_per_day(settings: WarehouseSettings, days: list[str] | None = None) -> dict[str, int]:
    """Raw events per UTC day: of `days`, or of all days when None. The day is counted
    from the instant (epoch_us), not with a cast or strftime of the timestamptz, which
    go through ICU's calendar: 13 s instead of 0.5 s over 45M events.

    This query runs outside dbt (it decides how dbt is called), so it filters the days
    with `worktape.sqltime.in_utc_days`, the Python twin of the `in_days_at` macro."""
    from worktape.sqltime import in_utc_days
    from worktape.warehouse import connect

    if days is not None and not days:
        return {}
    chosen = None if days is None else [date.fromisoformat(d) for d in days]
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "SELECT epoch_us(ts) // 86400000000 AS day, count(*) FROM raw.events "
            f"WHERE {in_utc_days('ts', chosen)} GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    epoch = date(1970, 1, 1)
    return {(epoch + timedelta(days=int(day))).isoformat(): n for day, n in rows}
