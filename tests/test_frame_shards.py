"""Published frames as one shard per bundle: the frames part of the bundle, byte for byte,
checked against what was loaded, indexed for ranged reads, built once."""

from __future__ import annotations

import hashlib
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest

from tests.bundlekit import T0, assemble, explode, refresh_files, write_small
from worktape.core.layout import raw_key
from worktape.core.storage import LocalStorage, Storage
from worktape.core.storage.s3 import S3Storage
from worktape.loader import load_bundles
from worktape.publish import frames as F
from worktape.warehouse import WarehouseSettings, connect

LONG = "b" + "x" * 80  # frame members of 100+ characters: ustar's prefix field


def stored(storage: Storage, path: Path, bundle_id: str, start=T0) -> str:
    key = raw_key("dtest", start, bundle_id)
    storage.put(key, path)
    return key


def loaded(tmp_path: Path, storage: Storage, keys: list[str]):
    con = connect(WarehouseSettings(path=tmp_path / "w.duckdb"))
    summary = load_bundles(storage, con, keys)
    assert summary.loaded == len(keys), summary
    return con


def frames_of(con) -> dict[str, str]:
    """The loaded frames; steps that show each of them, as the marts would."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(
        "CREATE OR REPLACE TABLE marts.steps AS SELECT screenshot_id AS frame_before_id, "
        "NULL::VARCHAR AS frame_after_id FROM raw.screenshots"
    )
    return dict(con.execute("SELECT screenshot_id, sha256 FROM raw.screenshots").fetchall())


def check_index(storage: Storage, index, loaded_frames: dict[str, str]) -> None:
    rows = index.to_pylist()
    assert {r["screenshot_id"] for r in rows} == set(loaded_frames)
    for r in rows:
        data = F.read_frame(storage, r)  # a ranged read, checked against the index
        assert hashlib.sha256(data).hexdigest() == loaded_frames[r["screenshot_id"]]


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "bucket")
    return S3Storage(
        request.getfixturevalue("s3_bucket"),
        "team",
        endpoint_url=request.getfixturevalue("moto_server"),
    )


def test_a_shard_is_the_frames_part_of_its_bundle(tmp_path: Path, storage: Storage) -> None:
    keys = []
    for i, bid in enumerate(["bshard01", LONG]):
        b = write_small(
            tmp_path / f"{i}.tar", bundle_id=bid, n_frames=3, start=T0 + timedelta(hours=i)
        )
        keys.append(stored(storage, b.path, bid, b.started_at))
    con = loaded(tmp_path, storage, keys)
    want = frames_of(con)
    index, written = F.publish_frames(con, storage)
    assert written == 2
    check_index(storage, index, want)
    shard = tmp_path / "s.tar"
    shard.write_bytes(storage.get_bytes(F.shard_key(LONG)))
    with tarfile.open(shard) as tar:  # a plain tar any tool reads
        names = tar.getnames()
        assert names == [f"screenshots/{LONG}-{i:06d}.webp" for i in range(3)]
        assert all(len(n) > 100 for n in names)
        member = tar.extractfile(names[1])
        assert (
            member is not None
            and hashlib.sha256(member.read()).hexdigest() == want[f"{LONG}-000001"]
        )
    assert [sid for sid, _ in F.iter_shard(storage, "bshard01")] == [
        f"bshard01-{i:06d}" for i in range(3)
    ]

    # the next night carries the index forward and writes nothing
    again, written = F.publish_frames(con, storage, previous=index)
    assert written == 0 and again.equals(index)


def test_a_bundle_laid_out_otherwise_gets_its_shard_member_by_member(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "bucket")
    b = write_small(tmp_path / "x.tar", bundle_id="bgnu01", n_frames=2)
    manifest, members = explode(b.path)
    # another writer: GNU long names put an extra header before a frame
    long_sid = "bgnu01-" + "y" * 89
    frame = members.pop("screenshots/bgnu01-000001.webp")
    members[f"screenshots/{long_sid}.webp"] = frame
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    shots = pq.read_table(pa.BufferReader(members["screenshots.parquet"]))
    ids = shots["screenshot_id"].to_pylist()
    ids[1] = long_sid
    shots = shots.set_column(0, "screenshot_id", pa.array(ids))
    events = pq.read_table(pa.BufferReader(members["events.parquet"]))
    sid_col = [long_sid if s == "bgnu01-000001" else s for s in events["screenshot_id"].to_pylist()]
    events = events.set_column(
        events.schema.get_field_index("screenshot_id"), "screenshot_id", pa.array(sid_col)
    )
    for name, table in (("screenshots.parquet", shots), ("events.parquet", events)):
        out = io.BytesIO()
        pq.write_table(table, out)
        members[name] = out.getvalue()
    members = {
        k: members[k]
        for k in [
            "events.parquet",
            "screenshots.parquet",
            *[k for k in members if k.startswith("screenshots/")],
        ]
    }
    refresh_files(manifest, members)
    path = tmp_path / "gnu.tar"
    path.write_bytes(assemble(manifest, members, fmt=tarfile.GNU_FORMAT))
    con = loaded(tmp_path, storage, [stored(storage, path, "bgnu01")])
    want = frames_of(con)
    assert long_sid in want
    index, written = F.publish_frames(con, storage)
    assert written == 1
    check_index(storage, index, want)


def test_a_bundle_changed_after_loading_publishes_nothing_of_it(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "bucket")
    b = write_small(tmp_path / "x.tar", bundle_id="btamper1", n_frames=2)
    key = stored(storage, b.path, "btamper1")
    con = loaded(tmp_path, storage, [key])
    obj = storage.root / key
    data = bytearray(obj.read_bytes())
    at = data.rfind(b"frame-1")  # the last frame's bytes, same length
    data[at : at + 7] = b"FRAME-1"
    obj.write_bytes(bytes(data))
    with pytest.raises(F.FrameCorrupt, match="btamper1"):
        frames_of(con)
        F.publish_frames(con, storage)
    assert not list(storage.list(F.SHARDS))
