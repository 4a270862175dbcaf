"""The two sharded writers: Hugging Face Parquet (images embedded) and WebDataset tars.

Each writes the rows of one split into shards of about `shard_bytes` each (a shard
closes before the row that would take it past the target, so a shard holds at least
one row), streaming: at most a row group of images is held per writer. Shards are
written under temporary names and take their final names when the split is done, as
Parquet's `-of-NNNNN` needs the count. Bytes are decided by the rows alone: Parquet
with fixed settings (no timestamps in its metadata), tar members with fixed mtime,
owner and mode, so the same records give the same files.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from worktape.publish.formats.records import EPISODE_FIELDS, Frame

SHARD_BYTES = 500_000_000
ROW_GROUP_ROWS = 100  # as the Hub writes image datasets: a viewer page, a reader's batch
ROW_GROUP_BYTES = 64 << 20
IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # datasets' Image
BOUNDS = pa.struct(
    [("height", pa.int32()), ("width", pa.int32()), ("x", pa.int32()), ("y", pa.int32())]
)
ELEMENT = pa.struct([("bounds", BOUNDS), ("name", pa.string()), ("role", pa.string())])
_EPISODE_TYPES = {
    "task_id": pa.string(),
    "instruction": pa.string(),
    "contributor_id": pa.string(),
    "workflow_id": pa.string(),
    "is_recurring_workflow": pa.bool_(),
    "work_date": pa.string(),
    "duration_s": pa.float64(),
}
assert tuple(_EPISODE_TYPES) == EPISODE_FIELDS


def hf_schema(with_element: bool, extras: Sequence[str] = ()) -> pa.Schema:
    """One row per step: the episode, the step, the screen before the action (embedded,
    a `datasets` Image) and the references of both frames in the published shards; then
    `extras`, keys of the records without a typed column here, as text (JSON where a
    value is not text). The schema's metadata holds the `datasets` features, so `image`
    decodes as an Image."""
    fields = [
        ("task_id", pa.string()),
        ("index", pa.int32()),
        ("step_id", pa.string()),
        ("image", IMAGE),
        ("instruction", pa.string()),
        ("action", pa.string()),
        ("action_type", pa.string()),
        ("app", pa.string()),
        ("window_title", pa.string()),
        ("time", pa.string()),
        *([("element", ELEMENT)] if with_element else []),
        ("image_ref", pa.string()),
        ("next_image_ref", pa.string()),
        *[(k, t) for k, t in _EPISODE_TYPES.items() if k not in ("task_id", "instruction")],
        *[(k, pa.string()) for k in extras],
    ]
    schema = pa.schema(fields)
    features = {f.name: _feature(f.type, image=f.name == "image") for f in schema}
    meta = {"info": {"features": features}}
    return schema.with_metadata({"huggingface": json.dumps(meta, separators=(",", ":"))})


def _feature(t: pa.DataType, *, image: bool = False) -> dict[str, Any]:
    """The `datasets` feature of an Arrow type (as `Features.to_dict()` writes it)."""
    if image:
        return {"_type": "Image"}
    if pa.types.is_struct(t):
        return {t.field(i).name: _feature(t.field(i).type) for i in range(t.num_fields)}
    names = {pa.string(): "string", pa.int32(): "int32", pa.float64(): "float64"}
    return {"dtype": names.get(t, "bool" if pa.types.is_boolean(t) else str(t)), "_type": "Value"}


# the keys of rows (a record's and its step's) that have a column of their own type
TYPED = tuple(hf_schema(with_element=True).names)


class _Sharded:
    """Shards of one split: `<split>-<n>` under `out`, rolled over by size."""

    suffix = ""

    def __init__(self, out: Path, split: str, shard_bytes: int) -> None:
        self.out, self.split, self.shard_bytes = out, split, max(1, shard_bytes)
        self.parts: list[Path] = []
        self.size = 0  # of the open shard, as rows were added
        self.rows = 0

    def _part(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f".{self.split}-{len(self.parts):06d}{self.suffix}.part"
        self.parts.append(path)
        self.size = 0
        return path

    def add(self, row: dict[str, Any], frame: Frame | None) -> None:
        size = _row_size(row, frame)
        if self.parts and self.size and self.size + size > self.shard_bytes:
            self._close_shard()
        if not self.parts or self._closed():
            self._open_shard(self._part())
        self._add(row, frame)
        self.size += size
        self.rows += 1

    def finish(self) -> list[Path]:
        """Close the last shard and give every shard its final name."""
        if self.parts and not self._closed():
            self._close_shard()
        final = [self.out / self._name(i, len(self.parts)) for i in range(len(self.parts))]
        for part, path in zip(self.parts, final, strict=True):
            part.rename(path)
        return final

    def _name(self, i: int, n: int) -> str:
        raise NotImplementedError

    def _open_shard(self, path: Path) -> None:
        raise NotImplementedError

    def _closed(self) -> bool:
        raise NotImplementedError

    def _add(self, row: dict[str, Any], frame: Frame | None) -> None:
        raise NotImplementedError

    def _close_shard(self) -> None:
        raise NotImplementedError


def _row_size(row: dict[str, Any], frame: Frame | None) -> int:
    text = sum(len(v) for v in row.values() if isinstance(v, str))
    return text + 64 + (len(frame.data) if frame else 0)


class ParquetShards(_Sharded):
    """`hf/<split>-00000-of-00002.parquet`: what `datasets.load_dataset("parquet")`
    reads, `image` decoded to a PIL image."""

    suffix = ".parquet"

    def __init__(self, out: Path, split: str, shard_bytes: int, schema: pa.Schema) -> None:
        super().__init__(out, split, shard_bytes)
        self.schema = schema
        self.extras = {f.name for f in schema if f.name not in TYPED}
        self.writer: pq.ParquetWriter | None = None
        self.buffer: dict[str, list[Any]] = {n: [] for n in schema.names}
        self.buffered = 0
        small = [n for n in schema.names if n != "image"] + ["image.path"]
        if "element" in schema.names:
            small = [n for n in small if n != "element"] + [
                "element.name",
                "element.role",
                *(f"element.bounds.{k}" for k in ("height", "width", "x", "y")),
            ]
        self.options: dict[str, Any] = {
            "compression": {
                **dict.fromkeys(small, "zstd"),
                "image.bytes": "none",  # WebP and PNG are compressed already
            },
            "use_dictionary": small,
            "write_statistics": small,  # min/max of image bytes would be noise
            "store_schema": True,
        }

    def _name(self, i: int, n: int) -> str:
        return f"{self.split}-{i:05d}-of-{n:05d}.parquet"

    def _open_shard(self, path: Path) -> None:
        self.writer = pq.ParquetWriter(path, self.schema, **self.options)

    def _closed(self) -> bool:
        return self.writer is None

    def _add(self, row: dict[str, Any], frame: Frame | None) -> None:
        for name in self.schema.names:
            if name == "image":
                value: Any = {"bytes": frame.data, "path": frame.name} if frame else None
            else:
                value = row.get(name)
                if name in self.extras and value is not None and not isinstance(value, str):
                    value = json.dumps(value, sort_keys=True, ensure_ascii=False)
            self.buffer[name].append(value)
        self.buffered += len(frame.data) if frame else 0
        if len(self.buffer["image"]) >= ROW_GROUP_ROWS or self.buffered >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self.writer is None or not self.buffer["image"]:
            return
        table = pa.table(self.buffer, schema=self.schema)
        self.writer.write_table(table, row_group_size=len(self.buffer["image"]))
        self.buffer = {n: [] for n in self.schema.names}
        self.buffered = 0

    def _close_shard(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode = size, 0, 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


class TarShards(_Sharded):
    """`wds/<split>-000000.tar`: a sample per step, `<step_id>.json` (the row) and
    `<step_id>.webp` (the screen before the action, when the step has one), what the
    `webdataset` package reads. Step ids hold no dot, so a sample's key is its step id."""

    suffix = ".tar"

    def __init__(self, out: Path, split: str, shard_bytes: int) -> None:
        super().__init__(out, split, shard_bytes)
        self.tar: tarfile.TarFile | None = None

    def _name(self, i: int, n: int) -> str:
        return f"{self.split}-{i:06d}.tar"

    def _open_shard(self, path: Path) -> None:
        # closed by _close_shard, when the shard is full or the split is done
        self.tar = tarfile.open(path, "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115

    def _closed(self) -> bool:
        return self.tar is None

    def _add(self, row: dict[str, Any], frame: Frame | None) -> None:
        assert self.tar is not None
        key = row["step_id"]
        if "." in key or "/" in key:
            raise ValueError(f"step id {key!r} cannot be a WebDataset key")
        doc = json.dumps(row, sort_keys=True, ensure_ascii=False).encode()
        self.tar.addfile(_tarinfo(f"{key}.json", len(doc)), io.BytesIO(doc))
        if frame is not None:
            image = _tarinfo(f"{key}.{frame.ext}", len(frame.data))
            self.tar.addfile(image, io.BytesIO(frame.data))

    def _close_shard(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self.tar = None
