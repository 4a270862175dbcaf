"""Ingest throughput: worktape's verify-and-load against DuckDB's own Parquet insert.

For 10, 100 (and with --full, 1,000) contributor-days of simulated events (no frames),
it times, in the same run and on the same events files:
  A. worktape: discover + stream + verify every bundle + load raw tables + ledger;
  B. DuckDB alone: INSERT INTO events SELECT * FROM read_parquet('<the events files>').
and prints both rates and A/B. Simulated data is cached under $WORKTAPE_HOME/bench/.

    python -m bench.bench_ingest [--sizes 10 100] [--full]
"""

from __future__ import annotations

import argparse
import shutil
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from worktape.config import state_dir
from worktape.core.layout import RAW
from worktape.core.storage import LocalStorage
from worktape.loader import discover, load_bundles
from worktape.simulate import DEFAULT_START, simulate, workdays
from worktape.warehouse import WarehouseSettings, connect

CONTRIBUTORS = 10


def dataset(cdays: int) -> Path:
    days = max(1, cdays // CONTRIBUTORS)
    people = cdays // days
    root = state_dir() / "bench" / f"ingest-{people}x{days}"
    if not (root / ".done").exists():
        shutil.rmtree(root, ignore_errors=True)
        print(
            f"  simulating {people} contributors x {days} days (cached in {root}) ...", flush=True
        )
        simulate(str(root / "bucket"), contributors=people, days=days, seed=1, frames="none")
        (root / ".done").touch()
    return root


def events_files(root: Path) -> Path:
    out = root / "events_files"
    if not out.exists():
        out.mkdir()
        for i, tar_path in enumerate(sorted((root / "bucket").rglob("*.tar"))):
            with tarfile.open(tar_path) as tar:
                data = tar.extractfile("events.parquet").read()  # type: ignore[union-attr]  # the member exists in our bundles
            (out / f"{i:06d}.parquet").write_bytes(data)
    return out


def run(cdays: int, tmp: Path) -> tuple[float, float, int]:
    root = dataset(cdays)
    files = events_files(root)
    storage = LocalStorage(root / "bucket")
    days = workdays(DEFAULT_START, max(1, cdays // CONTRIBUTORS))
    start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)
    end = datetime(days[-1].year, days[-1].month, days[-1].day, tzinfo=UTC) + timedelta(days=2)

    db = tmp / f"worktape-{cdays}.duckdb"
    t0 = time.perf_counter()
    con = connect(WarehouseSettings(path=db))
    keys = discover(storage, con, start, end, lookback_days=0)
    summary = load_bundles(storage, con, keys, run_id="bench")
    con.close()
    t_ours = time.perf_counter() - t0
    n = summary.events
    assert summary.loaded == len(list(storage.list(RAW))), summary

    db2 = tmp / f"duckdb-{cdays}.duckdb"
    t0 = time.perf_counter()
    # DuckDB alone, with the very settings the warehouse uses
    ws = WarehouseSettings(path=db2)
    con = duckdb.connect(
        str(db2),
        config={
            "threads": ws.threads,
            "memory_limit": ws.memory_limit,
            "preserve_insertion_order": False,
        },
    )
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{files}/*.parquet') LIMIT 0")
    con.execute(f"INSERT INTO events SELECT * FROM read_parquet('{files}/*.parquet')")
    m = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    t_duck = time.perf_counter() - t0
    assert m == n, (m, n)
    return n / t_ours, n / t_duck, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--full", action="store_true", help="add 1,000 contributor-days")
    args = ap.parse_args()
    sizes = args.sizes + ([1000] if args.full and 1000 not in args.sizes else [])
    print("ingest throughput: worktape verify+load vs DuckDB INSERT ... read_parquet")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cdays in sizes:
            ours, duck, n = run(cdays, Path(tmp))
            rows.append((cdays, n, ours, duck))
            print(
                f"  {cdays:>5} contributor-days {n:>12,} events   worktape {ours:>12,.0f} ev/s"
                f"   duckdb {duck:>12,.0f} ev/s   ratio {ours / duck:5.2f}",
                flush=True,
            )
    base = rows[0]
    for cdays, _, ours, _ in rows[1:]:
        print(f"  rate at {cdays} vs {base[0]} contributor-days: {ours / base[2]:.2f}x")


if __name__ == "__main__":
    main()
