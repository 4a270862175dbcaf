"""The courier: a short-lived child process that seals closed bundles and uploads the
outbox, so that the capture process never loads pyarrow or boto3 (about 80 MB it would
otherwise keep for the hour between two seals).

    python -m capture_agent.courier [--config PATH]

1. Every work dir in `<spool>/open/` marked closed is sealed into `<spool>/outbox/`, with
   the time the agent closed it, or, for a dir a crash left open (the agent marks those
   at start), at its last event or frame that reached the disk. Its manifest's
   redaction counts are counted from the events it holds.
2. The outbox is uploaded, oldest first (`capture_agent.spool.Uploader`).
3. What happened goes to `<data>/courier.json`: bundles sealed and uploaded, conflicts,
   the last error, and this process's CPU seconds and peak memory.

It exits 0 when nothing is left to upload (or no storage is configured), and
`EXIT_RETRY` when an upload failed: the agent starts it again after a backoff.

`Courier` is the agent's side: it starts the process when there is work, one at a
time, reaps it, and schedules retries with exponential backoff and jitter.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worktape.core.bundle import journal as J

log = logging.getLogger(__name__)
EXIT_RETRY = 75  # EX_TEMPFAIL
REPORT = "courier.json"


@dataclass
class Report:
    """One courier run, as `courier.json` has it."""

    finished_at: str = ""
    sealed: int = 0
    uploaded: int = 0
    conflicts: int = 0
    pending: int = 0
    last_upload_at: str | None = None
    error: str | None = None
    cpu_s: float = 0.0
    startup_cpu_s: float = 0.0  # of cpu_s: starting Python and importing, before any work
    peak_rss_mb: float = 0.0

    @classmethod
    def read(cls, path: Path) -> Report | None:
        try:
            raw = json.loads(path.read_text())
            return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
        except (OSError, ValueError, TypeError):
            return None


# -- the child's side -------------------------------------------------------------------
def seal_work_dir(work: Path, spool: Path) -> Path | None:
    """Seal one work dir into the outbox; returns the sealed tar (None: nothing in it)."""
    from capture_agent.own_names import OwnNames
    from worktape.core.bundle import BundleWriter
    from worktape.core.privacy.rules import RULES, count_changes

    closed_at = J.close_time(work)
    got = BundleWriter.recover(work)
    if got is None:
        return None
    writer, last = got
    ended_at = max(closed_at, last) if closed_at else last
    events = writer.events_table()
    changed = count_changes(
        *(events[c].to_pylist() for c in ("kind", "detail", "window_title", "redacted"))
    )
    # what privacy did to frames: windows masked, frames dropped (the recorder's counts)
    changed = dict(sorted({**changed, **J.close_changes(work)}.items()))
    # frames stored with window masking off (privacy.mask_windows = false) say so
    pixels = "pixel_masking_off" if changed.get("frames_unmasked") else "denylist_windows"
    # and text on screen: read and masked, unless privacy.mask_text = false
    text = "text_masking_off" if changed.get("frames_text_unmasked") else "screen_text"
    # the contributor's login@host and home directory out of titles and frames, when
    # this laptop could tell what they are (the agent that recorded it ran as this user)
    own = ["own_names"] if OwnNames.here().complete else []
    writer.set_redaction([*RULES, "denylist", pixels, text, *own], changed)
    return to_outbox(spool, writer.seal(ended_at))


def to_outbox(spool: Path, sealed: Any) -> Path:
    """Move a sealed bundle into the outbox with a sidecar naming its key and sha256
    (written first: a tar in the outbox always has its sidecar)."""
    from worktape.core.layout import raw_key

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


def seal_closed(spool: Path) -> list[Path]:
    """Seal every closed work dir in `<spool>/open/`, oldest first."""
    out = []
    open_dir = spool / "open"
    for work in sorted(open_dir.glob(f"*{J.WORK_SUFFIX}"), key=lambda p: p.stat().st_mtime):
        if J.is_closed(work):
            try:
                if (sealed := seal_work_dir(work, spool)) is not None:
                    out.append(sealed)
            except Exception:  # one bad dir must not block the others: keep it, say so
                log.exception("could not seal %s; it stays in the spool", work.name)
    for stray in open_dir.glob("*.partial"):
        stray.unlink()  # a seal a crash cut short: its work dir is still there
    return out


def run(config_path: Path | None = None) -> int:
    """The courier's whole job, in this process; returns the exit status."""
    from capture_agent import config as C
    from capture_agent.spool import Uploader, pending
    from worktape.core.bundle import BundleWriter  # noqa: F401 - imported now, timed as start-up

    cfg = C.load(config_path or C.config_path())
    if cfg.upload.storage_url:
        from worktape.core.storage import open_storage  # noqa: F401

        if cfg.upload.storage_url.startswith("s3://"):
            import worktape.core.storage.s3  # noqa: F401
    startup = _cpu_s()
    spool = cfg.spool_path
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    # one courier at a time: one left running by an agent that was killed finishes first
    lock = open(cfg.data_path / "courier.lock", "a")  # noqa: SIM115 - held until exit
    fcntl.flock(lock, fcntl.LOCK_EX)
    report = Report(sealed=len(seal_closed(spool)))
    status = 0
    if cfg.upload.storage_url:
        up = Uploader(spool, cfg.upload.storage_url, endpoint_url=cfg.upload.endpoint_url)
        report.uploaded = up.run_once()
        report.conflicts = up.state.conflicts
        report.last_upload_at = up.state.last_upload_at
        report.error = up.state.last_error
        status = EXIT_RETRY if up.state.last_error else 0
    report.pending = len(pending(spool))
    report.cpu_s = round(_cpu_s(), 3)
    report.startup_cpu_s = round(startup, 3)
    report.peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    path = cfg.data_path / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(report), indent=1))
    os.replace(tmp, path)
    return status


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="seal closed bundles and upload the outbox")
    ap.add_argument("--config", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="courier: %(levelname)s %(message)s")
    return run(args.config)


# -- the agent's side -------------------------------------------------------------------
@dataclass
class Courier:
    """Runs the courier process when there is work: one at a time, retried with
    exponential backoff and jitter while uploads fail."""

    config_path: Path
    data_path: Path
    retry_base: float = 2.0
    retry_max: float = 300.0
    failures: int = 0
    uploaded: int = 0
    conflicts: int = 0
    last_upload_at: str | None = None
    last: Report | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _wanted: bool = False
    _next_try: float = 0.0

    def kick(self) -> None:
        """There is work (a closed bundle, a flush): run as soon as none is running."""
        self._wanted = True
        self._next_try = 0.0

    @property
    def running(self) -> bool:
        return self._proc is not None

    def poll(self) -> None:
        """Reap a finished run and start the next one when it is due. Call it often."""
        if self._proc is not None and self._proc.poll() is not None:
            self._reap(self._proc.returncode)
        if self._proc is None and self._wanted and time.monotonic() >= self._next_try:
            self._wanted = False
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "capture_agent.courier", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
            )

    def _reap(self, code: int) -> None:
        self._proc = None
        self.last = Report.read(self.data_path / REPORT)
        if self.last is not None:
            self.uploaded += self.last.uploaded
            self.conflicts += self.last.conflicts
            self.last_upload_at = self.last.last_upload_at or self.last_upload_at
        if code == 0:
            self.failures = 0
            return
        self.failures += 1
        delay = min(self.retry_max, self.retry_base * 2 ** min(self.failures, 16))
        self._next_try = time.monotonic() + delay * random.uniform(0.5, 1.5)
        self._wanted = True
        log.warning("courier exit %s; next try in about %.0f s", code, delay)

    def finish(self, timeout: float) -> None:
        """At exit: one last run now, waited for up to `timeout` seconds."""
        if self._proc is not None:
            self._wait(timeout)
        self._wanted, self._next_try = True, 0.0
        self.poll()
        self._wait(timeout)

    def _wait(self, timeout: float) -> None:
        if self._proc is None:
            return
        try:
            self._reap(self._proc.wait(timeout))
        except subprocess.TimeoutExpired:
            log.warning("the courier is still busy; the next start picks up where it is")

    def status(self) -> dict[str, Any]:
        return {
            "last_upload_at": self.last_upload_at,
            "last_upload_error": self.last.error if self.last else None,
            "uploaded": self.uploaded,
            "conflicts": self.conflicts,
        }


if __name__ == "__main__":
    sys.exit(main())
