"""Format-1 names and rules that need no Arrow: what the laptop side imports.

The capture process imports only this (and `journal`), so it never loads pyarrow or
numpy; `schema` adds the Arrow schemas for the sealer and the pipeline.
"""

from __future__ import annotations

import re

FORMAT = "worktape.bundle"
FORMAT_MAJOR = 1
FORMAT_MINOR = 1
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
# the columns of events.parquet, in order (schema.EVENTS_SCHEMA gives their types)
EVENT_FIELDS = (
    "seq",
    "ts",
    "kind",
    "x",
    "y",
    "monitor",
    "button",
    "dx",
    "dy",
    "key",
    "modifiers",
    "app",
    "window_title",
    "screenshot_id",
    "redacted",
    "detail",
    "element_role",
    "element_name",
    "element_x",
    "element_y",
    "element_width",
    "element_height",
)
# columns added by a minor version: a bundle of an older minor may lack them (its rows
# read them as null); one of that minor or newer must have them
EVENT_FIELDS_SINCE = {
    "element_role": 1,
    "element_name": 1,
    "element_x": 1,
    "element_y": 1,
    "element_width": 1,
    "element_height": 1,
}
SCREENSHOT_TRIGGERS = ("action", "keyframe", "focus_change")
FRAME_FORMATS = {"webp": "image/webp", "png": "image/png", "jpeg": "image/jpeg"}

# ids end up in object keys and file names: keep them boring
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


# what follows "<bundle_id>-" in an id the bundle defines: no "-", so that the bundle_id
# is everything before the last "-" and two bundles' ids can never be equal
_SCOPED_SUFFIX_RE = re.compile(r"^[A-Za-z0-9_.]+$")


def is_scoped_id(bundle_id: str, value: str) -> bool:
    """Whether an id is `<bundle_id>-<suffix>` with no "-" in the suffix (a contract rule:
    every id a bundle defines is scoped to that bundle)."""
    prefix = bundle_id + "-"
    return value.startswith(prefix) and bool(_SCOPED_SUFFIX_RE.match(value[len(prefix) :]))


def frame_member(screenshot_id: str, frame_format: str) -> str:
    return f"{FRAMES_DIR}{screenshot_id}.{frame_format}"
