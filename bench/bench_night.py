"""`make bench-night`: a whole night at scale: ingest, dbt, gate, publish.

A simulated night of P contributors x D workdays (events and tiny frames; default 100 x
10 = 1,000 contributor-days) goes through the night's task bodies as one first night:
discover and load (frames verified), one dbt build, the gate, publishing (Parquet,
records, event logs, frames). Each stage prints its time and peak memory (children
included). Then the same with twice the contributors, and a rerun with no new bundles.
Simulated data is cached under $WORKTAPE_HOME/bench/; published/ is removed after.

    python -m bench.bench_night [--contributors 100] [--days 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import bench_dbt
from bench.bench_dbt import utc_days
from bench.measure import Measured, measure
from worktape.core.storage import LocalStorage
from worktape.loader import discover, load_bundles
from worktape.pipeline.tasks import dbt_build
from worktape.publish.analyst import write_analyst_db
from worktape.publish.search import build_search_index
from worktape.settings import Settings
from worktape.simulate import DEFAULT_START, simulate
from worktape.warehouse import WarehouseSettings, connect, open_db

SEED = 3


def team(people: int, days: int) -> Path:
    """The first `people` of a simulated team: hard links into a larger cached team
    when there is one, else simulated."""
    for size in sorted(_cached_sizes(days)):
        if size >= people:
            cached = Settings().home / "bench" / f"night-{size}x{days}" / "bucket"
            return cached if size == people else subset(cached, people, days)
    return bench_dbt.team(people, days, frames="tiny", seed=SEED, name="night")


def subset(bucket: Path, people: int, days: int) -> Path:
    from worktape.core.layout import RAW, TRUTH
    from worktape.simulate.workday import make_person

    root = Settings().home / "bench" / f"night-{people}x{days}-subset"
    if not (root / ".done").exists():
        shutil.rmtree(root, ignore_errors=True)
        for i in range(people):
            device = make_person(SEED, i).device_id
            for top in (RAW, TRUTH):
                src = bucket / top / f"device={device}"
                if src.exists():
                    dest = root / "bucket" / top
                    dest.mkdir(parents=True, exist_ok=True)
                    subprocess.run(["cp", "-al", str(src), str(dest)], check=True)
        (root / ".done").touch()
    return root / "bucket"


def _cached_sizes(days: int) -> list[int]:
    return [
        int(c.name.split("-")[1].split("x")[0])
        for c in (Settings().home / "bench").glob(f"night-*x{days}")
        if (c / ".done").exists()
    ]


def team_or_grow(people: int, days: int) -> Path:
    """`people` contributors: from a cached team at least as large, else the team of
    half as many, grown."""
    if any(size >= people for size in _cached_sizes(days)):
        return team(people, days)
    return doubled(people // 2, days)


def doubled(people: int, days: int) -> Path:
    """The team of `team(people, days)` plus as many newcomers: the first half is the
    same bundles (hard links), so only the newcomers are simulated."""
    root = Settings().home / "bench" / f"night-{2 * people}x{days}"
    if not (root / ".done").exists():
        half = team(people, days)
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        subprocess.run(["cp", "-al", str(half), str(root / "bucket")], check=True)
        print(f"  simulating {people} more contributors x {days} days ({root}) ...")
        simulate(
            str(root / "bucket"),
            contributors=people,
            days=days,
            seed=SEED,
            frames="tiny",
            first=people,
        )
        (root / ".done").touch()
    return root / "bucket"


def night(bucket: Path, days: int, work: Path) -> dict[str, Measured]:
    from worktape.publish.publisher import publish

    storage = LocalStorage(bucket)
    shutil.rmtree(bucket / "published", ignore_errors=True)
    db = work / "warehouse.duckdb"
    settings = Settings()
    utc = utc_days(DEFAULT_START, days)
    start = datetime.combine(utc[0], datetime.min.time(), UTC)
    end = datetime.combine(utc[-1], datetime.min.time(), UTC) + timedelta(days=1)
    out: dict[str, Measured] = {}

    def ingest() -> int:
        con = connect(settings.warehouse_settings(db))
        keys = discover(storage, con, start, end, lookback_days=0)
        n = load_bundles(storage, con, keys, run_id="bench").events
        con.close()
        return n

    events, out["ingest"] = measure(ingest)
    _, out["dbt"] = measure(
        lambda: dbt_build([d.isoformat() for d in utc], warehouse=db, settings=settings)
    )
    # what the procedure models took of the (last) dbt invocation
    results = json.loads((settings.dbt_project_dir / "target" / "run_results.json").read_text())
    out["dbt_procedures"] = Measured(
        sum(
            r["execution_time"]
            for r in results["results"]
            if r["unique_id"].split(".")[-1].startswith("procedure")
        ),
        0,
    )
    result, m = measure(
        lambda: publish(
            settings.warehouse_settings(db),
            storage,
            days=utc,
            work_dir=work / "publish",
            docs_dir=work / "docs",
            dbt_project=settings.dbt_project_dir,
            frame_sample=settings.gate_frame_sample,
        )
    )
    s = result.seconds
    gate_s = s.get("stage", 0) + s.get("gate", 0)
    out["gate"] = Measured(gate_s, m.peak_mb)
    out["publish"] = Measured(m.seconds - gate_s, m.peak_mb)
    out["publish_parts"] = s  # type: ignore[assignment]  # one nested entry
    # what one version adds to the bucket beside the frame shards versions share
    version = bucket / "published" / result.version
    out["version_mb"] = Measured(sum(f.stat().st_size for f in version.rglob("*")) / 2**20, 0)

    # the analysts' file with its search index, from the version's tables
    _, out["analyst"] = measure(
        lambda: write_analyst_db(
            work / "publish" / "version" / "tables",
            result.version,
            work / "analyst.duckdb",
            settings.warehouse_settings(work / "analyst.duckdb"),
        )
    )
    _, out["analyst_index"] = measure(
        lambda: index_only(work / "analyst.duckdb", settings.warehouse_settings(db))
    )

    def rerun() -> int:
        # what run_night does when nothing new arrived: discover, then nothing to build
        # or publish (the warehouse is what the last publish saw)
        con = connect(settings.warehouse_settings(db))
        keys = discover(storage, con, start, end, lookback_days=7)
        con.close()
        if keys:
            raise RuntimeError(f"{len(keys)} bundles left to load")
        return 0

    _, out["rerun"] = measure(rerun)
    out["events"] = Measured(events, 0)
    out["shards"] = Measured(result.shards_written, 0)
    shutil.rmtree(bucket / "published", ignore_errors=True)
    return out


def index_only(path: Path, settings: WarehouseSettings) -> int:
    """The search index of the analyst file at `path` built again: its share of the file."""
    con = open_db(path, settings=settings)
    try:
        return build_search_index(con, [])
    finally:
        con.close()


def drop_page_cache() -> str:
    """Drop the kernel's page cache (root only); say whether it was dropped."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as e:
        return f"kept ({e.strerror}: the figures may favour cached data)"
    return "dropped"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contributors", type=int, default=100)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument(
        "--keep", type=Path, help="keep each night's warehouse and work files under this folder"
    )
    ap.add_argument("--once", action="store_true", help="only the first size, not 2x")
    args = ap.parse_args()
    p, d = args.contributors, args.days
    print(f"a night at scale: {p} x {d} and {2 * p} x {d} contributor-days, tiny frames")
    runs = {}
    for people in (p,) if args.once else (p, 2 * p):
        bucket = team(p, d) if people == p else team_or_grow(people, d)
        # each size starts from a cold page cache, as a night does: the first size's
        # files would otherwise still be cached and the second's not
        print(f"  page cache before {people * d:,} contributor-days: {drop_page_cache()}")
        if args.keep:
            work = args.keep / f"{people}x{d}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            r = night(bucket, d, work)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                r = night(bucket, d, Path(tmp))
        runs[people] = r
        total = sum(r[k].seconds for k in ("ingest", "dbt", "gate", "publish"))
        print(
            f"  {people * d:,} contributor-days, {r['events'].seconds:,.0f} events, "
            f"{r['shards'].seconds:,.0f} frame shards written: {total / 60:.1f} min"
        )
        for stage in ("ingest", "dbt", "gate", "publish", "rerun"):
            m = r[stage]
            print(f"    {stage:8} {m.seconds:8.1f} s   peak {m.peak_mb:8,.0f} MB")
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in r["publish_parts"].items())  # type: ignore[union-attr]  # set just above
        print(f"    (publish, by step: {parts})")
        print(f"    (published version: {r['version_mb'].seconds:,.1f} MB besides frame shards)")
        print(
            f"    (procedures: dbt models {r['dbt_procedures'].seconds:.1f} s, documents "
            f"{r['publish_parts'].get('procedures', 0):.1f} s; analyst file "  # type: ignore[union-attr]
            f"{r['analyst'].seconds:.1f} s, of which the search index "
            f"{r['analyst_index'].seconds:.1f} s)"
        )
    if args.once:
        return
    one, two = runs[p], runs[2 * p]
    t1 = sum(one[k].seconds for k in ("ingest", "dbt", "gate", "publish"))
    t2 = sum(two[k].seconds for k in ("ingest", "dbt", "gate", "publish"))
    print(
        f"  2x data: {t2 / t1:.2f}x time (target <= 2.1x); a rerun with no new bundles "
        f"takes {two['rerun'].seconds:.1f} s (target <= 60 s)"
    )


if __name__ == "__main__":
    main()
