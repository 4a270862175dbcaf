"""Format-1 constants and the Arrow schemas of the two tables inside a bundle."""

from __future__ import annotations

import re

import pyarrow as pa

FORMAT = "worktape.bundle"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0
FORMAT_VERSION = f"{FORMAT_MAJOR}.{FORMAT_MINOR}"

MANIFEST = "manifest.json"
EVENTS = "events.parquet"
SCREENSHOTS = "screenshots.parquet"
FRAMES_DIR = "screenshots/"

EVENT_KINDS = (
    "mouse_move",
    "mouse_down",
    "mouse_up",
    "scroll",
    "key_down",
    "key_up",
    "focus_change",
    "idle_start",
    "idle_end",
    "pause",
    "resume",
    "screenshot",
)
SCREENSHOT_TRIGGERS = ("action", "keyframe", "focus_change")
FRAME_FORMATS = {"webp": "image/webp", "png": "image/png", "jpeg": "image/jpeg"}

# ids end up in object keys and file names: keep them boring
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")

UTC_US = pa.timestamp("us", tz="UTC")

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("ts", UTC_US, nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("x", pa.int32()),
        pa.field("y", pa.int32()),
        pa.field("monitor", pa.int16()),
        pa.field("button", pa.string()),
        pa.field("dx", pa.int32()),
        pa.field("dy", pa.int32()),
        pa.field("key", pa.string()),
        pa.field("modifiers", pa.string()),
        pa.field("app", pa.string()),
        pa.field("window_title", pa.string()),
        pa.field("screenshot_id", pa.string()),
        pa.field("redacted", pa.bool_(), nullable=False),
        pa.field("detail", pa.string()),
    ]
)

SCREENSHOTS_SCHEMA = pa.schema(
    [
        pa.field("screenshot_id", pa.string(), nullable=False),
        pa.field("ts", UTC_US, nullable=False),
        pa.field("monitor", pa.int16(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("trigger", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("phash", pa.string()),
    ]
)


# string columns with few distinct values: a reader may return them dictionary-encoded
DICTIONARY_COLUMNS = (
    "kind",
    "button",
    "key",
    "modifiers",
    "app",
    "window_title",
    "detail",
    "trigger",
)


def frame_member(screenshot_id: str, frame_format: str) -> str:
    return f"{FRAMES_DIR}{screenshot_id}.{frame_format}"
