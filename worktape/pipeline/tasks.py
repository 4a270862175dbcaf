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


def dbt_build(
    days: list[str] | None, *, full_refresh: bool = False, warehouse: Path | None = None
) -> dict[str, Any]:
    """The night's `dbt build` (worktape.transform.dbt.build): the days it loaded, or
    everything with full_refresh, on `warehouse` (the configured one when None)."""
    from worktape.transform.dbt import build
    from worktape.warehouse import WarehouseSettings

    settings = WarehouseSettings() if warehouse is None else WarehouseSettings(path=warehouse)
    return build(days, warehouse=settings, full_refresh=full_refresh)


def publish_night(days: list[str] | None, *, run_id: str | None) -> dict[str, Any]:
    """Stage, gate and publish the warehouse, then the analyst file. A failing gate
    raises with the expectations and rows that failed, and publishes nothing."""
    from datetime import date as date_

    from worktape.config import state_dir
    from worktape.publish.analyst import write_analyst_db
    from worktape.publish.publisher import publish
    from worktape.warehouse import WarehouseSettings

    home = state_dir() / "publish"
    result = publish(
        WarehouseSettings().path,
        resources.storage(),
        days=[date_.fromisoformat(d) for d in days or []] or None,
        work_dir=home / "work",
        docs_dir=home / "data_docs",
    )
    analyst = write_analyst_db(home / "work" / "version" / "tables", result.version)
    (home / "last.json").write_text(
        json.dumps({"version": result.version, "warehouse_state": warehouse_state()})
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


def nightly_report(night: Any, *, run_id: str | None) -> str:
    """The night's HTML report, from the published analyst file, the bucket's quarantine
    records and the gate's outcome (pass or fail). It never opens the warehouse, so it
    needs no slot in the writers' pool."""
    from worktape.config import state_dir
    from worktape.publish.analyst import analyst_path
    from worktape.publish.night_report import write_report

    home = state_dir() / "publish"
    gate = home / "work" / "gate.json"
    path = write_report(
        analyst_path(),
        night,
        state_dir() / "reports",
        gate_json=gate,
        storage=resources.storage(),
        run_id=run_id,
    )
    log.info("nightly report: %s", path)
    return str(path)


def forget_contributor(contributor_id: str) -> dict[str, Any]:
    from dataclasses import asdict

    from worktape.publish.erasure import forget
    from worktape.warehouse import WarehouseSettings

    record = forget(contributor_id, warehouse=WarehouseSettings().path, storage=resources.storage())
    return asdict(record)


def warehouse_state() -> list[Any]:
    """What the warehouse holds, in brief: which file, how many bundles, when the last
    one was loaded."""
    from worktape.warehouse import WarehouseSettings, connect

    path = WarehouseSettings().path
    if not path.exists():
        return []
    con = connect(WarehouseSettings(path=path), read_only=True)
    try:
        n, last = con.execute("SELECT count(*), max(loaded_at) FROM raw.ledger").fetchone()
    finally:
        con.close()
    return [str(path), n, str(last)]


def last_published() -> dict[str, Any] | None:
    from worktape.config import state_dir

    path = state_dir() / "publish" / "last.json"
    return json.loads(path.read_text()) if path.exists() else None
