"""The storage interface every backend implements, and the key rules they share."""

from __future__ import annotations

import builtins
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

Body = bytes | str | os.PathLike[str]
_CHUNK = 1 << 20


class StorageError(Exception):
    pass


class ObjectExists(StorageError):
    """A no-overwrite put or copy found the key taken."""


class ObjectMissing(StorageError):
    pass


class AccessDenied(StorageError):
    """The credentials may not do this (an agent's may only write its own prefix)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    #: hex sha256 of the content when the backend knows it (from put metadata)
    sha256: str | None = None
    last_modified: datetime | None = None
    #: from a put: the backend checked the content against the sha256 as it stored it
    verified: bool = False


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"invalid object key {key!r}")
    return key


def sha256_of(body: Body) -> tuple[str, int]:
    if isinstance(body, bytes):
        return hashlib.sha256(body).hexdigest(), len(body)
    h = hashlib.sha256()
    n = 0
    with open(body, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


class Storage(ABC):
    """A flat key space under a root (an S3 bucket+prefix, or a local folder)."""

    url: str

    @abstractmethod
    def put(
        self,
        key: str,
        body: Body,
        *,
        overwrite: bool = False,
        sha256: str | None = None,
        durable: bool = True,
    ) -> ObjectInfo:
        """Store `body` (bytes or a file path). Without `overwrite` an existing key raises
        ObjectExists and leaves the stored object as it was. The sha256 is computed if
        not given and kept with the object. `durable=False` lets a backend that writes
        to a local disk skip the flush to disk: call `sync()` before anything that says
        the object is there (thousands of small puts, then one sync)."""

    @abstractmethod
    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Stream an object: a context manager giving a file-like with `read(n)`."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Size and sha256 of an object, or None if it does not exist."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every key under `prefix`, in key order, however many pages that takes."""

    @abstractmethod
    def list_dirs(self, prefix: str) -> builtins.list[str]:
        """The next level of `/`-separated names under `prefix` (which ends with `/`),
        as full prefixes ending in `/`, sorted: S3's common prefixes."""

    @abstractmethod
    def copy(self, src: str, dst: str, *, overwrite: bool = False) -> ObjectInfo:
        """Server-side copy, keeping the checksum."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; a missing key is not an error."""

    def sync(self) -> None:
        """Make every put so far durable (see `put(durable=False)`)."""
        return None

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """`length` bytes from `start` (fewer at the end of the object). Backends that
        can fetch a range do; this fallback streams up to it."""
        with self.open(key) as f:
            skip = start
            while skip:
                got = f.read(min(skip, _CHUNK))
                if not got:
                    return b""
                skip -= len(got)
            return f.read(length)

    def exists(self, key: str) -> bool:
        return self.head(key) is not None
