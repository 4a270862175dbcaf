"""The two scans of a bundle's tar, which accept the same bundles under the same rules.

`scan_tar` streams it once with tarfile, from a file or any object with `read(n)` (an S3
body), and says exactly what is wrong. `fast_read` reads a seekable bundle of up to
256 MB whole and walks its plain ustar headers itself: tarfile's per-member cost (about
80 µs) dominated loading bundles of many small frames. It only ever accepts; anything it
does not expect (another header type, a bad checksum, any rule broken) raises `Defer`,
and the bundle goes through `scan_tar` from the start."""

from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from worktape.core.bundle import schema as S
from worktape.core.bundle.errors import BundleError, Reason
from worktape.core.bundle.manifest import parse_manifest
from worktape.core.bundle.members import (
    CHUNK,
    Source,
    check_end_of_archive,
    check_entry,
    check_name,
    check_path,
    check_sha,
    read_member,
    stream_member,
)
from worktape.core.bundle.tables import check_tables, known_kinds, load_table
from worktape.core.bundle.verified import Bundle, FramesMode, Limits

FAST_MAX = 256 << 20
_ZERO_BLOCK = bytes(tarfile.BLOCKSIZE)


class Defer(Exception):
    """The fast path met something only the tarfile scan may judge."""


def size_if_seekable(source: BinaryIO) -> int | None:
    try:
        if not source.seekable():
            return None
        here = source.tell()
        size = source.seek(0, os.SEEK_END)
        source.seek(here)
        return size
    except (AttributeError, OSError, ValueError):
        return None


def _plain_header(h: bytes) -> tuple[str, int]:
    """Name and size of a POSIX ustar header for a regular file; anything else defers."""
    if h[257:263] != b"ustar\x00" or h[263:265] != b"00" or h[156:157] not in (b"0", b"\x00"):
        raise Defer
    if h[124] & 0x80:  # a base-256 size
        raise Defer
    try:
        checksum = int(h[148:156].split(b"\x00", 1)[0].strip(), 8)
        size = int(h[124:136].split(b"\x00", 1)[0].strip() or b"0", 8)
        name = h[0:100].split(b"\x00", 1)[0].decode()
        prefix = h[345:500].split(b"\x00", 1)[0].decode()
    except (ValueError, UnicodeDecodeError):
        raise Defer from None
    # the checksum counts its own field as eight spaces
    if checksum != sum(h) - sum(h[148:156]) + 8 * 32:
        raise Defer
    return (f"{prefix}/{name}" if prefix else name), size


@dataclass
class _Scan:
    """What a scan of one bundle has seen: both scans keep it the same way, so they
    end the same way (`bundle`)."""

    frames: FramesMode
    out_dir: Path | None
    manifest: dict[str, Any] | None = None
    manifest_text: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    minor: int = 0
    tables: dict[str, bytes] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    frame_names: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)

    def read_manifest(self, data: bytes) -> None:
        self.manifest, self.minor, self.files = parse_manifest(data)
        self.manifest_text = data.decode()

    def frame(self, name: str, offset: int) -> Path | None:
        """A frame member seen at `offset`: where to extract it (frames="extract"), or
        None; a name that is not screenshots/<id>.<fmt> cannot be extracted."""
        assert self.manifest is not None
        self.frame_names.append(name)
        self.offsets[name] = offset
        if self.frames != "extract":
            return None
        fmt = self.manifest["frame_format"]
        stem = name[len(S.FRAMES_DIR) :].rsplit(".", 1)[0]
        if not S.ID_RE.match(stem) or name != S.frame_member(stem, fmt):
            raise BundleError(
                Reason.BAD_MEMBER_NAME,
                f"frame member {name!r} is not screenshots/<id>.{fmt}",
                member=name,
            )
        assert self.out_dir is not None
        dest = self.out_dir / "screenshots" / f"{stem}.{fmt}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest

    def bundle(self, src: Source, dictionary: bool, *, complete: bool, fast: bool) -> Bundle:
        assert self.manifest is not None
        t = self.tables
        events = load_table(
            t[S.EVENTS],
            S.EVENTS,
            S.EVENTS_SCHEMA,
            dictionary,
            minor=self.minor,
            since=S.EVENT_FIELDS_SINCE,
        )
        shots = load_table(t[S.SCREENSHOTS], S.SCREENSHOTS, S.SCREENSHOTS_SCHEMA, dictionary)
        names = self.frame_names if complete else None
        check_tables(self.manifest, self.minor, self.files, events, shots, names)
        events, ignored_events = known_kinds(events, self.minor)
        return Bundle(
            manifest=self.manifest,
            manifest_text=self.manifest_text,
            events=events,
            screenshots=shots,
            format_minor=self.minor,
            sha256=src.sha.hexdigest() if complete else None,
            bytes=src.count if complete else None,
            frames_verified=complete,
            frames_dir=self.out_dir if self.frames == "extract" else None,
            ignored_members=self.ignored,
            frame_offsets=self.offsets,
            fast=fast,
            ignored_events=ignored_events,
        )


def fast_read(
    source: BinaryIO,
    frames: FramesMode,
    extract_to: str | os.PathLike[str] | None,
    limits: Limits,
    dictionary: bool,
) -> Bundle:
    src = Source(source, limits.max_bytes)
    chunks = []
    try:
        while chunk := src.read(CHUNK):
            chunks.append(chunk)
    except BundleError:  # too large: the tarfile scan says so
        raise Defer from None
    data = b"".join(chunks)
    del chunks
    written: list[Path] = []
    try:
        return _fast_scan(data, src, frames, extract_to, limits, dictionary, written)
    except BundleError:
        pass  # raised again, in stream order, by the tarfile scan
    except Defer:
        pass
    for path in written:
        path.unlink(missing_ok=True)
    raise Defer


def _fast_scan(
    data: bytes,
    src: Source,
    frames: FramesMode,
    extract_to: str | os.PathLike[str] | None,
    limits: Limits,
    dictionary: bool,
    written: list[Path],
) -> Bundle:
    view = memoryview(data)
    end_of_data = len(data)
    scan = _Scan(frames, Path(extract_to) if extract_to is not None else None)
    pos = 0
    while True:
        header = data[pos : pos + tarfile.BLOCKSIZE]
        if len(header) < tarfile.BLOCKSIZE:
            raise Defer
        if header == _ZERO_BLOCK:
            break
        name, size = _plain_header(header)
        if len(scan.seen) >= limits.max_members or name in scan.seen:
            raise Defer
        check_path(name)
        scan.seen.add(name)
        start = pos + tarfile.BLOCKSIZE
        stop = start + size
        if stop > end_of_data:
            raise Defer
        pos = start + (size + tarfile.BLOCKSIZE - 1) // tarfile.BLOCKSIZE * tarfile.BLOCKSIZE
        if scan.manifest is None:
            if name != S.MANIFEST or size > limits.max_manifest_bytes:
                raise Defer
            scan.read_manifest(data[start:stop])
            continue
        entry = scan.files.get(name)
        if entry is None or entry["bytes"] != size:
            raise Defer
        body = view[start:stop]
        if hashlib.sha256(body).hexdigest() != entry["sha256"]:
            raise Defer
        if name in (S.EVENTS, S.SCREENSHOTS):
            if size > limits.max_table_bytes:
                raise Defer
            scan.tables[name] = bytes(body)
        elif name.startswith(S.FRAMES_DIR):
            if (dest := scan.frame(name, start)) is not None:
                with open(dest, "xb") as sink:
                    written.append(dest)
                    sink.write(body)
        else:
            scan.ignored.append(name)  # a newer minor's member: verified, not used
    # what follows the last member is an end-of-archive marker: zeros, two blocks or more
    rest = end_of_data - pos
    if scan.manifest is None or rest < 2 * tarfile.BLOCKSIZE or data.count(0, pos) != rest:
        raise Defer
    if set(scan.files) - scan.seen or len(scan.tables) != 2:
        raise Defer
    return scan.bundle(src, dictionary, complete=True, fast=True)


def scan_tar(
    tar: tarfile.TarFile,
    src: Source,
    frames: FramesMode,
    extract_to: str | os.PathLike[str] | None,
    limits: Limits,
    dictionary: bool,
) -> Bundle:

    scan = _Scan(frames, Path(extract_to) if extract_to is not None else None)
    complete = True

    for ti in tar:
        if len(scan.seen) >= limits.max_members:
            raise BundleError(Reason.TOO_MANY_MEMBERS, f"more than {limits.max_members} members")
        name = check_name(ti)
        if name in scan.seen:
            raise BundleError(Reason.DUPLICATE_MEMBER, f"member {name} appears twice", member=name)
        scan.seen.add(name)
        if scan.manifest is None:
            if name != S.MANIFEST:
                raise BundleError(
                    Reason.MISSING_MANIFEST,
                    f"first member is {name!r}, not {S.MANIFEST}",
                    member=name,
                )
            scan.read_manifest(read_member(tar, ti, limits.max_manifest_bytes))
            continue
        entry = check_entry(ti, scan.files.get(name))
        if name in (S.EVENTS, S.SCREENSHOTS):
            data = read_member(tar, ti, limits.max_table_bytes)
            check_sha(name, hashlib.sha256(data).hexdigest(), entry)
            scan.tables[name] = data
            continue
        is_frame = name.startswith(S.FRAMES_DIR)
        if is_frame and frames == "skip" and len(scan.tables) == 2:
            complete = False
            break
        if is_frame and (dest := scan.frame(name, ti.offset_data)) is not None:
            with open(dest, "xb") as sink:
                digest = stream_member(tar, ti, sink)
        else:
            if not is_frame:
                scan.ignored.append(name)  # a newer minor's member: verified, not used
            digest = stream_member(tar, ti, None)
        check_sha(name, digest, entry)

    if scan.manifest is None:
        raise BundleError(Reason.MISSING_MANIFEST, "archive has no members")

    if complete:
        check_end_of_archive(tar, src)
        missing = sorted(set(scan.files) - scan.seen)
        if missing:
            raise BundleError(
                Reason.MISSING_MEMBER,
                f"{len(missing)} listed member(s) absent, e.g. {missing[0]}",
                member=missing[0],
            )
    for name in (S.EVENTS, S.SCREENSHOTS):
        if name not in scan.tables:
            raise BundleError(Reason.MISSING_MEMBER, f"{name} is absent", member=name)
    return scan.bundle(src, dictionary, complete=complete, fast=False)
