"""Stage a night for the gate and for publishing, from the warehouse.

`tables/` holds what would be published: the marts as Parquet, written in a fixed order
so the same warehouse gives the same bytes. `gate/` holds what the expectation suites
read, computed in DuckDB so that a night of tens of millions of events stays cheap:
- dbt's gate models (dbt_project/models/gate), which hold every rule's SQL:
  - the night's raw events as one row per bundle (the bundles that started on its
    days): per-event rules become that bundle's extremes and counts (the lowest and
    highest pointer position on the screen, the smallest step in time, how many unknown
    kinds), with an example event for each, as the loader measured them;
  - per-row checks of the marts, as columns (a frame's lead over its action, a step
    count beside an action count...), of the work dates the night rebuilt;
- the distinct texts of every publishable table that a cheap pattern (RE2, in DuckDB)
  says could hold a secret, scanned with the agent's own rules, and the distinct
  windows, checked against its denylist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from worktape.core.privacy.policy import Privacy, finding, mask
from worktape.core.storage import Storage
from worktape.publish.frame_check import SCHEMA as FRAMES_SCHEMA
from worktape.publish.frame_check import stage_frames
from worktape.warehouse import one

# published table -> the order its rows are written in (its key)
TABLES: dict[str, str] = {
    "actions": "action_id",
    "sessions": "session_id",
    "episodes": "episode_id",
    "steps": "episode_id, step_index",
    "workflow_instances": "episode_id",
    "workflows": "workflow_id",
    "contributor_daily": "contributor_day_id",
    "procedures": "procedure_id",
    "procedure_steps": "procedure_step_id",
}
# tables a version published before they existed lacks (an erasure rewrites it without)
LATER_TABLES = frozenset({"procedures", "procedure_steps"})
# the texts of publishable tables the privacy gate scans: table -> (id column, columns)
TEXTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "actions": ("action_id", ("window_title", "typed_text", "action_code", "element_name")),
    "steps": ("step_id", ("window_title", "action_code", "element_name")),
    "episodes": ("episode_id", ("first_window_title",)),
    "workflow_instances": ("episode_id", ("first_title_shape",)),
    "workflows": ("workflow_id", ("workflow_name",)),
    "procedures": ("procedure_id", ("title", "purpose")),
    "procedure_steps": ("procedure_step_id", ("step_text", "element_name", "page")),
}
# the windows of publishable tables the denylist is checked against
WINDOWS: dict[str, tuple[str, str, str]] = {
    "actions": ("action_id", "app", "window_title"),
    "episodes": ("episode_id", "main_app", "first_window_title"),
}
# what any of those rules needs, as one RE2 pattern DuckDB runs on every distinct text:
# an "@" (e-mail); a token's prefix or 32 token characters in a row (tokens); nine
# digits with at most three of " .()+-" between each two (phones, which need 9 digits,
# and cards, which need 13 with at most one space or dash between). Only texts it
# matches are scanned with the full rules; tests/test_privacy_gate.py holds it to that.
CANDIDATE_RE = (
    r"@|AKIA|gh[pousr]_|xox[abposr]-|sk-|eyJ|[A-Za-z0-9_-]{32}"
    r"|[0-9](?:[ .()+-]{0,3}[0-9]){8}"
)


def _copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)"
    )
    return int(one(con.execute(f"SELECT count(*) FROM read_parquet('{path}')"))[0])


def _on_days(column: str, days: Sequence[date] | None) -> str:
    """`column` (a DATE) is one of `days`; true for all days when none."""
    if not days:
        return "true"
    return f"{column} IN (" + ", ".join(f"DATE '{d.isoformat()}'" for d in days) + ")"


def stage_tables(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, int]:
    """The marts, as they would be published: out/<table>.parquet."""
    con.execute("SET preserve_insertion_order = true")  # ORDER BY decides the bytes
    return {
        t: _copy(con, f"SELECT * FROM marts.{t} ORDER BY {key}", out / f"{t}.parquet")
        for t, key in TABLES.items()
    }


def stage_gate(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    days: Sequence[date] | None,
    erased: Sequence[str] = (),
    storage: Storage | None = None,
    previous_frames: pa.Table | None = None,
    frame_sample: int | None = None,
    extra_texts: Sequence[tuple[str, str, str]] = (),
) -> dict[str, int]:
    """The files the suites read: out/<suite>.parquet. `erased`: the contributors whose
    tombstones forbid publishing any row of theirs. With `storage`, the text of a sample
    of the frames not in `previous_frames` (the last version's index) is read
    (`frame_check`); without it, no frame is read and the card says so."""
    con.execute("SET preserve_insertion_order = true")
    n = {}
    # dbt's gate models (dbt_project/models/gate): the loader's measures of each bundle
    # that started on the night's days, and per-row checks of the marts for the work
    # dates the night rebuilt (those holding an action on its days)
    n["raw_bundles"] = _copy(
        con,
        "SELECT * EXCLUDE (started_on) FROM gate.gate_bundles "
        f"WHERE {_on_days('started_on', days)} ORDER BY bundle_id",
        out / "raw_bundles.parquet",
    )
    rebuilt = (
        "work_date IN (SELECT work_date FROM gate.gate_work_dates "
        f"WHERE {_on_days('action_date', days)})"
    )
    for name, key in (("gate_episodes", "episode_id"), ("gate_steps", "step_id")):
        n[name] = _copy(
            con,
            f"SELECT * EXCLUDE (work_date) FROM gate.{name} WHERE {rebuilt} ORDER BY {key}",
            out / f"{name}.parquet",
        )
    workflows = "SELECT * FROM gate.gate_workflows ORDER BY workflow_id"
    n["gate_workflows"] = _copy(con, workflows, out / "gate_workflows.parquet")
    n["gate_texts"] = _write(scan_texts(con, extra_texts), out / "gate_texts.parquet")
    n["gate_windows"] = _write(scan_windows(con), out / "gate_windows.parquet")
    n["gate_erased"] = _write(scan_erased(con, erased), out / "gate_erased.parquet")
    if storage is not None:
        n["gate_frames"] = stage_frames(con, storage, out, previous_frames, frame_sample).read
    else:
        n["gate_frames"] = _write(FRAMES_SCHEMA.empty_table(), out / "gate_frames.parquet")
    return n


def scan_erased(con: duckdb.DuckDBPyConnection, erased: Sequence[str]) -> pa.Table:
    """Per publishable table, how many rows name a contributor who was erased (0 unless
    an erasure stopped half way: its rerun finishes it)."""
    tables, counts = [], []
    for t in TABLES:
        has = one(
            con.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'marts' "
                "AND table_name = ? AND column_name = 'contributor_id'",
                [t],
            )
        )[0]
        n = 0
        if has and erased:
            n = one(
                con.execute(
                    f"SELECT count(*) FROM marts.{t} WHERE list_contains(?, contributor_id)",
                    [list(erased)],
                )
            )[0]
        tables.append(t)
        counts.append(n)
    return pa.table({"ref": tables, "erased_rows": pa.array(counts, pa.int64())})


def _write(table: pa.Table, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return int(table.num_rows)


def scan_texts(
    con: duckdb.DuckDBPyConnection, extra: Sequence[tuple[str, str, str]] = ()
) -> pa.Table:
    """The distinct texts that could hold a secret (CANDIDATE_RE), each with the first
    privacy rule it breaks (`finding`, null when none) and where it was seen; `extra`
    texts, as (episode_id, field, text), are the model-written ones (narration), all
    scanned with the full rules."""
    rows: dict[str, list[Any]] = {"ref": [], "table": [], "column": [], "finding": [], "masked": []}
    for ref, col, value in extra:
        rule = finding(value)
        rows["ref"].append(f"narration:{ref}")
        rows["table"].append("narration")
        rows["column"].append(col)
        rows["finding"].append(rule)
        rows["masked"].append(mask(value) if rule else None)
    for table, (id_col, cols) in TEXTS.items():
        for col in cols:
            values = con.execute(
                f"SELECT {col}, min({id_col}) FROM marts.{table} "
                f"WHERE regexp_matches({col}, '{CANDIDATE_RE}') GROUP BY 1 ORDER BY 2"
            ).fetchall()
            for value, ref in values:
                rule = finding(value)
                rows["ref"].append(f"{table}:{ref}")
                rows["table"].append(table)
                rows["column"].append(col)
                rows["finding"].append(rule)
                rows["masked"].append(mask(value) if rule else None)
    return pa.table(rows, schema=_TEXTS_SCHEMA)


_TEXTS_SCHEMA = pa.schema(
    [
        ("ref", pa.string()),
        ("table", pa.string()),
        ("column", pa.string()),
        ("finding", pa.string()),
        ("masked", pa.string()),
    ]
)


def scan_windows(con: duckdb.DuckDBPyConnection, privacy: Privacy | None = None) -> pa.Table:
    p = privacy or Privacy()
    refs, tables, apps, denied = [], [], [], []
    for table, (id_col, app_col, title_col) in WINDOWS.items():
        for app, title, ref in con.execute(
            f"SELECT {app_col}, {title_col}, min({id_col}) FROM marts.{table} "
            "GROUP BY 1, 2 ORDER BY 3"
        ).fetchall():
            refs.append(f"{table}:{ref}")
            tables.append(table)
            apps.append(app)
            denied.append(p.denies(app, title))
    return pa.table(
        {"ref": refs, "table": tables, "app": apps, "is_denylisted": denied},
        schema=pa.schema(
            [
                ("ref", pa.string()),
                ("table", pa.string()),
                ("app", pa.string()),
                ("is_denylisted", pa.bool_()),
            ]
        ),
    )
