"""X11: the active window from EWMH (`_NET_ACTIVE_WINDOW`), as openbox, GNOME, KDE and
most window managers publish it.

Changes arrive as X events rather than by polling: the root window reports a new active
window, and the active window reports a new title (PropertyNotify). The agent's loop
blocks on the connection between them, which costs nothing while nothing changes and
sees a change at once.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable
from typing import Any

from capture_agent.platform import NoDisplayError, WindowInfo


class X11Desktop:
    def __init__(self) -> None:
        if not os.environ.get("DISPLAY"):
            raise NoDisplayError("DISPLAY is not set: the agent needs a graphical session")
        try:
            from Xlib import X, display
            from Xlib.error import DisplayError
        except ImportError as e:  # pragma: no cover - a broken install
            raise NoDisplayError(f"python-xlib is missing: {e}") from e
        try:
            self._d: Any = display.Display()
        except (DisplayError, OSError, Exception) as e:
            raise NoDisplayError(f"cannot open display {os.environ['DISPLAY']}: {e}") from e
        self._X = X
        self._root = self._d.screen().root
        self._atoms = {
            n: self._d.intern_atom(n)
            for n in ("_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "_NET_WM_PID", "UTF8_STRING")
        }
        from Xlib import Xatom

        self._title_atoms = {self._atoms["_NET_WM_NAME"], Xatom.WM_NAME, Xatom.WM_CLASS}
        self._root.change_attributes(event_mask=X.PropertyChangeMask)
        self._watched: int | None = None  # the window whose title changes we hear of

    def _prop(self, win: Any, atom: str) -> Any:
        p = win.get_full_property(self._atoms[atom], self._X.AnyPropertyType)
        return p.value if p is not None else None

    def active_window(self) -> WindowInfo:
        from Xlib.error import BadWindow, XError

        try:
            value = self._prop(self._root, "_NET_ACTIVE_WINDOW")
            if not value or not value[0]:
                return WindowInfo(None, None, None)
            win = self._d.create_resource_object("window", value[0])
            self._watch(win)
            title = self._prop(win, "_NET_WM_NAME")
            if isinstance(title, bytes):
                title = title.decode("utf-8", "replace")
            if not title:
                title = win.get_wm_name()  # xterm and older clients set only WM_NAME
                if isinstance(title, bytes):
                    title = title.decode("latin-1")
            cls = win.get_wm_class()
            app = cls[0].lower() if cls else None
            pid_v = self._prop(win, "_NET_WM_PID")
            pid = int(pid_v[0]) if pid_v is not None and len(pid_v) else None
            return WindowInfo(app, title or None, pid)
        except (BadWindow, XError):
            return WindowInfo(None, None, None)  # the window closed while we looked

    def _watch(self, win: Any) -> None:
        if win.id == self._watched:
            return
        from Xlib.error import CatchError

        # the window may be gone by the time the server reads this: ignore that error
        win.change_attributes(event_mask=self._X.PropertyChangeMask, onerror=CatchError())
        self._watched = win.id

    def wait_for_change(self, timeout: float) -> bool:
        d = self._d
        if not d.pending_events():
            select.select([d], [], [], max(0.0, timeout))
        changed = False
        for _ in range(d.pending_events()):
            ev = d.next_event()
            if ev.type != self._X.PropertyNotify:
                continue
            if ev.window.id == self._root.id:
                changed |= ev.atom == self._atoms["_NET_ACTIVE_WINDOW"]
            elif ev.window.id == self._watched:
                changed |= ev.atom in self._title_atoms
        return changed

    def pointer_reader(self) -> Callable[[], tuple[int, int]]:
        """XQueryPointer on a connection of its own (connections are not thread-safe),
        for the pointer poller's thread: through libX11 itself when it loads (about
        30 µs a call), else python-xlib (about 150 µs: it encodes the request in
        Python)."""
        try:
            reader, self._close_pointer = _libx11_pointer()
            return reader
        except OSError:
            pass
        from Xlib import display

        d = display.Display()
        root = d.screen().root
        self._close_pointer = d.close

        def position() -> tuple[int, int]:
            p = root.query_pointer()
            return p.root_x, p.root_y

        return position

    def close(self) -> None:
        if (close_pointer := getattr(self, "_close_pointer", None)) is not None:
            close_pointer()
        self._d.close()


def _libx11_pointer() -> tuple[Callable[[], tuple[int, int]], Callable[[], None]]:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("X11")
    if name is None:
        raise OSError("libX11 not found")
    x = ctypes.CDLL(name)
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    ulong, cint, cuint = ctypes.c_ulong, ctypes.c_int, ctypes.c_uint
    x.XQueryPointer.argtypes = (
        [ctypes.c_void_p, ulong]
        + [ctypes.POINTER(ulong)] * 2
        + [ctypes.POINTER(cint)] * 4
        + [ctypes.POINTER(cuint)]
    )
    display = x.XOpenDisplay(None)
    if not display:
        raise OSError("XOpenDisplay failed")
    root = x.XDefaultRootWindow(display)
    root_ret, child = ulong(), ulong()
    rx, ry, wx, wy, mask = cint(), cint(), cint(), cint(), cuint()
    refs = [ctypes.byref(v) for v in (root_ret, child, rx, ry, wx, wy, mask)]

    def position() -> tuple[int, int]:
        x.XQueryPointer(display, root, *refs)
        return rx.value, ry.value

    return position, lambda: x.XCloseDisplay(display)
