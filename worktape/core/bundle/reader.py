"""Reference reader and verifier of format-1 bundles, used by the pipeline.

It streams the tar once, from a file or any object with `read(n)` (an S3 body), holding
only the manifest and the two parquet tables in memory. Every rule of the contract that
fails raises `BundleError` with a stable `Reason`. It never extracts with tarfile and
never follows a link: frames, when asked for, are written under `extract_to` with names
it builds itself from validated ids.

A fast path reads a seekable bundle of up to 256 MB whole and walks its plain ustar
headers itself: tarfile's per-member cost (about 80 µs) dominated loading bundles of
many small frames. It only ever accepts, under the same rules; anything it does not
expect (another header type, a bad checksum, any rule broken) sends the bundle through
the tarfile scan from the start, which alone says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, Literal

import fastjsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from worktape.core.bundle import schema as S
from worktape.core.bundle.errors import BundleError, Reason
from worktape.core.bundle.measure import off_screen, on_screen, ts_us
from worktape.core.timeutil import from_iso

FramesMode = Literal["verify", "skip", "extract"]
_CHUNK = 1 << 20
_TAIL = 64 * 1024  # longer than tar's 10 KiB record padding


@dataclass(frozen=True)
class Limits:
    """Bounds a hostile bundle cannot push the reader past."""

    max_bytes: int = 4 << 30
    max_members: int = 200_000
    max_manifest_bytes: int = 4 << 20
    max_table_bytes: int = 1 << 30


@dataclass
class Bundle:
    manifest: dict[str, Any]
    events: pa.Table
    screenshots: pa.Table
    format_minor: int
    #: sha256 and size of the whole object; None when frames were skipped (not all read)
    sha256: str | None
    bytes: int | None
    frames_verified: bool
    frames_dir: Path | None = None
    ignored_members: list[str] = field(default_factory=list)
    #: the manifest as its JSON text in the bundle (the warehouse keeps it as it came)
    manifest_text: str = ""
    #: where each frame's bytes start in the object, by member name (publishing slices
    #: frames out of the bundle with it)
    frame_offsets: dict[str, int] = field(default_factory=dict)
    #: read by the fast path (plain ustar, read whole) rather than the tarfile scan
    fast: bool = False
    #: events of a newer minor's kinds that this reader does not know, left out of
    #: `events` (as its unknown columns are)
    ignored_events: int = 0

    @property
    def bundle_id(self) -> str:
        return self.manifest["bundle_id"]


@cache
def manifest_schema() -> dict[str, Any]:
    text = resources.files("worktape.core.bundle").joinpath("manifest.schema.json").read_text()
    return json.loads(text)


@cache
def _manifest_validator() -> Callable[[Any], Any]:
    # compiled to Python once: a bundle's manifest is checked in microseconds, not
    # milliseconds. The schema only uses keywords draft-07 shares with 2020-12. The
    # `files` entries, one per frame (thousands), are checked by `_check_files` instead:
    # the compiled check took 9 µs an entry, most of a small-frame bundle's parse.
    schema = {**manifest_schema(), "$schema": "http://json-schema.org/draft-07/schema#"}
    props = dict(schema["properties"])
    props["files"] = {k: v for k, v in props["files"].items() if k != "items"}
    return fastjsonschema.compile({**schema, "properties": props})


_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _check_files(files: list[Any]) -> None:
    """The schema's `files` items, checked as the schema says (same verdicts)."""
    for i, e in enumerate(files):
        if not isinstance(e, dict):
            raise BundleError(Reason.BAD_MANIFEST, f"manifest files[{i}] must be object")
        path, size, sha = e.get("path"), e.get("bytes"), e.get("sha256")
        if not (isinstance(path, str) and 1 <= len(path) <= 255):
            raise BundleError(Reason.BAD_MANIFEST, f"manifest files[{i}].path is not a path")
        is_int = type(size) is int or (isinstance(size, float) and size.is_integer())
        if not is_int or size < 0:
            raise BundleError(Reason.BAD_MANIFEST, f"manifest files[{i}].bytes is not >= 0")
        if not (isinstance(sha, str) and _SHA256_RE.fullmatch(sha)):
            raise BundleError(Reason.BAD_MANIFEST, f"manifest files[{i}].sha256 is not sha256")


class _Source:
    """Read-through wrapper: hashes, counts, enforces the size limit, keeps the tail."""

    def __init__(self, raw: BinaryIO, max_bytes: int) -> None:
        self._raw = raw
        self._max = max_bytes
        self.sha = hashlib.sha256()
        self.count = 0
        self.tail = bytearray()

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = _CHUNK
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
        while self.read(_CHUNK):
            pass


def _check_name(ti: tarfile.TarInfo) -> str:
    if ti.issym() or ti.islnk():
        raise BundleError(Reason.LINK_MEMBER, f"member {ti.name!r} is a link", member=ti.name)
    if not ti.isreg():
        kind = "directory" if ti.isdir() else "device or special file"
        raise BundleError(Reason.SPECIAL_MEMBER, f"member {ti.name!r} is a {kind}", member=ti.name)
    return _check_path(ti.name)


def _check_path(name: str) -> str:
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


def _parse_version(manifest: dict[str, Any]) -> int:
    if manifest.get("format") != S.FORMAT:
        raise BundleError(
            Reason.WRONG_FORMAT, f"format is {manifest.get('format')!r}, expected {S.FORMAT!r}"
        )
    version = manifest.get("format_version")
    try:
        major, minor = (int(p) for p in str(version).split("."))
    except ValueError:
        raise BundleError(
            Reason.BAD_MANIFEST, f"format_version {version!r} is not MAJOR.MINOR"
        ) from None
    if major != S.FORMAT_MAJOR:
        raise BundleError(
            Reason.UNSUPPORTED_VERSION,
            f"format_version {version} has major {major}; this reader knows {S.FORMAT_MAJOR}.x",
        )
    return minor


def _parse_manifest(data: bytes) -> tuple[dict[str, Any], int, dict[str, dict[str, Any]]]:
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(
            Reason.BAD_JSON, f"manifest.json is not valid JSON: {e}", member=S.MANIFEST
        ) from e
    if not isinstance(manifest, dict):
        raise BundleError(Reason.BAD_JSON, "manifest.json is not a JSON object", member=S.MANIFEST)
    minor = _parse_version(manifest)
    try:
        _manifest_validator()(manifest)
    except fastjsonschema.JsonSchemaValueException as e:
        raise BundleError(Reason.BAD_MANIFEST, f"manifest {e.message}", member=S.MANIFEST) from None
    _check_files(manifest["files"])
    files: dict[str, dict[str, Any]] = {}
    for entry in manifest["files"]:
        if entry["path"] in files or entry["path"] == S.MANIFEST:
            raise BundleError(Reason.BAD_MANIFEST, f"files lists {entry['path']!r} twice")
        files[entry["path"]] = entry
    for required in (S.EVENTS, S.SCREENSHOTS):
        if required not in files:
            raise BundleError(
                Reason.MISSING_MEMBER, f"files does not list {required}", member=required
            )
    if from_iso(manifest["ended_at"]) < from_iso(manifest["started_at"]):
        raise BundleError(Reason.BAD_MANIFEST, "ended_at is before started_at")
    return manifest, minor, files


def _read_member(tar: tarfile.TarFile, ti: tarfile.TarInfo, limit: int) -> bytes:
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


def _stream_member(tar: tarfile.TarFile, ti: tarfile.TarInfo, sink: BinaryIO | None) -> str:
    f = tar.extractfile(ti)
    assert f is not None
    h = hashlib.sha256()
    left = ti.size
    while left:
        chunk = f.read(min(_CHUNK, left))
        if not chunk:
            raise BundleError(Reason.TRUNCATED, f"member {ti.name} ends early", member=ti.name)
        h.update(chunk)
        if sink is not None:
            sink.write(chunk)
        left -= len(chunk)
    return h.hexdigest()


def _check_entry(ti: tarfile.TarInfo, entry: dict[str, Any] | None) -> dict[str, Any]:
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


def _check_sha(name: str, digest: str, entry: dict[str, Any]) -> None:
    if digest != entry["sha256"]:
        raise BundleError(
            Reason.CHECKSUM_MISMATCH,
            f"member {name} sha256 {digest[:12]}… does not match manifest {entry['sha256'][:12]}…",
            member=name,
        )


def read_bundle(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    frames: FramesMode = "verify",
    extract_to: str | os.PathLike[str] | None = None,
    limits: Limits = Limits(),
    dictionary: bool = False,
) -> Bundle:
    """Verify a bundle against the format-1 contract and return its tables.

    frames="verify" reads every frame and checks its sha256 (and the whole object's
    hash is returned); "skip" stops at the first frame, which is what a loader that only
    needs the tables wants; "extract" also writes frames under `extract_to`.
    dictionary=True returns low-cardinality string columns dictionary-encoded (cheaper to
    decode and to hand to DuckDB); their values are the same.
    """
    if frames == "extract" and extract_to is None:
        raise ValueError("frames='extract' needs extract_to")
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return read_bundle(
                f, frames=frames, extract_to=extract_to, limits=limits, dictionary=dictionary
            )

    if frames != "skip" and (size := _size_if_seekable(source)) is not None:
        start = source.tell()
        if size - start <= _FAST_MAX:
            try:
                return _fast_read(source, frames, extract_to, limits, dictionary)
            except _Defer:
                source.seek(start)  # the tarfile scan, from the start, says what is wrong

    src = _Source(source, limits.max_bytes)
    try:
        tar = tarfile.open(fileobj=src, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
    except tarfile.ReadError as e:
        if src.count == 0:
            raise BundleError(Reason.TRUNCATED, "object is empty") from e
        raise BundleError(Reason.NOT_A_TAR, f"not a tar archive: {e}") from e
    try:
        return _scan(tar, src, frames, extract_to, limits, dictionary)
    except (tarfile.ReadError, EOFError) as e:
        raise BundleError(Reason.TRUNCATED, f"archive ends inside a member: {e}") from e
    except tarfile.TarError as e:
        raise BundleError(Reason.NOT_A_TAR, f"archive is corrupt: {e}") from e


_FAST_MAX = 256 << 20
_ZERO_BLOCK = bytes(tarfile.BLOCKSIZE)


class _Defer(Exception):
    """The fast path met something only the tarfile scan may judge."""


def _size_if_seekable(source: BinaryIO) -> int | None:
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
        raise _Defer
    if h[124] & 0x80:  # a base-256 size
        raise _Defer
    try:
        checksum = int(h[148:156].split(b"\x00", 1)[0].strip(), 8)
        size = int(h[124:136].split(b"\x00", 1)[0].strip() or b"0", 8)
        name = h[0:100].split(b"\x00", 1)[0].decode()
        prefix = h[345:500].split(b"\x00", 1)[0].decode()
    except (ValueError, UnicodeDecodeError):
        raise _Defer from None
    # the checksum counts its own field as eight spaces
    if checksum != sum(h) - sum(h[148:156]) + 8 * 32:
        raise _Defer
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
        self.manifest, self.minor, self.files = _parse_manifest(data)
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

    def bundle(self, src: _Source, dictionary: bool, *, complete: bool, fast: bool) -> Bundle:
        assert self.manifest is not None
        t = self.tables
        events = _load_table(t[S.EVENTS], S.EVENTS, S.EVENTS_SCHEMA, dictionary)
        shots = _load_table(t[S.SCREENSHOTS], S.SCREENSHOTS, S.SCREENSHOTS_SCHEMA, dictionary)
        names = self.frame_names if complete else None
        _check_tables(self.manifest, self.minor, self.files, events, shots, names)
        events, ignored_events = _known_kinds(events, self.minor)
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


def _known_kinds(events: pa.Table, minor: int) -> tuple[pa.Table, int]:
    """A newer minor may add event kinds: their rows are left out, like its columns."""
    if minor <= S.FORMAT_MINOR or not events.num_rows:
        return events, 0
    known = pc.is_in(pc.cast(events["kind"], pa.string()), value_set=pa.array(S.EVENT_KINDS))
    kept = events.filter(known)
    return kept, events.num_rows - kept.num_rows


def _fast_read(
    source: BinaryIO,
    frames: FramesMode,
    extract_to: str | os.PathLike[str] | None,
    limits: Limits,
    dictionary: bool,
) -> Bundle:
    src = _Source(source, limits.max_bytes)
    chunks = []
    try:
        while chunk := src.read(_CHUNK):
            chunks.append(chunk)
    except BundleError:  # too large: the tarfile scan says so
        raise _Defer from None
    data = b"".join(chunks)
    del chunks
    written: list[Path] = []
    try:
        return _fast_scan(data, src, frames, extract_to, limits, dictionary, written)
    except BundleError:
        pass  # raised again, in stream order, by the tarfile scan
    except _Defer:
        pass
    for path in written:
        path.unlink(missing_ok=True)
    raise _Defer


def _fast_scan(
    data: bytes,
    src: _Source,
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
            raise _Defer
        if header == _ZERO_BLOCK:
            break
        name, size = _plain_header(header)
        if len(scan.seen) >= limits.max_members or name in scan.seen:
            raise _Defer
        _check_path(name)
        scan.seen.add(name)
        start = pos + tarfile.BLOCKSIZE
        stop = start + size
        if stop > end_of_data:
            raise _Defer
        pos = start + (size + tarfile.BLOCKSIZE - 1) // tarfile.BLOCKSIZE * tarfile.BLOCKSIZE
        if scan.manifest is None:
            if name != S.MANIFEST or size > limits.max_manifest_bytes:
                raise _Defer
            scan.read_manifest(data[start:stop])
            continue
        entry = scan.files.get(name)
        if entry is None or entry["bytes"] != size:
            raise _Defer
        body = view[start:stop]
        if hashlib.sha256(body).hexdigest() != entry["sha256"]:
            raise _Defer
        if name in (S.EVENTS, S.SCREENSHOTS):
            if size > limits.max_table_bytes:
                raise _Defer
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
        raise _Defer
    if set(scan.files) - scan.seen or len(scan.tables) != 2:
        raise _Defer
    return scan.bundle(src, dictionary, complete=True, fast=True)


def _scan(
    tar: tarfile.TarFile,
    src: _Source,
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
        name = _check_name(ti)
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
            scan.read_manifest(_read_member(tar, ti, limits.max_manifest_bytes))
            continue
        entry = _check_entry(ti, scan.files.get(name))
        if name in (S.EVENTS, S.SCREENSHOTS):
            data = _read_member(tar, ti, limits.max_table_bytes)
            _check_sha(name, hashlib.sha256(data).hexdigest(), entry)
            scan.tables[name] = data
            continue
        is_frame = name.startswith(S.FRAMES_DIR)
        if is_frame and frames == "skip" and len(scan.tables) == 2:
            complete = False
            break
        if is_frame and (dest := scan.frame(name, ti.offset_data)) is not None:
            with open(dest, "xb") as sink:
                digest = _stream_member(tar, ti, sink)
        else:
            if not is_frame:
                scan.ignored.append(name)  # a newer minor's member: verified, not used
            digest = _stream_member(tar, ti, None)
        _check_sha(name, digest, entry)

    if scan.manifest is None:
        raise BundleError(Reason.MISSING_MANIFEST, "archive has no members")

    if complete:
        _check_end_of_archive(tar, src)
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


def _check_end_of_archive(tar: tarfile.TarFile, src: _Source) -> None:
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


def _load_table(data: bytes, name: str, schema: pa.Schema, dictionary: bool) -> pa.Table:
    dict_cols = [c for c in S.DICTIONARY_COLUMNS if c in schema.names] if dictionary else []
    try:
        # ParquetFile, not read_table: no dataset discovery, no nested thread pool. The
        # footer is parsed once when every dictionary column is there (the usual case)
        try:
            pf = pq.ParquetFile(pa.BufferReader(data), read_dictionary=dict_cols or None)
        except KeyError:  # a column is missing: ask only for those present (bad_schema below)
            pf = pq.ParquetFile(pa.BufferReader(data))
            present = [c for c in dict_cols if c in pf.schema_arrow.names]
            pf = pq.ParquetFile(pa.BufferReader(data), read_dictionary=present or None)
        table = pf.read(use_threads=False)
    except (pa.ArrowException, OSError) as e:
        raise BundleError(
            Reason.BAD_PARQUET, f"{name} is not readable parquet: {e}", member=name
        ) from e
    cols = []
    fields = []
    for f in schema:
        if f.name not in table.column_names:
            raise BundleError(Reason.BAD_SCHEMA, f"{name} lacks column {f.name!r}", member=name)
        col = table[f.name]
        want = f.type
        if f.name in dict_cols:
            want = pa.dictionary(pa.int32(), f.type)
        try:
            if col.type != want:
                col = col.cast(want)
        except (pa.ArrowException, ValueError) as e:
            raise BundleError(
                Reason.BAD_SCHEMA,
                f"{name} column {f.name!r} is {col.type}, expected {f.type}: {e}",
                member=name,
            ) from e
        if not f.nullable and col.null_count:
            raise BundleError(
                Reason.BAD_SCHEMA,
                f"{name} column {f.name!r} has {col.null_count} nulls",
                member=name,
            )
        cols.append(col)
        fields.append(f.with_type(want))
    # columns a newer minor version added are dropped here, by design
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def _ts_bounds(manifest: dict[str, Any]) -> tuple[pa.Scalar, pa.Scalar]:
    lo = pa.scalar(from_iso(manifest["started_at"]), S.UTC_US)
    hi = pa.scalar(from_iso(manifest["ended_at"]), S.UTC_US)
    return lo, hi


def _check_window(table: pa.Table, name: str, lo: pa.Scalar, hi: pa.Scalar) -> None:
    if table.num_rows == 0:
        return
    ts = table["ts"]
    outside = pc.sum(pc.or_(pc.less(ts, lo), pc.greater(ts, hi))).as_py() or 0
    if outside:
        raise BundleError(
            Reason.TS_OUT_OF_WINDOW,
            f"{outside} row(s) of {name} lie outside [{lo}, {hi}]",
            member=name,
        )


def _check_order(events: pa.Table) -> None:
    """In seq order, time never runs backwards (the agent writes events as they happen)."""
    steps = np.diff(ts_us(events))
    back = np.flatnonzero(steps < 0)
    if back.size:
        row = int(back[0]) + 1
        raise BundleError(
            Reason.TS_BACKWARDS,
            f"{back.size} event(s) are earlier than the one before them, first at seq {row}",
            member=S.EVENTS,
        )


def _check_pointer(events: pa.Table, screens: list[dict[str, Any]]) -> None:
    """A pointer position lies on the monitor its event names."""
    if not events.num_rows:
        return
    bad = np.flatnonzero(off_screen(*on_screen(events, screens)))
    if bad.size:
        row = int(bad[0])
        x, y = events["x"][row].as_py(), events["y"][row].as_py()
        raise BundleError(
            Reason.OFF_SCREEN,
            f"{bad.size} event(s) put the pointer outside the monitor they name, first "
            f"at seq {row}: ({x}, {y})",
            member=S.EVENTS,
        )


def _check_tables(
    manifest: dict[str, Any],
    minor: int,
    files: dict[str, dict[str, Any]],
    events: pa.Table,
    shots: pa.Table,
    frame_names: list[str] | None,
) -> None:
    counts = manifest["counts"]
    if events.num_rows != counts["events"]:
        raise BundleError(
            Reason.COUNT_MISMATCH,
            f"events.parquet has {events.num_rows} rows, manifest counts {counts['events']}",
            member=S.EVENTS,
        )
    if shots.num_rows != counts["screenshots"]:
        raise BundleError(
            Reason.COUNT_MISMATCH,
            f"screenshots.parquet has {shots.num_rows} "
            f"rows, manifest counts {counts['screenshots']}",
            member=S.SCREENSHOTS,
        )
    seq = events["seq"].to_numpy()
    if seq.size and not np.array_equal(seq, np.arange(seq.size, dtype=seq.dtype)):
        bad = int(np.argmax(seq != np.arange(seq.size, dtype=seq.dtype)))
        raise BundleError(
            Reason.SEQ_GAP,
            f"seq is not 0..{seq.size - 1} in order: row {bad} has seq {int(seq[bad])}",
            member=S.EVENTS,
        )
    lo, hi = _ts_bounds(manifest)
    _check_window(events, S.EVENTS, lo, hi)
    _check_window(shots, S.SCREENSHOTS, lo, hi)
    _check_order(events)
    _check_pointer(events, manifest["screens"])
    if minor <= S.FORMAT_MINOR and events.num_rows:
        unknown = pc.unique(
            pc.filter(
                events["kind"],
                pc.invert(pc.is_in(events["kind"], value_set=pa.array(S.EVENT_KINDS))),
            )
        ).to_pylist()
        if unknown:
            raise BundleError(
                Reason.UNKNOWN_KIND, f"unknown event kind(s) {unknown[:5]}", member=S.EVENTS
            )

    ids = shots["screenshot_id"]
    if len(pc.unique(ids)) != len(ids):
        raise BundleError(
            Reason.DUPLICATE_SCREENSHOT,
            "screenshot_id repeats in screenshots.parquet",
            member=S.SCREENSHOTS,
        )
    bundle_id = manifest["bundle_id"]
    for sid in ids.to_pylist():
        if not S.is_scoped_id(bundle_id, sid):
            raise BundleError(
                Reason.UNSCOPED_ID,
                f"screenshot_id {sid!r} is not scoped to its bundle ({bundle_id}-<n>)",
                member=S.SCREENSHOTS,
            )
    suffix = "." + manifest["frame_format"]  # a frame's member is frame_member(sid, fmt)
    frame_files = {p for p in files if p.startswith(S.FRAMES_DIR)}
    for sid, sha, size in zip(
        ids.to_pylist(), shots["sha256"].to_pylist(), shots["bytes"].to_pylist(), strict=True
    ):
        member = S.FRAMES_DIR + sid + suffix
        entry = files.get(member)
        if entry is None:
            raise BundleError(
                Reason.MISSING_MEMBER,
                f"frame of screenshot {sid} is not in the bundle",
                member=member,
            )
        if entry["sha256"] != sha or entry["bytes"] != size:
            raise BundleError(
                Reason.CHECKSUM_MISMATCH,
                f"screenshots.parquet row {sid} disagrees with the manifest on its frame",
                member=member,
            )
    if len(frame_files) != len(ids):
        raise BundleError(
            Reason.COUNT_MISMATCH,
            f"{len(frame_files)} frame files but {len(ids)} screenshot rows",
            member=S.SCREENSHOTS,
        )
    if frame_names is not None and len(frame_names) != len(ids):
        raise BundleError(Reason.COUNT_MISMATCH, "frame members and screenshot rows differ")

    referenced = pc.drop_null(events["screenshot_id"])
    if len(referenced):
        dangling = pc.filter(referenced, pc.invert(pc.is_in(referenced, value_set=ids)))
        if len(dangling):
            raise BundleError(
                Reason.DANGLING_SCREENSHOT,
                f"{len(dangling)} event(s) reference "
                f"screenshots that do not exist, e.g. {dangling[0]}",
                member=S.EVENTS,
            )
