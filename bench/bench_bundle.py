"""Bundle write and verify throughput (events/s, MB/s). Run with `make bench`; not a test.

Two shapes: an event-heavy hour (no frames, as a busy input stream looks) and a
frame-heavy hour (about 1,500 frames of 100 KiB, as a screen-heavy hour looks).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from worktape.core.bundle import BundleWriter, read_bundle
from worktape.core.bundle.schema import UTC_US

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
SCREENS = [{"monitor": 1, "left": 0, "top": 0, "width": 1920, "height": 1080}]
CONSENT = {"policy_version": "bench", "granted_at": "2026-11-01T00:00:00.000000Z"}


def events_table(n: int, rng: np.random.Generator) -> pa.Table:
    kinds = np.array(["mouse_move", "mouse_down", "mouse_up", "key_down", "key_up", "scroll"])
    ts = T0.timestamp() * 1e6 + np.sort(rng.integers(0, 3_599_000_000, n))
    return pa.table(
        {
            "ts": pa.array(ts.astype("int64"), UTC_US),
            "kind": pa.array(kinds[rng.integers(0, len(kinds), n)])
            .dictionary_encode()
            .cast(pa.string()),
            "x": pa.array(rng.integers(0, 1920, n).astype("int32")),
            "y": pa.array(rng.integers(0, 1080, n).astype("int32")),
            "app": pa.array(np.array(["chrome", "slack", "xterm"])[rng.integers(0, 3, n)]),
            "window_title": pa.array(
                np.array(["Inbox", "PR #12 · acme/api", "bash"])[rng.integers(0, 3, n)]
            ),
        }
    )


def run(label: str, n_events: int, n_frames: int, frame_bytes: int, tmp: Path) -> None:
    rng = np.random.default_rng(0)
    table = events_table(n_events, rng)
    frames = [rng.bytes(frame_bytes) for _ in range(min(n_frames, 50))]
    out = tmp / f"{label}.tar"
    t0 = time.perf_counter()
    with BundleWriter(
        out,
        bundle_id="bbench",
        device_id="dbench",
        contributor_id="cbench",
        started_at=T0,
        screens=SCREENS,
        consent=CONSENT,
    ) as w:
        for i in range(n_frames):
            w.add_frame(
                ts=T0 + timedelta(seconds=i),
                monitor=1,
                width=1920,
                height=1080,
                trigger="keyframe",
                data=frames[i % len(frames)],
            )
        w.add_events(table)
        sealed = w.seal(T0 + timedelta(hours=1))
    t_write = time.perf_counter() - t0
    mb = sealed.bytes / 1e6

    read_bundle(out)  # warm-up: imports, schema compilation, page cache
    t0 = time.perf_counter()
    read_bundle(out)
    t_verify = time.perf_counter() - t0
    t0 = time.perf_counter()
    read_bundle(out, frames="skip")
    t_head = time.perf_counter() - t0
    print(f"{label:<14} {n_events:>9,} events {n_frames:>5} frames {mb:8.1f} MB")
    print(
        f"  write        {t_write:7.3f} s  {n_events / t_write:>12,.0f} events/s "
        f"{mb / t_write:8.1f} MB/s"
    )
    print(
        f"  verify       {t_verify:7.3f} s  {n_events / t_verify:>12,.0f} events/s "
        f"{mb / t_verify:8.1f} MB/s"
    )
    print(
        f"  verify head  {t_head:7.3f} s  {n_events / t_head:>12,.0f} events/s "
        f"(frames skipped: {t_verify / t_head:.1f}x faster than full verify)"
    )


def main() -> None:
    print(f"bundle throughput, {os.cpu_count()} cores, single process")
    with tempfile.TemporaryDirectory() as tmp:
        run("event-heavy", 2_000_000, 0, 0, Path(tmp))
        run("frame-heavy", 50_000, 1_500, 100 * 1024, Path(tmp))


if __name__ == "__main__":
    main()
