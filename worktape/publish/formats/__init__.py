"""The training formats of a published version, beside the AgentNet-style records:

    hf/<split>-00000-of-00002.parquet   Hugging Face Parquet, a row per step, its image
                                        embedded (`datasets` Image feature)
    wds/<split>-000000.tar              WebDataset: `<step_id>.json` and `<step_id>.webp`

Both are `dataset/episodes.jsonl` in another layout, split by contributor
(`worktape.publish.formats.splits`), written in one pass over the records: each frame
is read once from its shard, and only frames in the version's frames index are
embedded. `write_formats` runs while publishing, after the records and the card (it
adds the splits and formats to the card); an erasure calls `rewrite_formats` for every
version it rewrites. `worktape.publish.formats.export` copies a version's formats out.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from worktape.core.storage import Storage
from worktape.publish.card import read_card, write_card
from worktape.publish.formats.records import FrameSource, read_records, step_rows
from worktape.publish.formats.shards import (
    SHARD_BYTES,
    TYPED,
    ParquetShards,
    TarShards,
    hf_schema,
)
from worktape.publish.formats.splits import (
    DEFAULT_SPLITS,
    METHOD,
    SplitCounter,
    Splits,
    parse_splits,
    split_of,
    splits_from_card,
)

__all__ = [
    "DERIVED",
    "HF_DIR",
    "WDS_DIR",
    "FormatOptions",
    "FormatsWritten",
    "rewrite_formats",
    "write_formats",
]

log = logging.getLogger(__name__)
HF_DIR = "hf"
WDS_DIR = "wds"
DERIVED = (f"{HF_DIR}/", f"{WDS_DIR}/")  # a version's folders these formats write
RECORDS = "dataset/episodes.jsonl"


@dataclass(frozen=True)
class FormatOptions:
    shard_bytes: int = SHARD_BYTES
    splits: Splits = field(default_factory=lambda: parse_splits(DEFAULT_SPLITS))

    @classmethod
    def of(cls, shard_bytes: int, splits: str) -> FormatOptions:
        if shard_bytes < 1:
            raise ValueError(f"shard size must be at least 1 byte, not {shard_bytes}")
        return cls(shard_bytes, parse_splits(splits))


@dataclass
class FormatsWritten:
    files: list[str]  # relative to the version
    splits: list[dict[str, Any]]
    shard_reads: int


def write_formats(
    version_dir: Path,
    storage: Storage,
    index: pa.Table,
    options: FormatOptions | None = None,
) -> FormatsWritten:
    """hf/ and wds/ in `version_dir` from its dataset/episodes.jsonl, with the frames of
    `index` (the version's frames index) read from their shards in `storage`; then the
    splits and formats go into its card (card.json and CARD.md)."""
    options = options or FormatOptions()
    records = version_dir / RECORDS
    for sub in (HF_DIR, WDS_DIR):
        shutil.rmtree(version_dir / sub, ignore_errors=True)
    with_element, extras = _columns(records)
    schema = hf_schema(with_element, extras)
    frames = FrameSource(storage, index)
    counter = SplitCounter(options.splits)
    hf = {
        n: ParquetShards(version_dir / HF_DIR, n, options.shard_bytes, schema)
        for n, _ in options.splits
    }
    wds = {n: TarShards(version_dir / WDS_DIR, n, options.shard_bytes) for n, _ in options.splits}
    for record in read_records(records):
        split = split_of(record["contributor_id"], options.splits)
        counter.episode(split, record["contributor_id"])
        for row in step_rows(record):
            frame = frames.get(row["image_ref"])
            hf[split].add(row, frame)
            wds[split].add(row, frame)
            counter.step(split, frame is not None)
    files = []
    shards: dict[str, dict[str, int]] = {}
    for name, _ in options.splits:
        written_hf, written_wds = hf[name].finish(), wds[name].finish()
        shards[name] = {"hf_shards": len(written_hf), "wds_shards": len(written_wds)}
        files += [str(p.relative_to(version_dir)) for p in written_hf + written_wds]
    splits = [{**s, **shards[s["name"]]} for s in counter.card()]
    card = read_card(version_dir)
    card["splits"] = splits
    card["split_method"] = METHOD
    card["formats"] = {"shard_bytes": options.shard_bytes, "hf": HF_DIR, "wds": WDS_DIR}
    write_card(version_dir, card)
    log.info("formats: %d files, %d shard reads, splits %s", len(files), frames.shard_reads, splits)
    return FormatsWritten(sorted(files), splits, frames.shard_reads)


def _columns(records: Path) -> tuple[bool, list[str]]:
    """Whether the records' steps carry `element` (every step of a version does, or none:
    it was published before steps had one), and the keys of a record and its steps
    that the Parquet rows have no typed column for (keys the records gain later): they
    become text columns. The first record with a step decides: DuckDB writes every
    record with the same keys."""
    for record in read_records(records):
        for step in record.get("traj") or []:
            keys = set(record) - {"traj"} | set(step) - {"image", "next_image"}
            return "element" in step, sorted(keys - set(TYPED))
    return False, []


def rewrite_formats(version_dir: Path, storage: Storage, index: pa.Table) -> bool:
    """The formats of a version rewritten (an erasure: its records and frames index were
    rewritten), with the shard size and splits it was published with. A version
    published before these formats is left without them, as it was published. Returns
    whether it had them."""
    card = read_card(version_dir)
    splits = splits_from_card(card)
    if splits is None or "formats" not in card:
        return False
    options = FormatOptions(int(card["formats"]["shard_bytes"]), splits)
    write_formats(version_dir, storage, index, options)
    return True
