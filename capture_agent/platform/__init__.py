"""What the agent needs from the desktop, behind one small interface.

Only X11 is implemented (EWMH through python-xlib); macOS (NSWorkspace + Quartz) and
Windows (GetForegroundWindow) adapters implement the same `Desktop` protocol.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class NoDisplayError(RuntimeError):
    """There is no display to capture (no $DISPLAY, or it cannot be opened)."""


@dataclass(frozen=True)
class WindowInfo:
    app: str | None  # process/WM class name, lower-case ("xterm", "firefox")
    title: str | None
    pid: int | None


@dataclass(frozen=True)
class WindowRect:
    """A visible top-level window (its frame, decorations included) in virtual-desktop
    pixels."""

    app: str | None
    title: str | None
    x: int
    y: int
    width: int
    height: int
    pid: int | None = None  # the process that owns it (_NET_WM_PID), when it says


class WindowGuard(Protocol):
    def settled(self, timeout: float = 0.05) -> tuple[int, list[WindowRect] | None] | None:
        """Safe from any thread. Once no change to the windows is on its way (waiting up
        to `timeout`), the list's version and the list (None: it could not be read);
        None when it did not settle. Equal versions: the same windows."""
        ...


class Desktop(Protocol):
    def active_window(self) -> WindowInfo: ...

    def visible_windows(self) -> list[WindowRect] | None:
        """The mapped top-level windows, bottom to top, or None when the list cannot be
        read (then no frame may be taken: the agent cannot tell what it would show)."""
        ...

    def windows_changed(self) -> bool:
        """Whether the window list may have changed since `visible_windows()` (read on
        the thread that owns the connection)."""
        ...

    def window_guard(self) -> WindowGuard | None:
        """What the recorder asks before and after each grab, or None when this desktop
        cannot list windows (frames are then taken with the focus rules only)."""
        ...

    def wait_for_change(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True when the focused window or its title may
        have changed since the last `active_window()`. An adapter that cannot tell
        sleeps and returns True (polling)."""
        ...

    def pointer_reader(self) -> Callable[[], tuple[int, int]] | None:
        """A function giving the pointer's position, safe to call from another thread,
        or None when input listeners report motion themselves."""
        ...

    def close(self) -> None: ...


def open_desktop() -> Desktop:
    if sys.platform.startswith("linux") or os.environ.get("DISPLAY"):
        from capture_agent.platform.x11 import X11Desktop

        return X11Desktop()
    raise NoDisplayError(f"no desktop adapter for {sys.platform} yet (only X11)")
