"""Reference writer of format-1 bundles, used by the capture agent and the simulator.

Events and frames stream into a work directory as they arrive (bounded memory for an
hour of capture); `seal()` writes the tar once, manifest first and frames last, to a
`.partial` file that is renamed into place only when complete and fsynced.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from worktape import __version__
from worktape.bundle import schema as S
from worktape.timeutil import to_iso

_CHUNK = 1 << 20


@dataclass(frozen=True)
class SealedBundle:
    path: Path
    bundle_id: str
    sha256: str
    bytes: int
    events: int
    screenshots: int
    started_at: datetime
    ended_at: datetime
    device_id: str


class _HashingWriter(io.RawIOBase):
    """File wrapper that hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.sha.update(b)
        self.count += len(b)
        self._raw.write(b)
        return len(b)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    # fixed owner/mode/mtime: the same capture seals to the same bytes
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = mtime
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.type = tarfile.REGTYPE
    return ti


class BundleWriter:
    """Collects one bundle's events and frames, then seals it.

    Use as a context manager; leaving the block without `seal()` aborts and cleans up.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        bundle_id: str,
        device_id: str,
        contributor_id: str,
        started_at: datetime,
        screens: Sequence[Mapping[str, Any]],
        consent: Mapping[str, str],
        utc_offset_minutes: int = 0,
        agent_version: str = __version__,
        frame_format: str = "webp",
        work_dir: str | os.PathLike[str] | None = None,
        simulated: bool = False,
        batch_rows: int = 65_536,
    ) -> None:
        for label, value in (
            ("bundle_id", bundle_id),
            ("device_id", device_id),
            ("contributor_id", contributor_id),
        ):
            if not S.ID_RE.match(value):
                raise ValueError(f"{label} {value!r} is not a valid id")
        if frame_format not in S.FRAME_FORMATS:
            raise ValueError(f"unknown frame format {frame_format!r}")
        self.out = Path(out)
        self.bundle_id = bundle_id
        self.device_id = device_id
        self.contributor_id = contributor_id
        self.started_at = started_at
        self.screens = [dict(s) for s in screens]
        self.consent = dict(consent)
        self.utc_offset_minutes = utc_offset_minutes
        self.agent_version = agent_version
        self.frame_format = frame_format
        self.simulated = simulated
        self.batch_rows = batch_rows
        self.work_dir = Path(work_dir) if work_dir else self.out.with_name(self.out.name + ".work")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "screenshots").mkdir(exist_ok=True)
        self._events_path = self.work_dir / S.EVENTS
        self._events_writer: pq.ParquetWriter | None = None
        self._pending: list[dict[str, Any]] = []
        self._n_events = 0
        self._shots: list[dict[str, Any]] = []
        self._redaction: dict[str, Any] = {"rules": [], "changed": {}}
        self._sealed = False

    # -- events -----------------------------------------------------------------
    def add_event(self, ts: datetime, kind: str, **fields: Any) -> int:
        """Append one event; returns its seq. Unknown field names are an error."""
        if kind not in S.EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        row = {"ts": ts, "kind": kind, "redacted": False, **fields}
        unknown = set(row) - set(S.EVENTS_SCHEMA.names)
        if unknown:
            raise ValueError(f"unknown event fields {sorted(unknown)}")
        row["seq"] = self._n_events + len(self._pending)
        self._pending.append(row)
        if len(self._pending) >= self.batch_rows:
            self._flush_events()
        return row["seq"]

    def add_events(self, columns: Mapping[str, Sequence[Any]] | pa.Table) -> None:
        """Append many events at once, column-wise (seq is assigned here)."""
        self._flush_events()
        table = columns if isinstance(columns, pa.Table) else pa.table(dict(columns))
        n = table.num_rows
        if n == 0:
            return
        cols = {}
        for field in S.EVENTS_SCHEMA:
            if field.name == "seq":
                cols["seq"] = pa.array(range(self._n_events, self._n_events + n), pa.int64())
            elif field.name in table.column_names:
                cols[field.name] = table[field.name].cast(field.type)
            elif field.name == "redacted":
                cols["redacted"] = pa.array([False] * n, pa.bool_())
            else:
                cols[field.name] = pa.nulls(n, field.type)
        extra = set(table.column_names) - set(S.EVENTS_SCHEMA.names)
        if extra:
            raise ValueError(f"unknown event fields {sorted(extra)}")
        self._write_events(pa.Table.from_pydict(cols, schema=S.EVENTS_SCHEMA))

    def _flush_events(self) -> None:
        if self._pending:
            table = pa.Table.from_pylist(self._pending, schema=S.EVENTS_SCHEMA)
            self._pending = []
            self._write_events(table)

    def _write_events(self, table: pa.Table) -> None:
        if self._events_writer is None:
            self._events_writer = pq.ParquetWriter(
                self._events_path, S.EVENTS_SCHEMA, compression="zstd"
            )
        self._events_writer.write_table(table)
        self._n_events += table.num_rows

    # -- frames -----------------------------------------------------------------
    def add_frame(
        self,
        *,
        ts: datetime,
        monitor: int,
        width: int,
        height: int,
        trigger: str,
        data: bytes,
        phash: str | None = None,
        screenshot_id: str | None = None,
    ) -> str:
        """Store one encoded frame; returns its screenshot_id. Add its `screenshot`
        event yourself, so that the event stream says when the frame was taken."""
        if trigger not in S.SCREENSHOT_TRIGGERS:
            raise ValueError(f"unknown screenshot trigger {trigger!r}")
        sid = screenshot_id or f"{self.bundle_id}-{len(self._shots):06d}"
        if not S.ID_RE.match(sid):
            raise ValueError(f"screenshot_id {sid!r} is not a valid id")
        (self.work_dir / S.frame_member(sid, self.frame_format)).write_bytes(data)
        self._shots.append(
            {
                "screenshot_id": sid,
                "ts": ts,
                "monitor": monitor,
                "width": width,
                "height": height,
                "trigger": trigger,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "phash": phash,
            }
        )
        return sid

    def set_redaction(self, rules: Sequence[str], changed: Mapping[str, int]) -> None:
        self._redaction = {"rules": list(rules), "changed": dict(changed)}

    @property
    def n_events(self) -> int:
        return self._n_events + len(self._pending)

    @property
    def n_frames(self) -> int:
        return len(self._shots)

    # -- sealing ----------------------------------------------------------------
    def seal(self, ended_at: datetime) -> SealedBundle:
        if self._sealed:
            raise RuntimeError("bundle already sealed")
        if ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        self._flush_events()
        if self._events_writer is None:
            pq.write_table(S.EVENTS_SCHEMA.empty_table(), self._events_path, compression="zstd")
        else:
            self._events_writer.close()
        shots_path = self.work_dir / S.SCREENSHOTS
        pq.write_table(
            pa.Table.from_pylist(self._shots, schema=S.SCREENSHOTS_SCHEMA),
            shots_path,
            compression="zstd",
        )
        members: list[tuple[str, Path, int, str]] = []
        for name, path in ((S.EVENTS, self._events_path), (S.SCREENSHOTS, shots_path)):
            members.append((name, path, path.stat().st_size, _file_sha256(path)))
        for shot in self._shots:
            name = S.frame_member(shot["screenshot_id"], self.frame_format)
            members.append((name, self.work_dir / name, shot["bytes"], shot["sha256"]))

        manifest = {
            "format": S.FORMAT,
            "format_version": S.FORMAT_VERSION,
            "bundle_id": self.bundle_id,
            "device_id": self.device_id,
            "contributor_id": self.contributor_id,
            "agent_version": self.agent_version,
            "started_at": to_iso(self.started_at),
            "ended_at": to_iso(ended_at),
            "utc_offset_minutes": self.utc_offset_minutes,
            "screens": self.screens,
            "counts": {"events": self.n_events, "screenshots": len(self._shots)},
            "files": [{"path": n, "bytes": b, "sha256": h} for n, _, b, h in members],
            "frame_format": self.frame_format,
            "redaction": self._redaction,
            "consent": self.consent,
        }
        if self.simulated:
            manifest["simulated"] = True
        manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()

        mtime = int(ended_at.timestamp())
        partial = self.out.with_name(self.out.name + ".partial")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as raw:
            hw = _HashingWriter(raw)
            with tarfile.open(fileobj=hw, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
                tar.addfile(
                    _tarinfo(S.MANIFEST, len(manifest_bytes), mtime), io.BytesIO(manifest_bytes)
                )
                for name, path, size, _ in members:
                    with path.open("rb") as f:
                        tar.addfile(_tarinfo(name, size, mtime), f)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, self.out)
        self._sealed = True
        shutil.rmtree(self.work_dir, ignore_errors=True)
        return SealedBundle(
            path=self.out,
            bundle_id=self.bundle_id,
            sha256=hw.sha.hexdigest(),
            bytes=hw.count,
            events=self.n_events,
            screenshots=len(self._shots),
            started_at=self.started_at,
            ended_at=ended_at,
            device_id=self.device_id,
        )

    def abort(self) -> None:
        if self._events_writer is not None and not self._sealed:
            self._events_writer.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.out.with_name(self.out.name + ".partial").unlink(missing_ok=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._sealed:
            self.abort()
