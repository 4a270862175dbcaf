"""The frame fingerprint both sides compute: the agent stamps each stored frame with it,
and the pipeline (the simulator, the frame shards) reads and compares it."""

from __future__ import annotations

from PIL import Image


def dhash(img: Image.Image) -> str:
    """64-bit difference hash, hex: near-identical screens get near-identical hashes."""
    if img.width >= 72 and img.height >= 64:
        img = img.reduce(4)  # a cheap first step down: the hash looks at 9x8 pixels
    g = img.convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    px = g.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (px[row * 9 + col] > px[row * 9 + col + 1])
    return f"{bits:016x}"
