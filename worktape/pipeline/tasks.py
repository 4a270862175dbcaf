"""The bodies of the nightly tasks. Each opens what it needs, does one idempotent step
keyed on the data interval, and returns a small JSON-able summary for XCom."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worktape.pipeline import resources
from worktape.settings import Settings

if TYPE_CHECKING:
    from worktape.warehouse import WarehouseSettings

log = logging.getLogger(__name__)


def discover_new(start: datetime, end: datetime, settings: Settings | None = None) -> list[str]:
    from worktape.loader import discover
    from worktape.warehouse import connect

    s = settings or Settings()
    lookback = s.lookback_days
    con = connect(s.warehouse_settings())
    try:
        keys = discover(resources.storage(s), con, start, end, lookback_days=lookback)
    finally:
        con.close()
    log.info(
        "%d new bundle(s) for [%s, %s) with %d day(s) of lookback", len(keys), start, end, lookback
    )
    return keys


def load_keys(
    keys: list[str], *, run_id: str | None, settings: Settings | None = None
) -> dict[str, Any]:
    from worktape.loader import load_bundles
    from worktape.warehouse import connect

    s = settings or Settings()
    verify_frames = s.verify_frames
    con = connect(s.warehouse_settings())
    try:
        summary = load_bundles(
            resources.storage(s), con, keys, run_id=run_id, verify_frames=verify_frames
        )
    finally:
        con.close()
    out = summary.to_dict()
    log.info("load summary: %s", out)
    return out


def dbt_build(
    days: list[str] | None,
    *,
    full_refresh: bool = False,
    warehouse: Path | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The night's `dbt build`: the days it loaded, or everything with full_refresh, on
    `warehouse` (the configured one when None).

    Runs dbt as a child process on the warehouse the loader wrote. Days go in batches of
    at most WORKTAPE_DBT_BATCH_EVENTS raw events (20M) and WORKTAPE_DBT_CHUNK_DAYS days
    (14): coalescing a long history into actions at once runs out of memory (a week of
    100 contributors, 28M events, did at a 4 GB limit, before int_actions_coalesced sorted its
    lists after aggregating), while 18M now peaks at 4.4 GB RSS. Fewer, larger batches
    cost less: each pays a fixed part (node overhead, tests, the models rebuilt whole),
    so 18M events built in 126 s as one batch and in about 184 s as two. A full
    refresh rebuilds the first batch from scratch and adds the others incrementally,
    which gives the same tables (a work date spanning two batches is rebuilt whole by
    the second)."""
    s = settings or Settings()
    db = s.warehouse_settings(warehouse)
    if not days and not full_refresh:
        log.info("no new data this night: nothing to build")
        return {"built": False, "days": []}
    if not full_refresh and _predates_int_actions_framed(db):
        log.warning("the warehouse's actions predate int_actions_framed: a full refresh")
        _drop_old_layout(db)
        full_refresh = True
    counts = _events_per_day(db, None if full_refresh else days)
    todo = sorted(counts) if full_refresh else sorted(days or [])
    batches = day_batches(
        todo,
        counts,
        max_events=s.dbt_batch_events,
        max_days=s.dbt_chunk_days,
    )
    _run_dbt(db, batches, full_refresh_first=full_refresh, project=s.dbt_project_dir)
    return {
        "built": True,
        "days": sorted(days or []),
        "full_refresh": full_refresh,
        "batches": len(batches),
    }


def _predates_int_actions_framed(settings: WarehouseSettings) -> bool:
    """A warehouse built before the marts read only intermediates (issue #16) holds its
    actions in the marts.actions table; int_actions_framed, which holds them now (the
    mart is a view of it), would start with one night's days and lose the rest, so
    its first build is a full refresh."""
    from worktape.warehouse import connect

    if not settings.path.exists():
        return False
    con = connect(settings, read_only=True)
    try:
        kinds = dict(
            con.execute(
                "SELECT table_schema || '.' || table_name, table_type "
                "FROM information_schema.tables "
                "WHERE table_catalog = current_database() AND table_name IN "
                "('actions', 'int_actions_framed')"
            ).fetchall()
        )
    finally:
        con.close()
    return (
        kinds.get("marts.actions") == "BASE TABLE"
        and "intermediate.int_actions_framed" not in kinds
    )


# the intermediate models before issue #16 named them int_<entity>s_<verb>s
OLD_VIEWS = (
    "int_actions",
    "int_bundle_screens",
    "int_episode_workflows",
    "int_input_events",
    "int_start_signatures",
)
OLD_TABLES = (
    "int_action_boundaries",
    "int_action_gaps",
    "int_episode_shapes",
    "int_shape_workflows",
)


def _drop_old_layout(settings: WarehouseSettings) -> None:
    """The old layout's intermediates: nothing rebuilds them, and an erasure must not
    leave a contributor's rows in them."""
    from worktape.warehouse import connect

    con = connect(settings)
    try:
        for v in OLD_VIEWS:
            con.execute(f"DROP VIEW IF EXISTS intermediate.{v}")
        for t in OLD_TABLES:
            con.execute(f"DROP TABLE IF EXISTS intermediate.{t}")
    finally:
        con.close()


def day_batches(
    days: list[str], events: dict[str, int], *, max_events: int, max_days: int
) -> list[list[str]]:
    """Consecutive runs of `days` holding at most `max_events` events (a day larger than
    that goes alone) and at most `max_days` days. Never empty: [[]] for no days."""
    batches: list[list[str]] = []
    current: list[str] = []
    n = 0
    for d in days:
        c = events.get(d, 0)
        if current and (n + c > max_events or len(current) >= max(1, max_days)):
            batches.append(current)
            current, n = [], 0
        current.append(d)
        n += c
    if current:
        batches.append(current)
    return batches or [[]]


def _events_per_day(settings: WarehouseSettings, days: list[str] | None = None) -> dict[str, int]:
    """Raw events per UTC day: of `days`, or of all days when None. The day is counted
    from the instant (epoch_us), not with a cast or strftime of the timestamptz, which
    go through ICU's calendar: 13 s instead of 0.5 s over 45M events."""
    from datetime import date, timedelta

    from worktape.sqltime import in_utc_days
    from worktape.warehouse import connect

    if days is not None and not days:
        return {}
    chosen = None if days is None else [date.fromisoformat(d) for d in days]
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "SELECT epoch_us(ts) // 86400000000 AS day, count(*) FROM raw.events "
            f"WHERE {in_utc_days('ts', chosen)} GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    epoch = date(1970, 1, 1)
    return {(epoch + timedelta(days=int(day))).isoformat(): n for day, n in rows}


def _run_dbt(
    s: WarehouseSettings, batches: list[list[str]], *, full_refresh_first: bool, project: Path
) -> list[dict[str, Any]]:
    """All batches in one dbt child process (worktape/pipeline/dbt_batches.py): dbt is
    imported and the project parsed once. Raises with dbt's own words when one fails."""
    import subprocess
    import sys

    from worktape.pipeline.dbt_batches import PREFIX

    env = {
        **os.environ,
        "WORKTAPE_WAREHOUSE": str(s.path),
        "WORKTAPE_DUCKDB_MEMORY_LIMIT": s.memory_limit,
        "WORKTAPE_DUCKDB_THREADS": str(s.threads),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    spec = {"project": str(project), "batches": batches, "full_refresh_first": full_refresh_first}
    proc = subprocess.run(
        [sys.executable, "-m", "worktape.pipeline.dbt_batches", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        cwd=project,
    )
    lines = proc.stdout.splitlines()
    done = [json.loads(ln[len(PREFIX) :]) for ln in lines if ln.startswith(PREFIX)]
    tail = "\n".join(ln for ln in lines[-40:] if not ln.startswith(PREFIX))
    if proc.returncode != 0:
        failed = done[-1] if done and not done[-1]["ok"] else None
        what = (
            "\n".join(failed["failures"]) or failed["error"]
            if failed
            else proc.stderr.strip()[-2000:]
        )
        raise RuntimeError(f"dbt build failed (exit {proc.returncode}):\n{what}\n{tail}")
    for batch in done:
        log.info("dbt build of %s done in %.1f s", batch["days"] or "everything", batch["seconds"])
    return done


def publish_night(
    days: list[str] | None, *, run_id: str | None, settings: Settings | None = None
) -> dict[str, Any]:
    """Stage, gate and publish the warehouse, then the analyst file. A failing gate
    raises with the expectations and rows that failed, and publishes nothing."""
    from datetime import date as date_

    from worktape.publish.analyst import write_analyst_db
    from worktape.publish.publisher import publish

    s = settings or Settings()
    home = s.home / "publish"
    result = publish(
        s.warehouse_settings(),
        resources.storage(s),
        days=[date_.fromisoformat(d) for d in days or []] or None,
        work_dir=home / "work",
        docs_dir=home / "data_docs",
        dbt_project=s.dbt_project_dir,
        frame_sample=s.gate_frame_sample,
    )
    analyst = write_analyst_db(
        home / "work" / "version" / "tables", result.version, s.analyst_db, s.warehouse_settings()
    )
    (home / "last.json").write_text(
        json.dumps({"version": result.version, "warehouse_state": warehouse_state(s)})
    )
    out = {
        "version": result.version,
        "is_new": result.is_new,
        "counts": result.counts,
        "frame_shards_written": result.shards_written,
        "analyst_db": str(analyst),
        "run_id": run_id,
    }
    log.info("published: %s", out)
    return out


def nightly_report(night: Any, *, run_id: str | None, settings: Settings | None = None) -> str:
    """The night's HTML report, from the published analyst file, the bucket's quarantine
    records and the gate's outcome (pass or fail). It never opens the warehouse, so it
    needs no slot in the writers' pool."""
    from worktape.publish.report import write_report

    s = settings or Settings()
    home = s.home / "publish"
    gate = home / "work" / "gate.json"
    path = write_report(
        s.analyst_db,
        night,
        s.home / "reports",
        gate_json=gate,
        storage=resources.storage(s),
        run_id=run_id,
    )
    log.info("nightly report: %s", path)
    return str(path)


def forget_contributor(contributor_id: str, settings: Settings | None = None) -> dict[str, Any]:
    from dataclasses import asdict

    from worktape.publish.erasure import forget

    s = settings or Settings()
    record = forget(
        contributor_id, warehouse=s.warehouse_settings(), storage=resources.storage(s), settings=s
    )
    return asdict(record)


def warehouse_state(settings: Settings | None = None) -> list[Any]:
    """What the warehouse holds, in brief: which file, how many bundles, when the last
    one was loaded."""
    from worktape.warehouse import connect

    db = (settings or Settings()).warehouse_settings()
    path = db.path
    if not path.exists():
        return []
    con = connect(db, read_only=True)
    try:
        n, last = con.execute("SELECT count(*), max(loaded_at) FROM raw.ledger").fetchone()
    finally:
        con.close()
    return [str(path), n, str(last)]


def last_published(settings: Settings | None = None) -> dict[str, Any] | None:
    path = (settings or Settings()).home / "publish" / "last.json"
    return json.loads(path.read_text()) if path.exists() else None
