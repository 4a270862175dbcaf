"""Publish a night: stage, gate, then a versioned dataset in the bucket.

    published/<version>/tables/<mart>.parquet       the marts
    published/<version>/dataset/episodes.jsonl      one AgentNet-style record per episode
    published/<version>/eventlogs/episodes.xes      XES (IEEE 1849-2016)
    published/<version>/eventlogs/worktape.ocel.json  OCEL 2.0
    published/<version>/frames.parquet              where each frame it refers to lies
    published/<version>/procedures/                 a document per recurring workflow
    published/<version>/CARD.md, card.json          the dataset card (worktape.publish.card)
    published/<version>/manifest.json               every file with its bytes and sha256
    published/frames/<bundle_id>.tar                a bundle's frames, one shard per bundle
    published/LATEST                                the newest complete version, written last

A version is named for the newest work date it holds and the digest of its files, so
publishing the same warehouse twice gives the same version, byte for byte, and changes
nothing. Frame shards are immutable and shared by versions (`worktape.publish.frames`:
written once, each frame checked again against what was loaded); dataset records name
a frame as `frames/<bundle_id>.tar#screenshots/<screenshot_id>.webp`, relative to
published/, and the version's frames.parquet gives its byte range in the shard.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from worktape.core.layout import PUBLISHED
from worktape.core.storage import Storage
from worktape.core.storage.base import ObjectExists, ObjectMissing
from worktape.publish import frames as F
from worktape.publish.card import card_data, write_card
from worktape.publish.eventlogs import CHUNK_STEPS, episode_chunks, write_ocel, write_xes
from worktape.publish.formats import FormatOptions, write_formats
from worktape.publish.frame_check import read_sample
from worktape.publish.narration import (
    NARRATION_SCHEMA,
    Narrator,
    narrate_marts,
    narration_texts,
)
from worktape.publish.procedures import PROCEDURES, Previous, write_procedures
from worktape.publish.stage import stage_gate, stage_tables
from worktape.publish.viewer import VIEWER, ViewerSample, write_viewer
from worktape.sqltime import iso_utc
from worktape.tombstones import read_tombstones
from worktape.warehouse import one

if TYPE_CHECKING:
    from worktape.warehouse import WarehouseSettings

log = logging.getLogger(__name__)
LATEST = PUBLISHED + "LATEST"


class GateFailed(RuntimeError):
    """The quality gate failed: nothing was published."""

    def __init__(self, gate: Any) -> None:
        super().__init__(gate.message())
        self.gate = gate


@dataclass
class PublishResult:
    version: str
    is_new: bool
    counts: dict[str, int]
    shards_written: int
    gate: Any
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, for benchmarks
    # procedure documents drawn and copied from the previous version (not in the card:
    # a rerun copies what the first run drew, and the card would differ)
    procedures: dict[str, int] = field(default_factory=dict)


def latest_version(storage: Storage) -> str | None:
    try:
        return storage.get_bytes(LATEST).decode().strip() or None
    except ObjectMissing:
        return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_dataset(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    frames: pa.Table,
    chunk_steps: int = CHUNK_STEPS,
    narration: pa.Table | None = None,
) -> int:
    """dataset/episodes.jsonl: one record per episode, AgentNet style, keys in a fixed
    order, in work date and episode id order. The instruction and each step's `action` are the
    marts' template texts (episodes.instruction, steps.step_text), with the step's
    pyautogui `code` beside it; where `narration` (worktape.publish.narration) holds an
    episode, the model's instruction replaces the template's and its steps get
    `observation`, `thought` and `reflection` (null otherwise). The narration is kept
    in the version (narration.parquet), so an erasure's rewrite keeps it.
    Marts from before the texts (an older version rewritten) give the workflow's name and
    the windows gone through, and the pyautogui code as `action`, as they were published.
    `frames` is the version's frames index: records name each frame by its shard and
    member. A step names the element its action acted on (`element`: role, name and
    bounds, null where none was named); a version published before steps had element
    columns is rewritten (an erasure) without that key, as it was published.

    DuckDB writes the records, a chunk of episodes at a time (at most `chunk_steps`
    steps, one work date): joining every step to the whole frames index at once ran out
    of the warehouse's 4 GB at 1,000 contributor-days (2.5M steps, 3.3M frames). Each
    chunk joins only the frames its steps name."""
    out.mkdir(parents=True, exist_ok=True)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")  # ORDER BY decides the bytes
    con.register("frames_index", frames)
    try:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE dataset_images AS
            SELECT screenshot_id, shard || '#' || member AS image FROM frames_index
            """
        )
        chunks = episode_chunks(con, chunk_steps)
    finally:
        con.unregister("frames_index")
    steps_columns = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'marts' AND table_name = 'steps'"
        ).fetchall()
    }
    element = _ELEMENT_SQL if set(ELEMENT_COLUMNS) <= steps_columns else ""
    has_texts = "step_text" in steps_columns
    narration = narration if narration is not None else NARRATION_SCHEMA.empty_table()
    if has_texts:
        pq.write_table(narration, out.parent / NARRATION, compression="zstd")
    con.register("narration", narration)
    target = out / "episodes.jsonl"
    part = out / ".part.jsonl"
    try:
        with target.open("wb") as whole:
            for work_date, first, last in chunks:
                con.execute(
                    _DATASET_SQL.format(
                        part=part,
                        step_time=iso_utc("started_at"),
                        element=element,
                        texts=_TEXTS_SQL if has_texts else _OLD_TEXTS_SQL,
                        instruction=_INSTRUCTION_SQL if has_texts else _OLD_INSTRUCTION_SQL,
                    ),
                    [work_date, first, last] * 2,
                )
                with part.open("rb") as f:
                    shutil.copyfileobj(f, whole, 1 << 20)
    finally:
        part.unlink(missing_ok=True)
        con.execute("DROP TABLE IF EXISTS dataset_images")
        con.unregister("narration")
    return int(one(con.execute("SELECT count(*) FROM marts.episodes"))[0])


# the element a step's action acted on (steps.element_*, format 1.1 bundles): null when
# the step names none; bounds null when the application gave none
ELEMENT_COLUMNS = (
    "element_role",
    "element_name",
    "element_x",
    "element_y",
    "element_width",
    "element_height",
)
_ELEMENT_SQL = """
            'element': CASE WHEN element_role IS NOT NULL OR element_name IS NOT NULL
                                 OR element_x IS NOT NULL THEN {
                'bounds': CASE WHEN element_x IS NOT NULL AND element_y IS NOT NULL
                                    AND element_width IS NOT NULL
                                    AND element_height IS NOT NULL THEN {
                    'height': element_height, 'width': element_width,
                    'x': element_x, 'y': element_y} END,
                'name': element_name, 'role': element_role} END,"""

# the model's narration of the version's episodes (worktape.publish.narration)
NARRATION = "narration.parquet"
# a step's texts: the template's words and the code, with the model's annotations
_TEXTS_SQL = """
            'action': step_text, 'code': action_code,
            'observation': n.observations[step_index],
            'reflection': n.reflections[step_index],
            'thought': n.thoughts[step_index],"""
# marts from before the step texts: as those versions were published
_OLD_TEXTS_SQL = """
            'action': action_code,"""
_INSTRUCTION_SQL = "coalesce(n.instruction, e.instruction)"
_OLD_INSTRUCTION_SQL = """coalesce(nullif(w.workflow_name, ''), 'Task') || ': '
               || array_to_string(coalesce(win.titles, [])[1:8], ' → ')"""

# one chunk of records: the episodes of one work date between two episode ids
_DATASET_SQL = """
COPY (
    WITH chunk_steps AS (
        SELECT * FROM marts.steps
        WHERE work_date = $1 AND episode_id BETWEEN $2 AND $3
    ),
    images AS (
        SELECT * FROM dataset_images
        SEMI JOIN (SELECT frame_before_id AS screenshot_id FROM chunk_steps
                   UNION SELECT frame_after_id FROM chunk_steps) USING (screenshot_id)
    ),
    s AS (
        SELECT s.*, coalesce(nullif(s.window_title, ''), nullif(s.app, ''), '') AS title,
               fb.image, fa.image AS next_image
        FROM chunk_steps AS s
        LEFT JOIN images AS fb ON fb.screenshot_id = s.frame_before_id
        LEFT JOIN images AS fa ON fa.screenshot_id = s.frame_after_id
    ),
    n AS (SELECT * FROM narration SEMI JOIN chunk_steps USING (episode_id)),
    -- the windows gone through: a title that differs from the last one seen
    entered AS (
        SELECT episode_id, step_index, title,
               lag(title) OVER (PARTITION BY episode_id ORDER BY step_index) AS prev
        FROM s WHERE title != ''
    ),
    windows AS (
        SELECT episode_id,
               list(title ORDER BY step_index)
                   FILTER (WHERE prev IS NULL OR prev != title) AS titles
        FROM entered GROUP BY 1
    ),
    traj AS (
        -- sorting each list after is 4x faster than an ordered aggregate; the lambda's
        -- parameter must not be a column's name (x would bind to a column x)
        SELECT episode_id, list_transform(list_sort(list({{'i': step_index, 'step': {{{texts}
            'action_type': action_type, 'app': app,{element}
            'image': image, 'index': step_index - 1, 'next_image': next_image,
            'step_id': step_id,
            'time': {step_time},
            'window_title': window_title}}}})), sorted_item -> sorted_item.step) AS traj
        FROM s LEFT JOIN n USING (episode_id) GROUP BY 1
    )
    SELECT e.contributor_id,
           round(e.duration_s, 3)::DOUBLE AS duration_s,
           {instruction} AS instruction,
           coalesce(w.is_recurring, false) AS is_recurring_workflow,
           e.episode_id AS task_id,
           coalesce(t.traj, []) AS traj,
           strftime(e.work_date, '%Y-%m-%d') AS work_date,
           i.workflow_id
    FROM marts.episodes AS e
    LEFT JOIN marts.workflow_instances AS i USING (episode_id)
    LEFT JOIN marts.workflows AS w USING (workflow_id)
    LEFT JOIN windows AS win USING (episode_id)
    LEFT JOIN traj AS t USING (episode_id)
    LEFT JOIN n USING (episode_id)
    WHERE e.work_date = $4 AND e.episode_id BETWEEN $5 AND $6
    ORDER BY e.episode_id
) TO '{part}' (FORMAT json)
"""


def build_eventlogs(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = write_xes(con, out / "episodes.xes")
    write_ocel(con, out / "worktape.ocel.json")
    return n


def _manifest(root: Path) -> dict[str, dict[str, Any]]:
    return {
        str(p.relative_to(root)): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def previous_index(storage: Storage) -> pa.Table | None:
    """The frames index of the newest complete version, to carry forward."""
    version = latest_version(storage)
    if version is None:
        return None
    try:
        data = storage.get_bytes(f"{PUBLISHED}{version}/{F.INDEX}")
    except ObjectMissing:
        return None
    return pq.read_table(pa.BufferReader(data))


def publish(
    warehouse: Path | WarehouseSettings,
    storage: Storage,
    *,
    days: Sequence[date] | None,
    work_dir: Path,
    docs_dir: Path,
    dbt_project: Path,
    frame_sample: int | None = None,
    narrator: Narrator | None = None,
    viewer: ViewerSample | None = None,
    formats: FormatOptions | None = None,
) -> PublishResult:
    """Stage, gate and publish. Raises GateFailed (publishing nothing) when a suite fails.
    With a `narrator`, a model writes the instructions and step annotations
    (worktape.publish.narration) before the gate, which scans them."""
    from expectations.checkpoint import run_gate

    shutil.rmtree(work_dir, ignore_errors=True)
    version_dir = work_dir / "version"
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = seconds.get(stage, 0.0) + now - clock
        clock = now

    from worktape.warehouse import connect, warehouse_at

    con = connect(warehouse_at(warehouse), read_only=True)
    try:
        counts = stage_tables(con, version_dir / "tables")
        lap("tables")
        erased = read_tombstones(storage).contributor_ids
        previous_version = latest_version(storage)
        previous = previous_index(storage)
        narration, narrated = narrate_marts(con, narrator, storage)
        if narrator is not None:
            log.info(
                "texts by %s: %d new answer(s), %d cached, fell back: %s",
                narrated.endpoint,
                narrated.generated,
                narrated.cached,
                dict(narrated.fell_back) or "none",
            )
        lap("narration")
        stage_gate(
            con,
            work_dir / "gate",
            days,
            erased,
            storage,
            previous,
            frame_sample,
            extra_texts=narration_texts(narration),
        )
        lap("stage")
        gate = run_gate(work_dir / "gate", docs_dir)
        sample = read_sample(work_dir / "gate")
        lap("gate")
        (work_dir / "gate.json").write_text(
            json.dumps(
                {
                    "success": gate.success,
                    "message": gate.message(),
                    "per_suite": gate.per_suite,
                    "data_docs": str(gate.data_docs) if gate.data_docs else None,
                    "frame_recheck": asdict(sample) if sample else None,
                },
                indent=2,
            )
        )
        if not gate.success:
            raise GateFailed(gate)
        index, shards = F.publish_frames(con, storage, previous)
        F.write_index(index, version_dir / F.INDEX)
        lap("frames")
        build_dataset(con, version_dir / "dataset", index, narration=narration)
        build_eventlogs(con, version_dir / "eventlogs")
        lap("dataset")
        records = version_dir / "dataset" / "episodes.jsonl"
        write_viewer(con, version_dir / VIEWER, index, storage, records=records, sample=viewer)
        lap("viewer")
        # raises ProcedureLeak (publishing nothing) if a crop or a text shows a secret
        procedures = write_procedures(
            con,
            version_dir / PROCEDURES,
            index,
            storage,
            previous=Previous.published(storage, previous_version),
        )
        lap("procedures")
        card = card_data(con, counts, gate, dbt_project)
        write_card(version_dir, {**card, "texts": narrated.as_dict()})
        newest = one(con.execute("SELECT max(work_date) FROM marts.episodes"))[0]
        lap("dataset")
    finally:
        con.close()
    # hf/, wds/ and the splits in the card, from the records: the warehouse is closed
    write_formats(version_dir, storage, index, formats)
    lap("formats")

    files = _manifest(version_dir)
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    version = f"{newest}-{digest[:12]}"
    manifest = {"version": version, "digest": digest, "counts": counts, "files": files}
    (version_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    prefix = f"{PUBLISHED}{version}/"
    is_new = not storage.exists(prefix + "manifest.json")
    if is_new:
        for rel, meta in files.items():
            # a rerun after a crash mid-upload finds some already there: same name, same bytes
            with contextlib.suppress(ObjectExists):
                storage.put(prefix + rel, version_dir / rel, sha256=meta["sha256"])
        # the manifest goes last: a version without one is incomplete and never LATEST
        storage.put(prefix + "manifest.json", version_dir / "manifest.json")
    storage.put(LATEST, version.encode() + b"\n", overwrite=True)
    lap("upload")
    log.info("published %s (%s) %s", version, "new" if is_new else "unchanged", seconds)
    return PublishResult(
        version,
        is_new,
        counts,
        shards,
        gate,
        files,
        seconds,
        procedures.as_dict() if procedures else {},
    )
