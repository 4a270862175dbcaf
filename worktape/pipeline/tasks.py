"""The bodies of the nightly tasks. Each opens what it needs, does one idempotent step
keyed on the data interval, and returns a small JSON-able summary for XCom."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from worktape.pipeline import resources

log = logging.getLogger(__name__)


def discover_new(start: datetime, end: datetime) -> list[str]:
    from worktape.loader import DEFAULT_LOOKBACK_DAYS, discover
    from worktape.warehouse import connect

    lookback = int(os.environ.get("WORKTAPE_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS))
    con = connect()
    try:
        keys = discover(resources.storage(), con, start, end, lookback_days=lookback)
    finally:
        con.close()
    log.info(
        "%d new bundle(s) for [%s, %s) with %d day(s) of lookback", len(keys), start, end, lookback
    )
    return keys


def load_keys(keys: list[str], *, run_id: str | None) -> dict[str, Any]:
    from worktape.loader import load_bundles
    from worktape.warehouse import connect

    verify_frames = os.environ.get("WORKTAPE_VERIFY_FRAMES", "1") != "0"
    con = connect()
    try:
        summary = load_bundles(
            resources.storage(), con, keys, run_id=run_id, verify_frames=verify_frames
        )
    finally:
        con.close()
    out = summary.to_dict()
    log.info("load summary: %s", out)
    return out


def dbt_project_dir() -> Path:
    return Path(
        os.environ.get("WORKTAPE_DBT_PROJECT")
        or Path(__file__).resolve().parents[2] / "dbt_project"
    )


def dbt_build(days: list[str] | None, *, full_refresh: bool = False) -> dict[str, Any]:
    """One `dbt build` for the night: the days it loaded (or everything with
    full_refresh). Runs dbt as one child process, on the warehouse the loader wrote."""
    import subprocess
    import sys

    from worktape.warehouse import WarehouseSettings

    if not days and not full_refresh:
        log.info("no new data this night: nothing to build")
        return {"built": False, "days": []}
    s = WarehouseSettings()
    project = dbt_project_dir()
    args = [
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--vars",
        json.dumps({"days": [] if full_refresh else sorted(days or [])}),
    ]
    if full_refresh:
        args.append("--full-refresh")
    env = {
        **os.environ,
        "WORKTAPE_WAREHOUSE": str(s.path),
        "WORKTAPE_DUCKDB_MEMORY_LIMIT": s.memory_limit,
        "WORKTAPE_DUCKDB_THREADS": str(s.threads),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run([str(dbt), *args], env=env, capture_output=True, text=True, cwd=project)
    tail = "\n".join(proc.stdout.splitlines()[-25:])
    if proc.returncode != 0:
        raise RuntimeError(f"dbt build failed (exit {proc.returncode}):\n{tail}")
    log.info("dbt build done:\n%s", tail)
    return {"built": True, "days": sorted(days or []), "full_refresh": full_refresh}
