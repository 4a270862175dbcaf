"""Published frames: one shard per bundle, `published/frames/<bundle_id>.tar`.

A shard is the frames part of its bundle, byte for byte: the bundle's frame members
(`screenshots/<screenshot_id>.<fmt>`, each a 512-byte ustar header, then the image,
padded to 512 bytes), followed by a tar end-of-archive. The writer puts frames last, so
building a shard is one ranged read of the bundle, a check of every frame against the
sha256 the loader verified, and one put. A bundle laid out otherwise (another writer)
gets its shard written member by member instead, with the same names.

Shards are immutable and shared by versions; they hold every frame of their bundle. A
version's `frames.parquet` indexes the frames its records refer to: shard, member, and
the byte offset and length of the image in the shard, so a loader can fetch one frame
with a ranged read, or stream whole shards (`read_frame`, `iter_shard`). A night
carries the previous version's index forward and builds only the shards it lacks: one
object per bundle, where one per frame took 96 s for the frames of 10 contributor-days.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from worktape.bundle.contract import FRAMES_DIR, MANIFEST
from worktape.layout import PUBLISHED
from worktape.storage import ObjectExists, Storage

log = logging.getLogger(__name__)
SHARDS = PUBLISHED + "frames/"
INDEX = "frames.parquet"
BLOCK = 512
THREADS = 8  # ranged reads and puts are latency-bound: several at a time
BATCH_BUNDLES = 256  # bundles whose frame lists are held at once
INDEX_SCHEMA = pa.schema(
    [
        ("screenshot_id", pa.string()),
        ("bundle_id", pa.string()),
        ("shard", pa.string()),  # relative to published/
        ("member", pa.string()),
        ("offset", pa.int64()),  # of the image's first byte in the shard
        ("bytes", pa.int64()),
        ("sha256", pa.string()),
    ]
)


class FrameCorrupt(RuntimeError):
    """A bundle's frame no longer matches the checksum verified when it was loaded."""


def shard_key(bundle_id: str) -> str:
    return f"{SHARDS}{bundle_id}.tar"


def image_ref(row: dict[str, Any]) -> str:
    """How a dataset record names a frame: `frames/<bundle_id>.tar#screenshots/<id>.webp`,
    relative to published/."""
    return f"{row['shard']}#{row['member']}"


def _padded(n: int) -> int:
    return (n + BLOCK - 1) // BLOCK * BLOCK


def _header(block: bytes) -> tuple[str, int]:
    """Member name and size from a ustar header block (ValueError if it is not one)."""
    if len(block) < BLOCK or block[257:262] != b"ustar":
        raise ValueError("not a ustar header")
    name = block[0:100].split(b"\0", 1)[0].decode()
    prefix = block[345:500].split(b"\0", 1)[0].decode()
    size = int(block[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
    return (f"{prefix}/{name}" if prefix else name), size


@dataclass
class Shard:
    bundle_id: str
    data: bytes
    rows: list[dict[str, Any]]


def _row(bundle_id: str, member: str, offset: int, size: int, sha: str) -> dict[str, Any]:
    return {
        "screenshot_id": member[len(FRAMES_DIR) :].rsplit(".", 1)[0],
        "bundle_id": bundle_id,
        "shard": shard_key(bundle_id)[len(PUBLISHED) :],
        "member": member,
        "offset": offset,
        "bytes": size,
        "sha256": sha,
    }


def build_shard(
    storage: Storage, bundle_id: str, object_key: str, files: list[dict[str, Any]], loaded: dict
) -> Shard | None:
    """The shard of one bundle, every frame checked against `loaded` (screenshot_id ->
    sha256, as the warehouse holds them). None when the bundle has no frames."""
    frames = [f for f in files if f["path"].startswith(FRAMES_DIR)]
    if not frames:
        return None
    try:
        shard = _slice(storage, bundle_id, object_key, files)
    except ValueError as e:  # not the layout our writer makes: member by member
        log.info("%s: %s; writing its shard member by member", object_key, e)
        shard = _rebuild(storage, bundle_id, object_key)
    for row in shard.rows:
        if loaded.get(row["screenshot_id"]) != row["sha256"]:
            raise FrameCorrupt(
                f"{object_key}: frame {row['screenshot_id']} is not the one loaded "
                "(the bundle changed since)"
            )
    return shard


def _slice(storage: Storage, bundle_id: str, key: str, files: list[dict[str, Any]]) -> Shard:
    name, size = _header(storage.read_range(key, 0, BLOCK))
    if name != MANIFEST:
        raise ValueError(f"first member is {name!r}")
    pos, layout = BLOCK + _padded(size), []
    for f in files:
        layout.append((f["path"], pos, int(f["bytes"])))
        pos += BLOCK + _padded(int(f["bytes"]))
    first = next(i for i, m in enumerate(layout) if m[0].startswith(FRAMES_DIR))
    if not all(m[0].startswith(FRAMES_DIR) for m in layout[first:]):
        raise ValueError("frames are not the last members")
    start, end = layout[first][1], pos
    body = storage.read_range(key, start, end - start)
    if len(body) != end - start:
        raise ValueError("the object is shorter than its manifest says")
    view = memoryview(body)
    rows = []
    for member, at, size in layout[first:]:
        off = at - start
        if _header(body[off : off + BLOCK]) != (member, size):
            raise ValueError(f"no header for {member} where a ustar layout puts it")
        sha = hashlib.sha256(view[off + BLOCK : off + BLOCK + size]).hexdigest()
        rows.append(_row(bundle_id, member, off + BLOCK, size, sha))
    return Shard(bundle_id, body + bytes(2 * BLOCK), rows)


def _rebuild(storage: Storage, bundle_id: str, key: str) -> Shard:
    from worktape.bundle import read_bundle
    from worktape.bundle.writer import _tarinfo

    with tempfile.TemporaryDirectory() as tmp, storage.open(key) as body:
        b = read_bundle(body, frames="extract", extract_to=tmp)
        mtime = 0
        buf, rows = io.BytesIO(), []
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for f in b.manifest["files"]:
                member = f["path"]
                if not member.startswith(FRAMES_DIR):
                    continue
                data = (Path(tmp) / member).read_bytes()
                tar.addfile(_tarinfo(member, len(data), mtime), io.BytesIO(data))
                # the image ends the member: its offset is the end less its padded length
                offset = buf.tell() - _padded(len(data))
                sha = hashlib.sha256(data).hexdigest()
                rows.append(_row(bundle_id, member, offset, len(data), sha))
        return Shard(bundle_id, buf.getvalue(), rows)


WANTED_SQL = """
    SELECT frame_before_id AS screenshot_id FROM marts.steps WHERE frame_before_id IS NOT NULL
    UNION
    SELECT frame_after_id FROM marts.steps WHERE frame_after_id IS NOT NULL
"""


def publish_frames(
    con: duckdb.DuckDBPyConnection, storage: Storage, previous: pa.Table | None = None
) -> tuple[pa.Table, int]:
    """Shards for the bundles holding frames the steps show (before and after each
    action), and the index of those frames. Rows of `previous` (the last version's
    index) are reused where their shard exists; any other bundle's shard is written
    (again: its bytes are the same). Returns the index and how many shards were
    written. The sets stay in DuckDB: there are millions of frames at scale."""
    existing = pa.table({"shard": [i.key[len(PUBLISHED) :] for i in storage.list(SHARDS)]})
    con.register("prev_index", previous if previous is not None else INDEX_SCHEMA.empty_table())
    con.register("existing_shards", existing)
    con.execute(f"CREATE OR REPLACE TEMP TABLE wanted_frames AS {WANTED_SQL}")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE known_frames AS
        SELECT p.* FROM prev_index AS p
        SEMI JOIN wanted_frames USING (screenshot_id)
        SEMI JOIN existing_shards USING (shard)
        """
    )
    # the bundles holding a wanted frame that is not indexed yet: a night's work grows
    # with what is new, not with the history
    todo = [
        r[0]
        for r in con.execute(
            """
            SELECT DISTINCT s.bundle_id FROM raw.screenshots AS s
            SEMI JOIN wanted_frames USING (screenshot_id)
            ANTI JOIN known_frames USING (screenshot_id)
            ORDER BY 1
            """
        ).fetchall()
    ]
    new: list[dict[str, Any]] = []
    written = 0
    with ThreadPoolExecutor(THREADS, thread_name_prefix="shard") as pool:
        for i in range(0, len(todo), BATCH_BUNDLES):
            batch = _bundle_batch(con, todo[i : i + BATCH_BUNDLES])
            for shard in pool.map(lambda b: _build_and_put(storage, b), batch):
                if shard is not None:
                    written += 1
                    new += shard.rows
    con.register("new_frames", pa.Table.from_pylist(new, schema=INDEX_SCHEMA))
    index = con.execute(
        """
        SELECT * FROM known_frames
        UNION ALL
        SELECT n.* FROM new_frames AS n SEMI JOIN wanted_frames USING (screenshot_id)
            ANTI JOIN known_frames USING (screenshot_id)
        ORDER BY screenshot_id
        """
    ).to_arrow_table()
    for name in ("prev_index", "existing_shards", "new_frames"):
        con.unregister(name)
    return index.cast(INDEX_SCHEMA), written


def _bundle_batch(
    con: duckdb.DuckDBPyConnection, bundles: list[str]
) -> list[tuple[str, str, list[dict[str, Any]], dict[str, str]]]:
    """Bundle id, object key, manifest files and loaded checksums of `bundles`."""
    con.register("shard_batch", pa.table({"bundle_id": bundles}))
    out = []
    for bid, key, files, ids, shas in con.execute(
        """
        WITH s AS (
            SELECT bundle_id, list(screenshot_id) AS ids, list(sha256) AS shas
            FROM raw.screenshots SEMI JOIN shard_batch USING (bundle_id) GROUP BY 1
        )
        SELECT b.bundle_id, b.object_key, json_extract_string(b.manifest, '$.files'),
               s.ids, s.shas
        FROM shard_batch JOIN raw.bundles AS b USING (bundle_id) JOIN s USING (bundle_id)
        ORDER BY 1
        """
    ).fetchall():
        out.append((bid, key, json.loads(files), dict(zip(ids, shas, strict=True))))
    con.unregister("shard_batch")
    return out


def _build_and_put(
    storage: Storage, job: tuple[str, str, list[dict[str, Any]], dict[str, str]]
) -> Shard | None:
    bid, key, files, loaded = job
    shard = build_shard(storage, bid, key, files, loaded)
    if shard is not None:
        try:
            storage.put(shard_key(bid), shard.data)
        except ObjectExists:
            # a crash between the shard's put and its version: the same bytes, unless the
            # bundle changed, which build_shard just ruled out
            storage.put(shard_key(bid), shard.data, overwrite=True)
    return shard


def write_index(index: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(index, path, compression="zstd")


# -- reading, for the report and for people loading the dataset -------------------------
def read_frame(storage: Storage, index_row: dict[str, Any]) -> bytes:
    """One frame's image bytes, by a ranged read of its shard, checked."""
    data = storage.read_range(
        PUBLISHED + index_row["shard"], int(index_row["offset"]), int(index_row["bytes"])
    )
    if hashlib.sha256(data).hexdigest() != index_row["sha256"]:
        raise FrameCorrupt(f"{index_row['shard']}: {index_row['member']} does not match")
    return data


def iter_shard(storage: Storage, bundle_id: str) -> Iterator[tuple[str, bytes]]:
    """Every frame of a shard, in order: (screenshot_id, image bytes)."""
    with storage.open(shard_key(bundle_id)) as body, tarfile.open(fileobj=body, mode="r|") as tar:
        for ti in tar:
            f = tar.extractfile(ti) if ti.isfile() else None
            if f is not None and ti.name.startswith(FRAMES_DIR):
                yield ti.name[len(FRAMES_DIR) :].rsplit(".", 1)[0], f.read()
