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


class Desktop(Protocol):
    def active_window(self) -> WindowInfo: ...

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
