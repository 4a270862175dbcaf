"""What reading text on screen shares with the processes that ask for it, without
loading numpy or onnxruntime: the error that drops a frame, and the low priority the
reading runs at (the capture process imports this; only the text reader loads the OCR)."""

from __future__ import annotations

import contextlib
import os
import threading


class RedactionIncomplete(Exception):
    """The frame could not be fully read in time: it must not be stored."""


def lower_priority() -> None:
    """Run the calling thread (and the threads it starts later) at low priority."""
    # not on every OS: where it fails, the work still runs off the input path
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
