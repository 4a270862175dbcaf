"""From raw input to bundle events, with privacy applied before anything is stored.

The recorder is fed by the input listeners (pynput), the focus poller and a timer; it
holds one lock, reads the clock under it (so every event lies inside its bundle's
window) and decides, event by event:
- nothing is recorded while paused (by the contributor, or for a full spool) or while a
  denylisted window has focus: those become a `pause`/`resume` pair with no app or title;
- mouse moves are thinned (time and distance) and keep the path's shape;
- a frame is grabbed *before* an action starts (a click, the first key of a typed run, a
  hotkey, the start of a scroll burst), on focus changes and as a keyframe every N
  seconds; a frame whose pixels equal the last one stored is not stored again;
- typed characters are held as a run until the run ends (a pause in typing, another
  action, a focus change) and then scanned with the redaction rules: every key event of
  a secret is written as key = NULL, redacted = true, detail = <rule>;
- idle start/end after N seconds without input; window titles are scrubbed, and the
  contributor's login, host and home directory taken out of them (`own_names`);
- the contributor's `privacy.mask_patterns` count as a rule (`pattern`) in typed runs,
  titles and element names, as on screen;
- a click and the first key of a typed run ask which element they act on
  (`capture_agent.elements`, off this thread): until the answer comes, the events from
  that one on are held back, then written in order with the element on its event.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from capture_agent import frames as F
from capture_agent import masking as M
from capture_agent.config import AgentConfig
from capture_agent.own_names import OwnNames
from capture_agent.platform import WindowGuard, WindowInfo
from capture_agent.platform.atspi import Element
from capture_agent.session import BundleSession
from worktape.core.privacy.rules import redact_run, scrub

MODIFIERS = ("ctrl", "alt", "shift", "cmd")
# rows held behind an element lookup go into the bundle after this long, answered or
# not: a lookup thread that stopped answering must not keep events from the disk
ELEMENT_WAIT_S = 2.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Run:
    """A typed run in progress: its rows, and for each character its key_down row."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    chars: list[tuple[str, int, object]] = field(default_factory=list)  # char, row, key id
    last: datetime | None = None
    # other events that happen while the run is open (a mouse move, a focus change): held
    # back with it, so that a bundle's events stay in time order
    deferred: list[dict[str, Any]] = field(default_factory=list)


class Recorder:
    def __init__(
        self,
        cfg: AgentConfig,
        *,
        new_session: Callable[[datetime], BundleSession],
        grabber: Callable[[], F.Grabber] | None = None,
        clock: Callable[[], datetime] = utcnow,
        window_guard: WindowGuard | None = None,
        own_names: OwnNames | None = None,
    ) -> None:
        self.cfg = cfg
        self.own_names = own_names or OwnNames.here()
        # with a desktop that lists windows, every frame is masked with that list, and
        # none is taken while the list is unknown or changing (privacy fails closed)
        self.window_guard = window_guard
        self.clock = clock
        self._new_session = new_session
        self._grabber_factory = grabber
        self._tls = threading.local()
        self.lock = threading.RLock()
        self.session: BundleSession | None = None
        self.focus = WindowInfo(None, None, None)
        self.title: str | None = None  # scrubbed
        self._patterns: tuple[tuple[str, ...], list[re.Pattern[str]]] = ((), [])
        self.denied = False
        self.pause_reason: str | None = None
        self.run = _Run()
        self.secret_held = 0  # secret keys pressed whose release has not been seen
        self.held: set[str] = set()
        self.last_input: datetime | None = None
        self.idle = False
        self.last_move: tuple[datetime, int, int] | None = None
        self.last_scroll: datetime | None = None
        self.pointer: tuple[int, int] | None = None
        # the raw pixels of the last frame stored, per monitor: an unchanged screen is
        # not stored again
        self.last_pixels: dict[int, bytes | bytearray] = {}
        self.last_frame_at: datetime | None = None
        self.last_keyframe: datetime | None = None
        self.frames_taken = 0
        # element lookups (attach_elements): the rows waiting for an answer, by token,
        # and the rows held back behind them
        self.lookups: Any = None
        self._waiting: dict[int, dict[str, Any]] = {}
        self._held: list[dict[str, Any]] = []
        self._tokens = 0

    def attach_elements(self, lookups: Any) -> None:
        """Look up the element of each click and typed run with `lookups` (an
        `ElementLookups`, started by the caller, whose answers come to `on_element`)."""
        self.lookups = lookups

    # -- plumbing -----------------------------------------------------------------
    def _sess(self, now: datetime) -> BundleSession:
        if self.session is None:
            self.session = self._new_session(now)
            self.last_pixels.clear()  # each bundle holds its own first frame
            self._announce_state(now)
        return self.session

    def _announce_state(self, now: datetime) -> None:
        """A new bundle starts by saying what is going on, so it reads on its own."""
        if self.pause_reason:
            self._emit(now, "pause", detail=self.pause_reason, context=False)
        elif self.denied:
            self._emit(now, "pause", detail="denylist", context=False)
        elif self.focus.app or self.focus.title:
            self._emit(now, "focus_change")
            self._frame(now, "focus_change")

    def _state(self, now: datetime, kind: str, **f: Any) -> None:
        """A change of state (focus, pause, resume): a bundle opened by it announces the
        new state itself, so emit only into a bundle that was already open."""
        if self.session is None:
            self._sess(now)
            return
        self._emit(now, kind, **f)
        if kind == "focus_change":
            self._frame(now, "focus_change")

    def _emit(self, now: datetime, kind: str, *, context: bool = True, **f: Any) -> dict[str, Any]:
        row = {"ts": now, "kind": kind, **f}
        if context:
            row["app"], row["window_title"] = self.focus.app, self.title
        self._sess(now)
        self._put(row)
        return row

    def _put(self, row: dict[str, Any]) -> None:
        if self.run.rows:
            self.run.deferred.append(row)
        else:
            self._out([row])

    def _out(self, rows: list[dict[str, Any]]) -> None:
        """Into the open bundle, unless an element lookup is waiting: then behind it."""
        if self._waiting:
            self._held.extend(rows)
        else:
            assert self.session is not None
            self.session.emit(rows)

    def _row(self, now: datetime, kind: str, **f: Any) -> dict[str, Any]:
        return {"ts": now, "kind": kind, "app": self.focus.app, "window_title": self.title, **f}

    def _mask_patterns(self) -> list[re.Pattern[str]]:
        """`privacy.mask_patterns`, compiled once each time they change."""
        want = tuple(self.cfg.privacy.mask_patterns)
        if want != self._patterns[0]:
            self._patterns = (want, [re.compile(p) for p in want])
        return self._patterns[1]

    def _clean(self, text: str | None) -> str | None:
        """A title or element name as it may be stored."""
        clean, _ = scrub(self.own_names.hide(text), self._mask_patterns())
        return clean

    def reconfigure(self, cfg: AgentConfig) -> None:
        """A config the agent reloaded while running. The current title is scrubbed
        again: the events after a new pattern do not carry what it hides."""
        with self.lock:
            self.cfg = cfg
            if not self.denied and self.title is not None:
                self.title = self._clean(self.focus.title)

    @property
    def blocked(self) -> bool:
        return self.denied or self.pause_reason is not None

    def _input(self, now: datetime) -> None:
        if self.idle:
            self._emit(now, "idle_end", context=False)
            self.idle = False
        self.last_input = now

    def _grabber(self) -> F.Grabber | None:
        if self._grabber_factory is None:
            return None
        g = getattr(self._tls, "grabber", None)
        if g is None:
            g = self._tls.grabber = self._grabber_factory()
        return g

    def _monitor(self) -> int:
        g = self._grabber()
        if g is None:
            return 1
        return g.monitor_at(*(self.pointer or (None, None)))

    def _frame(self, now: datetime, trigger: str) -> str | None:
        g = self._grabber()
        if g is None or self.blocked:
            return None
        if (
            trigger == "action"
            and self.last_frame_at is not None
            and self.last_pixels
            and (now - self.last_frame_at).total_seconds()
            < self.cfg.capture.min_frame_interval_seconds
        ):
            return None  # a frame from a moment ago still shows the state before the action
        if self.focus.app is None and self.focus.title is None:
            # a transition: no identifiable window has focus, the screen may show anything
            return self._drop(now, "unidentified_focus")
        guard = self.window_guard if self.cfg.privacy.mask_windows else None
        before = guard.settled() if guard is not None else (0, [])
        if before is None:
            return self._drop(now, "window_change")
        version, windows = before
        if windows is None:
            return self._drop(now, "window_list")
        grab = g.grab(self._monitor())
        regions = [(x, y, x + w, y + h) for x, y, w, h in self.cfg.privacy.mask_regions]
        in_regions = self._paint(g, grab, regions)
        masked = 0
        if guard is not None:
            # a change to the windows while grabbing: the list may not be what it shows
            # (a window manager restacks on every click, often to the same order)
            after = guard.settled()
            if after is None or (after[0] != version and after[1] != windows):
                return self._drop(now, "window_change")
            masked = self._paint(g, grab, M.visible_parts(windows, self.cfg.privacy.denies))
        if self.last_pixels.get(grab.monitor) == grab.bgra:
            return None  # the screen has not changed since the last stored frame
        sess = self._sess(now)
        sid = sess.frame(grab, trigger, now)
        if sid is None:
            return None  # dropped: the text masking is too far behind (counted)
        if masked:
            sess.count("frames_masked_windows", masked)
        if in_regions:
            sess.count("frames_masked_regions", in_regions)
        if not self.cfg.privacy.mask_windows:
            sess.count("frames_unmasked")  # stored with window masking off
        if not self.cfg.privacy.mask_text:
            sess.count("frames_text_unmasked")  # stored with text masking off
        self.last_pixels[grab.monitor] = grab.bgra
        self.last_frame_at = now
        self._emit(now, "screenshot", screenshot_id=sid, monitor=grab.monitor)
        self.frames_taken += 1
        return sid

    # -- typed runs -----------------------------------------------------------------
    def _close_run(self) -> None:
        run, self.run = self.run, _Run()
        if not run.rows:
            return
        # char index -> rule
        hidden = redact_run((c for c, _, _ in run.chars), self._mask_patterns())
        if hidden:
            rule_at = {run.chars[i][1]: rule for i, rule in hidden.items()}
            lo, hi = min(rule_at), max(rule_at)
            first_rule = rule_at[lo]
            secret_keys = {run.chars[i][2] for i in hidden}
            # releases report the keysym under the modifiers then held ("!" comes back
            # as "1"), so a release after the secret that matches no press outside it
            # is taken to release a secret key
            outside = {
                r["_key_id"]
                for ri, r in enumerate(run.rows)
                if r["kind"] == "key_down" and not lo <= ri <= hi
            }
            for ri, row in enumerate(run.rows):
                secret_release = (
                    ri > hi
                    and row["kind"] == "key_up"
                    and (row["_key_id"] in secret_keys or row["_key_id"] not in outside)
                )
                if lo <= ri <= hi or secret_release:
                    row.update(
                        key=None, modifiers=None, redacted=True, detail=rule_at.get(ri, first_rule)
                    )
            # secret keys still held when the run ended: their releases come later
            released = sum(
                1
                for r in run.rows
                if r["kind"] == "key_up" and r.get("redacted") and r["_key_id"] not in MODIFIERS
            )
            self.secret_held += max(0, len(hidden) - released)
        for row in run.rows:
            del row["_key_id"]
        # sorted is stable: at equal times the run's own order is kept
        self._out(sorted(run.rows + run.deferred, key=lambda r: r["ts"]))

    # -- input events (listener threads) -----------------------------------------------
    def on_move(self, x: int, y: int) -> None:
        with self.lock:
            self.pointer = (x, y)
            if self.blocked:
                return
            now = self.clock()
            c = self.cfg.capture
            if self.last_move is not None:
                t, lx, ly = self.last_move
                if (now - t).total_seconds() * 1000 < c.move_min_interval_ms or abs(x - lx) + abs(
                    y - ly
                ) < c.move_min_distance_px:
                    return
            self._input(now)
            self.last_move = (now, x, y)
            self._emit(now, "mouse_move", x=x, y=y, monitor=self._monitor())

    def _pointer_action(self, x: int, y: int) -> datetime | None:
        """Common start of a click or scroll: the time, or None when not recording.
        Call with the lock held."""
        self.pointer = (x, y)
        if self.blocked:
            return None
        now = self.clock()
        self._close_run()
        self._input(now)
        return now

    def on_click(self, x: int, y: int, button: str, pressed: bool) -> None:
        with self.lock:
            if (now := self._pointer_action(x, y)) is None:
                return
            mods = "+".join(m for m in MODIFIERS if m in self.held) or None
            f = {"x": x, "y": y, "button": button, "modifiers": mods}
            if not pressed:
                self._emit(now, "mouse_up", monitor=self._monitor(), **f)
                return
            self._frame(now, "action")
            row = self._row(now, "mouse_down", monitor=self._monitor(), **f)
            self._sess(now)
            if self.lookups is not None:
                self._ask(row, (x, y), self.focus.pid)
            self._put(row)

    def on_scroll(self, x: int, y: int, dx: int, dy: int) -> None:
        with self.lock:
            if (now := self._pointer_action(x, y)) is None:
                return
            if self.last_scroll is None or (now - self.last_scroll).total_seconds() > 0.5:
                self._frame(now, "action")
            self.last_scroll = now
            self._emit(now, "scroll", x=x, y=y, monitor=self._monitor(), dx=dx, dy=dy)

    def on_key(self, key: str, key_id: object, pressed: bool, *, is_char: bool) -> None:
        """`key` is a character ("a", "A", "@") or a name ("enter", "ctrl"); `key_id`
        identifies the physical key so that its release matches its press."""
        with self.lock:
            if key in MODIFIERS:
                (self.held.add if pressed else self.held.discard)(key)
            if self.blocked:
                return
            now = self.clock()
            gap = self.cfg.capture.typing_run_gap_seconds
            if self.run.last and (now - self.run.last).total_seconds() > gap:
                self._close_run()
            combo = {"ctrl", "alt", "cmd"} & self.held
            mods = "+".join(m for m in MODIFIERS if m in self.held and m != key) or None
            typing = is_char and not combo
            if pressed:
                self._input(now)
                in_run = bool(self.run.rows) and (key in MODIFIERS or key == "backspace")
                if typing or in_run:
                    row = self._row(now, "key_down", key=key, modifiers=mods, _key_id=key_id)
                    if not self.run.rows:
                        self._frame(now, "action")
                        if self.lookups is not None:
                            self._sess(now)
                            self._ask(row, None, self.focus.pid)
                    self.run.rows.append(row)
                    if typing:
                        self.run.chars.append((key, len(self.run.rows) - 1, key_id))
                    self.run.last = now
                    return
                self._close_run()
                if key not in MODIFIERS:
                    self._frame(now, "action")
                self._emit(now, "key_down", key=key, modifiers=mods)
                return
            # a release
            if self.secret_held and key not in MODIFIERS:
                self.secret_held -= 1
                self._emit(now, "key_up", key=None, redacted=True, detail="secret_key")
                return
            if self.run.rows:
                self.run.rows.append(
                    self._row(now, "key_up", key=key, modifiers=mods, _key_id=key_id)
                )
                self.run.last = now
                return
            self._emit(now, "key_up", key=key, modifiers=mods)

    # -- the element acted on (lookup thread) ---------------------------------------------
    def window_at(self, x: int, y: int) -> tuple[bool, int | None]:
        """Whether the element under (x, y) may be asked for, and the pid of the window
        there (the lookup thread asks). With a window list, the top window at the point:
        never a denylisted one, nor any while the list is unknown or changing (its tree
        is not ours to read). Without one, the focused window's."""
        guard = self.window_guard
        if guard is None:
            return True, self.focus.pid
        snap = guard.settled(timeout=0.3)
        if snap is None or snap[1] is None:
            return False, None
        for w in reversed(snap[1]):  # top first
            if w.x <= x < w.x + w.width and w.y <= y < w.y + w.height:
                return not self.cfg.privacy.denies(w.app, w.title), w.pid
        return False, None  # the desktop itself

    def _ask(self, row: dict[str, Any], point: tuple[int, int] | None, pid: int | None) -> None:
        """Ask for `row`'s element; until it comes, rows from this one on are held."""
        self._tokens += 1
        if self.lookups.submit(self._tokens, point, pid):
            self._waiting[self._tokens] = row

    def on_element(self, token: int, element: Element | None) -> None:
        """An answer (from the lookup thread): the element goes on its row, and once no
        lookup waits, the rows held behind them go into the bundle."""
        with self.lock:
            row = self._waiting.pop(token, None)
            if row is None:
                return  # its bundle closed without waiting for it
            if element is not None:
                x, y, w, h = element.bounds
                row.update(
                    element_role=element.role,
                    element_name=self._clean(element.name),
                    element_x=x,
                    element_y=y,
                    element_width=w,
                    element_height=h,
                )
            if not self._waiting:
                self._release()

    def _release(self) -> None:
        """The rows held back go into the bundle; lookups still out are not waited for
        (their rows go without an element)."""
        self._waiting.clear()
        held, self._held = self._held, []
        if held:
            assert self.session is not None
            self.session.emit(held)

    # -- context (poller / timer thread) -------------------------------------------------
    def on_focus(self, win: WindowInfo) -> None:
        with self.lock:
            if win == self.focus:
                return
            now = self.clock()
            self._close_run()
            self.focus = win
            denied = self.cfg_denies(win)
            if denied and not self.denied:
                self.denied = True
                self.title = None
                if self.pause_reason is None:
                    self._state(now, "pause", detail="denylist", context=False)
                return
            if denied:
                return
            if self.denied:
                self.denied = False
                if self.pause_reason is None and self.session is not None:
                    self._emit(now, "resume", detail="denylist", context=False)
            self.title = self._clean(win.title)
            if self.pause_reason is None:
                self._state(now, "focus_change")

    def _drop(self, now: datetime, why: str) -> None:
        """No frame now: privacy fails closed, and the bundle counts why."""
        self._sess(now).count(f"frames_dropped_{why}")

    def _paint(self, g: F.Grabber, grab: F.Grab, rects: list[M.Rect]) -> int:
        """Paint rectangles (virtual-desktop pixels) on the grabbed monitor's raw pixels;
        returns how many touched it."""
        if not rects:
            return 0
        m = g.monitors[grab.monitor - 1]
        if not isinstance(grab.bgra, bytearray):
            grab.bgra = bytearray(grab.bgra)
        return M.paint(grab.bgra, grab.width, grab.height, (m["left"], m["top"]), rects)

    def cfg_denies(self, win: WindowInfo) -> bool:
        return self.cfg.privacy.denies(win.app, win.title)

    def set_pause(self, reason: str | None) -> None:
        """`user`, `quota` or `config` (the edited config cannot be applied) pauses
        capture; None resumes it."""
        with self.lock:
            if reason == self.pause_reason:
                return
            now = self.clock()
            self._close_run()
            was, self.pause_reason = self.pause_reason, reason
            if reason is not None and (was is not None or not self.denied):
                self._state(now, "pause", detail=reason, context=False)
            elif reason is None and not self.denied:
                self.last_pixels.clear()
                if self.session is None:
                    self._sess(now)
                else:
                    self._emit(now, "resume", detail=was, context=False)

    def tick(self) -> None:
        """Every fraction of a second: idle, typed-run timeout, keyframes."""
        with self.lock:
            now = self.clock()
            c = self.cfg.capture
            if self.run.last and (now - self.run.last).total_seconds() > c.typing_run_gap_seconds:
                self._close_run()
            if self._waiting and (
                (now - min(r["ts"] for r in self._waiting.values())).total_seconds()
                > ELEMENT_WAIT_S
            ):
                self._release()
            if (
                not self.idle
                and not self.blocked
                and self.last_input is not None
                and (now - self.last_input).total_seconds() >= c.idle_seconds
            ):
                self.idle = True
                self._emit(
                    self.last_input + timedelta(seconds=c.idle_seconds), "idle_start", context=False
                )
            if self.blocked or self.session is None:
                return
            if (
                self.last_keyframe is None
                or (now - self.last_keyframe).total_seconds() >= c.keyframe_seconds
            ):
                self.last_keyframe = now
                self._frame(now, "keyframe")

    # -- bundles ---------------------------------------------------------------------
    def checkpoint(self) -> None:
        with self.lock:
            if self.session is not None:
                self.session.checkpoint()

    def rotate(self) -> Path | None:
        """Close the open bundle (if any) for the courier to seal; the next event opens
        a new one. Returns the closed bundle's work dir."""
        with self.lock:
            if self.session is None:
                return None
            self._close_run()
            self._release()
            now = self.clock()
            sess, self.session = self.session, None
            return sess.close(now)
