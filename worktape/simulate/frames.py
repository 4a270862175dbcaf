"""Small real images for simulated screenshots.

"real" draws a scaled-down desktop (window, title bar, text lines that change with the
work) and encodes it as lossless WebP like the agent does; "tiny" is a 32x18 frame that
still differs by state; "none" takes no frames at all (event-only benchmarks). Frames
are cached by screen state: the same screen encodes once.
"""

from __future__ import annotations

import io
import re
import zlib
from functools import lru_cache

from PIL import Image, ImageDraw

from worktape.core.framehash import dhash

SIZES = {"real": (384, 216), "tiny": (32, 18)}
MASKED = "\u2588"  # a character of content the agent painted out: drawn as a solid box


def _color(text: str) -> tuple[int, int, int]:
    h = zlib.crc32(text.encode())
    return (60 + h % 160, 60 + (h >> 8) % 160, 60 + (h >> 16) % 160)


@lru_cache(maxsize=4096)
def render(
    mode: str,
    app: str,
    title: str,
    window: tuple[float, float, float, float],
    content: tuple[str, ...],
) -> tuple[bytes, int, int, str]:
    """Encoded frame, its width and height, and its perceptual hash."""
    w, h = SIZES[mode]
    img = Image.new("RGB", (w, h), (32, 40, 48))
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = (
        int(window[0] * w),
        int(window[1] * h),
        int(window[2] * w),
        int(window[3] * h),
    )
    d.rectangle((x0, y0, x1, y1), fill=(245, 245, 245))
    bar = max(2, h // 16)
    d.rectangle((x0, y0, x1, y0 + bar), fill=_color(app))
    if mode == "real":
        d.text((x0 + 4, y0 + 1), title[:70], fill=(255, 255, 255))
        for i, line in enumerate(content[-8:]):
            _line(d, x0 + 8, y0 + bar + 6 + i * 14, line[:60])
    else:
        # tiny frames: one stripe per content line keeps states distinguishable
        for i, line in enumerate(content[-6:]):
            d.line((x0 + 1, y0 + bar + 1 + i * 2, x1 - 1, y0 + bar + 1 + i * 2), fill=_color(line))
    buf = io.BytesIO()
    img.save(buf, format="WEBP", lossless=True, method=0)
    return buf.getvalue(), w, h, dhash(img)


def _line(d: ImageDraw.ImageDraw, x: float, y: int, line: str) -> None:
    """A line of text, with masked characters as the agent paints them: solid black."""
    for run in re.findall(f"{MASKED}+|[^{MASKED}]+", line):
        width = d.textlength("x" * len(run))
        if run[0] == MASKED:
            d.rectangle((x, y - 1, x + width, y + 11), fill=(0, 0, 0))
        else:
            d.text((x, y), run, fill=(30, 30, 30))
        x += width
