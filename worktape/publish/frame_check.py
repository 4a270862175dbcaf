"""The gate's pixel re-check: read the text of frames about to be published.

The agent masks secrets on screen before a frame is stored; this reads a sample of the
frames a night would publish for the first time (those its steps show and the last
version did not index) with the same recogniser and rules, and writes
`gate/gate_frames.parquet`, one row per frame read: the frame id, the first rule its
text breaks (`finding`, null when none) and that text, masked. The privacy suite
refuses the night on any finding, naming the frame.

Reading costs about a second a frame on one core, so at scale it samples, by a hash of
the frame id (the same night reads the same frames). With n frames read out of many, a
leak present in a share p of them is missed with probability (1 - p)^n: the default
n = 459 catches a leak in 1% of the frames with 99% probability. Fewer frames than n:
all are read. Frames are read as published (the agent stores them at half size by
default): text too small for the recogniser at that size is not re-checked.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from worktape.core.storage import Storage
from worktape.publish.frames import WANTED_SQL
from worktape.warehouse import one

if TYPE_CHECKING:
    from worktape.core.privacy.screen_text import TextMasker

LEAK_RATE = 0.01
CONFIDENCE = 0.99
THREADS = 2  # one onnxruntime thread each
SCHEMA = pa.schema([("ref", pa.string()), ("finding", pa.string()), ("masked", pa.string())])


def sample_size(leak_rate: float = LEAK_RATE, confidence: float = CONFIDENCE) -> int:
    """Frames to read so that a leak in `leak_rate` of them is caught with `confidence`."""
    return math.ceil(math.log(1 - confidence) / math.log(1 - leak_rate))


def caught_rate(n: int, confidence: float = CONFIDENCE) -> float:
    """The smallest share of leaking frames that n frames read catch with `confidence`."""
    return 1.0 - (1.0 - confidence) ** (1.0 / n) if n else 1.0


@dataclass(frozen=True)
class FrameSample:
    new_frames: int
    read: int
    leak_rate_caught: float  # a leak in at least this share of new frames is caught ...
    confidence: float  # ... with this probability (1.0 when every frame was read)

    def sentence(self) -> str:
        if self.read >= self.new_frames:
            return f"all {self.read:,} new frames were read"
        return (
            f"{self.read:,} of {self.new_frames:,} new frames were read: a leak in "
            f"{self.leak_rate_caught:.1%} of frames or more is caught with "
            f"{self.confidence:.0%} probability"
        )


def stage_frames(
    con: duckdb.DuckDBPyConnection,
    storage: Storage,
    out: Path,
    previous: pa.Table | None,
    sample: int | None = None,
) -> FrameSample:
    """Read the sampled new frames and write out/gate_frames.parquet."""
    n = sample_size() if sample is None else sample
    con.register("prev_frames", _ids(previous))
    new = f"""
        SELECT s.screenshot_id, b.object_key, s.data_offset, s.bytes,
               'screenshots/' || s.screenshot_id || '.' || coalesce(b.frame_format, 'webp')
                   AS member
        FROM raw.screenshots AS s
        SEMI JOIN ({WANTED_SQL}) AS w USING (screenshot_id)
        JOIN raw.bundles AS b USING (bundle_id)
        ANTI JOIN prev_frames USING (screenshot_id)
    """
    total = one(con.execute(f"SELECT count(*) FROM ({new})"))[0]
    rows = con.execute(
        f"SELECT * FROM ({new}) ORDER BY hash(screenshot_id), screenshot_id LIMIT {int(n)}"
    ).fetchall()
    con.unregister("prev_frames")
    with ThreadPoolExecutor(THREADS, thread_name_prefix="frame-check") as pool:
        found = list(pool.map(lambda r: _check(storage, *r), rows))
    table = pa.table(
        {
            "ref": [r[0] for r in rows],
            "finding": [f[0] if f else None for f in found],
            "masked": [masked(f[1]) if f else None for f in found],
        },
        schema=SCHEMA,
    )
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out / "gate_frames.parquet")
    result = FrameSample(
        new_frames=total,
        read=len(rows),
        leak_rate_caught=round(caught_rate(len(rows)), 4) if len(rows) < total else 0.0,
        confidence=CONFIDENCE if len(rows) < total else 1.0,
    )
    (out / "frames_sample.json").write_text(json.dumps(asdict(result)))
    return result


def read_sample(gate_dir: Path) -> FrameSample | None:
    try:
        return FrameSample(**json.loads((gate_dir / "frames_sample.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _ids(previous: pa.Table | None) -> pa.Table:
    if previous is None:
        return pa.table({"screenshot_id": pa.array([], pa.string())})
    return previous.select(["screenshot_id"])


_readers = threading.local()


def _masker() -> TextMasker:
    """One reader per thread: its line cache is not thread-safe."""
    from worktape.core.privacy.screen_text import TextMasker

    if not hasattr(_readers, "masker"):
        _readers.masker = TextMasker()
    masker: TextMasker = _readers.masker
    return masker


def _check(
    storage: Storage, sid: str, key: str, offset: int | None, size: int, member: str
) -> tuple[str, str] | None:
    """The first secret readable in one frame: (rule, text), or None."""
    if offset is not None:
        data = storage.read_range(key, int(offset), int(size))
    else:  # a bundle laid out by another writer: find the member
        with storage.open(key) as body, tarfile.open(fileobj=body, mode="r|") as tar:
            data = next(
                (tar.extractfile(ti).read() for ti in tar if ti.name == member),  # type: ignore[union-attr]
                b"",
            )
    return scan_image(data)


def scan_image(data: bytes) -> tuple[str, str] | None:
    """The first secret readable in an encoded image: (rule, text), or None. The gate's
    reader and rules (also for the crops of the procedure documents). Without the
    recogniser installed this raises: nothing unread is published."""
    import numpy as np
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data)).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # not an image anyone can view: no pixels to leak
    bgr = np.asarray(img)[:, :, ::-1]
    hits = _masker().scan(bgr)
    return hits[0] if hits else None


def masked(text: str) -> str:
    """What the report may show of a finding: its shape, not its characters."""
    return "".join("x" if c.isalnum() else c for c in text)
