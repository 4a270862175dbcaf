"""Reading text on screen in a process of its own, at low priority.

The recogniser and its models (numpy, OpenCV, onnxruntime: over 120 MB before a frame
is read, hundreds while a whole screen is) live in a child process, so the capture
process, which holds the input listeners, stays small and never waits on them. The
frame worker hands each full-resolution frame to the child and gets back the boxes to
paint; it paints them itself, on the pixels it then shrinks and encodes.

    capture process                      text reader (python -m capture_agent.text_reader)
    FrameEncoder --(monitor, w, h,  -->  TextMasker.find() on the pixels
                    buffer path)
                 <--boxes, stats-----

The pixels go through a memory-mapped file both processes map (in /dev/shm where there
is one), not through the pipe: a frame is 8 MB, and a pipe takes it in 64 KB writes,
each copied twice and each a system call on both sides. One frame is in flight at a
time, so one buffer serves; it is replaced when a larger monitor's frame comes, and
with each new child.

It fails closed: a reply that is an error, a deadline missed, a child that does not
answer in time or has died: the frame raises, and the caller drops and counts it. A
child that died or hung is killed and a new one started for the next frame (it reads
that frame whole); one that cannot start is tried again only after a pause, every
frame until then dropped.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from capture_agent import masking as M
from worktape.core.privacy.reading import RedactionIncomplete, lower_priority

log = logging.getLogger(__name__)

START_SECONDS = 60.0  # loading the models on a slow laptop
ANSWER_MARGIN = 10.0  # past the reader's own deadline before the child counts as hung
RETRY_SECONDS = 30.0  # after a child that could not start


class TextReaderUnavailable(RuntimeError):
    """No text reader runs: the frame cannot be masked."""


def _buffer_dir() -> str:
    """Where the frame buffer's file lives: memory-backed where the OS offers it."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


class FrameBuffer:
    """A file mapped into memory by the capture process and the text reader."""

    def __init__(self, size: int) -> None:
        fd, self.path = tempfile.mkstemp(prefix="worktape-frame-", dir=_buffer_dir())
        try:
            os.ftruncate(fd, size)
            self.map = mmap.mmap(fd, size)
        except OSError:
            os.close(fd)
            self.unlink()
            raise
        os.close(fd)
        self.size = size
        self.linked = True

    def unlink(self) -> None:
        """Remove the file's name; the mappings stay (on Windows, only at close)."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self.linked = False

    def close(self) -> None:
        self.map.close()
        if self.linked:
            self.unlink()


class TextReader:
    """The capture side: masks frames through the child process. Same calls as
    `TextMasker.mask` (paints in place, returns the boxes per rule) and `stats`."""

    def __init__(
        self,
        patterns: Sequence[str] = (),
        *,
        deadline_seconds: float = 30.0,
        answer_margin: float = ANSWER_MARGIN,
    ) -> None:
        self.patterns, self.deadline, self.margin = list(patterns), deadline_seconds, answer_margin
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self._ready = False
        self._buffer: FrameBuffer | None = None
        self._closed = False
        self._retry_at = 0.0
        self._lock = threading.Lock()
        # the reader's counts, over every child it started (the status file shows them)
        self._past: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the child now, so the models are loaded before the first frame (one
        that cannot start is logged; frames are then dropped until one can)."""
        with self._lock:
            if self._proc is None:
                try:
                    self._spawn()
                except TextReaderUnavailable as e:
                    log.warning("%s: frames are dropped until it can", e)

    def mask(self, monitor: int, pixels: bytearray, width: int, height: int) -> Counter[str]:
        with self._lock:
            if self._closed:  # replaced (the config changed) while a frame waited
                raise TextReaderUnavailable("the text reader was closed")
            if self._proc is None:
                if time.monotonic() < self._retry_at:
                    raise TextReaderUnavailable("the text reader could not start")
                self._spawn()
            assert self._send is not None
            try:
                if not self._ready:
                    self._answer(START_SECONDS)  # ("ready", stats)
                    self._ready = True
                # a child that stopped reading must not block this thread: the request
                # is written against the same clock as the answer
                by = time.monotonic() + self.deadline + self.margin
                buf = self._fill(pixels)
                self._write(pickle.dumps((monitor, width, height, buf.path)), by)
                kind, body, stats = self._answer(by - time.monotonic())
                if buf.linked and os.name == "posix":
                    buf.unlink()  # the child has it mapped: nothing is left behind a crash
            except (OSError, EOFError, TimeoutError) as e:
                retry = not self._ready
                self._stop(kill=True)
                if retry:
                    self._retry_at = time.monotonic() + RETRY_SECONDS
                if isinstance(e, TimeoutError):
                    raise RedactionIncomplete("the text reader did not answer in time") from e
                raise TextReaderUnavailable(f"the text reader stopped: {e!r}") from e
            self.stats = self._past + Counter(stats)
        if kind == "deadline":
            raise RedactionIncomplete(body)
        if kind != "ok":
            raise RuntimeError(f"the text reader failed: {body}")
        M.paint(pixels, width, height, (0, 0), [rect for rect, _ in body])
        return Counter(rule for _, rule in body)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop(kill=False)

    def _spawn(self) -> None:
        try:
            self._start_child()
        except OSError as e:
            self._stop(kill=True)
            self._retry_at = time.monotonic() + RETRY_SECONDS
            raise TextReaderUnavailable(f"the text reader could not start: {e}") from e

    def _start_child(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "capture_agent.text_reader"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._send = Connection(os.dup(self._proc.stdin.fileno()), readable=False)
        os.set_blocking(self._send.fileno(), False)
        self._recv = Connection(os.dup(self._proc.stdout.fileno()), writable=False)
        self._proc.stdin.close()
        self._proc.stdout.close()
        self._ready = False
        self._write(pickle.dumps((self.patterns, self.deadline)), time.monotonic() + 5)

    def _fill(self, pixels: bytes | bytearray) -> FrameBuffer:
        """The frame, copied into the buffer the child maps (a larger one when needed)."""
        if self._buffer is None or self._buffer.size < len(pixels):
            if self._buffer is not None:
                self._buffer.close()
            self._buffer = None
            self._buffer = FrameBuffer(len(pixels))
        self._buffer.map[: len(pixels)] = pixels
        return self._buffer

    def _write(self, data: bytes | bytearray, by: float) -> None:
        """One message as `Connection.send_bytes` frames it, written to the child by a
        time (the pipe is non-blocking: a child that stopped reading cannot block)."""
        assert self._send is not None
        fd = self._send.fileno()
        for part in (memoryview(struct.pack("!i", len(data))), memoryview(data)):
            while part:
                left = by - time.monotonic()
                if left <= 0 or not select.select([], [fd], [], left)[1]:
                    raise TimeoutError("the text reader is not reading")
                try:
                    part = part[os.write(fd, part) :]
                except BlockingIOError:
                    continue

    def _answer(self, timeout: float) -> Any:
        assert self._recv is not None
        if not self._recv.poll(max(0.0, timeout)):
            raise TimeoutError(f"no answer in {timeout:.0f} s")
        return self._recv.recv()

    def _stop(self, *, kill: bool) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._past = self.stats.copy()
        for conn in (self._send, self._recv):
            if conn is not None:
                conn.close()  # the child reads the end of its input and leaves
        self._send = self._recv = None
        if self._buffer is not None:  # unlinked: a new child maps a new one
            self._buffer.close()
            self._buffer = None
        if kill:
            proc.kill()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    """The child: read frames from stdin, answer on stdout, until stdin ends."""
    # replies go on a copy of stdout; anything a library prints goes to stderr
    out = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    inp = Connection(0, writable=False)
    lower_priority()  # before onnxruntime starts: what it starts inherits it
    from worktape.core.privacy.screen_text import TextMasker

    try:
        patterns, deadline = inp.recv()
    except EOFError:
        return
    masker = TextMasker(patterns, deadline_seconds=deadline)
    masker.engine  # noqa: B018 - load the models before the first frame
    out.send(("ready", None, dict(masker.stats)))
    mapped: tuple[str, mmap.mmap] | None = None
    while True:
        try:
            monitor, width, height, path = inp.recv()
        except EOFError:
            return
        try:
            if mapped is None or mapped[0] != path:
                with open(path, "r+b") as f:
                    mapped = (path, mmap.mmap(f.fileno(), 0))
            pixels = memoryview(mapped[1])[: width * height * 4]
            hits = masker.find(monitor, pixels, width, height)
            reply: tuple[str, Any, dict[str, int]] = (
                "ok",
                [(h.rect, h.rule) for h in hits],
                dict(masker.stats),
            )
        except RedactionIncomplete as e:
            reply = ("deadline", str(e), dict(masker.stats))
        except Exception as e:  # the frame is dropped by the caller; the next is read whole
            logging.getLogger(__name__).exception("could not read a frame's text")
            masker.forget()
            reply = ("error", f"{type(e).__name__}: {e}", dict(masker.stats))
        out.send(reply)


if __name__ == "__main__":
    main()
