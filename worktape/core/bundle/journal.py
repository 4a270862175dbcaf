"""An open bundle on disk, appended without Arrow: the laptop's side of a bundle.

The capture agent writes what it records here as it happens, so that a crash loses
little and the capture process never loads pyarrow. A short-lived sealer process
(`capture_agent.courier`) turns a finished work dir into a sealed bundle with
`BundleWriter.recover()`; a dir that a crash left open is sealed the same way.

The work dir, `<bundle>.tar.work/`:

    meta.json               the bundle's identity, written first
    events-NNNNN.jsonl      closed chunks of events, one JSON object per line, `ts` in
                            integer microseconds since the epoch (UTC), null fields left
                            out; `BundleWriter` writes `events-NNNNN.parquet` instead
    screenshots/<id>.<fmt>  the encoded frames
    frames.jsonl            one line per stored frame: its screenshots.parquet row
    close.json              {"ended_at": ..., "changed": {...}}: the bundle is complete,
                            seal it; `changed` counts what privacy did to frames (masked
                            windows, frames dropped), for the manifest's redaction

Every file is written to a temporary name and renamed, so each one is whole or absent;
`frames.jsonl` is appended, and a reader skips a last line cut short.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from worktape import __version__
from worktape.core.bundle import contract as C
from worktape.core.timeutil import from_iso, to_iso

META = "meta.json"
FRAMES_LOG = "frames.jsonl"
CLOSE = "close.json"
WORK_SUFFIX = ".work"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_EVENT_FIELDS = frozenset(C.EVENT_FIELDS) - {"seq"}


def to_us(ts: datetime) -> int:
    """A UTC-aware datetime as integer microseconds since the epoch (exact)."""
    return (ts - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def check_ids(**ids: str) -> None:
    for label, value in ids.items():
        if not C.ID_RE.match(value):
            raise ValueError(f"{label} {value!r} is not a valid id")


def frame_row(
    *,
    screenshot_id: str,
    ts: datetime,
    monitor: int,
    width: int,
    height: int,
    trigger: str,
    data: bytes,
    phash: str | None,
) -> dict[str, Any]:
    """A frame's screenshots.parquet row, checked against the contract."""
    if trigger not in C.SCREENSHOT_TRIGGERS:
        raise ValueError(f"unknown screenshot trigger {trigger!r}")
    check_ids(screenshot_id=screenshot_id)
    return {
        "screenshot_id": screenshot_id,
        "ts": ts,
        "monitor": monitor,
        "width": width,
        "height": height,
        "trigger": trigger,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "phash": phash,
    }


def store_frame(work_dir: Path, row: Mapping[str, Any], data: bytes, frame_format: str) -> int:
    """The frame's file, then its line in frames.jsonl; returns the bytes written."""
    atomic_write(work_dir / C.frame_member(row["screenshot_id"], frame_format), data)
    line = json.dumps({**row, "ts": to_iso(row["ts"])}) + "\n"
    with open(work_dir / FRAMES_LOG, "a") as log:
        log.write(line)
    return len(data) + len(line)


def stored_frames(work_dir: Path, frame_format: str) -> Iterator[dict[str, Any]]:
    """The frames that reached the disk whole: logged, present, and matching their
    checksum (a crash may cut the last log line or the last frame short)."""
    try:
        lines = (work_dir / FRAMES_LOG).read_text().splitlines()
    except OSError:
        return
    seen: set[str] = set()
    for line in lines:
        try:
            row = json.loads(line)
            row["ts"] = from_iso(row["ts"])
        except (ValueError, KeyError):
            continue
        sid = row["screenshot_id"]
        path = work_dir / C.frame_member(sid, frame_format)
        if sid in seen or not path.is_file():
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]:
            seen.add(sid)
            yield row


def event_chunks(work_dir: Path) -> list[Path]:
    """The closed event chunks (JSON lines or Parquet), in the order they were written."""
    chunks = [p for p in work_dir.glob("events-*.*") if p.suffix in (".jsonl", ".parquet")]
    return sorted(chunks, key=lambda p: (int(p.stem.split("-")[1]), p.suffix))


def read_event_lines(path: Path) -> list[dict[str, Any]]:
    """A JSON-lines chunk's events; a chunk is renamed into place whole, so any damage
    is corruption and raises ValueError."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for r in rows:
        if not isinstance(r, dict) or not isinstance(r.get("ts"), int) or "kind" not in r:
            raise ValueError(f"{path.name}: not an event row: {str(r)[:80]}")
    return rows


def close_time(work_dir: Path) -> datetime | None:
    """When the agent closed this bundle, or None when it never did (a crash)."""
    try:
        ended_at = json.loads((work_dir / CLOSE).read_text())["ended_at"]
        return from_iso(ended_at) if isinstance(ended_at, str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def mark_closed(
    work_dir: Path, ended_at: datetime | None, changed: Mapping[str, int] | None = None
) -> None:
    """Ask for this work dir to be sealed; `None`: it ends at its last event. `changed`:
    counts for the manifest's `redaction.changed` that the events cannot tell."""
    body: dict[str, Any] = {"ended_at": to_iso(ended_at) if ended_at else None}
    if changed:
        body["changed"] = dict(changed)
    atomic_write(work_dir / CLOSE, json.dumps(body).encode())


def close_changes(work_dir: Path) -> dict[str, int]:
    """The counts the agent left at close (none after a crash)."""
    try:
        changed = json.loads((work_dir / CLOSE).read_text()).get("changed") or {}
        return {str(k): int(v) for k, v in changed.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def is_closed(work_dir: Path) -> bool:
    return (work_dir / CLOSE).exists()


@dataclass(frozen=True)
class Meta:
    out: str
    bundle_id: str
    device_id: str
    contributor_id: str
    started_at: datetime
    screens: list[dict[str, Any]]
    consent: dict[str, str]
    utc_offset_minutes: int
    agent_version: str
    frame_format: str
    simulated: bool = False

    def to_json(self) -> bytes:
        return json.dumps({**self.__dict__, "started_at": to_iso(self.started_at)}).encode()

    @classmethod
    def read(cls, work_dir: Path) -> Meta:
        raw = json.loads((work_dir / META).read_text())
        raw["started_at"] = from_iso(raw["started_at"])
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


class BundleJournal:
    """One open bundle, as the agent records it: events buffered and written as closed
    JSON-lines chunks at each `checkpoint()`, frames written as they come."""

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
    ) -> None:
        check_ids(bundle_id=bundle_id, device_id=device_id, contributor_id=contributor_id)
        if frame_format not in C.FRAME_FORMATS:
            raise ValueError(f"unknown frame format {frame_format!r}")
        self.meta = Meta(
            out=str(out),
            bundle_id=bundle_id,
            device_id=device_id,
            contributor_id=contributor_id,
            started_at=started_at,
            screens=[dict(s) for s in screens],
            consent=dict(consent),
            utc_offset_minutes=utc_offset_minutes,
            agent_version=agent_version,
            frame_format=frame_format,
        )
        self.bundle_id = bundle_id
        self.started_at = started_at
        self.work_dir = Path(str(out) + WORK_SUFFIX)
        (self.work_dir / "screenshots").mkdir(parents=True, exist_ok=True)
        meta = self.meta.to_json()
        atomic_write(self.work_dir / META, meta)
        self.bytes = len(meta)  # on disk so far: the spool quota counts it
        self._pending: list[str] = []
        self._chunks = 0
        self.n_events = 0
        self.n_frames = 0

    def add_event(self, ts: datetime, kind: str, **fields: Any) -> int:
        """Append one event; returns its position in the bundle."""
        if kind not in C.EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        if unknown := fields.keys() - _EVENT_FIELDS:
            raise ValueError(f"unknown event fields {sorted(unknown)}")
        row = {k: v for k, v in fields.items() if v is not None and v is not False}
        row["ts"], row["kind"] = to_us(ts), kind
        self._pending.append(json.dumps(row, ensure_ascii=False))
        self.n_events += 1
        return self.n_events - 1

    def checkpoint(self) -> None:
        """Put buffered events on disk as a closed chunk: what a crash cannot take."""
        if not self._pending:
            return
        self._chunks += 1
        data = ("\n".join(self._pending) + "\n").encode()
        self._pending = []
        atomic_write(self.work_dir / f"events-{self._chunks:05d}.jsonl", data)
        self.bytes += len(data)

    def add_frame(
        self,
        *,
        screenshot_id: str,
        ts: datetime,
        monitor: int,
        width: int,
        height: int,
        trigger: str,
        data: bytes,
        phash: str | None = None,
    ) -> None:
        """Store one encoded frame. Its `screenshot` event is the caller's to add."""
        row = frame_row(
            screenshot_id=screenshot_id,
            ts=ts,
            monitor=monitor,
            width=width,
            height=height,
            trigger=trigger,
            data=data,
            phash=phash,
        )
        self.bytes += store_frame(self.work_dir, row, data, self.meta.frame_format)
        self.n_frames += 1

    def close(self, ended_at: datetime, changed: Mapping[str, int] | None = None) -> Path:
        """The bundle is complete: write what is buffered and ask for a seal."""
        if ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        self.checkpoint()
        mark_closed(self.work_dir, ended_at, changed)
        return self.work_dir
