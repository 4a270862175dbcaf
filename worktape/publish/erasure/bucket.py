"""What an erasure removes from the bucket: the contributor's raw bundles, quarantined
bundles and (simulated) ground truth, by the devices their bundles came from, and the
frame shards of their bundles in published/frames/. The tombstone that keeps them out
is `worktape.tombstones`."""

from __future__ import annotations

from pathlib import Path

from worktape.core.layout import PUBLISHED, QUARANTINE, RAW, TRUTH
from worktape.core.storage import ObjectMissing, Storage
from worktape.publish import frames as F
from worktape.warehouse import WarehouseSettings, open_db


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


def their_shards(
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


def erase_shards(storage: Storage, shards: set[str]) -> int:
    """Delete the frame shards among `shards` that are in the bucket. Returns how many."""
    n = 0
    for info in list(storage.list(F.SHARDS)):
        if info.key in shards:
            storage.delete(info.key)
            n += 1
    return n
