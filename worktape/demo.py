"""`make demo` / `worktape demo`: the main job, end to end, on embedded defaults.

1. simulate a small team's workday into the local bucket folder (real format-1 bundles);
2. verify every bundle against the contract;
3. run the nightly pipeline for that day and the next (Airflow `dag.test()` on SQLite):
   discover, verify and load into DuckDB, quarantining what fails; one dbt build; the
   Great Expectations gate; a versioned dataset, the analyst file and the report;
4. score the marts against the simulator's ground truth and print the top workflows.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
from datetime import timedelta

from worktape.core.bundle import BundleError, read_bundle
from worktape.core.layout import RAW
from worktape.core.storage import open_storage
from worktape.settings import Settings
from worktape.simulate import DEFAULT_START, progress_bar, simulate


def run_demo(settings: Settings, *, contributors: int = 3, seed: int = 7) -> int:
    home = settings.home
    # every run starts over: a bucket another version simulated holds other bytes under
    # the same keys, which the simulator rightly refuses to overwrite
    shutil.rmtree(home / "demo", ignore_errors=True)
    bucket = home / "demo" / "bucket"
    # the demo keeps to its own bucket and warehouse, whatever else is configured; the
    # DAG tasks read their settings from the environment, as under a scheduler
    os.environ["WORKTAPE_STORAGE_URL"] = str(bucket)
    os.environ["WORKTAPE_WAREHOUSE"] = str(home / "demo" / "warehouse" / "worktape.duckdb")
    os.environ["WORKTAPE_ANALYST_DB"] = str(home / "demo" / "published.duckdb")
    settings = Settings()
    print(f"worktape demo: state in {home}")
    t0 = time.monotonic()
    res = simulate(
        str(bucket),
        contributors=contributors,
        days=1,
        seed=seed,
        frames="real",
        start=DEFAULT_START,
        progress=progress_bar("1/3 simulating a team-day"),
    )
    t_sim = time.monotonic() - t0

    storage = open_storage(str(bucket))
    reasons: Counter[str] = Counter()
    events = frames = nbytes = ok = 0
    keys = [i.key for i in storage.list(RAW) if i.key.endswith(".tar")]
    t1 = time.monotonic()
    show = progress_bar("2/3 verifying bundles", "bundles")
    for k, key in enumerate(keys, 1):
        show(k, len(keys))
        try:
            with storage.open(key) as body:
                b = read_bundle(body)
        except BundleError as e:
            reasons[e.reason.value] += 1
            continue
        ok += 1
        events += b.events.num_rows
        frames += b.screenshots.num_rows
        nbytes += b.bytes or 0
    t_ver = time.monotonic() - t1
    sys.stderr.flush()
    rate = events / max(t_ver, 1e-9)
    print(f"  contributors      {contributors} (seed {seed}), 1 workday")
    print(f"  bundles           {len(keys)} ({ok} verified ok, {sum(reasons.values())} failed)")
    print(f"  events            {events:,}")
    print(f"  frames            {frames:,}")
    print(f"  bytes             {nbytes / 2**20:.1f} MiB")
    print(f"  episodes (truth)  {res.episodes:,}")
    print(f"  simulate {t_sim:.1f}s, verify {t_ver:.1f}s ({rate:,.0f} events/s)")
    print(f"  bucket            {bucket}")
    for reason, n in reasons.items():
        print(f"  FAILED {reason}: {n}")
    if reasons:
        return 1

    from worktape.pipeline.runner import run_night
    from worktape.pipeline.summary import print_night

    # a person at UTC-8 works past midnight UTC: their last bundles belong to the next night
    print("3/3 running the nightly pipeline (Airflow dag.test, SQLite, DuckDB)", flush=True)
    for day in (DEFAULT_START, DEFAULT_START + timedelta(days=1)):
        for r in run_night(day, settings=settings):
            print_night(r, settings)
            if not r.ok:
                return 1
    from worktape.evaluate import evaluate, report

    warehouse = settings.warehouse_settings()
    print("scored against the simulator's ground truth (worktape evaluate):")
    print("  " + report(*evaluate(warehouse, storage)).replace("\n", "\n  "))
    print(f"  warehouse         {warehouse.path}")
    from worktape.pipeline.summary import print_workflows
    from worktape.publish.publisher import latest_version

    print_workflows(settings)
    version = latest_version(storage)
    reports = sorted((home / "reports").glob("night-*.html"))
    print("published (worktape_publish: quality gate passed):")
    print(f"  dataset           {bucket / 'published' / str(version)}/")
    print(f"  analyst file      {settings.analyst_db}")
    print('                    worktape query "SELECT * FROM workflows"')
    if reports:
        print(f"  nightly report    {reports[-1]}")
    return 0
