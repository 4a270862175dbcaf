"""pynput listeners, translated into the recorder's vocabulary, and a pointer poller.

Mouse motion is polled, not heard: on X11, pynput receives every motion event through
the RECORD extension and parses it in Python, about 290 µs an event, 1.5% of a core at
50 Hz before the recorder drops half of them (it keeps one move per 40 ms). The mouse
listener here hears buttons and scrolls only; a poller reads the pointer every 40 ms
while it moves and every 250 ms while it rests (XQueryPointer, about 150 µs), which
gives the recorder the same path at a quarter of the cost.
"""

from __future__ import annotations

import struct
import sys
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from capture_agent.recorder import MODIFIERS, Recorder

POLL_MOVING_S = 0.04  # the recorder's move thinning (move_min_interval_ms)
POLL_RESTING_S = 0.25
SETTLE_S = 1.0  # a pointer still for this long is resting


def normalize_key(k: Any) -> tuple[str, object, bool]:
    """(key, key_id, is_char) for a pynput key: characters as themselves, named keys by
    their base name ("ctrl_l" -> "ctrl"), space as a character of the typed run."""
    from pynput.keyboard import KeyCode

    if isinstance(k, KeyCode):
        ch = k.char
        if ch is None:
            return (f"vk{k.vk}", k.vk, False)
        if len(ch) == 1 and ord(ch) < 32:  # ctrl+letter arrives as a control character
            ch = chr(ord(ch) + 96)
        return (ch, k.vk if k.vk is not None else ch, ch.isprintable())
    name = getattr(k, "name", str(k))
    base = name.split("_")[0]
    if base in MODIFIERS or base == "alt":
        return (base, base, False)
    if name == "space":
        return (" ", "space", True)
    return (name, name, False)


def _button(b: Any) -> str:
    return getattr(b, "name", str(b))


# the core input events (KeyPress 2 .. MotionNotify 6): 32 bytes each, in this client's
# byte order: type, detail, sequence, time, root, event, child, root x/y, event x/y,
# state, same-screen
_INPUT_EVENT = struct.Struct("=BBHIIIIhhhhHBx")


class _FastEventParser:
    """Stands in for pynput's python-xlib event parser on X11: the input events a
    listener hears are read with one struct unpack (python-xlib's generic parser took
    about 290 µs an event); anything else still goes to python-xlib."""

    def __init__(self, fallback: Any) -> None:
        self._fallback = fallback

    def parse_binary_value(self, data: Any, display: Any, length: Any, fmt: Any) -> Any:
        kind = data[0] & 0x7F
        if 2 <= kind <= 6 and len(data) >= 32:
            t, detail, _, when, root, window, child, rx, ry, ex, ey, state, same = (
                _INPUT_EVENT.unpack_from(bytes(data[:32]))
            )
            event = SimpleNamespace(
                type=kind,
                send_event=bool(t & 0x80),
                detail=detail,
                time=when,
                root=root,
                window=window,
                child=child,
                root_x=rx,
                root_y=ry,
                event_x=ex,
                event_y=ey,
                state=state,
                same_screen=same,
            )
            return event, data[32:]
        return self._fallback.parse_binary_value(data, display, length, fmt)


def _x11_listener(listener_class: Any, *, buttons_only: bool = False) -> Any:
    """pynput's X11 listener with the fast event parser; `buttons_only`: a mouse
    listener hearing buttons (and scrolls) but not motion. Other platforms: as is."""
    if not hasattr(listener_class, "_EVENT_PARSER") or sys.byteorder != "little":
        return listener_class
    import Xlib.X

    attrs: dict[str, Any] = {"_EVENT_PARSER": _FastEventParser(listener_class._EVENT_PARSER)}
    if buttons_only:
        # RECORD takes a range of event types: ButtonPress..ButtonRelease, not motion
        attrs["_EVENTS"] = (Xlib.X.ButtonPress, Xlib.X.ButtonRelease)
    return type(f"Fast{listener_class.__name__}", (listener_class,), attrs)


class PointerPoller(threading.Thread):
    """Reads the pointer position often while it moves, seldom while it rests, and
    tells the recorder where it went."""

    def __init__(self, position: Callable[[], tuple[int, int]], on_move: Any) -> None:
        super().__init__(name="pointer", daemon=True)
        self._position, self._on_move = position, on_move
        self._stop = threading.Event()

    def run(self) -> None:
        last: tuple[int, int] | None = None
        moved_at = 0.0
        interval = POLL_RESTING_S
        # time.sleep, not Event.wait: a timed wait on a condition cost twice a poll
        while not self._stop.is_set():
            time.sleep(interval)
            try:
                pos = self._position()
            except Exception:  # the display went away: the agent is stopping
                return
            now = time.monotonic()
            if pos != last:
                if last is not None:
                    self._on_move(*pos)
                last, moved_at = pos, now
            interval = POLL_MOVING_S if now - moved_at < SETTLE_S else POLL_RESTING_S

    def stop(self) -> None:
        self._stop.set()


class InputListeners:
    def __init__(
        self,
        recorder: Recorder,
        on_hotkey: Any = None,
        hotkey: str | None = None,
        pointer: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        """`pointer` reads the pointer's position (the desktop adapter's): motion is
        then polled; without it, heard from the mouse listener."""
        from pynput import keyboard, mouse

        self.rec = recorder
        self._hotkey = None
        if hotkey and on_hotkey:
            self._hotkey = keyboard.HotKey(keyboard.HotKey.parse(hotkey), on_hotkey)
        self._poller = None
        moves: dict[str, Any] = {"on_move": lambda x, y: recorder.on_move(int(x), int(y))}
        if pointer is not None:
            self._poller = PointerPoller(pointer, recorder.on_move)
            moves = {}
        listener = _x11_listener(mouse.Listener, buttons_only=pointer is not None)
        self._mouse = listener(
            **moves,
            on_click=lambda x, y, b, p: recorder.on_click(int(x), int(y), _button(b), p),
            on_scroll=lambda x, y, dx, dy: recorder.on_scroll(int(x), int(y), int(dx), int(dy)),
        )
        self._keyboard = _x11_listener(keyboard.Listener)(
            on_press=self._press, on_release=self._release
        )

    def _press(self, k: Any) -> None:
        if self._hotkey is not None:
            self._hotkey.press(self._keyboard.canonical(k))
        key, key_id, is_char = normalize_key(k)
        self.rec.on_key(key, key_id, True, is_char=is_char)

    def _release(self, k: Any) -> None:
        if self._hotkey is not None:
            self._hotkey.release(self._keyboard.canonical(k))
        key, key_id, is_char = normalize_key(k)
        self.rec.on_key(key, key_id, False, is_char=is_char)

    def start(self) -> None:
        self._mouse.start()
        self._keyboard.start()
        self._mouse.wait()
        self._keyboard.wait()
        if self._poller is not None:
            self._poller.start()

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._mouse.stop()
        self._keyboard.stop()
