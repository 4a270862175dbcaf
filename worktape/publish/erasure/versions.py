"""What an erasure rewrites in the published versions: every version's tables, frames
index, dataset, event logs, viewer pages (theirs go), procedure documents (drawn again
from what remains) and card (from the card's data, `worktape.publish.card`) without the
contributor, with a new manifest."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from worktape.core.layout import PUBLISHED
from worktape.core.storage import Storage
from worktape.publish import frames as F
from worktape.publish.card import after_erasure, read_card, write_card
from worktape.publish.formats import DERIVED, rewrite_formats
from worktape.publish.procedures import PROCEDURES, rewrite_procedures
from worktape.publish.publisher import NARRATION, _manifest, build_dataset, build_eventlogs
from worktape.publish.stage import TABLES
from worktape.publish.viewer import VIEWER, rewrite_viewer
from worktape.warehouse import WarehouseSettings, one, open_db


def version_names(storage: Storage) -> list[str]:
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
    old_keys = [info.key for info in storage.list(prefix)]
    for key in old_keys:
        if key[len(prefix) :].startswith(DERIVED):
            continue  # hf/ and wds/ are written again from the records, not read
        dest = root / key[len(prefix) :]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(storage.get_bytes(key))
    # named plainly: dbt names the file's catalog after it
    db = work / "rewrite.duckdb"
    db.unlink(missing_ok=True)
    con = open_db(db, settings=duckdb_settings)
    try:
        con.execute("CREATE SCHEMA marts")
        tables = [t for t in TABLES if (root / "tables" / f"{t}.parquet").exists()]
        for t in tables:
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
        rebuild_workflows(db, work, dbt_project, duckdb_settings, procedures="procedures" in tables)
        con = open_db(db, settings=duckdb_settings)
        con.execute("SET preserve_insertion_order = true")
        counts = {}
        for t, key in TABLES.items():
            if t not in tables:
                continue
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
        # the model's narration of the episodes that remain, as it was published
        narration = None
        narrated = root / NARRATION
        if narrated.exists():
            narration = con.execute(
                f"SELECT * FROM read_parquet('{narrated}') "
                "SEMI JOIN marts.episodes USING (episode_id) ORDER BY episode_id"
            ).to_arrow_table()
        build_dataset(con, root / "dataset", kept, narration=narration)
        build_eventlogs(con, root / "eventlogs")
        records = root / "dataset" / "episodes.jsonl"
        rewrite_viewer(con, root / VIEWER, kept, storage, records=records)
        # from the rewritten marts and the frames that remain (their crops go); nothing
        # where the marts have no procedures (an older version)
        rewrite_procedures(con, root / PROCEDURES, kept, storage)
    finally:
        con.close()
        db.unlink(missing_ok=True)
    write_card(root, after_erasure(read_card(root), counts))
    rewrite_formats(root, storage, kept)  # their rows and images leave hf/ and wds/ too
    old = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").unlink()
    files = _manifest(root)
    manifest = {
        **old,
        "counts": counts,
        "files": files,
        "rewritten_for_erasure": [*old.get("rewritten_for_erasure", []), today()],
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    # what the version no longer holds (the viewer pages of their episodes) goes first:
    # a rerun after a crash past this point finds their rows again and redoes it all
    for info in list(storage.list(prefix)):
        if info.key[len(prefix) :] not in files and info.key != prefix + "manifest.json":
            storage.delete(info.key)
    for rel in files:
        storage.put(prefix + rel, root / rel, overwrite=True)
    storage.put(prefix + "manifest.json", root / "manifest.json", overwrite=True)
    # files the version no longer has (a format shard that held their rows)
    for key in old_keys:
        if key[len(prefix) :] not in files and key != prefix + "manifest.json":
            storage.delete(key)
    return True


def rebuild_workflows(
    db: Path,
    work: Path,
    project: Path,
    duckdb_settings: WarehouseSettings | None = None,
    *,
    procedures: bool = False,
) -> None:
    """marts.workflows in `db` again, from its marts.workflow_instances, with the dbt
    project's `workflows` model (what it reads, int_workflow_instances_joined, is
    given those instances): one definition of a workflow's summary, not a copy here.
    With `procedures`, the procedures too, by their models, from the steps that
    remain."""
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
        *(["procedure_units", "procedure_steps", "procedures"] if procedures else []),
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


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
