"""Published frames: one shard per bundle, `published/frames/<bundle_id>.tar`.

A shard is the frames part of its bundle, byte for byte: the bundle's frame members
(`screenshots/<screenshot_id>.<fmt>`, each a 512-byte ustar header, then the image,
padded to 512 bytes), followed by a tar end-of-archive. The writer puts frames last, so
building a shard is one read of the bundle, a check that it is still the object that
was loaded (its sha256: then every frame is the one verified at load, without hashing
each again to compare), a walk over its headers, and one put. A bundle laid out
otherwise (another writer) gets its shard written member by member instead, with the
same names.

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
import logging
import tarfile
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from worktape.core.bundle.contract import FRAMES_DIR
from worktape.core.layout import PUBLISHED
from worktape.core.storage import ObjectExists, Storage

log = logging.getLogger(__name__)
SHARDS = PUBLISHED + "frames/"
INDEX = "frames.parquet"
BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
THREADS = 8  # ranged reads and puts are latency-bound: several at a time
_SLICED = pa.schema([("bundle_id", pa.string()), ("start", pa.int64())])
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
    # where the frames were sliced from in the bundle (the index comes from the offsets
    # the loader recorded), or, for a shard written member by member, its frames:
    # (screenshot_id, member, offset of the image in the shard, bytes, sha256)
    sliced_at: int | None = None
    frames: list[tuple[str, str, int, int, str]] | None = None


@dataclass(frozen=True)
class _Job:
    bundle_id: str
    object_key: str
    sha256: str
    first_member: str  # the member whose header begins the frames
    start: int | None  # the frames' byte range, when the loader's offsets show them
    stop: int | None  # contiguous, each behind a plain 512-byte header


def build_shard(storage: Storage, job: _Job) -> Shard:
    """The shard of one bundle. The object must still be the one loaded (its sha256 as
    the warehouse has it): then every frame is the frame verified then, and lies where
    the loader saw it."""
    data = storage.get_bytes(job.object_key)
    if hashlib.sha256(data).hexdigest() != job.sha256:
        raise FrameCorrupt(f"{job.object_key} is not the bundle that was loaded (it changed since)")
    if job.start is not None and job.stop is not None:
        try:
            first = _header(data[job.start : job.start + BLOCK])[0]
        except ValueError:
            first = None
        if first == job.first_member:
            return Shard(job.bundle_id, data[job.start : job.stop] + bytes(2 * BLOCK), job.start)
    # another writer's layout (a pax header, frames apart): member by member
    log.info("%s: writing its shard member by member", job.object_key)
    return _rebuild(job.bundle_id, data)


def _rebuild(bundle_id: str, data: bytes) -> Shard:
    from worktape.core.bundle import read_bundle
    from worktape.core.bundle.writer import _tarinfo

    with tempfile.TemporaryDirectory() as tmp:
        b = read_bundle(io.BytesIO(data), frames="extract", extract_to=tmp)
        mtime = 0
        buf, frames = io.BytesIO(), []
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for f in b.manifest["files"]:
                member = f["path"]
                if not member.startswith(FRAMES_DIR):
                    continue
                data = (Path(tmp) / member).read_bytes()
                tar.addfile(_tarinfo(member, len(data), mtime), io.BytesIO(data))
                # the image ends the member: its offset is the end less its padded length
                offset = buf.tell() - _padded(len(data))
                sid = member[len(FRAMES_DIR) :].rsplit(".", 1)[0]
                frames.append((sid, member, offset, len(data), hashlib.sha256(data).hexdigest()))
        return Shard(bundle_id, buf.getvalue(), frames=frames)


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
    con.register("todo_bundles", pa.table({"bundle_id": todo}))
    sliced: dict[str, list[Any]] = {"bundle_id": [], "start": []}
    rebuilt: dict[str, list[Any]] = {n: [] for n in INDEX_SCHEMA.names}
    for shard in _bounded_map(lambda job: _build_and_put(storage, job), _jobs(con)):
        if shard.sliced_at is not None:
            sliced["bundle_id"].append(shard.bundle_id)
            sliced["start"].append(shard.sliced_at)
            continue
        path = shard_key(shard.bundle_id)[len(PUBLISHED) :]
        for sid, member, offset, length, sha in shard.frames or []:
            values = (sid, shard.bundle_id, path, member, offset, length, sha)
            for name, value in zip(INDEX_SCHEMA.names, values, strict=True):
                rebuilt[name].append(value)
    written = len(todo)
    storage.sync()  # before any version names these shards
    con.register("sliced_bundles", pa.table(sliced, schema=_SLICED))
    con.register("rebuilt_frames", pa.table(rebuilt, schema=INDEX_SCHEMA))
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE new_frames AS
        SELECT s.screenshot_id, s.bundle_id, 'frames/' || s.bundle_id || '.tar' AS shard,
               'screenshots/' || s.screenshot_id || '.' || coalesce(b.frame_format, 'webp')
                   AS member,
               s.data_offset - j.start AS "offset", s.bytes, s.sha256
        FROM raw.screenshots AS s
        JOIN sliced_bundles AS j USING (bundle_id)
        JOIN raw.bundles AS b USING (bundle_id)
        UNION ALL
        SELECT * FROM rebuilt_frames
        """
    )
    index = con.execute(
        """
        SELECT * FROM known_frames
        UNION ALL
        SELECT n.* FROM new_frames AS n SEMI JOIN wanted_frames USING (screenshot_id)
            ANTI JOIN known_frames USING (screenshot_id)
        ORDER BY screenshot_id
        """
    ).to_arrow_table()
    for name in ("prev_index", "existing_shards", "todo_bundles", "sliced_bundles"):
        con.unregister(name)
    con.unregister("rebuilt_frames")
    return index.cast(INDEX_SCHEMA), written


def _bounded_map(fn: Any, jobs: Iterator[Any]) -> Iterator[Any]:
    """`fn` over `jobs` on THREADS threads, in order, with few jobs read ahead (an
    Executor.map would take every job at once)."""
    with ThreadPoolExecutor(THREADS, thread_name_prefix="shard") as pool:
        ahead: deque[Any] = deque()
        for job in jobs:
            ahead.append(pool.submit(fn, job))
            if len(ahead) >= 2 * THREADS:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _jobs(con: duckdb.DuckDBPyConnection) -> Iterator[_Job]:
    """The bundles in `todo_bundles`, with where their frames lie (the loader's offsets):
    contiguous, each behind a plain header, when the range they span is exactly their
    headers and padded images."""
    rows = con.execute(
        f"""
        WITH s AS (
            SELECT bundle_id,
                   arg_min(screenshot_id, data_offset) AS first_id,
                   min(data_offset) - {BLOCK} AS start,
                   max(data_offset + (bytes + {BLOCK - 1}) // {BLOCK} * {BLOCK}) AS stop,
                   sum({BLOCK} + (bytes + {BLOCK - 1}) // {BLOCK} * {BLOCK}) AS span,
                   count(*) = count(data_offset) AS has_offsets
            FROM raw.screenshots SEMI JOIN todo_bundles USING (bundle_id) GROUP BY 1
        )
        SELECT b.bundle_id, b.object_key, b.sha256,
               'screenshots/' || s.first_id || '.' || coalesce(b.frame_format, 'webp'),
               CASE WHEN s.has_offsets AND s.stop - s.start = s.span THEN s.start END,
               s.stop
        FROM todo_bundles JOIN raw.bundles AS b USING (bundle_id) JOIN s USING (bundle_id)
        ORDER BY 1
        """
    ).fetchall()
    for row in rows:
        yield _Job(*row)


def _build_and_put(storage: Storage, job: _Job) -> Shard:
    shard = build_shard(storage, job)
    # not flushed to a local disk one by one: publish_frames syncs once at the end
    try:
        storage.put(shard_key(job.bundle_id), shard.data, durable=False)
    except ObjectExists:
        # a crash between the shard's put and its version: the same bytes, unless the
        # bundle changed, which build_shard just ruled out
        storage.put(shard_key(job.bundle_id), shard.data, overwrite=True, durable=False)
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
