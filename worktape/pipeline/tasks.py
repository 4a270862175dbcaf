"""The bodies of the nightly tasks. Each opens what it needs, does one idempotent step
keyed on the data interval, and returns a small JSON-able summary for XCom."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from worktape.pipeline import resources
from worktape.settings import Settings

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
    """The night's `dbt build` (worktape.transform.dbt.build): the days it loaded, or
    everything with full_refresh, on `warehouse` (the configured one when None), with
    the configured project and batch sizes."""
    from worktape.transform.dbt import build

    s = settings or Settings()
    return build(
        days,
        warehouse=s.warehouse_settings(warehouse),
        project=s.dbt_project_dir,
        full_refresh=full_refresh,
        max_events=s.dbt_batch_events,
        max_days=s.dbt_chunk_days,
    )


def publish_night(
    days: list[str] | None, *, run_id: str | None, settings: Settings | None = None
) -> dict[str, Any]:
    """Stage, gate and publish the warehouse, then the analyst file. A failing gate
    raises with the expectations and rows that failed, and publishes nothing."""
    from datetime import date as date_

    from worktape.publish.analyst import write_analyst_db
    from worktape.publish.formats import FormatOptions
    from worktape.publish.publisher import publish
    from worktape.publish.viewer import ViewerSample

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
        narrator=resources.narrator(s),
        viewer=ViewerSample(s.viewer_workflows, s.viewer_instances),
        formats=FormatOptions.of(s.dataset_shard_bytes, s.dataset_splits),
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
    from worktape.publish.night_report import write_report

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
