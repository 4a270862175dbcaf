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

Split by what each part touches: `bucket` (raw objects, frame shards), `warehouse`
(raw rows, the rebuild), `versions` (the published versions, their cards through
`worktape.publish.card`), `analyst` (the analyst file); `forget` here runs them in
that order.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from worktape.core.layout import PUBLISHED
from worktape.core.storage import ObjectMissing, Storage
from worktape.publish import frames as F
from worktape.publish.erasure.analyst import rewrite_analyst_file
from worktape.publish.erasure.bucket import erase_bucket, erase_shards, their_shards
from worktape.publish.erasure.versions import (
    rebuild_workflows,
    rewrite_version,
    version_names,
)
from worktape.publish.erasure.versions import today as _today
from worktape.publish.erasure.warehouse import (
    devices_and_bundles,
    erase_warehouse,
    rebuild_warehouse,
)
from worktape.publish.publisher import latest_version
from worktape.tombstones import Tombstone, write_tombstone
from worktape.warehouse import WarehouseSettings, warehouse_at

if TYPE_CHECKING:
    from worktape.settings import Settings

__all__ = [
    "ERASURE_LOG",
    "Erasure",
    "erase_bucket",
    "erase_warehouse",
    "forget",
    "rebuild_workflows",
    "rewrite_version",
]

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
    from worktape.warehouse import connect

    db = warehouse_at(warehouse)
    record = Erasure(erasure_id=str(uuid.uuid4()), erased_at=_today())
    # the bucket first: if this stops half way, a rerun still finds their devices in the
    # warehouse
    con = connect(db)
    try:
        devices, bundles = devices_and_bundles(con, contributor_id)
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
        rebuild_warehouse(db, settings)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # the shards of their bundles, whatever the warehouse still knows: the bundles
        # their published steps show frames of, too
        shards = {F.shard_key(b) for b in bundles}
        for version in version_names(storage):
            shards |= their_shards(storage, version, contributor_id, work, db)
            if rewrite_version(
                storage, version, contributor_id, work, db, dbt_project=settings.dbt_project_dir
            ):
                record.versions_rewritten.append(version)
        record.frame_shards = erase_shards(storage, shards)
        latest = latest_version(storage)
        if latest and latest in record.versions_rewritten:
            rewrite_analyst_file(storage, latest, work, analyst_db or settings.analyst_db, db)

    entry = json.dumps(asdict(record), sort_keys=True) + "\n"
    try:
        previous = storage.get_bytes(ERASURE_LOG).decode()
    except ObjectMissing:
        previous = ""
    storage.put(ERASURE_LOG, (previous + entry).encode(), overwrite=True)
    log.info("erasure %s: %s", record.erasure_id, entry.strip())
    return record
