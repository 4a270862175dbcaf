"""`worktape evaluate`: score the episode marts against ground truth: the simulator's, or
the recorded corpus's (its scripted users write it in the same schema).

Episode boundaries are compared as actions: a true episode (workflow or distraction)
begins at the first action at or after its start, on its device; a predicted episode
begins at its first action. Precision, recall and F1 count the episodes whose first
action is the same (within `tolerance_s` when the true start has no action of its own
nearby). Truth outside the time the warehouse covers is left out, and so are predicted
episodes outside the time the truth covers on their device.

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

from worktape.core.layout import TRUTH
from worktape.core.storage import Storage
from worktape.warehouse import WarehouseSettings, connect, warehouse_at
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


def boundary_scores(
    warehouse: Path | WarehouseSettings, truth: pa.Table, tolerance_s: float = 3.0
) -> Scores:
    con = connect(warehouse_at(warehouse), read_only=True)
    try:
        # only episodes the truth covers: a device's recording may start before its
        # first labelled task and go on after its last one
        con.register("truth", truth.select(["device_id", "started_at", "ended_at"]))
        starts = {
            (d, a)
            for d, a in con.execute(
                f"""
                WITH covered AS (
                    SELECT device_id, min(started_at) AS first_at, max(ended_at) AS last_at
                    FROM truth GROUP BY device_id
                )
                SELECT e.device_id, e.episode_id
                FROM marts.episodes AS e JOIN covered AS c USING (device_id)
                WHERE e.started_at BETWEEN c.first_at - to_microseconds({int(tolerance_s * 1e6)})
                                       AND c.last_at + to_microseconds({int(tolerance_s * 1e6)})
                """
            ).fetchall()
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
        # a true episode counts when it overlaps the recorded actions (the first one of a
        # recording starts a moment before its first action)
        if not acts or row["ended_at"] < acts[0][0] or row["started_at"] > acts[-1][0]:
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


def cluster_scores(
    warehouse: Path | WarehouseSettings, truth: pa.Table, tolerance_s: float = 3.0
) -> ClusterScores:
    con = connect(warehouse_at(warehouse), read_only=True)
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


@dataclass
class WorkflowScore:
    """One true workflow: its boundaries, its instances, and where its episodes went."""

    workflow: str
    true_instances: int
    found_instances: int  # predicted episodes most of whose actions are this workflow's
    precision: float  # of those, the share that start where a true episode starts
    recall: float  # of its true episodes, the share a predicted episode starts with
    predicted_as: str  # the predicted workflow most of its episodes got
    predicted_share: float  # ... and the share of its episodes it got
    shared_with: list[str]  # other true workflows most of whose episodes got it too


def by_workflow(
    warehouse: Path | WarehouseSettings, truth: pa.Table, tolerance_s: float = 3.0
) -> list[WorkflowScore]:
    """Scores per true workflow (distractions included): boundary precision, recall and
    F1 over the episodes labelled with it, instance counts, and the confusion."""
    tol = int(tolerance_s * 1e6)
    con = connect(warehouse_at(warehouse), read_only=True)
    try:
        con.register("truth", truth.select(["device_id", "workflow", "started_at", "ended_at"]))
        # each true episode's first action (as boundary_scores finds it)
        true_first = con.execute(
            f"""
            SELECT t.workflow, min_by(a.action_id, (a.started_at, a.action_id)) AS action_id
            FROM truth AS t
            JOIN marts.actions AS a
              ON a.device_id = t.device_id AND a.started_at >= t.started_at
             AND a.started_at <= t.ended_at + to_microseconds({tol})
            GROUP BY t.device_id, t.workflow, t.started_at
            """
        ).fetchall()
        # each predicted episode's true workflow: the one most of its steps belong to
        predicted = con.execute(
            f"""
            WITH labelled AS (
                SELECT a.episode_id, arg_max(t.workflow, t.started_at) AS workflow
                FROM marts.steps AS a
                JOIN truth AS t
                  ON a.device_id = t.device_id AND a.started_at >= t.started_at
                 AND a.started_at <= t.ended_at + to_microseconds({tol})
                GROUP BY a.step_id, a.episode_id
            )
            SELECT l.episode_id, mode(l.workflow), any_value(coalesce(w.workflow_name, '(none)'))
            FROM labelled AS l
            LEFT JOIN marts.workflow_instances AS i USING (episode_id)
            LEFT JOIN marts.workflows AS w USING (workflow_id)
            GROUP BY l.episode_id
            """
        ).fetchall()
    finally:
        con.close()
    true_by: dict[str, set[str]] = defaultdict(set)
    for workflow, action_id in true_first:
        true_by[workflow].add(action_id)
    all_true = set().union(*true_by.values()) if true_by else set()
    all_pred = {e for e, _, _ in predicted}
    pred_by: dict[str, set[str]] = defaultdict(set)
    names_by: dict[str, list[str]] = defaultdict(list)
    for episode_id, workflow, name in predicted:
        pred_by[workflow].add(episode_id)
        names_by[workflow].append(name)
    top = {w: max(set(names), key=lambda n: (names.count(n), n)) for w, names in names_by.items()}
    out = []
    for w in sorted(true_by):
        pred = pred_by.get(w, set())
        names = names_by.get(w, [])
        got = top.get(w, "(none)")
        out.append(
            WorkflowScore(
                workflow=w,
                true_instances=len(true_by[w]),
                found_instances=len(pred),
                precision=len(pred & all_true) / len(pred) if pred else 0.0,
                recall=len(true_by[w] & all_pred) / len(true_by[w]),
                predicted_as=got,
                predicted_share=names.count(got) / len(names) if names else 0.0,
                shared_with=sorted(o for o, n in top.items() if n == got and o != w),
            )
        )
    return out


def report_by_workflow(rows: list[WorkflowScore]) -> str:
    head = f"{'workflow':26} {'true':>5} {'found':>5} {'P':>6} {'R':>6} {'F1':>6}  predicted as"
    lines = ["per workflow (boundaries over the episodes labelled with it):", head]
    for r in rows:
        p, rc = r.precision, r.recall
        f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
        shared = f"; shared with {', '.join(r.shared_with)}" if r.shared_with else ""
        lines.append(
            f"{r.workflow[:26]:26} {r.true_instances:5d} {r.found_instances:5d} "
            f"{p:6.3f} {rc:6.3f} {f1:6.3f}  "
            f"{r.predicted_as[:50]} ({r.predicted_share:.0%}){shared}"
        )
    return "\n".join(lines)


def evaluate(
    warehouse: Path | WarehouseSettings, storage: Storage, tolerance_s: float = 3.0
) -> tuple[Scores, ClusterScores]:
    """Both scores of a warehouse against the ground truth the simulator left in
    `storage`."""
    truth = load_truth(storage)
    return (
        boundary_scores(warehouse, truth, tolerance_s),
        cluster_scores(warehouse, truth, tolerance_s),
    )


@dataclass(frozen=True)
class ProcedureScore:
    """How a true workflow's procedure matches the steps its driver scripted."""

    workflow: str
    procedure_id: str | None
    title: str
    score: float  # worktape.procedures.alignment_score, optional steps included
    found: tuple[str, ...]  # the procedure's step keys, "?" before optional ones
    expected: tuple[str, ...]
    optional_as_optional: bool  # every scripted optional step found reads as optional


def procedure_scores(
    warehouse: Path | WarehouseSettings,
    truth: pa.Table,
    scripts: dict[str, list[str]],
    tolerance_s: float = 3.0,
) -> list[ProcedureScore]:
    """Per scripted workflow (keys as worktape.procedures makes them, "?" marking the
    optional ones): the procedure of the workflow most of its true episodes' steps were
    put in (none when that workflow has none), and how its canonical steps align with
    the script."""
    from worktape.procedures import alignment_score

    tol = int(tolerance_s * 1e6)
    con = connect(warehouse_at(warehouse), read_only=True)
    try:
        con.register("truth", truth.select(["device_id", "workflow", "started_at", "ended_at"]))
        chosen = dict(
            con.execute(
                f"""
                SELECT t.workflow, i.workflow_id
                FROM marts.steps AS s
                JOIN truth AS t
                  ON s.device_id = t.device_id AND s.started_at >= t.started_at
                 AND s.started_at <= t.ended_at + to_microseconds({tol})
                JOIN marts.workflow_instances AS i USING (episode_id)
                GROUP BY t.workflow, i.workflow_id
                QUALIFY row_number() OVER (
                    PARTITION BY t.workflow ORDER BY count(*) DESC, i.workflow_id
                ) = 1
                """
            ).fetchall()
        )
        steps: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for pid, key, optional in con.execute(
            "SELECT procedure_id, step_key, is_optional FROM marts.procedure_steps "
            "ORDER BY procedure_id, step_index"
        ).fetchall():
            steps[pid].append((key, optional))
        titles = dict(con.execute("SELECT procedure_id, title FROM marts.procedures").fetchall())
        # a workflow not recurring (yet) has no procedure
        chosen = {w: pid for w, pid in chosen.items() if pid in titles}
    finally:
        con.close()
    out = []
    for workflow, script in sorted(scripts.items()):
        pid = chosen.get(workflow)
        path = steps.get(pid or "", [])
        expected = [k.lstrip("?") for k in script]
        found = [k for k, _ in path]
        optional = {k[1:] for k in script if k.startswith("?")} - set(script)
        optional_ok = all(opt for k, opt in path if k in optional)
        out.append(
            ProcedureScore(
                workflow=workflow,
                procedure_id=pid,
                title=titles.get(pid or "", "(none)"),
                score=round(alignment_score(found, expected), 3),
                found=tuple(("?" if opt else "") + k for k, opt in path),
                expected=tuple(script),
                optional_as_optional=optional_ok,
            )
        )
    return out
