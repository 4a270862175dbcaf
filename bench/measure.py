"""Wall time and peak memory of a stage, children included (dbt runs as a child)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psutil

T = TypeVar("T")


@dataclass
class Measured:
    seconds: float
    peak_mb: float


def measure(fn: Callable[[], T], interval: float = 0.1) -> tuple[T, Measured]:
    """Run fn, sampling the resident memory of this process and its children."""
    me = psutil.Process()
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            peak = max(peak, total)
            done.wait(interval)

    t = threading.Thread(target=sample, daemon=True)
    t0 = time.perf_counter()
    t.start()
    try:
        out = fn()
    finally:
        done.set()
        t.join()
    return out, Measured(time.perf_counter() - t0, peak / 2**20)
