"""The published records as step rows, and the frames they embed.

Every format is the version's `dataset/episodes.jsonl` in another layout: one row per
step, with its episode's fields, read a line (an episode) at a time. A step's frame is
embedded only if the version's frames index has it (the gate passed it, and the laptop
masked it); its bytes come from the frame shard, a whole shard per read (one GET a
bundle, not one a frame), a few shards kept at a time, each image checked against the
index's sha256.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from worktape.core.layout import PUBLISHED
from worktape.core.storage import Storage
from worktape.publish.frames import FrameCorrupt

CACHE_BYTES = 256 << 20  # shards kept in memory at once (at least one, however large)


class FrameNotIndexed(RuntimeError):
    """A record names a frame the version's frames index does not hold."""


@dataclass(frozen=True)
class Frame:
    screenshot_id: str
    member: str  # screenshots/<id>.<fmt>
    data: bytes

    @property
    def ext(self) -> str:
        return self.member.rsplit(".", 1)[-1]

    @property
    def name(self) -> str:
        return self.member.rsplit("/", 1)[-1]


class FrameSource:
    """The frames of a version's index, by the `shard#member` reference records use."""

    def __init__(self, storage: Storage, index: pa.Table, cache_bytes: int = CACHE_BYTES) -> None:
        self.storage = storage
        self.cache_bytes = cache_bytes
        self.index = index.select(["shard", "member", "screenshot_id", "offset", "bytes", "sha256"])
        self.index = self.index.sort_by([("shard", "ascending"), ("member", "ascending")])
        # where each shard's rows lie in the sorted index: a dict per shard, not per frame
        self._rows: dict[str, tuple[int, int]] = {}
        if self.index.num_rows:
            runs = pc.run_end_encode(self.index["shard"].combine_chunks())
            start = 0
            for shard, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
                self._rows[shard] = (start, end - start)
                start = end
        self._cache: OrderedDict[str, tuple[bytes, dict[str, tuple[str, int, int, str]]]] = (
            OrderedDict()
        )
        self._cached = 0
        self.shard_reads = 0

    def _shard(self, shard: str) -> tuple[bytes, dict[str, tuple[str, int, int, str]]]:
        hit = self._cache.get(shard)
        if hit is not None:
            self._cache.move_to_end(shard)
            return hit
        if shard not in self._rows:
            raise FrameNotIndexed(f"{shard} holds no frame of this version's frames index")
        start, n = self._rows[shard]
        rows = self.index.slice(start, n).to_pylist()
        members = {
            r["member"]: (r["screenshot_id"], r["offset"], r["bytes"], r["sha256"]) for r in rows
        }
        data = self.storage.get_bytes(PUBLISHED + shard)
        self.shard_reads += 1
        self._cache[shard] = (data, members)
        self._cached += len(data)
        while self._cached > self.cache_bytes and len(self._cache) > 1:
            _, (old, _) = self._cache.popitem(last=False)
            self._cached -= len(old)
        return data, members

    def get(self, ref: str | None) -> Frame | None:
        """The frame a record names (`frames/<bundle>.tar#screenshots/<id>.webp`), or None
        for a step without one."""
        if not ref:
            return None
        shard, _, member = ref.partition("#")
        data, members = self._shard(shard)
        if member not in members:
            raise FrameNotIndexed(f"{ref} is not in this version's frames index")
        sid, offset, length, sha = members[member]
        image = data[offset : offset + length]
        if len(image) != length or hashlib.sha256(image).hexdigest() != sha:
            raise FrameCorrupt(f"{shard}: {member} does not match the frames index")
        return Frame(sid, member, image)


# the episode's fields every step row carries, and the step's own, in the rows' order;
# `image` and `next_image` (frame references) are `image_ref` and `next_image_ref`
EPISODE_FIELDS = (
    "task_id",
    "instruction",
    "contributor_id",
    "workflow_id",
    "is_recurring_workflow",
    "work_date",
    "duration_s",
)


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of an episodes.jsonl, one at a time."""
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                record: dict[str, Any] = json.loads(line)
                yield record


def step_rows(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A record's steps as rows: the step's keys (the frame references renamed), then the
    episode's. Keys the records gain later come along."""
    episode = {k: v for k, v in record.items() if k != "traj"}
    for step in record.get("traj") or []:
        row = {k: v for k, v in step.items() if k not in ("image", "next_image")}
        row["image_ref"] = step.get("image")
        row["next_image_ref"] = step.get("next_image")
        row.update(episode)
        yield row
