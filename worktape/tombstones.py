"""Erasure that holds: a tombstone per erased contributor, read by the loader and by
publishing.

`worktape forget` removes a contributor everywhere, but a laptop may still hold bundles
of theirs in its spool and upload them later. The tombstone outlives the erasure: the
loader deletes any later bundle of a tombstoned contributor (or from one of their
devices) without keeping its content, and publishing drops any row that names them.

A tombstone holds no personal data: the pseudonymous contributor id (a salted hash), the
pseudonymous ids of the devices their bundles came from (so that a bundle whose manifest
cannot even be read is refused by its key), when, and which erasure request.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from worktape.core.layout import TOMBSTONES, parse_raw_key, tombstone_key
from worktape.core.storage import ObjectMissing, Storage


@dataclass(frozen=True)
class Tombstone:
    contributor_id: str
    erased_at: str
    erasure_id: str
    device_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tombstones:
    """Every tombstone in a bucket, looked up by contributor and by device."""

    by_contributor: dict[str, Tombstone] = field(default_factory=dict)
    by_device: dict[str, Tombstone] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_contributor)

    def for_key(self, key: str) -> Tombstone | None:
        rk = parse_raw_key(key)
        return self.by_device.get(rk.device_id) if rk else None

    def for_contributor(self, contributor_id: str) -> Tombstone | None:
        return self.by_contributor.get(contributor_id)

    @property
    def contributor_ids(self) -> list[str]:
        return sorted(self.by_contributor)


def write_tombstone(storage: Storage, stone: Tombstone) -> None:
    """Record (or widen, on a second erasure) a contributor's tombstone."""
    old = read_tombstones(storage).for_contributor(stone.contributor_id)
    if old is not None:
        devices = tuple(sorted({*old.device_ids, *stone.device_ids}))
        stone = Tombstone(old.contributor_id, old.erased_at, old.erasure_id, devices)
    body = json.dumps({**asdict(stone), "device_ids": list(stone.device_ids)}, sort_keys=True)
    storage.put(tombstone_key(stone.contributor_id), body.encode(), overwrite=True)


def read_tombstones(storage: Storage) -> Tombstones:
    by_contributor: dict[str, Tombstone] = {}
    by_device: dict[str, Tombstone] = {}
    for info in storage.list(TOMBSTONES):
        if not info.key.endswith(".json"):
            continue
        try:
            d = json.loads(storage.get_bytes(info.key))
        except ObjectMissing:
            continue
        stone = Tombstone(
            d["contributor_id"], d["erased_at"], d["erasure_id"], tuple(d.get("device_ids", ()))
        )
        by_contributor[stone.contributor_id] = stone
        for device in stone.device_ids:
            by_device[device] = stone
    return Tombstones(by_contributor, by_device)
