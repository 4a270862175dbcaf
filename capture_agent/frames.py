"""Screen frames: grab (mss), detect change (the raw pixels against the last frame
stored), shrink, encode (lossless WebP by default) and fingerprint (a 64-bit
difference hash).

Grabbing is cheap (about 1.5 ms for 1920x1080) and happens on the input thread, right
when an action starts, so the frame shows the screen *before* the action; so does
shrinking, so that the 8 MB raw buffer is freed at once. Encoding is the expensive part
and happens on a worker thread.

Measured on a 1920x1080 screen of code in a terminal (2-core machine): decoding BGRX to
RGB at full size and a bilinear half-size resize took about 35 ms, and lossless WebP at
method 0 (Pillow's default effort) about 40 ms for 24 KiB. Wrapping the raw buffer,
averaging 2x2 blocks (`Image.reduce`) and swapping the channels at half size takes
about 5 ms; the box average also keeps glyphs crisper (fewer colours), and lossless WebP
at method 1 encodes that in about 18 ms to 11 KiB; at the lowest quality (for lossless
WebP, the effort spent searching for a smaller encoding) in about 13 ms to the same
size, and in half the time at 2% more bytes on a screen with gradients and a photo.
Comparing a grab with the last one
kept is a memcmp that stops at the first difference, where a crc32 of 8 MB took 3-6 ms;
the price is the last frame's raw pixels kept per monitor (8 MB at 1920x1080).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from worktape.core.framehash import dhash

__all__ = ["Encoded", "Grab", "Grabber", "dhash", "encode", "prepare"]


@dataclass
class Grab:
    """Raw pixels of one monitor at one moment, not yet encoded."""

    monitor: int
    width: int
    height: int
    bgra: bytes | bytearray


@dataclass
class Encoded:
    data: bytes
    width: int
    height: int
    phash: str


class Grabber:
    """One mss handle per thread that grabs (mss handles are not thread-safe)."""

    def __init__(self) -> None:
        import mss

        factory = getattr(mss, "MSS", None) or mss.mss
        self._mss: Any = factory()
        # mss: index 0 is the union of all monitors; 1.. are the monitors
        self.monitors: list[dict[str, int]] = [dict(m) for m in self._mss.monitors[1:]]

    def screens(self) -> list[dict[str, int]]:
        return [
            {
                "monitor": i,
                "left": m["left"],
                "top": m["top"],
                "width": m["width"],
                "height": m["height"],
            }
            for i, m in enumerate(self.monitors, start=1)
        ]

    def monitor_at(self, x: int | None, y: int | None) -> int:
        if x is not None and y is not None:
            for i, m in enumerate(self.monitors, start=1):
                if (
                    m["left"] <= x < m["left"] + m["width"]
                    and m["top"] <= y < m["top"] + m["height"]
                ):
                    return i
        return 1

    def grab(self, monitor: int) -> Grab:
        m = self.monitors[monitor - 1]
        shot = self._mss.grab(m)
        return Grab(monitor, shot.width, shot.height, shot.raw)  # 8 MB at 1920x1080

    def close(self) -> None:
        self._mss.close()


# lossless WebP: method 1 at the lowest effort is both faster and far smaller on text
# screens than Pillow's default (method 0, quality 80); see the module docstring
WEBP_LOSSLESS = {"lossless": True, "method": 1, "quality": 0}


def prepare(g: Grab, scale: float = 1.0) -> Image.Image:
    """Raw BGRX pixels to the RGB image that will be stored, at its final size.

    The raw buffer is wrapped, not copied or decoded, with its bytes read as RGBX (red
    and blue swapped); a scale of 1/n averages n x n blocks; the channels are put right
    at the final size, where it costs a fraction. Other scales resize bilinearly."""
    img = Image.frombuffer("RGBX", (g.width, g.height), g.bgra, "raw", "RGBX", 0, 1)
    if scale < 1.0:
        n = round(1 / scale)
        if abs(n * scale - 1) < 1e-6:
            img = img.reduce(n)
        else:
            size = (max(1, int(g.width * scale)), max(1, int(g.height * scale)))
            img = img.resize(size, Image.Resampling.BILINEAR)
    b, green, r, _ = img.split()
    return Image.merge("RGB", (r, green, b))


def encode(g: Grab | Image.Image, *, fmt: str = "webp", scale: float = 1.0) -> Encoded:
    img = g if isinstance(g, Image.Image) else prepare(g, scale)
    buf = io.BytesIO()
    if fmt == "webp":
        img.save(buf, format="WEBP", **WEBP_LOSSLESS)
    elif fmt == "png":
        img.save(buf, format="PNG", compress_level=1)
    else:
        img.save(buf, format="JPEG", quality=85)
    return Encoded(buf.getvalue(), img.width, img.height, dhash(img))
