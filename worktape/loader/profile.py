"""A bundle's profile: what the raw quality suite judges, measured as the bundle loads.

The raw suite's rules hold for every event (a known kind, a pointer on the monitor it
names, time never running backwards in seq order). For a rule that every row must
keep, a bundle's extremes and counts say the same: the smallest step in time, the
lowest and highest position on the screen, how many unknown kinds, with the first
event that broke each rule as an example. The loader has each bundle's events in
memory, in seq order, so it measures them there (numpy, about a millisecond a bundle);
in SQL over a night's 45M events the same took three minutes (a window sort).
`tests/test_loader.py` holds these numbers to the SQL definitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from worktape.core.bundle import Bundle
from worktape.core.bundle.contract import EVENT_KINDS
from worktape.core.bundle.measure import off_screen, on_screen, ts_us

PROFILE_SCHEMA = pa.schema(
    [
        ("bundle_id", pa.string()),
        ("events", pa.int64()),
        ("duplicate_event_ids", pa.int64()),
        ("unknown_kinds", pa.int64()),
        ("null_ts", pa.int64()),
        ("min_x_on_screen", pa.float64()),
        ("max_x_on_screen", pa.float64()),
        ("min_y_on_screen", pa.float64()),
        ("max_y_on_screen", pa.float64()),
        ("min_ts_step_s", pa.float64()),
        ("first_at", pa.timestamp("us", tz="UTC")),
        ("last_at", pa.timestamp("us", tz="UTC")),
        ("unknown_kind_example", pa.string()),
        ("off_screen_example", pa.string()),
        ("backwards_example", pa.string()),
    ]
)


def _extreme(values: np.ndarray, fn: Any) -> float | None:
    finite = values[~np.isnan(values)]
    return float(fn(finite)) if finite.size else None


def profile(b: Bundle) -> dict[str, Any]:
    """One row of PROFILE_SCHEMA for a verified bundle (its events are in seq order)."""
    ev = b.events
    n = ev.num_rows
    bid = b.bundle_id

    def example(mask: np.ndarray) -> str | None:
        hit = np.flatnonzero(mask)
        return f"{bid}-{int(ev['seq'][int(hit[0])].as_py())}" if hit.size else None

    kinds = pc.cast(ev["kind"], pa.string())
    unknown = pc.invert(pc.is_in(kinds, value_set=pa.array(EVENT_KINDS))).to_numpy(
        zero_copy_only=False
    )
    x_on, y_on = on_screen(ev, b.manifest["screens"])
    ts = ts_us(ev)
    steps = np.diff(ts)
    return {
        "bundle_id": bid,
        "events": n,
        "duplicate_event_ids": n - pc.count_distinct(ev["seq"]).as_py() if n else 0,
        "unknown_kinds": int(unknown.sum()),
        "null_ts": ev["ts"].null_count,
        "min_x_on_screen": _extreme(x_on, np.min),
        "max_x_on_screen": _extreme(x_on, np.max),
        "min_y_on_screen": _extreme(y_on, np.min),
        "max_y_on_screen": _extreme(y_on, np.max),
        "min_ts_step_s": float(steps.min()) / 1e6 if steps.size else 0.0,
        "first_at": int(ts.min()) if n else None,
        "last_at": int(ts.max()) if n else None,
        "unknown_kind_example": example(unknown),
        "off_screen_example": example(off_screen(x_on, y_on)),
        # the event that stepped back, not the one before it
        "backwards_example": example(np.concatenate([[False], steps < 0])),
    }
