"""A local folder with the bucket's key layout: the embedded default, no cloud needed."""

from __future__ import annotations

import builtins
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from worktape.core.storage.base import (
    Body,
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    Storage,
    check_key,
    sha256_of,
)

# checksums live beside the objects, out of the listed key space, like S3 metadata
_META = ".worktape-meta"


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta(self, key: str) -> Path:
        return self.root / _META / (check_key(key) + ".json")

    def put(
        self,
        key: str,
        body: Body,
        *,
        overwrite: bool = False,
        sha256: str | None = None,
        durable: bool = True,
    ) -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest, size = sha256_of(body)
        if sha256 is not None and sha256 != digest:
            raise ValueError(f"{key}: content sha256 {digest} != expected {sha256}")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(body, bytes):
                    out.write(body)
                else:
                    with open(body, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                if durable:
                    os.fsync(out.fileno())
            self._write_meta(key, digest)
            if overwrite:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)  # atomic create-if-absent
                except FileExistsError:
                    raise ObjectExists(key) from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        # the bytes written were the bytes hashed, and fsynced before the link (or at the
        # next sync())
        return ObjectInfo(key, size, digest, _mtime(path), verified=True)

    def _write_meta(self, key: str, digest: str) -> None:
        meta = self._meta(key)
        meta.parent.mkdir(parents=True, exist_ok=True)
        if meta.exists():
            try:
                if json.loads(meta.read_text())["sha256"] == digest:
                    return
            except (ValueError, KeyError):
                pass
            if self._path(key).exists():
                return  # no-overwrite put of another body: leave the stored checksum
        meta.write_text(json.dumps({"sha256": digest}))

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        path = self._path(key)
        if not path.is_file():
            raise ObjectMissing(key)
        return open(path, "rb")

    def sync(self) -> None:
        os.sync()  # the puts made with durable=False, and their directory entries

    def read_range(self, key: str, start: int, length: int) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise ObjectMissing(key)
        with open(path, "rb") as f:
            f.seek(start)
            return f.read(length)

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(key, path.stat().st_size, self._read_sha(key), _mtime(path))

    def _read_sha(self, key: str) -> str | None:
        try:
            sha: str = json.loads(self._meta(key).read_text())["sha256"]
            return sha
        except (OSError, ValueError, KeyError):
            return None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        # walk only the directory the prefix names, not the whole tree
        head, _, _ = prefix.rpartition("/")
        start = base / head if head else base
        if not start.is_dir():
            return
        keys = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if d != _META]
            rel_dir = Path(dirpath).relative_to(base).as_posix()
            for name in filenames:
                if name.startswith(".put-"):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        for key in sorted(keys):
            path = base / key
            yield ObjectInfo(key, path.stat().st_size, None, _mtime(path))

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        start = self.root / prefix if prefix else self.root
        if not start.is_dir():
            return []
        return sorted(
            f"{prefix}{e.name}/" for e in os.scandir(start) if e.is_dir() and e.name != _META
        )

    def copy(self, src: str, dst: str, *, overwrite: bool = False) -> ObjectInfo:
        src_path = self._path(src)
        if not src_path.is_file():
            raise ObjectMissing(src)
        # the copy describes the bytes it holds, even if the source's stored checksum is stale
        return self.put(dst, src_path, overwrite=overwrite)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self._meta(key).unlink(missing_ok=True)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
