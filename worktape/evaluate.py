"""`worktape evaluate`: score the episode marts against the simulator's ground truth.

Episode boundaries are compared as actions: a true episode (workflow or distraction)
begins at the first action at or after its start, on its device; a predicted episode
begins at its first action. Precision, recall and F1 count the episodes whose first
action is the same (within `tolerance_s` when the true start has no action of its own
nearby). Truth outside the time the warehouse covers is left out.

Workflow clusters are scored with the adjusted Rand index over predicted episodes: each
one's true workflow is the one most of its actions belong to (an action belongs to the
innermost true episode around it: an interruption, not the task it interrupted).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from worktape.layout import TRUTH
from worktape.storage import Storage
from worktape.warehouse import WarehouseSettings, connect
from worktape.workflows import adjusted_rand_index


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
    con = connect(WarehouseSettings(path=warehouse), read_only=True)
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


@dataclass
class ClusterScores:
    episodes: int
    true_workflows: int
    predicted_workflows: int
    ari: float


def cluster_scores(warehouse: Path, truth: pa.Table, tolerance_s: float = 3.0) -> ClusterScores:
    con = connect(WarehouseSettings(path=warehouse), read_only=True)
    try:
        con.register("truth", truth.select(["device_id", "workflow", "started_at", "ended_at"]))
        rows = con.execute(
            f"""
            WITH labelled AS (
                SELECT a.step_id, a.episode_id,
                       arg_max(t.workflow, t.started_at) AS workflow
                FROM marts.steps AS a
                JOIN truth AS t
                  ON a.device_id = t.device_id
                 AND a.started_at >= t.started_at
                 AND a.started_at <= t.ended_at + to_microseconds({int(tolerance_s * 1e6)})
                GROUP BY ALL
            ),
            episodes AS (
                SELECT episode_id, mode(workflow) AS workflow
                FROM labelled GROUP BY episode_id
            )
            SELECT e.workflow, w.workflow_id
            FROM episodes AS e
            JOIN marts.workflow_instances AS w USING (episode_id)
            ORDER BY e.episode_id
            """
        ).fetchall()
    finally:
        con.close()
    true = [r[0] for r in rows]
    pred = [r[1] for r in rows]
    return ClusterScores(len(rows), len(set(true)), len(set(pred)), adjusted_rand_index(true, pred))


def report(scores: Scores, clusters: ClusterScores | None = None) -> str:
    lines = [
        f"episode boundaries: precision {scores.precision:.3f}, recall {scores.recall:.3f}, "
        f"F1 {scores.f1:.3f} (tolerance {scores.tolerance_s:g} s; {scores.predicted} "
        f"predicted, {scores.true} true, {scores.matched} matched)"
    ]
    if clusters is not None:
        lines.append(
            f"workflow clusters: ARI {clusters.ari:.3f} ({clusters.episodes} episodes; "
            f"{clusters.predicted_workflows} workflows found, {clusters.true_workflows} true)"
        )
    return "\n".join(lines)


def evaluate(
    warehouse: Path, storage: Storage, tolerance_s: float = 3.0
) -> tuple[Scores, ClusterScores]:
    """Both scores of a warehouse against the ground truth the simulator left in
    `storage`."""
    truth = load_truth(storage)
    return (
        boundary_scores(warehouse, truth, tolerance_s),
        cluster_scores(warehouse, truth, tolerance_s),
    )
