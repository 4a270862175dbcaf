"""`make demo` / `worktape demo`: the main job, end to end, on embedded defaults.

Today: simulate a small team's day into the local bucket folder and verify every
bundle. Each later stage of the night (load, dbt, gate, publish) joins here.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from worktape.bundle import BundleError, read_bundle
from worktape.config import state_dir
from worktape.layout import RAW
from worktape.simulate import progress_bar, simulate
from worktape.storage import open_storage


def run_demo(*, contributors: int = 3, seed: int = 7) -> int:
    home = state_dir()
    bucket = home / "demo" / "bucket"
    print(f"worktape demo: state in {home}")
    t0 = time.monotonic()
    res = simulate(
        str(bucket),
        contributors=contributors,
        days=1,
        seed=seed,
        frames="real",
        progress=progress_bar("1/2 simulating a team-day"),
    )
    t_sim = time.monotonic() - t0

    storage = open_storage(str(bucket))
    reasons: Counter[str] = Counter()
    events = frames = nbytes = ok = 0
    keys = [i.key for i in storage.list(RAW) if i.key.endswith(".tar")]
    t1 = time.monotonic()
    show = progress_bar("2/2 verifying bundles", "bundles")
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
    print(f"  contributors      {contributors} (seed {seed}), 1 workday")
    print(f"  bundles           {len(keys)} ({ok} verified ok, {sum(reasons.values())} failed)")
    print(f"  events            {events:,}")
    print(f"  frames            {frames:,}")
    print(f"  bytes             {nbytes / 2**20:.1f} MiB")
    print(f"  episodes (truth)  {res.episodes:,}")
    rate = events / max(t_ver, 1e-9)
    print(f"  simulate {t_sim:.1f}s, verify {t_ver:.1f}s ({rate:,.0f} events/s)")
    print(f"  bucket            {bucket}")
    for reason, n in reasons.items():
        print(f"  FAILED {reason}: {n}")
    return 1 if reasons else 0
