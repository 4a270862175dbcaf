"""The member rules of the tar: plain relative names, no links or special files, each
listed in the manifest with its size and sha256, limits on what is read into memory,
and an end-of-archive marker with nothing after it. `Source` reads the object through,
hashing and counting it."""

from __future__ import annotations

import hashlib
import tarfile
from typing import Any, BinaryIO

from worktape.core.bundle.errors import BundleError, Reason

CHUNK = 1 << 20
_TAIL = 64 * 1024  # longer than tar's 10 KiB record padding


class Source:
    """Read-through wrapper: hashes, counts, enforces the size limit, keeps the tail."""

    def __init__(self, raw: BinaryIO, max_bytes: int) -> None:
        self._raw = raw
        self._max = max_bytes
        self.sha = hashlib.sha256()
        self.count = 0
        self.tail = bytearray()

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = CHUNK
        data = self._raw.read(n)
        if not data:
            return b""
        self.count += len(data)
        if self.count > self._max:
            raise BundleError(Reason.TOO_LARGE, f"object exceeds the {self._max} byte limit")
        self.sha.update(data)
        self.tail += data
        if len(self.tail) > 2 * _TAIL:
            del self.tail[:-_TAIL]
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def check_name(ti: tarfile.TarInfo) -> str:
    if ti.issym() or ti.islnk():
        raise BundleError(Reason.LINK_MEMBER, f"member {ti.name!r} is a link", member=ti.name)
    if not ti.isreg():
        kind = "directory" if ti.isdir() else "device or special file"
        raise BundleError(Reason.SPECIAL_MEMBER, f"member {ti.name!r} is a {kind}", member=ti.name)
    return check_path(ti.name)


def check_path(name: str) -> str:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise BundleError(Reason.ABSOLUTE_PATH, f"member {name!r} is absolute", member=name)
    parts = name.split("/")
    if ".." in parts:
        raise BundleError(Reason.PARENT_PATH, f"member {name!r} climbs with '..'", member=name)
    if not name or "\\" in name or "\x00" in name or any(p in ("", ".") for p in parts):
        raise BundleError(
            Reason.BAD_MEMBER_NAME,
            f"member name {name!r} is not a plain relative path",
            member=name,
        )
    return name


def read_member(tar: tarfile.TarFile, ti: tarfile.TarInfo, limit: int) -> bytes:
    if ti.size > limit:
        raise BundleError(
            Reason.TOO_LARGE,
            f"member {ti.name} is {ti.size} bytes, over the {limit} byte limit",
            member=ti.name,
        )
    f = tar.extractfile(ti)
    assert f is not None
    data = f.read()
    if len(data) != ti.size:
        raise BundleError(Reason.TRUNCATED, f"member {ti.name} ends early", member=ti.name)
    return data


def stream_member(tar: tarfile.TarFile, ti: tarfile.TarInfo, sink: BinaryIO | None) -> str:
    f = tar.extractfile(ti)
    assert f is not None
    h = hashlib.sha256()
    left = ti.size
    while left:
        chunk = f.read(min(CHUNK, left))
        if not chunk:
            raise BundleError(Reason.TRUNCATED, f"member {ti.name} ends early", member=ti.name)
        h.update(chunk)
        if sink is not None:
            sink.write(chunk)
        left -= len(chunk)
    return h.hexdigest()


def check_entry(ti: tarfile.TarInfo, entry: dict[str, Any] | None) -> dict[str, Any]:
    if entry is None:
        raise BundleError(
            Reason.UNLISTED_MEMBER,
            f"member {ti.name!r} is not listed in manifest files",
            member=ti.name,
        )
    if ti.size != entry["bytes"]:
        raise BundleError(
            Reason.SIZE_MISMATCH,
            f"member {ti.name} is {ti.size} bytes, manifest says {entry['bytes']}",
            member=ti.name,
        )
    return entry


def check_sha(name: str, digest: str, entry: dict[str, Any]) -> None:
    if digest != entry["sha256"]:
        raise BundleError(
            Reason.CHECKSUM_MISMATCH,
            f"member {name} sha256 {digest[:12]}… does not match manifest {entry['sha256'][:12]}…",
            member=name,
        )


def check_end_of_archive(tar: tarfile.TarFile, src: Source) -> None:
    # tarfile's stream mode stops quietly at a cut header or a garbage block; the
    # contract wants those told apart from a complete archive, so look at the end.
    src.drain()
    rest = src.count - tar.offset
    if rest < 2 * tarfile.BLOCKSIZE:
        raise BundleError(
            Reason.TRUNCATED,
            f"archive has no end-of-archive marker ({rest} bytes after the last member)",
        )
    if rest > len(src.tail) or any(src.tail[len(src.tail) - rest :]):
        raise BundleError(
            Reason.TRAILING_DATA,
            "bytes after the last member are not an "
            "end-of-archive marker (corrupt header or appended data)",
        )
