"""The Arrow schemas of the two tables inside a bundle, beside the format's names."""

from __future__ import annotations

import pyarrow as pa

from worktape.core.bundle.contract import (  # re-exported: one place for the names
    EVENT_FIELDS,
    EVENT_FIELDS_SINCE,
    EVENT_KINDS,
    EVENTS,
    FORMAT,
    FORMAT_MAJOR,
    FORMAT_MINOR,
    FORMAT_VERSION,
    FRAME_FORMATS,
    FRAMES_DIR,
    ID_RE,
    MANIFEST,
    SCREENSHOT_TRIGGERS,
    SCREENSHOTS,
    frame_member,
    is_scoped_id,
)

__all__ = [
    "EVENTS",
    "EVENTS_SCHEMA",
    "EVENT_FIELDS",
    "EVENT_FIELDS_SINCE",
    "EVENT_KINDS",
    "FORMAT",
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "FORMAT_VERSION",
    "FRAMES_DIR",
    "FRAME_FORMATS",
    "ID_RE",
    "MANIFEST",
    "SCREENSHOTS",
    "SCREENSHOTS_SCHEMA",
    "SCREENSHOT_TRIGGERS",
    "UTC_US",
    "frame_member",
    "is_scoped_id",
]

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
        # 1.1: the element acted on (a click's, a typed run's first key), as the
        # platform's accessibility tree named it; null where it named none
        pa.field("element_role", pa.string()),
        pa.field("element_name", pa.string()),
        pa.field("element_x", pa.int32()),
        pa.field("element_y", pa.int32()),
        pa.field("element_width", pa.int32()),
        pa.field("element_height", pa.int32()),
    ]
)

assert tuple(EVENTS_SCHEMA.names) == EVENT_FIELDS, "contract.EVENT_FIELDS is out of date"

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
    "element_role",
    "trigger",
)
