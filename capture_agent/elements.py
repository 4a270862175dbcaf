"""The element acted on, looked up off the input thread.

A click asks for the accessible under the pointer, the first key of a typed run for
the one with the keyboard focus (`capture_agent.platform.atspi`). A lookup takes a few
milliseconds, and up to the probe's budget (300 ms) when an application is slow to
answer; the input listener must not wait for it, so lookups run here, one at a time,
in order. The recorder holds back the events from the one that asked until the answer
comes (see `Recorder._out`), so a bundle's events stay in time order and the element
is written with its event.

Fails soft: no answer, an application that exposes nothing, or too many lookups
waiting give no element, never a guess.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from capture_agent.platform.atspi import Element

log = logging.getLogger(__name__)

# lookups waiting beyond this are not made: a burst of clicks (or an application that
# times out on every call) must not hold the events back for seconds
MAX_WAITING = 4


class Probe(Protocol):
    def element_at(self, x: int, y: int, pid: int | None = None) -> Element | None: ...

    def focused_element(self, pid: int | None = None) -> Element | None: ...

    def close(self) -> None: ...


Done = Callable[[int, Element | None], None]
# which window is at a point: whether its element may be asked for, and its pid
Where = Callable[[int, int], tuple[bool, int | None]]
# a lookup: (token, (x, y) or None for the focused element, pid)
Job = tuple[int, tuple[int, int] | None, int | None]


class ElementLookups(threading.Thread):
    """Runs lookups in order on its own thread and hands each answer to `done(token,
    element)`. `submit` never blocks: False when too many lookups wait. With `where`,
    a point's window is found here too (it may wait for the window list to settle,
    which the input thread must not): a point it does not allow gets no element."""

    def __init__(
        self, make_probe: Callable[[], Probe], done: Done, where: Where | None = None
    ) -> None:
        super().__init__(name="element-lookups", daemon=True)
        self._make_probe = make_probe
        self._done = done
        self._where = where
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=MAX_WAITING)

    def submit(self, token: int, point: tuple[int, int] | None, pid: int | None) -> bool:
        try:
            self._jobs.put_nowait((token, point, pid))
        except queue.Full:
            return False
        return True

    def run(self) -> None:
        probe = self._make_probe()  # the probe is not thread-safe: it lives here
        try:
            while (job := self._jobs.get()) is not None:
                token, point, pid = job
                element: Element | None = None
                try:
                    if point is None:
                        element = probe.focused_element(pid)
                    else:
                        allowed = True
                        if self._where is not None:
                            allowed, pid = self._where(*point)
                        if allowed:
                            element = probe.element_at(point[0], point[1], pid)
                except Exception:  # the probe fails soft; this is its last guard
                    log.exception("element lookup failed")
                try:
                    self._done(token, element)
                except Exception:
                    log.exception("could not record an element")
        finally:
            probe.close()

    def stop(self) -> None:
        """Ends the thread after the lookups already submitted."""
        self._jobs.put(None)
