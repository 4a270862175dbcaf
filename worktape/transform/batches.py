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
    """Raw events per UTC day, of `days` or of all days when None, estimated from the
    loaded bundles without reading their events: a bundle's events count on every day
    its events span (first to last event, as the loader measured them, else its
    manifest's start and end). A bundle over midnight counts twice, which only makes
    batches smaller; every day holding an event is listed, so a full refresh builds
    them all."""
    from worktape.warehouse import connect

    if days is not None and not days:
        return {}
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            """
            WITH spans AS (
                SELECT b.event_count,
                       epoch_us(coalesce(p.first_at, b.started_at)) // 86400000000 AS first_day,
                       epoch_us(coalesce(p.last_at, b.ended_at)) // 86400000000 AS last_day
                FROM raw.bundles AS b
                LEFT JOIN raw.bundle_profiles AS p USING (bundle_id)
            )
            SELECT day, sum(event_count)
            FROM spans, range(first_day, greatest(first_day, last_day) + 1) AS r(day)
            GROUP BY 1
            """
        ).fetchall()
    finally:
        con.close()
    epoch = date(1970, 1, 1)
    counts = {(epoch + timedelta(days=int(day))).isoformat(): int(n) for day, n in rows}
    if days is None:
        return counts
    return {d: counts[d] for d in days if d in counts}
