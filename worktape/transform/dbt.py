"""`dbt build` on an explicit warehouse, a few days at a time, in one child process
(worktape/transform/dbt_child.py)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from worktape.transform.batches import day_batches, events_per_day
from worktape.warehouse import WarehouseSettings

log = logging.getLogger(__name__)


def build(
    days: list[str] | None,
    *,
    warehouse: WarehouseSettings,
    project: Path,
    full_refresh: bool = False,
    max_events: int = 20_000_000,
    max_days: int = 14,
) -> dict[str, Any]:
    """`dbt build` of `days` (or of everything with full_refresh) on `warehouse`, and on
    no other: dbt's profile is handed its path, whatever the environment names.

    Runs dbt as a child process on the warehouse the loader wrote. Days go in batches of at
    most `max_events` raw events (20M, WORKTAPE_DBT_BATCH_EVENTS) and `max_days` days (14,
    WORKTAPE_DBT_CHUNK_DAYS): coalescing a long history into actions at once runs out of
    memory (a week of 100 contributors, 28M events, did at a 4 GB limit, before
    int_actions_coalesced sorted its lists after aggregating), while 18M now peaks at 4.4 GB
    RSS. Fewer, larger batches cost less: each pays a fixed part (node overhead, tests, the
    models rebuilt whole), so 18M events built in 126 s as one batch and in about 184 s as
    two. A full refresh rebuilds the first batch from scratch and adds the others
    incrementally, which gives the same tables (a work date spanning two batches is rebuilt
    whole by the second)."""
    if not days and not full_refresh:
        log.info("no new data this night: nothing to build")
        return {"built": False, "days": []}
    if not full_refresh and _predates_int_actions_framed(warehouse):
        log.warning("the warehouse's actions predate int_actions_framed: a full refresh")
        _drop_old_layout(warehouse)
        full_refresh = True
    if not full_refresh and _predates_elements(warehouse):
        log.warning("raw events name elements the warehouse's actions lack: a full refresh")
        full_refresh = True
    counts = events_per_day(warehouse, None if full_refresh else days)
    todo = sorted(counts) if full_refresh else sorted(days or [])
    batches = day_batches(
        todo,
        counts,
        max_events=max_events,
        max_days=max_days,
    )
    run_batches(warehouse, batches, full_refresh_first=full_refresh, project=project)
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


def _predates_elements(settings: WarehouseSettings) -> bool:
    """Actions built before they carried the element acted on (bundle format 1.1) gain
    the element columns on the next build (on_schema_change: append_new_columns), empty
    on the days it does not rebuild. That is right for 1.0 bundles, which name none; but
    raw events that already name elements (1.1 bundles loaded before the models carried
    them) would stay out of every day but the night's, so that build is a full refresh."""
    from worktape.warehouse import connect

    if not settings.path.exists():
        return False
    con = connect(settings, read_only=True)
    try:
        columns = {
            (r[0], r[1])
            for r in con.execute(
                "SELECT table_schema || '.' || table_name, column_name "
                "FROM information_schema.columns WHERE table_catalog = current_database() "
                "AND ((table_schema = 'intermediate' AND table_name = 'int_actions_framed') "
                "OR (table_schema = 'raw' AND table_name = 'events'))"
            ).fetchall()
        }
        tables = {t for t, _ in columns}
        if (
            "intermediate.int_actions_framed" not in tables
            or ("intermediate.int_actions_framed", "element_role") in columns
            or ("raw.events", "element_role") not in columns
        ):
            return False
        # no element is the common case: row groups whose statistics say all-null are
        # skipped without reading them
        named = con.execute(
            "SELECT 1 FROM raw.events WHERE element_role IS NOT NULL "
            "OR element_name IS NOT NULL OR element_x IS NOT NULL LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    return named is not None


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


def run_batches(
    s: WarehouseSettings, batches: list[list[str]], *, full_refresh_first: bool, project: Path
) -> list[dict[str, Any]]:
    """All batches in one dbt child process (worktape/transform/dbt_child.py): dbt is
    imported and the project parsed once. Raises with dbt's own words when one fails."""
    import subprocess
    import sys

    from worktape.transform.dbt_child import PREFIX

    env = {
        **os.environ,
        "WORKTAPE_WAREHOUSE": str(s.path),
        "WORKTAPE_DUCKDB_MEMORY_LIMIT": s.memory_limit,
        "WORKTAPE_DUCKDB_THREADS": str(s.threads),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # the child runs in the project's folder: it must import this worktape, not
        # whichever one that folder's sys.path finds
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")) if p
        ),
    }
    spec = {"project": str(project), "batches": batches, "full_refresh_first": full_refresh_first}
    proc = subprocess.run(
        [sys.executable, "-m", "worktape.transform.dbt_child", json.dumps(spec)],
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
