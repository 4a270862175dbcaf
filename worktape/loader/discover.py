"""Find the raw bundles a night should load.

A run for the data interval [start, end) looks at the UTC dates the interval covers, plus
`lookback_days` before them, so that a laptop that was offline for a few days still gets
its bundles loaded by a later night. Keys already in the ledger, in quarantine or known
duplicates are skipped: that is what makes a rerun of the same interval a no-op.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa

from worktape.core.layout import RAW
from worktape.core.storage import Storage

DEFAULT_LOOKBACK_DAYS = 7


def interval_dates(start: datetime, end: datetime, lookback_days: int = 0) -> list[date]:
    first = start.date() - timedelta(days=lookback_days)
    last = (end - timedelta(microseconds=1)).date() if end > start else start.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def list_raw_keys(
    storage: Storage, dates: list[date], *, root: str = RAW, suffix: str = ".tar"
) -> list[str]:
    """Every raw bundle key under the given dates, listing only those partitions (under
    `root`: raw/, or quarantine/raw/ with suffix ".reason.json" for the reasons)."""
    wanted = {d.isoformat() for d in dates}
    keys: list[str] = []
    for device_dir in storage.list_dirs(root):
        for date_dir in storage.list_dirs(device_dir):
            if date_dir.rstrip("/").rpartition("date=")[2] not in wanted:
                continue
            keys.extend(i.key for i in storage.list(date_dir) if i.key.endswith(suffix))
    return sorted(keys)


def discover(
    storage: Storage,
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    *,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> list[str]:
    """New raw keys for the interval: not loaded, not quarantined."""
    keys = list_raw_keys(storage, interval_dates(start, end, lookback_days))
    if not keys:
        return []
    con.register("_candidates", _key_table(keys))
    try:
        rows = con.execute("""
            SELECT c.object_key FROM _candidates c
            WHERE c.object_key NOT IN (SELECT object_key FROM raw.ledger)
              AND c.object_key NOT IN (SELECT object_key FROM raw.quarantine)
              AND c.object_key NOT IN (SELECT object_key FROM raw.duplicate_keys)
            ORDER BY 1""").fetchall()
    finally:
        con.unregister("_candidates")
    return [r[0] for r in rows]


def _key_table(keys: list[str]) -> pa.Table:
    return pa.table({"object_key": pa.array(keys, pa.string())})
