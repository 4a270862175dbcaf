"""X11: the active window from EWMH (`_NET_ACTIVE_WINDOW`), as openbox, GNOME, KDE and
most window managers publish it, and the visible windows in stacking order
(`_NET_CLIENT_LIST_STACKING`) with their frames' geometry, for masking frames.

Changes arrive as X events rather than by polling: the root window reports a new active
window or stacking order (PropertyNotify) and its children being mapped, moved, raised
or closed (SubstructureNotify), and client windows report new titles. The agent's loop
blocks on the connection between them, which costs nothing while nothing changes and
sees a change at once. The window list is read again only after such an event.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from typing import Any

from capture_agent.platform import NoDisplayError, WindowInfo, WindowRect


def app_name(wm_class: tuple[str, str] | None) -> str | None:
    """The app a window belongs to: its WM_CLASS class, normalised (lowercase, spaces as
    dashes). The class names the program ("Google-chrome", "firefox", "XTerm"); the
    instance is often a role or a launcher's choice (Firefox's "Navigator", any name an
    xterm is started with), which is what ActivityWatch avoids too."""
    if not wm_class:
        return None
    name = (wm_class[1] if len(wm_class) > 1 and wm_class[1] else wm_class[0]).strip()
    return "-".join(name.lower().split()) or None


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
        self._stacking_atoms = {
            self._d.intern_atom("_NET_CLIENT_LIST_STACKING"),
            self._d.intern_atom("_NET_CLIENT_LIST"),
        }
        self._root.change_attributes(event_mask=X.PropertyChangeMask | X.SubstructureNotifyMask)
        self._watched: int | None = None  # the window whose title changes we hear of
        self._clients: set[int] = set()  # windows whose title changes we hear of
        self._windows_dirty = True
        self._reading = False
        self._version = 0  # counts changes to the window list
        self._snapshot: tuple[int, list[WindowRect] | None] = (0, None)

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
            return self._describe(win)
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
        """Sleep until the focused window or its title changes, the window list needs
        reading, or `timeout` passes. Other events are read and slept through: a client
        stamps its window's user time on every key, which is no reason to wake the
        agent's main loop."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if not self._d.pending_events():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                select.select([self._d], [], [], left)
            changed = self._read_events()
            if changed or self._windows_dirty or time.monotonic() >= deadline:
                return changed

    def _read_events(self) -> bool:
        d = self._d
        changed = False
        self._reading = True  # until the window list is read again, frames wait
        X = self._X
        for _ in range(d.pending_events()):
            ev = d.next_event()
            if ev.type in (
                X.ConfigureNotify,
                X.MapNotify,
                X.UnmapNotify,
                X.DestroyNotify,
                X.ReparentNotify,
                X.CreateNotify,
            ):
                self._list_changed()
                continue
            if ev.type != X.PropertyNotify:
                continue
            if ev.window.id == self._root.id:
                changed |= ev.atom == self._atoms["_NET_ACTIVE_WINDOW"]
                if ev.atom in self._stacking_atoms:
                    self._list_changed()
            else:
                if ev.window.id == self._watched:
                    changed |= ev.atom in self._title_atoms
                # a title, not the user-time stamp a client sets on every keypress
                if ev.window.id in self._clients and ev.atom in self._title_atoms:
                    self._list_changed()
        if not self._windows_dirty:
            self._reading = False
        return changed

    def _list_changed(self) -> None:
        self._windows_dirty = True
        self._version += 1

    def windows_changed(self) -> bool:
        return self._windows_dirty

    def window_guard(self) -> X11Desktop:
        return self

    def settled(self, timeout: float = 0.05) -> tuple[int, list[WindowRect] | None] | None:
        """Called from the input thread: waits for this (main) thread to read what the
        server sent and, after a change, the window list again."""
        deadline = time.monotonic() + timeout
        while True:
            if not (self._reading or self._windows_dirty):
                try:  # bytes from the server not read yet: an event may be among them
                    pending = bool(select.select([self._d], [], [], 0)[0])
                except (OSError, ValueError):
                    return None
                if not pending:
                    return self._snapshot
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.001)

    def visible_windows(self) -> list[WindowRect] | None:
        """Mapped client windows, bottom to top, each as its frame (the root's child that
        holds it). None when anything about the list cannot be read."""
        from Xlib.error import BadWindow, XError

        self._reading = True
        try:
            stacking = self._root.get_full_property(
                self._d.intern_atom("_NET_CLIENT_LIST_STACKING"), self._X.AnyPropertyType
            )
            if stacking is None:
                self._snapshot = (self._version, None)
                self._windows_dirty = False
                return None
            out = []
            for wid in stacking.value:
                win = self._d.create_resource_object("window", wid)
                try:
                    if win.get_attributes().map_state != self._X.IsViewable:
                        continue
                    frame = self._frame_of(win)
                    geo = frame.get_geometry()  # the frame is a child of the root
                    if wid not in self._clients:
                        from Xlib.error import CatchError

                        win.change_attributes(
                            event_mask=self._X.PropertyChangeMask, onerror=CatchError()
                        )
                        self._clients.add(wid)
                    info = self._describe(win)
                except BadWindow:
                    continue  # closed while we looked: it shows nothing any more
                border = geo.border_width
                out.append(
                    WindowRect(
                        info.app,
                        info.title,
                        geo.x,
                        geo.y,
                        geo.width + 2 * border,
                        geo.height + 2 * border,
                        info.pid,
                    )
                )
            self._snapshot = (self._version, out)
            self._windows_dirty = False
            return out
        except XError:
            self._snapshot = (self._version, None)
            return None
        finally:
            self._reading = False

    def _frame_of(self, win: Any) -> Any:
        while True:
            tree = win.query_tree()
            if tree.parent.id == self._root.id or tree.parent.id == 0:
                return win
            win = tree.parent

    def _describe(self, win: Any) -> WindowInfo:
        title = self._prop(win, "_NET_WM_NAME")
        if isinstance(title, bytes):
            title = title.decode("utf-8", "replace")
        if not title:
            title = win.get_wm_name()  # xterm and older clients set only WM_NAME
            if isinstance(title, bytes):
                title = title.decode("latin-1")
        app = app_name(win.get_wm_class())
        pid_v = self._prop(win, "_NET_WM_PID")
        pid = int(pid_v[0]) if pid_v is not None and len(pid_v) else None
        return WindowInfo(app, title or None, pid)

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
