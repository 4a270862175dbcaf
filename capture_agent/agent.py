"""The running agent: input listeners, focus events, hourly bundles, and the courier.

`worktape agent start` runs this in the foreground (systemd/launchd keep it alive). The
other commands talk to it through files in its data dir: they edit the config (pause,
resume, exclude), drop a `flush.request`, and read `status.json`, which the agent
rewrites every five seconds and at once when its state changes.

This process only captures: it writes each bundle's journal in the spool, and at the
hour (or a flush, or exit) closes it and starts the courier, a short-lived child that
seals and uploads (`capture_agent/courier.py`). So it never loads pyarrow or boto3.

Crash safety: events reach the disk as closed chunks every `checkpoint_seconds`, frames
as soon as they are encoded. After kill -9, the next start marks the journal it finds
open as closed, and the courier seals what reached the disk into a bundle and uploads
it; the seconds since the last checkpoint (and a typed run in progress) are lost. See
docs/agent.md.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capture_agent import config as C
from capture_agent.courier import Courier
from capture_agent.frames import Grabber
from capture_agent.own_names import OwnNames
from capture_agent.platform import NoDisplayError, open_desktop
from capture_agent.recorder import Recorder
from capture_agent.session import BundleSession, FrameEncoder
from capture_agent.spool import pending, spool_bytes
from capture_agent.text_reader import TextReader
from worktape.core.bundle import journal as J
from worktape.core.privacy.policy import Privacy

if TYPE_CHECKING:
    from capture_agent.elements import ElementLookups

log = logging.getLogger(__name__)
# focus changes arrive as X events; the focused window is also re-read this often, in
# case an event was missed
FOCUS_RECHECK_S = 5.0
# status.json is rewritten this often, and at once when the state changes
STATUS_SECONDS = 5.0


class AgentError(RuntimeError):
    """A reason not to run, said in words (no consent, no display, already running)."""


def status_path(cfg: C.AgentConfig) -> Path:
    return cfg.data_path / "status.json"


def flush_request_path(cfg: C.AgentConfig) -> Path:
    return cfg.data_path / "flush.request"


def close_leftovers(spool: Path) -> list[Path]:
    """Journals a crashed agent left open: marked closed, ending at their last event,
    for the courier to seal."""
    left = [
        w
        for w in sorted((spool / "open").glob(f"*{J.WORK_SUFFIX}"))
        if w.is_dir() and not J.is_closed(w)
    ]
    for work in left:
        J.mark_closed(work, None)
    return left


def _next_boundary(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp((epoch // seconds + 1) * seconds, UTC)


class Agent:
    def __init__(self, config_path: Path | None = None) -> None:
        self.config_path = config_path or C.config_path()
        self.cfg = C.load(self.config_path)
        self._stop = threading.Event()
        self.masker: TextReader | None = None  # the text reader, when masking is on
        # painted out of frames as the contributor's own patterns are
        self.own_names = OwnNames.here()
        self._encoder: FrameEncoder
        # why the config file, edited while the agent runs, cannot be applied: capture
        # pauses until it can (the edit may be a pattern that must be masked)
        self.config_error: str | None = None

    def stop(self, *_: Any) -> None:
        self._stop.set()

    def _lock(self) -> Any:
        self.cfg.data_path.mkdir(parents=True, exist_ok=True)
        fh = open(self.cfg.data_path / "agent.pid", "a+")  # noqa: SIM115 - held for life
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AgentError("the agent is already running (see `worktape agent status`)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        return fh

    def run(self, *, duration: float | None = None) -> None:
        cfg = self.cfg
        if not cfg.has_consent:
            raise AgentError(
                "no consent recorded: run `worktape agent consent` first. "
                "Nothing is captured until you opt in."
            )
        try:
            desktop = open_desktop()
            probe = Grabber()
            screens = probe.screens()
            probe.close()
        except NoDisplayError as e:
            raise AgentError(f"cannot capture: {e}") from None
        except Exception as e:  # mss: ScreenShotError and friends
            raise AgentError(f"cannot capture the screen: {e}") from None
        if cfg.ensure_identity():
            C.save(cfg, self.config_path)
        lock = self._lock()
        spool = cfg.spool_path
        if left := close_leftovers(spool):
            log.warning("%d bundle(s) left open by a previous run: sealing them", len(left))
        courier = Courier(
            self.config_path,
            cfg.data_path,
            retry_base=cfg.upload.retry_base_seconds,
            retry_max=cfg.upload.retry_max_seconds,
        )
        courier.kick()  # what a previous run left: seal it, upload what waits

        encoder = self._encoder = FrameEncoder("webp", cfg.capture.frame_scale)
        self._set_text_masking(cfg.privacy)
        encoder.start()
        offset = int((datetime.now().astimezone().utcoffset() or timedelta()).total_seconds() // 60)
        consent = {
            "policy_version": cfg.consent.policy_version,
            "granted_at": cfg.consent.granted_at,
        }

        def new_session(now: datetime) -> BundleSession:
            return BundleSession(
                spool=spool,
                device_id=cfg.identity.device_id,
                contributor_id=cfg.identity.contributor_id,
                started_at=now,
                screens=screens,
                consent=consent,
                utc_offset_minutes=offset,
                encoder=encoder,
            )

        rec = Recorder(
            cfg,
            new_session=new_session,
            grabber=Grabber,
            window_guard=desktop.window_guard(),
            own_names=self.own_names,
        )
        lookups = self._element_lookups(rec)
        from capture_agent.inputs import InputListeners

        listeners = InputListeners(
            rec,
            on_hotkey=self._toggle_pause,
            hotkey=cfg.privacy.pause_hotkey,
            pointer=desktop.pointer_reader(),
        )
        listeners.start()
        started = time.monotonic()
        cfg_mtime = self._mtime()
        last_checkpoint = last_status = last_quota = time.monotonic()
        last_focus = -FOCUS_RECHECK_S
        focus_changed = True
        over_quota = False
        last_state = ""
        boundary = _next_boundary(datetime.now(UTC), cfg.capture.bundle_seconds)
        self._apply_pause(rec)
        self._write_status(rec, courier)  # listeners are attached: say we are recording
        try:
            while not self._stop.is_set():
                now_m = time.monotonic()
                if duration is not None and now_m - started >= duration:
                    break
                if desktop.windows_changed():
                    desktop.visible_windows()  # what the recorder's window guard sees
                if focus_changed or now_m - last_focus >= FOCUS_RECHECK_S:
                    rec.on_focus(desktop.active_window())
                    last_focus = now_m
                rec.tick()
                if (m := self._mtime()) != cfg_mtime:
                    cfg_mtime = m
                    self._reload(rec)
                if now_m - last_quota >= 10:  # not every tick: it lists the spool
                    over_quota = self._spool_bytes(rec) > cfg.spool.quota_mb * 2**20
                    last_quota = now_m
                self._apply_pause(rec, over_quota=over_quota)
                if now_m - last_checkpoint >= cfg.capture.checkpoint_seconds:
                    rec.checkpoint()
                    last_checkpoint = now_m
                now = datetime.now(UTC)
                flush = flush_request_path(cfg)
                if now >= boundary or flush.exists():
                    rec.rotate()
                    courier.kick()
                    flush.unlink(missing_ok=True)
                    boundary = _next_boundary(now, cfg.capture.bundle_seconds)
                courier.poll()
                state = self._state(rec)
                if state != last_state or now_m - last_status >= STATUS_SECONDS:
                    self._write_status(rec, courier)
                    last_status, last_state = now_m, state
                # sleeps until X reports a new focused window or title, or the tick
                focus_changed = desktop.wait_for_change(cfg.capture.focus_poll_seconds)
        finally:
            listeners.stop()
            rec.rotate()
            if lookups is not None:
                lookups.stop()
            encoder.stop()
            encoder.join(timeout=30)
            if self.masker is not None:
                self.masker.close()
            courier.finish(timeout=120)
            self._write_status(rec, courier, running=False)
            desktop.close()
            lock.close()

    def _element_lookups(self, rec: Recorder) -> ElementLookups | None:
        """Element lookups for the recorder, where the platform has an accessibility
        tree the agent can read (Linux: AT-SPI on the session bus) and the config asks
        for them."""
        if not self.cfg.capture.elements or not sys.platform.startswith("linux"):
            return None
        from capture_agent.elements import ElementLookups
        from capture_agent.platform.atspi import AccessibilityProbe

        asked = self.cfg.capture.request_accessibility
        if asked and not AccessibilityProbe().request_accessibility():
            log.info("no accessibility bus to ask: elements come only from apps that expose one")
        lookups = ElementLookups(AccessibilityProbe, rec.on_element, rec.window_at)
        lookups.start()
        rec.attach_elements(lookups)
        return lookups

    # -- control -------------------------------------------------------------------
    def _mtime(self) -> float:
        try:
            return self.config_path.stat().st_mtime
        except OSError:
            return 0.0

    def _reload(self, rec: Recorder) -> None:
        try:
            new = C.load(self.config_path)
        except (OSError, C.ConfigError) as e:
            error = str(e)
            if error != self.config_error:
                log.error("config not applied, capture paused until it is fixed: %s", error)
            self.config_error = error
            return
        if self.config_error is not None:
            log.info("config fixed: capture resumes")
        self.config_error = None
        # never a frame stored unmasked that the bundle does not count as such: masking
        # turned on starts before the recorder stops counting frames unmasked, and
        # turned off stops after it starts
        off = self.cfg.privacy.mask_text and not new.privacy.mask_text
        if not off:
            self._set_text_masking(new.privacy)
        self.cfg.privacy = new.privacy
        self.cfg.paused_until = new.paused_until
        rec.reconfigure(self.cfg)
        if off:
            self._set_text_masking(new.privacy)

    def _set_text_masking(self, privacy: Privacy) -> None:
        """Text masking as `privacy` says: a text reader started when it is on (the OCR
        runs in a child process: its models never load into this one), a new one when
        the patterns changed (it reads its first frame whole), none when it is off."""
        old = self.masker
        own = self.own_names.patterns()
        want = [*own, *privacy.mask_patterns] if privacy.mask_text else None
        if old is not None and old.patterns == want:
            return
        new = None
        if want is not None:
            new = TextReader(want)
            new.start()
        self.masker = self._encoder.masker = new
        if old is not None:
            old.close()  # after a frame it is reading

    def _apply_pause(self, rec: Recorder, over_quota: bool = False) -> None:
        reason = None
        if self.config_error is not None:
            reason = "config"
        elif self.cfg.paused():
            reason = "user"
        elif over_quota:
            reason = "quota"
        rec.set_pause(reason)

    def _toggle_pause(self) -> None:
        try:
            cfg = C.load(self.config_path)
        except (OSError, C.ConfigError) as e:
            # raised here, it would end the keyboard listener; capture is paused anyway
            log.error("pause hotkey ignored: the config cannot be read: %s", e)
            return
        cfg.paused_until = "" if cfg.paused() else "forever"
        C.save(cfg, self.config_path)

    def _spool_bytes(self, rec: Recorder) -> int:
        sess = rec.session
        if sess is None:
            return spool_bytes(self.cfg.spool_path)
        return spool_bytes(self.cfg.spool_path, sess.journal.work_dir, sess.disk_bytes)

    @staticmethod
    def _state(rec: Recorder) -> str:
        if rec.denied:
            return "recording (denylisted window: gap)"
        return {
            None: "recording",
            "user": "paused",
            "quota": "paused (spool full)",
            "config": "paused (config invalid)",
        }[rec.pause_reason]

    def _write_status(self, rec: Recorder, courier: Courier, running: bool = True) -> None:
        spool = self.cfg.spool_path
        state = self._state(rec) if running else "stopped"
        status = {
            "state": state,
            "pid": os.getpid(),
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "paused_until": self.cfg.paused_until or None,
            "config_error": self.config_error,
            "spool_bytes": self._spool_bytes(rec),
            "spool_bundles": len(pending(spool)),
            "frames_taken": rec.frames_taken,
            # what reading text on screen cost: frames, lines read and cached, CPU ms
            "text_masking": dict(self.masker.stats) if self.masker else None,
            **courier.status(),
        }
        path = status_path(self.cfg)
        tmp = path.with_name("status.json.tmp")
        tmp.write_text(json.dumps(status, indent=1))
        os.replace(tmp, path)


def run_foreground(config_path: Path | None = None, duration: float | None = None) -> None:
    agent = Agent(config_path)
    signal.signal(signal.SIGTERM, agent.stop)
    signal.signal(signal.SIGINT, agent.stop)
    agent.run(duration=duration)
