"""The bodies of the nightly tasks. Each opens what it needs, does one idempotent step
keyed on the data interval, and returns a small JSON-able summary for XCom."""

from __future__ import annotations

import logging
import os
from datetime import datetime
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
