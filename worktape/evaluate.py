"""`worktape evaluate`: score the episode marts against the simulator's ground truth.

Episode boundaries are compared as actions: a true episode (workflow or distraction)
begins at the first action at or after its start, on its device; a predicted episode
begins at its first action. Precision, recall and F1 count the episodes whose first
action is the same (within `tolerance_s` when the true start has no action of its own
nearby). Truth outside the time the warehouse covers is left out.

Workflow clusters (adjusted Rand index) need the workflows model, which does not exist
yet: reported as n/a.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from worktape.layout import TRUTH
from worktape.storage import Storage


@dataclass
class Scores:
    predicted: int
    true: int
    matched: int
    tolerance_s: float

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_truth(storage: Storage) -> pa.Table:
    tables = []
    for info in storage.list(TRUTH):
        if info.key.endswith(".parquet"):
            with storage.open(info.key) as f:
                tables.append(pq.read_table(pa.BufferReader(f.read())))
    if not tables:
        raise ValueError(f"no ground truth under {TRUTH} in {storage.url}: was it simulated?")
    return pa.concat_tables(tables)


def boundary_scores(warehouse: Path, truth: pa.Table, tolerance_s: float = 3.0) -> Scores:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        starts = {
            (d, a)
            for d, a in con.execute("SELECT device_id, episode_id FROM marts.episodes").fetchall()
        }
        rows = con.execute(
            "SELECT device_id, started_at, action_id FROM marts.actions ORDER BY 1, 2, 3"
        ).fetchall()
    finally:
        con.close()
    actions: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for device, ts, action_id in rows:
        actions[device].append((ts, action_id))
    true_starts: set[tuple[str, str]] = set()
    for row in truth.select(["device_id", "started_at", "ended_at"]).to_pylist():
        acts = actions.get(row["device_id"])
        if not acts or not acts[0][0] <= row["started_at"] <= acts[-1][0]:
            continue
        i = bisect.bisect_left(acts, (row["started_at"], ""))
        if i < len(acts) and acts[i][0] <= row["ended_at"] + timedelta(seconds=tolerance_s):
            true_starts.add((row["device_id"], acts[i][1]))
    return Scores(len(starts), len(true_starts), len(starts & true_starts), tolerance_s)


def report(scores: Scores) -> str:
    return (
        f"episode boundaries: precision {scores.precision:.3f}, recall {scores.recall:.3f}, "
        f"F1 {scores.f1:.3f} (tolerance {scores.tolerance_s:g} s; {scores.predicted} "
        f"predicted, {scores.true} true, {scores.matched} matched)\n"
        "workflow clusters: ARI n/a (the workflows model is not built yet)"
    )
