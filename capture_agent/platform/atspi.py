"""The element acted on: what the accessibility tree (AT-SPI, Linux) says is under a
screen point, and which element has the keyboard focus.

Talks D-Bus directly with jeepney (pure Python, installed in the agent's own venv)
rather than through pyatspi, which needs PyGObject and the system's GObject
introspection data. The session bus gives the accessibility bus's address
(`org.a11y.Bus.GetAddress`); on that bus the registry lists one accessible per
application, and each application answers `Component.GetAccessibleAtPoint`,
`Accessible.GetRoleName`, `Component.GetExtents` and `Collection.GetMatches` itself.

Fails soft: every call has a timeout, the walk a maximum depth, and any failure (no
session bus, no accessibility bus, an application that exposes nothing, a call that
times out) gives None. Nothing is guessed: an element is only returned when an
application exposed it.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any

NAME_LIMIT = 200
_NULL_PATH = "/org/a11y/atspi/null"
_ROOT = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
_ACCESSIBLE = "org.a11y.atspi.Accessible"
_COMPONENT = "org.a11y.atspi.Component"
_COLLECTION = "org.a11y.atspi.Collection"
_PROPERTIES = "org.freedesktop.DBus.Properties"
_TEXT_LEAVES = frozenset({"static", "label"})
_SCREEN = 0  # ATSPI_COORD_TYPE_SCREEN
# AtspiStateType bits (atspi-constants.h)
_ACTIVE, _FOCUSED, _SHOWING = 1, 12, 25
# AtspiCollectionMatchType ALL and AtspiCollectionSortOrder CANONICAL
_MATCH_ALL, _SORT_CANONICAL = 1, 1

Ref = tuple[str, str]  # (bus name, object path) of one accessible


@dataclass(frozen=True)
class Element:
    """One accessible: its role as AT-SPI names it ("push button", "text", "menu"),
    its accessible name ("" when it has none, at most NAME_LIMIT characters) and its
    bounds (x, y, width, height) in screen pixels as the application reports them."""

    role: str
    name: str
    bounds: tuple[int, int, int, int]


class AccessibilityProbe:
    """Lazily connects to the accessibility bus and keeps the connection; a failed
    connection is retried at most every `retry_after` seconds. Each D-Bus call waits at
    most `timeout` seconds and each lookup at most `budget` seconds in all. Not
    thread-safe: one probe per thread."""

    def __init__(
        self,
        timeout: float = 0.1,
        budget: float = 0.3,
        max_depth: int = 40,
        max_children: int = 32,
        retry_after: float = 5.0,
        session_bus: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.budget = budget
        self._deadline = float("inf")
        self.max_depth = max_depth
        self.max_children = max_children
        self.retry_after = retry_after
        self._session_bus = session_bus
        self._conn: Any = None
        self._failed_at: float | None = None
        self._pids: dict[str, int] = {}

    # -- public ------------------------------------------------------------------

    def element_at(self, x: int, y: int, pid: int | None = None) -> Element | None:
        """The deepest accessible under screen point (x, y), or None. With `pid` (the
        process owning the window under the point, as the recorder knows it) only that
        process's application is asked. Without it, the showing windows whose extents
        contain the point: when more than one does (overlapping windows, stacking
        unknown to AT-SPI) only the active one is taken, and None if none is active."""
        self._start()
        try:
            hits = [
                (window, active)
                for window, active in self._windows(pid)
                if (ext := self._extents(window)) is not None and _contains(ext, x, y)
            ]
            if pid is None and len(hits) > 1:
                hits = [h for h in hits if h[1]][:1]
            for window, _ in hits:
                hit = self._descend(window, x, y)
                if hit is not None:
                    return self._acted_on(hit)
            return None
        except Exception:
            return None

    def focused_element(self, pid: int | None = None) -> Element | None:
        """The accessible that has the keyboard focus in the active window (of `pid`'s
        application if given), or None."""
        self._start()
        try:
            for window, active in self._windows(pid):
                if pid is None and not active:
                    continue
                ref = self._focused_in(window)
                if ref is not None:
                    return self._element(ref)
            return None
        except Exception:
            return None

    def request_accessibility(self) -> bool:
        """Set `org.a11y.Status.IsEnabled` on the session's accessibility bus launcher,
        as a screen reader does: applications that build their tree only when asked
        (Chromium: without it, even with --force-renderer-accessibility, it exposes
        nothing unless started with ACCESSIBILITY_ENABLED=1) then expose it. It is
        session-wide and costs those applications memory and CPU, so it is the
        caller's decision; whether it worked is returned, never raised."""
        try:
            from jeepney import DBusAddress, MessageType, new_method_call
            from jeepney.io.blocking import open_dbus_connection

            session = self._session_bus or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
            if not session:
                return False
            status = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface=_PROPERTIES)
            msg = new_method_call(
                status, "Set", "ssv", ("org.a11y.Status", "IsEnabled", ("b", True))
            )
            with open_dbus_connection(bus=session) as sess:
                reply = sess.send_and_get_reply(msg, timeout=1.0)
            return bool(reply.header.message_type == MessageType.method_return)
        except Exception:
            return False

    def _start(self) -> None:
        # the budget is the lookup's: opening the connection (first use) has its own
        # timeouts, and does not count
        self._connection()
        self._deadline = time.monotonic() + self.budget

    def close(self) -> None:
        self._pids.clear()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    # -- the walk ------------------------------------------------------------------

    def _windows(self, pid: int | None) -> list[tuple[Ref, bool]]:
        """Showing top-level windows of the applications to ask, and whether each is
        the active one; active ones first."""
        apps = self._call(_ROOT, _ACCESSIBLE, "GetChildren")
        if not apps:
            return []
        active: list[tuple[Ref, bool]] = []
        rest: list[tuple[Ref, bool]] = []
        for app in apps[0]:
            if pid is not None and self._pid_of(tuple(app)) != pid:
                continue
            kids = self._call(tuple(app), _ACCESSIBLE, "GetChildren")
            for item in kids[0] if kids else []:
                win: Ref = tuple(item)
                states = self._states(win)
                if states is None or _SHOWING not in states:
                    continue
                if _ACTIVE in states:
                    active.append((win, True))
                else:
                    rest.append((win, False))
        return active + rest

    def _descend(self, start: Ref, x: int, y: int) -> Ref | None:
        hit: Ref | None = None
        here = start
        for _ in range(self.max_depth):
            got = self._call(here, _COMPONENT, "GetAccessibleAtPoint", "iiu", x, y, _SCREEN)
            nxt = tuple(got[0]) if got else None
            if nxt is None or nxt[1] == _NULL_PATH or nxt == here:
                # some containers answer nothing for points inside their children (GTK's
                # notebook: its page tabs' extents are the tab labels only): look at the
                # showing children whose extents contain the point, as screen readers do
                nxt = self._child_at(here, x, y)
            if nxt is None:
                break
            hit = here = nxt
        return hit

    def _child_at(self, ref: Ref, x: int, y: int, through: bool = True) -> Ref | None:
        kids = self._call(ref, _ACCESSIBLE, "GetChildren")
        for item in kids[0][: self.max_children] if kids else []:
            kid: Ref = tuple(item)
            if kid == ref or kid[1] == _NULL_PATH:
                continue
            states = self._states(kid)
            ext = self._extents(kid)
            if not states or _SHOWING not in states or ext is None:
                continue
            if _contains(ext, x, y):
                return kid
            if through and (ext[2] <= 0 or ext[3] <= 0):
                # a showing child with no extents of its own (GTK's page tab reports
                # -1s): its showing child under the point is the one
                inner = self._child_at(kid, x, y, through=False)
                if inner is not None:
                    return inner
        return None

    def _focused_in(self, window: Ref) -> Ref | None:
        # Collection.GetMatches walks the tree inside the application, one D-Bus round
        # trip, instead of one call per node from here
        rule: tuple[Any, ...] = (
            [1 << _FOCUSED, 0],
            _MATCH_ALL,
            {},
            _MATCH_ALL,
            [],
            _MATCH_ALL,
            [],
            _MATCH_ALL,
            False,
        )
        got = self._call(
            window,
            _COLLECTION,
            "GetMatches",
            "(aiia{ss}iaiiasib)uib",
            rule,
            _SORT_CANONICAL,
            1,
            True,
        )
        if got and got[0]:
            return tuple(got[0][0])
        return None

    def _acted_on(self, hit: Ref) -> Element | None:
        """The element at the point; a text leaf that only repeats its parent's name
        (Chromium's "static" inside a button or link) stands for its parent."""
        leaf = self._element(hit)
        if leaf is None or leaf.role not in _TEXT_LEAVES or not leaf.name:
            return leaf
        got = self._call(hit, _PROPERTIES, "Get", "ss", _ACCESSIBLE, "Parent")
        parent = tuple(got[0][1]) if got and isinstance(got[0][1], tuple | list) else None
        if parent is None or parent[1] == _NULL_PATH:
            return leaf
        up = self._element(parent)
        return up if up is not None and up.name == leaf.name else leaf

    def _element(self, ref: Ref) -> Element | None:
        role = self._call(ref, _ACCESSIBLE, "GetRoleName")
        ext = self._extents(ref)
        if not role or ext is None:
            return None
        name = self._call(ref, _PROPERTIES, "Get", "ss", _ACCESSIBLE, "Name")
        text = name[0][1] if name and isinstance(name[0][1], str) else ""
        return Element(role=str(role[0]), name=text[:NAME_LIMIT], bounds=ext)

    def _extents(self, ref: Ref) -> tuple[int, int, int, int] | None:
        got = self._call(ref, _COMPONENT, "GetExtents", "u", _SCREEN)
        if not got:
            return None
        x, y, w, h = (int(v) for v in got[0])
        return (x, y, w, h)

    def _states(self, ref: Ref) -> set[int] | None:
        got = self._call(ref, _ACCESSIBLE, "GetState")
        if not got:
            return None
        words = got[0]
        return {i * 32 + b for i, word in enumerate(words) for b in range(32) if word >> b & 1}

    def _pid_of(self, app: Ref) -> int | None:
        # a bus name is one connection, of one process: its pid never changes
        if app[0] in self._pids:
            return self._pids[app[0]]
        got = self._call(
            ("org.freedesktop.DBus", "/org/freedesktop/DBus"),
            "org.freedesktop.DBus",
            "GetConnectionUnixProcessID",
            "s",
            app[0],
        )
        if not got:
            return None
        if len(self._pids) > 256:
            self._pids.clear()
        self._pids[app[0]] = int(got[0])
        return self._pids[app[0]]

    # -- D-Bus ---------------------------------------------------------------------

    def _call(
        self,
        ref: Ref | tuple[Any, ...],
        iface: str,
        method: str,
        sig: str | None = None,
        *args: Any,
    ) -> tuple[Any, ...] | None:
        """The reply's body, or None when the call failed or took too long."""
        from jeepney import DBusAddress, MessageType, new_method_call

        left = self._deadline - time.monotonic()
        if left <= 0:
            return None
        conn = self._connection()
        if conn is None:
            return None
        addr = DBusAddress(ref[1], bus_name=ref[0], interface=iface)
        msg = new_method_call(addr, method, sig, args) if sig else new_method_call(addr, method)
        try:
            reply = conn.send_and_get_reply(msg, timeout=min(self.timeout, left))
        except TimeoutError:
            return None
        except Exception:  # the bus went away: reconnect next time
            self.close()
            return None
        if reply.header.message_type != MessageType.method_return:
            return None
        return tuple(reply.body)

    def _connection(self) -> Any:
        if self._conn is not None:
            return self._conn
        if self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_after:
            return None
        try:
            self._conn = self._open()
            self._failed_at = None
        except Exception:
            self._conn = None
            self._failed_at = time.monotonic()
        return self._conn

    def _open(self) -> Any:
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        # AT_SPI_BUS_ADDRESS (set by some sessions) names the accessibility bus directly
        direct = os.environ.get("AT_SPI_BUS_ADDRESS")
        if direct and self._session_bus is None:
            return open_dbus_connection(bus=direct)
        session = self._session_bus or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not session:
            raise RuntimeError("no session bus")
        with open_dbus_connection(bus=session) as sess:
            bus = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
            reply = sess.send_and_get_reply(new_method_call(bus, "GetAddress"), timeout=1.0)
        if reply.header.message_type != MessageType.method_return:
            raise RuntimeError("no accessibility bus")
        return open_dbus_connection(bus=reply.body[0])


def _contains(ext: tuple[int, int, int, int], x: int, y: int) -> bool:
    ex, ey, w, h = ext
    return ex <= x < ex + w and ey <= y < ey + h
