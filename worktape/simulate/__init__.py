"""`worktape simulate`: a team's workdays as real format-1 bundles plus ground truth."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from worktape.core.layout import raw_key, truth_key
from worktape.core.storage import ObjectExists, Storage, open_storage

FRAME_MODES = ("none", "tiny", "real")
DEFAULT_START = date(2026, 11, 2)  # a Monday


@dataclass
class DayResult:
    bundles: int = 0
    events: int = 0
    frames: int = 0
    bytes: int = 0
    episodes: int = 0
    skipped: int = 0  # bundles already in storage with the same bytes

    def add(self, other: DayResult) -> None:
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))


def workdays(start: date, n: int) -> list[date]:
    days, d = [], start
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def _put_same(storage: Storage, key: str, path: Path, sha256: str) -> bool:
    """Store once; a rerun with the same seed finds identical bytes and skips."""
    try:
        storage.put(key, path, sha256=sha256)
        return True
    except ObjectExists:
        info = storage.head(key)
        if info is not None and info.sha256 == sha256:
            return False
        raise RuntimeError(
            f"{key} exists with other content: use another --out or --seed"
        ) from None


def _run_day(args: tuple[str, int, int, str, str, float | None]) -> DayResult:
    from worktape.simulate.workday import make_person, simulate_day

    out_url, seed, index, day_iso, frames, hours = args
    storage = open_storage(out_url)
    person = make_person(seed, index)
    day = date.fromisoformat(day_iso)
    res = DayResult()
    with tempfile.TemporaryDirectory(prefix="worktape-sim-") as tmp:
        bundles, truth = simulate_day(
            person, day, seed=seed, frames=frames, work_dir=Path(tmp), hours=hours
        )
        for b in bundles:
            stored = _put_same(
                storage, raw_key(b.device_id, b.started_at, b.bundle_id), b.path, b.sha256
            )
            res.bundles += 1
            res.skipped += not stored
            res.events += b.events
            res.frames += b.screenshots
            res.bytes += b.bytes
            b.path.unlink()
        buf = io.BytesIO()
        pq.write_table(truth, buf, compression="zstd")
        storage.put(truth_key(person.device_id, day), buf.getvalue(), overwrite=True)
        res.episodes += truth.num_rows
    return res


def simulate(
    out: str,
    *,
    contributors: int,
    days: int,
    seed: int = 0,
    frames: str = "real",
    start: date = DEFAULT_START,
    jobs: int | None = None,
    hours: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    first: int = 0,
) -> DayResult:
    """Simulate `contributors` people over `days` workdays into storage `out`.
    `hours` shortens each workday (default: about 8 hours). People are numbered from
    `first`: a team grows by simulating only its newcomers."""
    if frames not in FRAME_MODES:
        raise ValueError(f"--frames must be one of {FRAME_MODES}")
    open_storage(out)  # fail early on a bad URL
    tasks = [
        (out, seed, i, d.isoformat(), frames, hours)
        for d in workdays(start, days)
        for i in range(first, first + contributors)
    ]
    total = DayResult()
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    if jobs == 1:
        results = map(_run_day, tasks)
        for k, r in enumerate(results, 1):
            total.add(r)
            if progress:
                progress(k, len(tasks))
        return total
    with ProcessPoolExecutor(jobs) as pool:
        for k, r in enumerate(pool.map(_run_day, tasks), 1):
            total.add(r)
            if progress:
                progress(k, len(tasks))
    return total


def progress_bar(label: str, unit: str = "contributor-days") -> Callable[[int, int], None]:
    """A one-line progress bar on stderr (every step on a terminal, tenths otherwise)."""
    started = time.monotonic()
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if not tty and done != total and done % max(1, total // 10):
            return
        width = 30
        filled = int(width * done / max(total, 1))
        rate = done / max(1e-9, time.monotonic() - started)
        end = "\n" if done == total or not tty else ""
        sys.stderr.write(
            f"{chr(13) if tty else ''}{label} [{'#' * filled}{'.' * (width - filled)}]"
            f" {done}/{total} {unit} ({rate:.1f}/s){end}"
        )
        sys.stderr.flush()

    return show
