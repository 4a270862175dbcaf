"""What reading a bundle gives (`Bundle`) and the bounds it is read within (`Limits`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

FramesMode = Literal["verify", "skip", "extract"]


@dataclass(frozen=True)
class Limits:
    """Bounds a hostile bundle cannot push the reader past."""

    max_bytes: int = 4 << 30
    max_members: int = 200_000
    max_manifest_bytes: int = 4 << 20
    max_table_bytes: int = 1 << 30


@dataclass
class Bundle:
    manifest: dict[str, Any]
    events: pa.Table
    screenshots: pa.Table
    format_minor: int
    #: sha256 and size of the whole object; None when frames were skipped (not all read)
    sha256: str | None
    bytes: int | None
    frames_verified: bool
    frames_dir: Path | None = None
    ignored_members: list[str] = field(default_factory=list)
    #: the manifest as its JSON text in the bundle (the warehouse keeps it as it came)
    manifest_text: str = ""
    #: where each frame's bytes start in the object, by member name (publishing slices
    #: frames out of the bundle with it)
    frame_offsets: dict[str, int] = field(default_factory=dict)
    #: read by the fast path (plain ustar, read whole) rather than the tarfile scan
    fast: bool = False
    #: events of a newer minor's kinds that this reader does not know, left out of
    #: `events` (as its unknown columns are)
    ignored_events: int = 0

    @property
    def bundle_id(self) -> str:
        bundle_id: str = self.manifest["bundle_id"]
        return bundle_id
