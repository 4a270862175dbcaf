"""One open bundle on the laptop: events and frames go into its journal
(`worktape.core.bundle.journal`) in `<spool>/open/`; `close()` hands it to the courier.

Frames are finished on a worker thread at low priority: secrets on screen are masked
(on the full-resolution pixels, read by the text reader process,
`capture_agent/text_reader.py`), then the frame is shrunk and encoded. The `screenshot`
event is written at grab time with an id reserved then, and the frame follows; a frame
the worker cannot finish, or one that finds the worker too far behind, is dropped and
counted (its event goes at sealing). Closing waits for this bundle's frames, then marks
the journal closed; the courier process (`capture_agent/courier.py`) seals it into
`<spool>/outbox/` and uploads it. Nothing here loads pyarrow or boto3.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capture_agent import frames as F
from worktape import __version__
from worktape.core.bundle.journal import BundleJournal

if TYPE_CHECKING:
    from capture_agent.text_reader import TextReader

log = logging.getLogger(__name__)


def store_frame(
    journal: BundleJournal, sid: str, monitor: int, enc: F.Encoded, trigger: str, ts: datetime
) -> None:
    journal.add_frame(
        screenshot_id=sid,
        ts=ts,
        monitor=monitor,
        width=enc.width,
        height=enc.height,
        trigger=trigger,
        data=enc.data,
        phash=enc.phash,
    )


class FrameEncoder(threading.Thread):
    """Masks text, shrinks and encodes frames in order, and hands them to their bundle."""

    def __init__(self, fmt: str, scale: float, masker: TextReader | None = None) -> None:
        super().__init__(name="frame-encoder", daemon=True)
        self.fmt, self.scale, self.masker = fmt, scale, masker
        # a short queue bounds memory; when it is full a frame is dropped, never waited
        # for (the input thread must not block)
        self.jobs: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=4)

    def run(self) -> None:
        from worktape.core.privacy.reading import RedactionIncomplete, lower_priority

        lower_priority()
        while (job := self.jobs.get()) is not None:
            sess, sid, monitor, grab, trigger, ts = job
            masker = self.masker  # the agent swaps it when the config changes
            try:
                img = grab
                if (masker is None) == isinstance(grab, F.Grab):
                    # queued across a switch of text masking: shrunk just before it was
                    # turned on, or kept full size to be masked just before it was
                    # turned off (counted then as masked): neither is stored
                    sess.count("frames_dropped_text_error")
                    continue
                if masker is not None:
                    try:
                        found = masker.mask(grab.monitor, grab.bgra, grab.width, grab.height)
                    except RedactionIncomplete:
                        sess.count("frames_dropped_text_deadline")
                        continue
                    except Exception:
                        log.exception("could not read the text of frame %s: dropped", sid)
                        sess.count("frames_dropped_text_error")
                        continue
                    for rule, n in found.items():
                        sess.count(f"pixels_{rule}", n)
                    if found:
                        sess.count("frames_masked_text")
                    img = F.prepare(grab, self.scale)  # full size for the masker: now shrunk
                store_frame(sess.journal, sid, monitor, F.encode(img, fmt=self.fmt), trigger, ts)
            except Exception:  # a frame lost is logged; capture goes on
                log.exception("could not encode frame %s", sid)
            finally:
                sess.frame_done()
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
    ) -> None:
        self.encoder = encoder
        self._pending_frames = threading.Semaphore(0)
        self._n_pending = 0
        self._next_frame = 0
        self.bundle_id = "b" + uuid.uuid4().hex
        (spool / "open").mkdir(parents=True, exist_ok=True)
        self.journal = BundleJournal(
            spool / "open" / f"{self.bundle_id}.tar",
            bundle_id=self.bundle_id,
            device_id=device_id,
            contributor_id=contributor_id,
            started_at=started_at,
            screens=screens,
            consent=consent,
            utc_offset_minutes=utc_offset_minutes,
            agent_version=__version__,
            frame_format=frame_format,
        )
        self.started_at = started_at
        # what privacy did to this bundle's frames: windows masked, frames dropped
        self.frame_changes: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def count(self, what: str, n: int = 1) -> None:
        """Add to the bundle's privacy counts (from the input or the frame thread)."""
        with self._count_lock:
            self.frame_changes[what] += n

    def frame_done(self) -> None:
        self._pending_frames.release()

    def emit(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.journal.add_event(**row)

    def frame(self, grab: F.Grab, trigger: str, ts: datetime) -> str | None:
        """Reserve a screenshot id now; the finished frame follows on the encoder.
        None: the frame was dropped (the encoder is too far behind to mask it)."""
        sid = f"{self.bundle_id}-{self._next_frame:06d}"
        if self.encoder is None:
            store_frame(self.journal, sid, grab.monitor, F.encode(grab), trigger, ts)
        else:
            masker = self.encoder.masker
            if masker is not None:
                # the worker paints in place: it gets its own full-resolution copy
                job: Any = F.Grab(grab.monitor, grab.width, grab.height, bytearray(grab.bgra))
            else:
                job = F.prepare(grab, self.encoder.scale)  # frees the raw pixels at once
            try:
                self.encoder.jobs.put_nowait((self, sid, grab.monitor, job, trigger, ts))
            except queue.Full:
                if masker is None:  # no privacy step: waiting is safe
                    self.encoder.jobs.put((self, sid, grab.monitor, job, trigger, ts))
                else:
                    self.count("frames_dropped_text_backlog")
                    return None
            self._n_pending += 1  # counted once queued: close() waits for exactly these
        self._next_frame += 1
        return sid

    def checkpoint(self) -> None:
        self.journal.checkpoint()

    @property
    def disk_bytes(self) -> int:
        return self.journal.bytes

    def close(self, ended_at: datetime) -> Path:
        """Complete the bundle on disk, for the courier to seal; returns its work dir."""
        for _ in range(self._n_pending):
            if not self._pending_frames.acquire(timeout=60):
                break  # an encoder that died: sealing drops the events of lost frames
        self._n_pending = 0
        return self.journal.close(ended_at, self.frame_changes)
