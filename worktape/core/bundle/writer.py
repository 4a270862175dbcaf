"""Reference writer of format-1 bundles, used by the capture agent and the simulator.

Events and frames stream into a work directory as they arrive, so a long bundle needs
bounded memory and survives a crash. The work dir's layout is the journal's
(`worktape.core.bundle.journal`): `meta.json`, closed event chunks (Parquet here, JSON lines
from the agent's journal), frames and `frames.jsonl`.
`seal()` concatenates the chunks, writes the tar once (manifest first, frames last) to a
`.partial` file and renames it into place when complete and fsynced. After a crash, or
to seal what the agent's journal wrote, `BundleWriter.recover(work_dir)` rebuilds a
writer from what reached the disk.

`durable=False` keeps chunks and frames in memory until `seal()`: for the simulator,
which can make a lost bundle again and would otherwise spend most of its time on
small-file I/O.
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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from worktape import __version__
from worktape.core.bundle import journal as J
from worktape.core.bundle import schema as S
from worktape.core.timeutil import to_iso

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
        durable: bool = True,
        _resume: bool = False,
    ) -> None:
        J.check_ids(bundle_id=bundle_id, device_id=device_id, contributor_id=contributor_id)
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
        self.work_dir = (
            Path(work_dir) if work_dir else self.out.with_name(self.out.name + J.WORK_SUFFIX)
        )
        self._pending: list[dict[str, Any]] = []
        self._chunks: list[Path] = []  # written by this writer
        self.durable = durable
        # chunks held in memory: with durable=False, or read back by recover()
        self._tables: list[pa.Table] = []
        self._memory_frames: dict[str, bytes] = {}  # durable=False
        self._n_events = 0
        self._shots: list[dict[str, Any]] = []
        self._redaction: dict[str, Any] = {"rules": [], "changed": {}}
        self._sealed = False
        if _resume or not durable:
            return
        (self.work_dir / "screenshots").mkdir(parents=True, exist_ok=True)
        meta = J.Meta(
            out=str(self.out),
            bundle_id=bundle_id,
            device_id=device_id,
            contributor_id=contributor_id,
            started_at=started_at,
            screens=self.screens,
            consent=self.consent,
            utc_offset_minutes=utc_offset_minutes,
            agent_version=agent_version,
            frame_format=frame_format,
            simulated=simulated,
        )
        J.atomic_write(self.work_dir / J.META, meta.to_json())

    # -- events -----------------------------------------------------------------
    def add_event(self, ts: datetime, kind: str, **fields: Any) -> int:
        """Append one event; returns its seq. Unknown field names are an error."""
        if kind not in S.EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        row = {"ts": ts, "kind": kind, "redacted": False, **fields}
        unknown = set(row) - set(S.EVENTS_SCHEMA.names)
        if unknown:
            raise ValueError(f"unknown event fields {sorted(unknown)}")
        seq = self.n_events
        row["seq"] = seq
        self._pending.append(row)
        if len(self._pending) >= self.batch_rows:
            self.checkpoint()
        return seq

    def add_events(self, columns: Mapping[str, Sequence[Any]] | pa.Table) -> None:
        """Append many events at once, column-wise (seq is assigned at seal)."""
        self.checkpoint()
        table = columns if isinstance(columns, pa.Table) else pa.table(dict(columns))
        n = table.num_rows
        if n == 0:
            return
        extra = set(table.column_names) - set(S.EVENTS_SCHEMA.names)
        if extra:
            raise ValueError(f"unknown event fields {sorted(extra)}")
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
        self._write_chunk(pa.Table.from_pydict(cols, schema=S.EVENTS_SCHEMA))

    def checkpoint(self) -> None:
        """Put buffered events on disk as a closed chunk: what a crash cannot take."""
        if self._pending:
            table = pa.Table.from_pylist(self._pending, schema=S.EVENTS_SCHEMA)
            self._pending = []
            self._write_chunk(table)

    def _write_chunk(self, table: pa.Table) -> None:
        self._n_events += table.num_rows
        if not self.durable:
            self._tables.append(table)
            return
        path = self.work_dir / f"events-{len(self._chunks) + 1:05d}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
        self._chunks.append(path)

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
        sid = screenshot_id or f"{self.bundle_id}-{len(self._shots):06d}"
        if not S.is_scoped_id(self.bundle_id, sid):
            raise ValueError(f"screenshot_id {sid!r} is not scoped to bundle {self.bundle_id}")
        row = J.frame_row(
            screenshot_id=sid,
            ts=ts,
            monitor=monitor,
            width=width,
            height=height,
            trigger=trigger,
            data=data,
            phash=phash,
        )
        self._shots.append(row)
        if self.durable:
            J.store_frame(self.work_dir, row, data, self.frame_format)
        else:
            self._memory_frames[sid] = data
        return sid

    def set_redaction(self, rules: Sequence[str], changed: Mapping[str, int]) -> None:
        self._redaction = {"rules": list(rules), "changed": dict(changed)}

    @property
    def n_events(self) -> int:
        return self._n_events + len(self._pending)

    @property
    def n_frames(self) -> int:
        return len(self._shots)

    @property
    def work_bytes(self) -> int:
        """Bytes this bundle holds on disk so far (for spool quotas)."""
        if not self.durable:
            return 0
        return sum(p.stat().st_size for p in self.work_dir.rglob("*") if p.is_file())

    # -- sealing ----------------------------------------------------------------
    def events_table(self) -> pa.Table:
        """The events as the sealed bundle will hold them."""
        self.checkpoint()
        tables = self._tables + [pq.read_table(p) for p in self._chunks]
        table = pa.concat_tables(tables) if tables else S.EVENTS_SCHEMA.empty_table()
        # a `screenshot` event whose frame never arrived (an encoder failure) goes too:
        # the bundle stays valid rather than being quarantined for one frame
        sids = table["screenshot_id"]
        kept = pa.array([r["screenshot_id"] for r in self._shots], pa.string())
        dangling = pc.and_(pc.is_valid(sids), pc.invert(pc.is_in(sids, value_set=kept)))
        if pc.any(dangling).as_py():
            table = table.filter(pc.invert(dangling))
        # seq is the position in the stream: dense by construction, even after recovery
        return table.set_column(0, "seq", pa.array(range(table.num_rows), pa.int64()))

    def seal(self, ended_at: datetime) -> SealedBundle:
        if self._sealed:
            raise RuntimeError("bundle already sealed")
        if ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        tables: list[tuple[str, bytes]] = []
        for name, table in (
            (S.EVENTS, self.events_table()),
            (S.SCREENSHOTS, pa.Table.from_pylist(self._shots, schema=S.SCREENSHOTS_SCHEMA)),
        ):
            buf = pa.BufferOutputStream()
            pq.write_table(table, buf, compression="zstd")
            tables.append((name, buf.getvalue().to_pybytes()))
            if name == S.EVENTS:
                n_events = table.num_rows
        # a member's bytes, from memory or from its file in the work dir
        members: list[tuple[str, bytes | Path, int, str]] = [
            (name, data, len(data), hashlib.sha256(data).hexdigest()) for name, data in tables
        ]
        for shot in self._shots:
            sid = shot["screenshot_id"]
            name = S.frame_member(sid, self.frame_format)
            body = self._memory_frames.get(sid) or self.work_dir / name
            members.append((name, body, shot["bytes"], shot["sha256"]))

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
            "counts": {"events": n_events, "screenshots": len(self._shots)},
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
            # ustar headers; pax (POSIX.1-2001) only for a name ustar cannot hold
            with tarfile.open(fileobj=hw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(
                    _tarinfo(S.MANIFEST, len(manifest_bytes), mtime), io.BytesIO(manifest_bytes)
                )
                for name, body, size, _ in members:
                    if isinstance(body, bytes):
                        tar.addfile(_tarinfo(name, size, mtime), io.BytesIO(body))
                    else:
                        with body.open("rb") as f:
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
            events=n_events,
            screenshots=len(self._shots),
            started_at=self.started_at,
            ended_at=ended_at,
            device_id=self.device_id,
        )

    def abort(self) -> None:
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.out.with_name(self.out.name + ".partial").unlink(missing_ok=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._sealed:
            self.abort()

    # -- recovery: a crashed writer's work dir, or the agent's journal ---------------
    @classmethod
    def recover(cls, work_dir: str | os.PathLike[str]) -> tuple[BundleWriter, datetime] | None:
        """Rebuild a writer from a work dir (one a crashed process left, or one the
        agent's journal wrote), with the time of the last event or frame that reached
        the disk: use it, or the journal's close time, as `ended_at`. Returns None,
        after removing the dir, when nothing usable is left."""
        work = Path(work_dir)
        try:
            meta = J.Meta.read(work)
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(work, ignore_errors=True)
            return None
        w = cls(
            meta.out,
            bundle_id=meta.bundle_id,
            device_id=meta.device_id,
            contributor_id=meta.contributor_id,
            started_at=meta.started_at,
            screens=meta.screens,
            consent=meta.consent,
            utc_offset_minutes=meta.utc_offset_minutes,
            agent_version=meta.agent_version,
            frame_format=meta.frame_format,
            work_dir=work,
            simulated=meta.simulated,
            _resume=True,
        )
        for tmp in work.rglob("*.tmp"):
            tmp.unlink()  # a write the crash interrupted
        last = w.started_at
        for chunk in J.event_chunks(work):
            try:
                table = _read_chunk(chunk)
            except (OSError, ValueError, pa.ArrowException):
                chunk.unlink()  # renamed into place whole: damage here is corruption
                continue
            w._tables.append(table)
            w._n_events += table.num_rows
            if table.num_rows:
                last = max(last, pc.max(table["ts"]).as_py())
        w._shots = list(J.stored_frames(work, w.frame_format))
        if w._shots:
            last = max(last, *(r["ts"] for r in w._shots))
        if w.n_events == 0 and not w._shots:
            w.abort()
            return None
        return w, last


def _read_chunk(path: Path) -> pa.Table:
    """One closed event chunk as a table of the events schema (seq is set at seal)."""
    if path.suffix == ".parquet":
        return pq.read_table(path).cast(S.EVENTS_SCHEMA)
    rows = J.read_event_lines(path)
    columns = {}
    for f in S.EVENTS_SCHEMA:
        if f.name == "seq":
            columns["seq"] = pa.array(range(len(rows)), pa.int64())
        elif f.name == "redacted":
            columns["redacted"] = pa.array([bool(r.get("redacted")) for r in rows], pa.bool_())
        else:
            columns[f.name] = pa.array([r.get(f.name) for r in rows], f.type)
    return pa.Table.from_pydict(columns, schema=S.EVENTS_SCHEMA)
