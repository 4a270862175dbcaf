"""Paint what a frame must not show, on the raw pixels, before anything else sees them.

A window the denylist covers (a password manager, banking, private browsing) is painted
solid wherever it is visible: its frame's rectangle less the windows stacked above it,
so a window in front stays intact. The pixels are the grab's own buffer (BGRX, full
capture resolution), painted row by row: no decode, no copy of the frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from capture_agent.platform import WindowRect
from worktape.core.privacy.policy import Rect

MASK_BGRX = b"\x00\x00\x00\xff"  # solid black


def subtract(rect: Rect, cut: Rect) -> list[Rect]:
    """`rect` less `cut`: up to four rectangles."""
    l1, t1, r1, b1 = rect
    l2, t2, r2, b2 = cut
    if l2 >= r1 or r2 <= l1 or t2 >= b1 or b2 <= t1:
        return [rect]
    out = []
    if t2 > t1:
        out.append((l1, t1, r1, t2))
    if b2 < b1:
        out.append((l1, b2, r1, b1))
    top, bottom = max(t1, t2), min(b1, b2)
    if l2 > l1:
        out.append((l1, top, l2, bottom))
    if r2 < r1:
        out.append((r2, top, r1, bottom))
    return out


def visible_parts(
    windows: Sequence[WindowRect], denied: Callable[[str | None, str | None], bool]
) -> list[Rect]:
    """The visible rectangles of denylisted windows, in virtual-desktop pixels, from the
    window list in stacking order (bottom to top)."""
    parts: list[Rect] = []
    for i, w in enumerate(windows):
        if not denied(w.app, w.title):
            continue
        pieces = [(w.x, w.y, w.x + w.width, w.y + w.height)]
        for above in windows[i + 1 :]:
            cut = (above.x, above.y, above.x + above.width, above.y + above.height)
            pieces = [p for piece in pieces for p in subtract(piece, cut)]
        parts.extend(p for p in pieces if p[2] > p[0] and p[3] > p[1])
    return parts


def paint(
    pixels: bytearray, width: int, height: int, origin: tuple[int, int], rects: Iterable[Rect]
) -> int:
    """Fill `rects` (virtual-desktop pixels) on a monitor's BGRX buffer whose top-left
    corner is at `origin`; returns how many rectangles touched the monitor."""
    ox, oy = origin
    n = 0
    for left, top, right, bottom in rects:
        x0, x1 = max(0, left - ox), min(width, right - ox)
        y0, y1 = max(0, top - oy), min(height, bottom - oy)
        if x0 >= x1 or y0 >= y1:
            continue
        n += 1
        row = MASK_BGRX * (x1 - x0)
        stride = width * 4
        for y in range(y0, y1):
            start = y * stride + x0 * 4
            pixels[start : start + len(row)] = row
    return n
