"""One open bundle on the laptop: events and frames go in, a sealed tar comes out.

Frames are encoded on a worker thread (lossless WebP costs tens of ms); the
`screenshot` event is written at grab time with an id reserved then, and the frame
follows. Sealing waits for the frames of this bundle. The work dir lives in
`<spool>/open/`, sealed bundles move to `<spool>/outbox/` with a sidecar naming their
bucket key and sha256.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from capture_agent import frames as F
from capture_agent.redact import RULES, count_changes
from worktape import __version__
from worktape.bundle import BundleWriter, SealedBundle
from worktape.layout import raw_key

REDACTION_RULES = [*RULES, "denylist"]
log = logging.getLogger(__name__)


def store_frame(
    writer: BundleWriter, sid: str, monitor: int, enc: F.Encoded, trigger: str, ts: datetime
) -> None:
    writer.add_frame(
        ts=ts,
        monitor=monitor,
        width=enc.width,
        height=enc.height,
        trigger=trigger,
        data=enc.data,
        phash=enc.phash,
        screenshot_id=sid,
    )


class FrameEncoder(threading.Thread):
    """Encodes grabs in order and hands them to their writer."""

    def __init__(self, fmt: str, scale: float) -> None:
        super().__init__(name="frame-encoder", daemon=True)
        self.fmt, self.scale = fmt, scale
        # raw grabs are 8 MB each: a short queue bounds memory (the input thread waits)
        self.jobs: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=4)

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            writer, sid, monitor, img, trigger, ts, done = job
            try:
                store_frame(writer, sid, monitor, F.encode(img, fmt=self.fmt), trigger, ts)
            except Exception:  # a frame lost is logged; capture goes on
                log.exception("could not encode frame %s", sid)
            finally:
                done.release()
                self.jobs.task_done()

    def stop(self) -> None:
        self.jobs.put(None)


class BundleSession:
    def __init__(
        self,
        *,
        spool: Path,
        device_id: str,
        contributor_id: str,
        started_at: datetime,
        screens: list[dict[str, int]],
        consent: dict[str, str],
        utc_offset_minutes: int,
        encoder: FrameEncoder | None,
        frame_format: str = "webp",
        writer: BundleWriter | None = None,
    ) -> None:
        self.spool = spool
        self.encoder = encoder
        self._pending_frames = threading.Semaphore(0)
        self._n_pending = 0
        self._next_frame = 0
        self.changed: Counter[str] = Counter()
        if writer is None:
            bundle_id = "b" + uuid.uuid4().hex
            (spool / "open").mkdir(parents=True, exist_ok=True)
            writer = BundleWriter(
                spool / "open" / f"{bundle_id}.tar",
                bundle_id=bundle_id,
                device_id=device_id,
                contributor_id=contributor_id,
                started_at=started_at,
                screens=screens,
                consent=consent,
                utc_offset_minutes=utc_offset_minutes,
                agent_version=__version__,
                frame_format=frame_format,
            )
        else:
            self._next_frame = writer.n_frames
        self.writer = writer
        self.started_at = writer.started_at
        self.bundle_id = writer.bundle_id

    def emit(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.writer.add_event(**row)
        self.changed.update(
            count_changes(
                [r["kind"] for r in rows],
                [r.get("detail") for r in rows],
                [r.get("window_title") for r in rows],
                [bool(r.get("redacted")) for r in rows],
            )
        )

    def frame(self, grab: F.Grab, trigger: str, ts: datetime) -> str:
        """Reserve a screenshot id now; the encoded frame follows on the encoder."""
        sid = f"{self.bundle_id}-{self._next_frame:06d}"
        if self.encoder is None:
            store_frame(self.writer, sid, grab.monitor, F.encode(grab), trigger, ts)
        else:
            img = F.prepare(grab, self.encoder.scale)
            self.encoder.jobs.put(
                (self.writer, sid, grab.monitor, img, trigger, ts, self._pending_frames)
            )
            self._n_pending += 1  # counted once queued: seal() waits for exactly these
        self._next_frame += 1
        return sid

    def checkpoint(self) -> None:
        self.writer.checkpoint()

    @property
    def disk_bytes(self) -> int:
        return self.writer.work_bytes

    def seal(self, ended_at: datetime) -> Path:
        """Seal into the outbox; returns the tar's path (with a .json sidecar)."""
        for _ in range(self._n_pending):
            if not self._pending_frames.acquire(timeout=60):
                break  # an encoder that died: the recovery path drops what it lost
        self._n_pending = 0
        self.writer.set_redaction(REDACTION_RULES, dict(sorted(self.changed.items())))
        sealed = self.writer.seal(ended_at)
        return to_outbox(self.spool, sealed)


def to_outbox(spool: Path, sealed: SealedBundle) -> Path:
    outbox = spool / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    dest = outbox / sealed.path.name
    side = {
        "key": raw_key(sealed.device_id, sealed.started_at, sealed.bundle_id),
        "sha256": sealed.sha256,
        "bytes": sealed.bytes,
        "events": sealed.events,
        "screenshots": sealed.screenshots,
    }
    tmp = dest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(side))
    sealed.path.replace(dest)
    tmp.replace(dest.with_suffix(".json"))
    return dest


def recover_open(spool: Path) -> list[Path]:
    """Seal whatever a crashed agent left open; returns the recovered bundles."""
    out = []
    for work in sorted((spool / "open").glob("*.tar.work")):
        got = BundleWriter.recover(work)
        if got is None:
            continue
        writer, last = got
        changed: Counter[str] = Counter()
        # the manifest's counts are rebuilt from what survived
        for chunk in writer._chunks:
            import pyarrow.parquet as pq

            t = pq.read_table(chunk, columns=["kind", "detail", "window_title", "redacted"])
            changed.update(count_changes(*(t[c].to_pylist() for c in t.column_names)))
        writer.set_redaction(REDACTION_RULES, dict(sorted(changed.items())))
        out.append(to_outbox(spool, writer.seal(last)))
    for stray in (spool / "open").glob("*.partial"):
        stray.unlink()
    return out
