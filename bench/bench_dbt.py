"""`dbt build` cost: full builds of 10, 100 (and with --full, 1,000) contributor-days,
and one incremental night over a history.

The night is one new day of P contributors over a history of P x 10 days (P = 10, or
100 with --full: 100 contributor-days over 1,000). Its cost is set beside a full build
of that new day alone, in a fresh warehouse: the night should cost what its new data
costs, not what the history costs. Simulated data (no frames) is cached under
$WORKTAPE_HOME/bench/. Loading is timed apart from dbt.

    python -m bench.bench_dbt [--full]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.measure import Measured, measure
from worktape.config import state_dir
from worktape.core.storage import LocalStorage
from worktape.loader import discover, load_bundles
from worktape.simulate import DEFAULT_START, simulate, workdays
from worktape.transform.dbt import build as dbt_build
from worktape.warehouse import WarehouseSettings, connect

HISTORY_DAYS = 10


def team(
    people: int, days: int, *, frames: str = "none", seed: int = 1, name: str = "team"
) -> Path:
    """A simulated team's bucket, cached under $WORKTAPE_HOME/bench/."""
    root = state_dir() / "bench" / f"{name}-{people}x{days}"
    if not (root / ".done").exists():
        shutil.rmtree(root, ignore_errors=True)
        print(f"  simulating {people} contributors x {days} days, frames {frames} ({root}) ...")
        simulate(str(root / "bucket"), contributors=people, days=days, seed=seed, frames=frames)
        (root / ".done").touch()
    return root / "bucket"


def load(bucket: Path, db: Path, days: list[date]) -> tuple[int, Measured]:
    """Load the bundles that started on `days` (UTC) into `db`."""

    def run() -> int:
        con = connect(WarehouseSettings(path=db))
        keys: list[str] = []
        storage = LocalStorage(bucket)
        for d in days:
            start = datetime(d.year, d.month, d.day, tzinfo=UTC)
            keys += discover(storage, con, start, start + timedelta(days=1), lookback_days=0)
        n = load_bundles(storage, con, keys, run_id="bench").events
        con.close()
        return n

    return measure(run)


def build(db: Path, days: list[date] | None) -> Measured:
    os.environ["WORKTAPE_WAREHOUSE"] = str(db)
    full = days is None
    days_ = [d.isoformat() for d in days or []]
    wh = WarehouseSettings(path=db)
    _, m = measure(lambda: dbt_build(days_, warehouse=wh, full_refresh=full))
    return m


def utc_days(first: date, n: int) -> list[date]:
    """The UTC days n local workdays from `first` touch (a late evening runs past
    midnight UTC)."""
    local = workdays(first, n)
    return sorted({d for day in local for d in (day, day + timedelta(days=1))})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="1,000 contributor-days")
    args = ap.parse_args()
    people = 100 if args.full else 10
    print("dbt build: full builds, then one incremental night over a history")
    big = team(people, HISTORY_DAYS + 1)
    small = team(10, 1)
    # the night is the UTC day of the 11th workday (a Monday): the history's last
    # evening spills into Saturday, not into the night
    night_day = workdays(DEFAULT_START, HISTORY_DAYS + 1)[-1]
    history = utc_days(DEFAULT_START, HISTORY_DAYS)
    sizes = [(10, small, utc_days(DEFAULT_START, 1))]
    if args.full:
        # the first UTC day: the first workday (less the evenings that spill past
        # midnight UTC); utc_days(.., 1) would add the second workday's day too
        sizes.append((people, big, [DEFAULT_START]))
    sizes.append((people * HISTORY_DAYS, big, history))
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        base = None
        for cdays, bucket, days in sizes:
            db = tmp / f"full-{cdays}.duckdb"
            n, m_load = load(bucket, db, days)
            m = build(db, None)
            base = base or (n, m.seconds)
            print(
                f"  {cdays:>5} contributor-days {n:>12,} events: dbt build {m.seconds:7.1f} s"
                f" ({n / m.seconds:>9,.0f} ev/s, peak {m.peak_mb:,.0f} MB;"
                f" load {m_load.seconds:.1f} s)   time x{m.seconds / base[1]:.2f}"
                f" for data x{n / base[0]:.1f}",
                flush=True,
            )

        # the largest history gets one more night; the night's day is also built alone
        n_new, _ = load(big, db, [night_day])
        m_night = build(db, [night_day])
        alone = tmp / "alone.duckdb"
        load(big, alone, [night_day])
        m_alone = build(alone, None)
        print(
            f"  incremental night of {people} contributors ({n_new:,} events) over "
            f"{people * HISTORY_DAYS} contributor-days: {m_night.seconds:.1f} s, "
            f"peak {m_night.peak_mb:,.0f} MB"
        )
        print(
            f"  the same day built alone: {m_alone.seconds:.1f} s; "
            f"night / alone = {m_night.seconds / m_alone.seconds:.2f} "
            f"(the history holds {n / max(n_new, 1):.0f}x the night's events)"
        )


if __name__ == "__main__":
    main()
