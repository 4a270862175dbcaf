"""Right to erasure: remove a contributor from the bucket, the warehouse and every
published version, and keep them out.

0. Tombstone: `tombstones/<contributor_id>.json` (worktape/tombstones.py), first, so that
   a bundle still in their laptop's spool is refused when it arrives, even if this run
   stops half way. It holds no personal data.
1. Bucket: their raw bundles, quarantined bundles and (simulated) ground truth, by the
   devices their bundles came from.
2. Warehouse: their raw rows, then a full `dbt build`, so sessions, episodes and
   workflows are computed again without them (workflows are clustered across people).
3. Published: every version's tables, frames index, dataset, event logs and card are
   rewritten without them, with a new manifest; the frame shards of their bundles leave
   published/frames/; the analyst file is written again from LATEST.
4. An erasure log entry: when, and how much was removed. It holds no id of the person.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from worktape.core.layout import PUBLISHED, QUARANTINE, RAW, TRUTH
from worktape.core.storage import ObjectMissing, Storage
from worktape.publish import frames as F
from worktape.publish.card import after_erasure, read_card, write_card
from worktape.publish.publisher import (
    _manifest,
    build_dataset,
    build_eventlogs,
    latest_version,
)
from worktape.publish.stage import TABLES
from worktape.tombstones import Tombstone, write_tombstone
from worktape.warehouse import WarehouseSettings, one, open_db, warehouse_at

if TYPE_CHECKING:
    from worktape.settings import Settings

log = logging.getLogger(__name__)
ERASURE_LOG = PUBLISHED + "erasures.jsonl"


@dataclass
class Erasure:
    erasure_id: str
    erased_at: str
    bundles: int = 0
    bucket_objects: int = 0
    warehouse_rows: int = 0
    frame_shards: int = 0
    versions_rewritten: list[str] = field(default_factory=list)


def _devices_and_bundles(
    con: duckdb.DuckDBPyConnection, contributor_id: str
) -> tuple[set[str], list[str]]:
    devices = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT device_id FROM raw.bundles WHERE contributor_id = ?",
            [contributor_id],
        ).fetchall()
    }
    bundles = [
        r[0]
        for r in con.execute(
            "SELECT bundle_id FROM raw.bundles WHERE contributor_id = ?", [contributor_id]
        ).fetchall()
    ]
    return devices, bundles


def erase_warehouse(con: duckdb.DuckDBPyConnection, contributor_id: str, bundles: list[str]) -> int:
    """Delete their raw rows (the marts follow from a full build). Returns rows deleted."""
    n = 0
    con.execute("BEGIN")
    con.execute("CREATE OR REPLACE TEMP TABLE erased_bundles (bundle_id VARCHAR)")
    con.executemany("INSERT INTO erased_bundles VALUES (?)", [(b,) for b in bundles])
    for table in (
        "events",
        "screenshots",
        "bundle_profiles",
        "ledger",
        "duplicate_keys",
        "quarantine",
        "bundles",
    ):
        n += one(
            con.execute(
                f"DELETE FROM raw.{table} WHERE bundle_id IN (SELECT bundle_id FROM erased_bundles)"
            )
        )[0]
    con.execute("COMMIT")
    return n


def erase_bucket(storage: Storage, devices: set[str]) -> int:
    n = 0
    for d in sorted(devices):
        for prefix in (
            f"{RAW}device={d}/",
            f"{QUARANTINE}{RAW}device={d}/",
            f"{TRUTH}device={d}/",
        ):
            for info in list(storage.list(prefix)):
                storage.delete(info.key)
                n += 1
    return n


def _version_names(storage: Storage) -> list[str]:
    return [
        p[len(PUBLISHED) :].rstrip("/")
        for p in storage.list_dirs(PUBLISHED)
        if p.rstrip("/") != F.SHARDS.rstrip("/")
    ]


def rewrite_version(
    storage: Storage,
    version: str,
    contributor_id: str,
    work: Path,
    duckdb_settings: WarehouseSettings | None = None,
    *,
    dbt_project: Path,
) -> bool:
    """Rewrite one published version without the contributor. Returns whether it held any
    of their rows."""
    prefix = f"{PUBLISHED}{version}/"
    if not storage.exists(prefix + "manifest.json"):
        return False  # an incomplete version: never LATEST, nothing to keep
    root = work / version
    shutil.rmtree(root, ignore_errors=True)
    for info in storage.list(prefix):
        dest = root / info.key[len(prefix) :]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(storage.get_bytes(info.key))
    # named plainly: dbt names the file's catalog after it
    db = work / "rewrite.duckdb"
    db.unlink(missing_ok=True)
    con = open_db(db, settings=duckdb_settings)
    try:
        con.execute("CREATE SCHEMA marts")
        for t in TABLES:
            con.execute(
                f"CREATE TABLE marts.{t} AS SELECT * FROM read_parquet('{root}/tables/{t}.parquet')"
            )
        held = (
            one(
                con.execute(
                    "SELECT count(*) FROM marts.episodes WHERE contributor_id = ?", [contributor_id]
                )
            )[0]
            + one(
                con.execute(
                    "SELECT count(*) FROM marts.actions WHERE contributor_id = ?", [contributor_id]
                )
            )[0]
        )
        if not held:
            return False
        for t in ("actions", "sessions", "episodes", "steps", "workflow_instances"):
            con.execute(f"DELETE FROM marts.{t} WHERE contributor_id = ?", [contributor_id])
        con.execute(
            "DELETE FROM marts.contributor_daily WHERE contributor_id = ?", [contributor_id]
        )
        # workflows: what is left of them, from the instances that remain, by the dbt
        # model that made them (its vars, its naming: nothing of theirs stays in a name)
        con.close()
        rebuild_workflows(db, work, dbt_project, duckdb_settings)
        con = open_db(db, settings=duckdb_settings)
        con.execute("SET preserve_insertion_order = true")
        counts = {}
        for t, key in TABLES.items():
            path = root / "tables" / f"{t}.parquet"
            con.execute(
                f"COPY (SELECT * FROM marts.{t} ORDER BY {key}) TO '{path}' "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)"
            )
            counts[t] = one(con.execute(f"SELECT count(*) FROM marts.{t}"))[0]
        # the frames index keeps the frames the remaining steps show
        index_path = root / F.INDEX
        kept = F.INDEX_SCHEMA.empty_table()
        if index_path.exists():
            kept = con.execute(
                f"""
                SELECT * FROM read_parquet('{index_path}')
                SEMI JOIN ({F.WANTED_SQL}) USING (screenshot_id)
                ORDER BY screenshot_id
                """
            ).to_arrow_table()
            kept = kept.cast(F.INDEX_SCHEMA)
            F.write_index(kept, index_path)
        build_dataset(con, root / "dataset", kept)
        build_eventlogs(con, root / "eventlogs")
    finally:
        con.close()
        db.unlink(missing_ok=True)
    write_card(root, after_erasure(read_card(root), counts))
    old = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").unlink()
    files = _manifest(root)
    manifest = {
        **old,
        "counts": counts,
        "files": files,
        "rewritten_for_erasure": [*old.get("rewritten_for_erasure", []), _today()],
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    for rel in files:
        storage.put(prefix + rel, root / rel, overwrite=True)
    storage.put(prefix + "manifest.json", root / "manifest.json", overwrite=True)
    return True


def rebuild_workflows(
    db: Path, work: Path, project: Path, duckdb_settings: WarehouseSettings | None = None
) -> None:
    """marts.workflows in `db` again, from its marts.workflow_instances, with the dbt
    project's `workflows` model (what it reads, int_workflow_instances_joined, is
    given those instances): one definition of a workflow's summary, not a copy here."""
    import os
    import subprocess
    import sys

    con = open_db(db, settings=duckdb_settings)
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
        con.execute(
            "CREATE OR REPLACE TABLE intermediate.int_workflow_instances_joined AS "
            "SELECT * FROM marts.workflow_instances"
        )
    finally:
        con.close()
    env = {
        **os.environ,
        "WORKTAPE_WAREHOUSE": str(db),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    cmd = [
        sys.executable,
        "-c",
        "import sys; from dbt.cli.main import cli; sys.exit(cli())",
        "run",
        "--select",
        "workflows",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        # the night's manifest (the card's schema reads it) stays as the night left it
        "--target-path",
        str(work / "dbt-target"),
        "--log-path",
        str(work / "dbt-logs"),
        "--no-partial-parse",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=project)
    if proc.returncode != 0:
        what = proc.stdout[-3000:] + proc.stderr[-2000:]
        raise RuntimeError(f"dbt run of workflows failed:\n{what}")


def _their_shards(
    storage: Storage,
    version: str,
    contributor_id: str,
    work: Path,
    duckdb_settings: WarehouseSettings | None = None,
) -> set[str]:
    """The shards holding frames that a version's steps of this contributor show."""
    prefix = f"{PUBLISHED}{version}/"
    steps, index = work / "their-steps.parquet", work / "their-frames.parquet"
    try:
        steps.write_bytes(storage.get_bytes(prefix + "tables/steps.parquet"))
        index.write_bytes(storage.get_bytes(prefix + F.INDEX))
    except ObjectMissing:
        return set()
    q = open_db(settings=duckdb_settings)
    try:
        return {
            PUBLISHED + r[0]
            for r in q.execute(
                f"""
                SELECT DISTINCT i.shard FROM read_parquet('{index}') AS i
                JOIN (SELECT unnest([frame_before_id, frame_after_id]) AS screenshot_id
                      FROM read_parquet('{steps}') WHERE contributor_id = ?) USING (screenshot_id)
                """,
                [contributor_id],
            ).fetchall()
        }
    finally:
        q.close()


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def forget(
    contributor_id: str,
    *,
    warehouse: Path | WarehouseSettings,
    storage: Storage,
    settings: Settings,
    rebuild: bool = True,
    analyst_db: Path | None = None,
) -> Erasure:
    """Erase a contributor everywhere. Idempotent: a second run finds nothing more."""
    from worktape.publish.analyst import write_analyst_db
    from worktape.transform.dbt import build
    from worktape.warehouse import connect

    db = warehouse_at(warehouse)
    record = Erasure(erasure_id=str(uuid.uuid4()), erased_at=_today())
    # the bucket first: if this stops half way, a rerun still finds their devices in the
    # warehouse
    con = connect(db)
    try:
        devices, bundles = _devices_and_bundles(con, contributor_id)
        write_tombstone(
            storage,
            Tombstone(contributor_id, record.erased_at, record.erasure_id, tuple(sorted(devices))),
        )
        record.bundles = len(bundles)
        record.bucket_objects = erase_bucket(storage, devices)
        record.warehouse_rows = erase_warehouse(con, contributor_id, bundles)
    finally:
        con.close()
    if rebuild:
        build(
            None,
            warehouse=db,
            project=settings.dbt_project_dir,
            full_refresh=True,
            max_events=settings.dbt_batch_events,
            max_days=settings.dbt_chunk_days,
        )

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # the shards of their bundles, whatever the warehouse still knows: the bundles
        # their published steps show frames of, too
        shards = {F.shard_key(b) for b in bundles}
        for version in _version_names(storage):
            shards |= _their_shards(storage, version, contributor_id, work, db)
            if rewrite_version(
                storage, version, contributor_id, work, db, dbt_project=settings.dbt_project_dir
            ):
                record.versions_rewritten.append(version)
        for info in list(storage.list(F.SHARDS)):
            if info.key in shards:
                storage.delete(info.key)
                record.frame_shards += 1
        latest = latest_version(storage)
        if latest and latest in record.versions_rewritten:
            tables = work / "latest"
            tables.mkdir()
            for t in TABLES:
                key = f"{PUBLISHED}{latest}/tables/{t}.parquet"
                (tables / f"{t}.parquet").write_bytes(storage.get_bytes(key))
            write_analyst_db(tables, latest, analyst_db or settings.analyst_db, db)

    entry = json.dumps(asdict(record), sort_keys=True) + "\n"
    try:
        previous = storage.get_bytes(ERASURE_LOG).decode()
    except ObjectMissing:
        previous = ""
    storage.put(ERASURE_LOG, (previous + entry).encode(), overwrite=True)
    log.info("erasure %s: %s", record.erasure_id, entry.strip())
    return record
