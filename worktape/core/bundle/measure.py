"""Per-event measures that both a contract rule and the raw quality profile use: where
each pointer event lies on the monitor it names, and each event's time in seq order.

One implementation, so that a bundle the reader accepts cannot then fail the raw suite
on the same rule (the loader's profile reports these measures' extremes to the gate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    out: np.ndarray = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    return out


def on_screen(events: pa.Table, screens: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Each event's pointer position as a fraction of the monitor it names (1 when it
    names none): 0 is the left/top edge, 1 the right/bottom one. NaN where an event has
    no position or names a monitor the manifest does not describe."""
    by_monitor = {int(s["monitor"]): s for s in screens}
    top_monitor = max([1, *by_monitor])
    geometry = np.full((top_monitor + 1, 4), np.nan)
    for m, s in by_monitor.items():
        if 0 <= m <= top_monitor:
            geometry[m] = (s["left"], s["top"], s["width"], s["height"])
    geometry[0] = np.nan  # monitor 0 or out of range: no screen
    monitor = pc.fill_null(events["monitor"], 1).to_numpy(zero_copy_only=False).astype(np.int64)
    monitor = np.where((monitor >= 0) & (monitor <= top_monitor), monitor, 0)
    g = geometry[monitor]
    with np.errstate(invalid="ignore", divide="ignore"):
        x_on = (_floats(events["x"]) - g[:, 0]) / g[:, 2]
        y_on = (_floats(events["y"]) - g[:, 1]) / g[:, 3]
    return x_on, y_on


def off_screen(x_on: np.ndarray, y_on: np.ndarray) -> np.ndarray:
    """Events whose pointer lies outside the monitor they name."""
    with np.errstate(invalid="ignore"):
        return (x_on < 0) | (x_on > 1) | (y_on < 0) | (y_on > 1)


def ts_us(events: pa.Table) -> np.ndarray:
    """Event times as microseconds since the epoch, in seq order."""
    out: np.ndarray = pc.cast(events["ts"], pa.int64()).to_numpy(zero_copy_only=False)
    return out
