"""Put a bundle that failed verification aside, with its reason, and lose nothing.

The raw object stays where it is (raw/ is never rewritten by the pipeline); a copy goes to
`quarantine/<key>` with `quarantine/<key>.reason.json` beside it, and a row goes into
`raw.quarantine`. Every step tolerates having been done before, so a crash in the middle
and a rerun end in the same place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from worktape.core.bundle import BundleError
from worktape.core.layout import QUARANTINE, RAW, quarantine_key
from worktape.core.storage import ObjectExists, ObjectMissing, Storage


@dataclass(frozen=True)
class Quarantined:
    object_key: str
    reason: str
    message: str
    bundle_id: str | None = None
    sha256: str | None = None
    member: str | None = None


def quarantine(
    storage: Storage,
    con: duckdb.DuckDBPyConnection,
    key: str,
    err: BundleError,
    *,
    run_id: str | None,
    bundle_id: str | None = None,
    sha256: str | None = None,
) -> Quarantined:
    now = datetime.now(UTC)
    q = Quarantined(key, err.reason.value, err.message, bundle_id, sha256, err.member)
    try:
        storage.copy(key, quarantine_key(key))
    except ObjectExists:
        pass  # a rerun: the copy is already there
    except ObjectMissing:
        pass  # the raw object vanished (deleted by an erasure?): still record why
    reason = {
        "object_key": key,
        "reason": q.reason,
        "message": q.message,
        "member": q.member,
        "bundle_id": bundle_id,
        "sha256": sha256,
        "quarantined_at": now.isoformat(),
        "run_id": run_id,
    }
    storage.put(
        quarantine_key(key) + ".reason.json", json.dumps(reason, indent=1).encode(), overwrite=True
    )
    con.execute(
        "INSERT OR REPLACE INTO raw.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [key, bundle_id, sha256, q.reason, q.message, q.member, now, run_id],
    )
    return q


def quarantine_reasons(storage: Storage, dates: list[date]) -> list[dict[str, Any]]:
    """The reason records of the bundles quarantined under these dates' partitions, read
    from the bucket (what a reader of the night needs, without opening the warehouse)."""
    from worktape.loader.discover import list_raw_keys

    out = []
    for key in list_raw_keys(storage, dates, root=QUARANTINE + RAW, suffix=".reason.json"):
        try:
            out.append(json.loads(storage.get_bytes(key)))
        except (ObjectMissing, ValueError):
            continue
    return out
