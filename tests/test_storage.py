"""The storage interface, run against both backends: a folder, and S3 over HTTP (moto)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from worktape.core.storage import LocalStorage, ObjectExists, ObjectMissing, Storage, open_storage
from worktape.core.storage.s3 import S3Storage


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "bucket")
    else:
        endpoint = request.getfixturevalue("moto_server")
        bucket = request.getfixturevalue("s3_bucket")
        yield S3Storage(
            bucket,
            "team-a",
            endpoint_url=endpoint,
            multipart_threshold=6 << 20,
            part_size=5 << 20,
            page_size=7,
        )


def test_put_get_head_checksum(storage: Storage, tmp_path: Path) -> None:
    info = storage.put("raw/v1/a.tar", b"hello")
    assert info.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert storage.get_bytes("raw/v1/a.tar") == b"hello"
    head = storage.head("raw/v1/a.tar")
    assert head is not None and head.size == 5 and head.sha256 == info.sha256
    assert storage.head("raw/v1/missing.tar") is None
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 1000)
    assert storage.put("raw/v1/b.tar", f).size == 1000


def test_put_never_overwrites_unless_asked(storage: Storage) -> None:
    storage.put("k/one", b"first")
    with pytest.raises(ObjectExists):
        storage.put("k/one", b"second")
    assert storage.get_bytes("k/one") == b"first"
    assert storage.head("k/one").sha256 == hashlib.sha256(b"first").hexdigest()
    storage.put("k/one", b"third", overwrite=True)
    assert storage.get_bytes("k/one") == b"third"


def test_put_refuses_a_body_that_does_not_match_its_checksum(storage: Storage) -> None:
    with pytest.raises(ValueError):
        storage.put("k/bad", b"data", sha256="0" * 64)
    assert storage.head("k/bad") is None


def test_concurrent_no_overwrite_puts_have_one_winner(storage: Storage) -> None:
    wins, losses = [], []

    def put(i: int) -> None:
        try:
            storage.put("race/key", f"body-{i}".encode())
            wins.append(i)
        except ObjectExists:
            losses.append(i)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 5
    assert storage.get_bytes("race/key") == f"body-{wins[0]}".encode()


def test_multipart_for_big_objects(storage: Storage, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = bytes(range(256)) * (11 * 4096)  # 11 MiB: three parts on S3
    big.write_bytes(data)
    info = storage.put("big/obj", big)
    assert info.size == len(data)
    with storage.open("big/obj") as f:  # streaming read, in chunks
        h = hashlib.sha256()
        while chunk := f.read(1 << 20):
            h.update(chunk)
    assert h.hexdigest() == hashlib.sha256(data).hexdigest() == storage.head("big/obj").sha256
    with pytest.raises(ObjectExists):
        storage.put("big/obj", big)


def test_list_by_prefix_across_pages(storage: Storage) -> None:
    keys = [f"raw/v1/device=d1/date=2026-11-02/hour={h:02d}/b{h}.tar" for h in range(20)]
    for k in keys:
        storage.put(k, k.encode())
    storage.put("raw/v1/device=d2/date=2026-11-02/hour=00/x.tar", b"x")
    storage.put("quarantine/raw/v1/z.tar", b"z")
    listed = [i.key for i in storage.list("raw/v1/device=d1/")]
    assert listed == sorted(keys)
    assert len(list(storage.list("raw/"))) == 21
    assert [i.key for i in storage.list("raw/v1/device=d1/date=2026-11-02/hour=07/")] == [keys[7]]
    assert list(storage.list("nothing/here/")) == []
    assert storage.list_dirs("raw/v1/") == ["raw/v1/device=d1/", "raw/v1/device=d2/"]
    assert storage.list_dirs("raw/v1/device=d1/") == ["raw/v1/device=d1/date=2026-11-02/"]
    assert storage.list_dirs("") == ["quarantine/", "raw/"]
    assert storage.list_dirs("missing/") == []


def test_copy_keeps_content_and_checksum(storage: Storage) -> None:
    storage.put("raw/a.tar", b"bundle")
    info = storage.copy("raw/a.tar", "quarantine/raw/a.tar")
    assert storage.get_bytes("quarantine/raw/a.tar") == b"bundle"
    assert storage.head("quarantine/raw/a.tar").sha256 == info.sha256
    with pytest.raises(ObjectExists):
        storage.copy("raw/a.tar", "quarantine/raw/a.tar")
    with pytest.raises(ObjectMissing):
        storage.copy("raw/none.tar", "quarantine/raw/none.tar")
    storage.delete("raw/a.tar")
    assert not storage.exists("raw/a.tar")
    storage.delete("raw/a.tar")  # deleting twice is fine


def test_missing_object_and_bad_keys(storage: Storage) -> None:
    with pytest.raises(ObjectMissing), storage.open("no/such/key"):
        pass
    for bad in ("", "/abs", "a/../b", "a//b", "./a"):
        with pytest.raises(ValueError):
            storage.put(bad, b"x")


def test_open_storage_urls(tmp_path: Path, moto_server: str, s3_bucket: str) -> None:
    assert isinstance(open_storage(tmp_path / "x"), LocalStorage)
    assert isinstance(open_storage((tmp_path / "y").as_uri()), LocalStorage)
    s3 = open_storage(f"s3://{s3_bucket}/some/prefix", endpoint_url=moto_server)
    assert isinstance(s3, S3Storage) and s3.prefix == "some/prefix/"
    s3.put("k", b"v")
    raw = S3Storage(s3_bucket, endpoint_url=moto_server)
    assert [i.key for i in raw.list("some/")] == ["some/prefix/k"]
    with pytest.raises(ValueError):
        open_storage("ftp://host/x")


def test_local_listing_hides_its_metadata(tmp_path: Path) -> None:
    s = LocalStorage(tmp_path / "b")
    s.put("a/b.tar", b"1")
    assert [i.key for i in s.list("")] == ["a/b.tar"]
