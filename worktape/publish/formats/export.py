"""`worktape export`: one format of a published version, written to a folder or a bucket.

    hf        <split>-00000-of-0000N.parquet, README.md (the card, with the splits as
              the Hub's `configs`: `load_dataset(DIR)` finds them), card.json
    wds       <split>-000000.tar, CARD.md, card.json
    agentnet  episodes.jsonl, frames/<bundle_id>.tar (only the frames the version's
              index holds), frames.parquet (their byte ranges in those shards),
              CARD.md, card.json: records name frames relative to DIR, as they are
              relative to published/ in the bucket

A version written with the formats is copied object by object, streamed; one
published before them gets them written from its records and frames index first. The
destination must be empty: a second export into the same place would mix shards.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq

from worktape.core.layout import PUBLISHED
from worktape.core.storage import ObjectMissing, Storage, open_storage
from worktape.publish import frames as F
from worktape.publish.card import read_card, render_markdown, write_card
from worktape.publish.formats import HF_DIR, RECORDS, WDS_DIR, FormatOptions, write_formats

FORMATS = ("hf", "wds", "agentnet")


class ExportError(RuntimeError):
    """An export that cannot be done, said in one line."""


class Target(Protocol):
    url: str

    def is_empty(self) -> bool: ...

    def put(self, rel: str, path: Path) -> None: ...


class FolderTarget:
    """A plain folder: the files and nothing else (no storage metadata beside them)."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.url = str(self.root)

    def is_empty(self) -> bool:
        return not self.root.exists() or not any(self.root.iterdir())

    def put(self, rel: str, path: Path) -> None:
        dest = self.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(path, part)
        part.replace(dest)


class StorageTarget:
    """A bucket and prefix, through the storage the pipeline uses (`s3://...`)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.url = storage.url

    def is_empty(self) -> bool:
        return next(iter(self.storage.list("")), None) is None

    def put(self, rel: str, path: Path) -> None:
        self.storage.put(rel, path, overwrite=True)


def open_target(out: str) -> Target:
    if urlparse(out).scheme == "s3":
        return StorageTarget(open_storage(out))
    if "://" in out:
        raise ExportError(f"cannot export to {out}: give a folder or s3://bucket/prefix")
    return FolderTarget(Path(out))


@dataclass
class Exported:
    version: str
    format: str
    url: str
    files: int
    bytes: int


def export_version(
    storage: Storage,
    fmt: str,
    target: Target,
    version: str | None = None,
    work: Path | None = None,
) -> Exported:
    """Write format `fmt` of `version` (default: LATEST) of the bucket `storage` to
    `target`."""
    from worktape.publish.publisher import latest_version

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if version is None:
        version = latest_version(storage)
        if version is None:
            raise ExportError(f"nothing is published in {storage.url} yet: run a night first")
    prefix = f"{PUBLISHED}{version}/"
    try:
        manifest = json.loads(storage.get_bytes(prefix + "manifest.json"))
    except ObjectMissing:
        raise ExportError(f"no published version {version} in {storage.url}") from None
    if not target.is_empty():
        raise ExportError(f"{target.url} is not empty: export into a new folder or prefix")
    with tempfile.TemporaryDirectory(prefix="worktape-export-", dir=work) as tmp:
        out = _Counted(target)
        job = _Export(storage, prefix, manifest["files"], Path(tmp), out)
        if fmt == "agentnet":
            job.agentnet()
        else:
            job.sharded(fmt)
    return Exported(version, fmt, target.url, out.files, out.bytes)


class _Counted:
    def __init__(self, target: Target) -> None:
        self.target, self.files, self.bytes = target, 0, 0

    def put(self, rel: str, path: Path) -> None:
        self.target.put(rel, path)
        self.files += 1
        self.bytes += path.stat().st_size


@dataclass
class _Export:
    storage: Storage
    prefix: str  # published/<version>/
    files: dict[str, Any]  # the version's manifest
    work: Path
    out: _Counted

    def fetch(self, rel: str) -> Path:
        """A file of the version, streamed to the work folder."""
        path = self.work / "version" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.storage.open(self.prefix + rel) as body, path.open("wb") as f:
            shutil.copyfileobj(body, f, 1 << 20)
        return path

    def index(self) -> pa.Table:
        return pq.read_table(self.fetch(F.INDEX)).cast(F.INDEX_SCHEMA)

    def card(self) -> dict[str, Any]:
        self.fetch("card.json")
        return read_card(self.work / "version")

    def sharded(self, fmt: str) -> None:
        sub = HF_DIR if fmt == "hf" else WDS_DIR
        names = sorted(rel for rel in self.files if rel.startswith(sub + "/"))
        card = self.card()
        if names:
            for rel in names:
                path = self.fetch(rel)
                self.out.put(rel[len(sub) + 1 :], path)
                path.unlink()
        else:
            # published before the formats: write them from the records, then copy
            self.fetch(RECORDS)
            write_formats(self.work / "version", self.storage, self.index(), FormatOptions())
            card = read_card(self.work / "version")
            for path in sorted((self.work / "version" / sub).iterdir()):
                self.out.put(path.name, path)
        self._card(card, readme=fmt == "hf")

    def _card(self, card: dict[str, Any], readme: bool) -> None:
        folder = self.work / "card"
        folder.mkdir(exist_ok=True)
        write_card(folder, card)
        self.out.put("card.json", folder / "card.json")
        if readme:
            (folder / "README.md").write_text(hub_readme(card))
            self.out.put("README.md", folder / "README.md")
        else:
            self.out.put("CARD.md", folder / "CARD.md")

    def agentnet(self) -> None:
        records = self.fetch(RECORDS)
        self.out.put("episodes.jsonl", records)
        # the frames index of the exported shards, written a shard at a time
        path = self.work / F.INDEX
        with pq.ParquetWriter(path, F.INDEX_SCHEMA, compression="zstd") as index:
            rows: list[dict[str, Any]] = []
            for shard, frames in _by_shard(self.index()):
                data = self.storage.get_bytes(PUBLISHED + shard)
                tar = self.work / "shard.tar"
                rows += _write_shard(tar, shard, data, frames)
                self.out.put(shard, tar)
                if len(rows) >= 100_000:
                    index.write_table(pa.Table.from_pylist(rows, schema=F.INDEX_SCHEMA))
                    rows = []
            index.write_table(pa.Table.from_pylist(rows, schema=F.INDEX_SCHEMA))
        self.out.put(F.INDEX, path)
        self._card(self.card(), readme=False)


def _by_shard(index: pa.Table) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The index's frames, a shard at a time, in shard and screenshot order."""
    ordered = index.sort_by([("shard", "ascending"), ("screenshot_id", "ascending")])
    batch: list[dict[str, Any]] = []
    for chunk in ordered.to_batches(max_chunksize=50_000):
        for row in chunk.to_pylist():
            if batch and row["shard"] != batch[0]["shard"]:
                yield batch[0]["shard"], batch
                batch = []
            batch.append(row)
    if batch:
        yield batch[0]["shard"], batch


def _write_shard(
    path: Path, shard: str, data: bytes, frames: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A shard of only `frames` (the index's rows of it), same member names; returns
    their index rows with the byte ranges in the new shard."""
    import hashlib

    rows = []
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for r in frames:
            image = data[r["offset"] : r["offset"] + r["bytes"]]
            if hashlib.sha256(image).hexdigest() != r["sha256"]:
                raise F.FrameCorrupt(f"{shard}: {r['member']} does not match the frames index")
            ti = tarfile.TarInfo(r["member"])
            ti.size, ti.mtime, ti.mode, ti.uid, ti.gid = len(image), 0, 0o644, 0, 0
            tar.addfile(ti, io.BytesIO(image))
            rows.append({**r, "offset": tar.offset - _padded(len(image))})
    return rows


def _padded(n: int) -> int:
    return (n + F.BLOCK - 1) // F.BLOCK * F.BLOCK


def hub_readme(card: dict[str, Any]) -> str:
    """README.md for a Hugging Face dataset folder: the splits as `configs` (so
    `load_dataset(DIR)` needs no data_files) above the card."""
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for s in card.get("splits") or []:
        if s.get("hf_shards"):
            lines += [f"  - split: {s['name']}", f"    path: {s['name']}-*.parquet"]
    lines += ["---", "", ""]
    return "\n".join(lines) + render_markdown(card)
