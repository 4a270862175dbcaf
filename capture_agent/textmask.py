"""Secrets shown on screen, found by OCR and painted out of a frame before it is stored.

Text on screen is read with RapidOCR (PP-OCRv4 detection and recognition through
onnxruntime; the models ship inside the wheel, nothing is downloaded). The text of each
line goes through the same rules as typed keys (`capture_agent.redact`: e-mail, card
numbers by Luhn, phone numbers, tokens) plus the contributor's `privacy.mask_patterns`,
and the characters of every match are filled solid.

Reading a whole 1920x1080 screen costs seconds of CPU, so the work follows what changed:
- the pixels are compared with the previous frame of the same monitor; only bands of
  rows that changed are read again, padded so that a line of text is read whole;
- boxes found earlier in rows that did not change are painted again without reading;
- each text line the detector finds is recognised once per distinct look (a digest of
  its pixels), so a window brought back or a list scrolled costs detection only.

It runs on full-resolution pixels (at half scale, normal terminal text is unreadable to
the recogniser), on the frame worker thread at low priority with one onnxruntime
thread, never on the input path. Anything it cannot finish raises: the caller drops the
frame and counts why (privacy fails closed).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from capture_agent.masking import Rect
from capture_agent.redact import CARD_RE, TOKEN_RE, _digits, luhn_ok

PIXEL_RULES = ("email", "card", "phone", "token", "pattern")
PAD = 24  # rows read above and below a changed band: a whole line up to this tall
JOIN_GAP = 2.5  # boxes on one line closer than this many line heights are read as one
CACHE_LINES = 4096
MIN_DET_HEIGHT = 128


class RedactionIncomplete(Exception):
    """The frame could not be fully read in time: it must not be stored."""


# letters an OCR reads for digits; a number is matched on a copy with these swapped back
_AS_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1",
                           "i": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2"})  # fmt: skip
_LOOKALIKE = re.compile(r"(?<=\d)[OoDlI|iSsBZz]|[OoDlI|iSsBZz](?=\d)")


# an e-mail address whose "@" the recogniser misread (small bitmap fonts turn it into
# "e" or "a"): a dotted name ending in a common mail domain, not part of a URL or a path
_MISREAD_EMAIL = re.compile(
    r"(?<![\w.@/:-])(?!www\.)[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)+"
    r"\.(?:com|org|net|io|co|edu|gov|info|biz|uk|de|fr|nl|eu|us|ca|au|ai|dev|app)"
    r"(?![\w/@-])"
)


# anything@host: the recogniser sometimes sets the "@" or a dot apart with a space, or
# drops the dot before the top-level domain
_READ_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+ ?@ ?[A-Za-z0-9-]{2,}(?: ?\. ?[A-Za-z0-9-]+)*")
# a phone number as read: separators doubled ("446 -2959"), letters glued on
_READ_PHONE = re.compile(
    r"(?<![\d+])(?:\+\d{1,3}\s?[ .-]?)?(?:\(\d{2,4}\)\s?[ .-]?)?"
    r"\d{2,4}(?:\s?[ .-]?\d{2,4}){2,4}(?!\d)"
)
# a key's letters read as look-alikes (l for I) still make a key
_READ_AWS_KEY = re.compile(r"AKIA[0-9A-Za-z|]{16}")


def _normal(text: str) -> str:
    """Full-width and look-alike characters folded, one character for one, so that
    indices still point into the recognised text."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch)
        out.append(n if len(n) == 1 else ch)
    return "".join(out).replace("©", "@").replace("＠", "@")


def _numbers_view(text: str) -> str:
    """`text` with letters next to a digit read as the digit they look like."""
    return _LOOKALIKE.sub(lambda m: m.group().translate(_AS_DIGIT), text)


def pixel_spans(text: str, patterns: Sequence[re.Pattern[str]] = ()) -> list[tuple[int, int, str]]:
    """(start, end, rule) spans of recognised text that must not be shown."""
    text = _normal(text)
    nums = _numbers_view(text)
    found: list[tuple[int, int, str]] = []
    found += [(m.start(), m.end(), "email") for m in _READ_EMAIL.finditer(text)]
    found += [(m.start(), m.end(), "email") for m in _MISREAD_EMAIL.finditer(text)]
    # tokens are one word: also matched with the spaces the recogniser put inside them
    # taken out
    keep = [i for i, ch in enumerate(text) if not ch.isspace()]
    solid = "".join(text[i] for i in keep)
    for rx in (TOKEN_RE, _READ_AWS_KEY):
        found += [(keep[m.start()], keep[m.end() - 1] + 1, "token") for m in rx.finditer(solid)]
    for view in (text, nums):  # look-alike letters swapped back, or left as read
        for m in CARD_RE.finditer(view):
            found += [(a, b, "card") for a, b in _card_windows(view, m.start(), m.end())]
        for m in _READ_PHONE.finditer(view):
            if 9 <= len(_digits(m.group())) <= 15:
                found.append((m.start(), m.end(), "phone"))
    for p in patterns:
        found += [(m.start(), m.end(), "pattern") for m in p.finditer(text) if m.end() > m.start()]
    # overlapping matches are one thing on screen: merged, named by the rule that
    # found the earliest, longest of them
    merged: list[tuple[int, int, str]] = []
    for start, end, rule in sorted(found, key=lambda f: (f[0], -f[1])):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
        else:
            merged.append((start, end, rule))
    return merged


def _card_windows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Card numbers inside a run of digit groups: the longest run of whole groups that
    passes Luhn (a stray digit read next to a card makes the whole run fail)."""
    groups = [(m.start() + start, m.end() + start) for m in re.finditer(r"\d+", text[start:end])]
    best: tuple[int, int] | None = None
    for i in range(len(groups)):
        for j in range(len(groups) - 1, i - 1, -1):
            digits = "".join(text[a:b] for a, b in groups[i : j + 1])
            if 13 <= len(digits) <= 19 and luhn_ok(digits):
                span = (groups[i][0], groups[j][1])
                if best is None or span[1] - span[0] > best[1] - best[0]:
                    best = span
                break
    return [best] if best else []


@dataclass(frozen=True)
class Hit:
    rect: Rect
    rule: str


@dataclass
class _Line:
    """Recognised text of one detected box and, when the recogniser gives one cell per
    character, each character's x range relative to the box's left edge."""

    text: str
    chars: list[tuple[int, int]]


@dataclass
class _Box:
    left: int
    top: int
    right: int
    bottom: int
    line: _Line


class _Engine:
    """RapidOCR's detector and recogniser, called step by step so that recognition
    can be cached per text line."""

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.ocr: Any = RapidOCR(
            intra_op_num_threads=1,
            inter_op_num_threads=1,
            use_cls=False,
            # detect at the pixels' own size (up to 2000 px a side), not scaled to 736
            det_limit_type="max",
            det_limit_side_len=2000,
        )

    def detect(self, img: np.ndarray) -> list[np.ndarray]:
        if img.shape[0] < MIN_DET_HEIGHT:
            # the detector misses text in a strip a few lines tall: extend it downwards
            # with its own last row, which keeps every box where it was
            import cv2

            img = cv2.copyMakeBorder(
                img, 0, MIN_DET_HEIGHT - img.shape[0], 0, 0, cv2.BORDER_REPLICATE
            )
        boxes, _ = self.ocr.text_det(img)
        if boxes is None or len(boxes) == 0:
            return []
        return list(self.ocr.sorted_boxes(boxes))

    def crops(self, img: np.ndarray, boxes: list[np.ndarray]) -> list[np.ndarray]:
        return list(self.ocr.get_crop_img_list(img, boxes))

    def recognise(self, crops: list[np.ndarray]) -> list[_Line]:
        out = []
        for crop in crops:
            # one at a time: in a batch, lines are padded to the widest, which costs time
            # and shifts the character columns
            (r,), _ = self.ocr.text_rec([crop], True)
            text = r[0]
            h, w = crop.shape[:2]
            chars: list[tuple[int, int]] = []
            if text.strip() and len(r) > 2:
                box = np.array([[0, 0], [w, 0], [w, h], [0, h]])
                _, cells, _ = self.ocr.cal_rec_boxes.cal_ocr_word_box(text, box, r[2])
                chars = [(int(c[0][0]), int(c[1][0])) for c in cells]
            out.append(_Line(text, chars))
        return out


class TextMasker:
    """Per-monitor state of what was read, and the masking of one frame at a time.
    Used from one thread (the frame worker)."""

    def __init__(self, patterns: Sequence[str] = (), *, deadline_seconds: float = 30.0) -> None:
        self.patterns = [re.compile(p) for p in patterns]
        self.deadline = deadline_seconds
        self._engine: _Engine | None = None
        self._prev: dict[int, np.ndarray] = {}
        self._hits: dict[int, list[Hit]] = {}
        self._cache: OrderedDict[bytes, _Line] = OrderedDict()
        self.stats: Counter[str] = Counter()

    @property
    def engine(self) -> _Engine:
        if self._engine is None:
            self._engine = _Engine()
        return self._engine

    def forget(self) -> None:
        """Drop the previous frames (after a pause: the next frame is read whole)."""
        self._prev.clear()
        self._hits.clear()

    def mask(self, monitor: int, pixels: bytearray, width: int, height: int) -> Counter[str]:
        """Find and paint secrets on a monitor's BGRX pixels (full resolution), in place.
        Returns the masked boxes per rule; raises if the frame was not fully read."""
        started = time.monotonic()
        cur = np.frombuffer(pixels, dtype=np.uint32).reshape(height, width)
        prev = self._prev.get(monitor)
        old = self._hits.get(monitor, [])
        if prev is None or prev.shape != cur.shape:
            changed = np.ones(height, dtype=bool)
            bands = [(0, height)]
        else:
            changed = (cur != prev).any(axis=1)
            bands = _bands(np.flatnonzero(changed), height, old)
        # a box whose rows did not change shows what it showed: painted again unread
        kept = [h for h in old if not changed[max(0, h.rect[1]) : h.rect[3]].any()]
        new: list[Hit] = []
        bgr = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 4)
        for top, bottom in bands:
            if time.monotonic() - started > self.deadline:
                raise RedactionIncomplete("deadline")
            crop = np.ascontiguousarray(bgr[top:bottom, :, :3])
            new += [
                Hit((r[0], r[1] + top, r[2], r[3] + top), rule)
                for r, rule, _ in self._read(crop, started, changed[top:bottom])
            ]
        self._prev[monitor] = cur.copy()  # before painting: what the screen showed
        hits = kept + new
        self._hits[monitor] = hits
        _paint(bgr, hits)
        self.stats["bands"] += len(bands)
        self.stats["rows_read"] += sum(b - t for t, b in bands)
        return Counter(h.rule for h in hits)

    def scan(self, bgr: np.ndarray) -> list[tuple[str, str]]:
        """Every secret readable in a whole image (BGR): (rule, the text read). For
        re-checking frames that were already masked; keeps no state between images."""
        return [(rule, text) for _, rule, text in self._read(np.ascontiguousarray(bgr), None)]

    def _read(
        self, img: np.ndarray, started: float | None, changed: np.ndarray | None = None
    ) -> list[tuple[Rect, str, str]]:
        """Detect the text lines of `img`, recognise those on rows that `changed` (all
        without it), and return the secrets among them."""
        eng = self.engine
        boxes = eng.detect(img)
        if changed is not None:
            boxes = [
                b
                for b in boxes
                if changed[max(0, int(b[:, 1].min())) : int(b[:, 1].max()) + 1].any()
            ]
        if not boxes:
            return []
        crops = eng.crops(img, boxes)
        keys = [
            hashlib.blake2b(c.tobytes() + repr(c.shape).encode(), digest_size=16).digest()
            for c in crops
        ]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        self.stats["lines_cached"] += len(keys) - len(missing)
        self.stats["lines_read"] += len(missing)
        if missing:
            if started is not None and time.monotonic() - started > self.deadline:
                raise RedactionIncomplete("deadline")
            for i, line in zip(missing, eng.recognise([crops[i] for i in missing]), strict=True):
                self._cache[keys[i]] = line
        lines = []
        for k, b in zip(keys, boxes, strict=True):
            self._cache.move_to_end(k)
            xs, ys = b[:, 0], b[:, 1]
            lines.append(_Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()),
                              self._cache[k]))  # fmt: skip
        while len(self._cache) > CACHE_LINES:
            self._cache.popitem(last=False)
        return self._secrets(lines)

    def _secrets(self, boxes: list[_Box]) -> list[tuple[Rect, str, str]]:
        """Join the boxes of each text line, match the rules on its text, and return the
        rectangles of the matching characters."""
        out: list[tuple[Rect, str, str]] = []
        for row in _rows(boxes):
            text, where = "", []  # where[i]: the box of text[i], None for a joining space
            for b in row:
                if text:
                    text += " "
                    where.append(None)
                text += b.line.text
                where += [(b, i) for i in range(len(b.line.text))]
            for start, end, rule in pixel_spans(text, self.patterns):
                out += [(r, rule, text[start:end]) for r in _span_rects(where[start:end])]
        return out


def _span_rects(where: list[tuple[_Box, int] | None]) -> list[Rect]:
    """One rectangle per box that a matched span touches, from its characters' cells,
    widened by a character each side."""
    per_box: dict[int, tuple[_Box, list[int]]] = {}
    for w in where:
        if w is not None:
            per_box.setdefault(id(w[0]), (w[0], []))[1].append(w[1])
    rects = []
    for box, idx in per_box.values():
        line, width = box.line, box.right - box.left
        if len(line.chars) == len(line.text):
            cells = [line.chars[i] for i in idx]
        else:  # no cell per character: spread the characters evenly over the box
            n = max(1, len(line.text))
            cells = [(width * i // n, width * (i + 1) // n) for i in idx]
        # a character's cell is where the recogniser saw it, not its full advance
        pad = max(3, (cells[-1][1] - cells[0][0]) // max(1, len(cells)))
        left = box.left + cells[0][0] - pad if idx[0] > 0 else box.left
        right = box.left + cells[-1][1] + pad if idx[-1] < len(line.text) - 1 else box.right
        # the detector's boxes already reach past the glyphs (it widens what it finds)
        rects.append((max(0, left), box.top, right, box.bottom))
    return rects


def _rows(boxes: list[_Box]) -> list[list[_Box]]:
    """Boxes grouped into text lines: overlapping vertically, left to right, with small
    horizontal gaps."""
    rows: list[list[_Box]] = []
    for b in sorted(boxes, key=lambda b: (b.top + b.bottom) / 2):
        h = b.bottom - b.top
        for row in rows:
            last = row[-1]
            cy, lcy = (b.top + b.bottom) / 2, (last.top + last.bottom) / 2
            if abs(cy - lcy) < 0.5 * max(1, min(h, last.bottom - last.top)):
                row.append(b)
                break
        else:
            rows.append([b])
    out = []
    for row in rows:
        row.sort(key=lambda b: b.left)
        run = [row[0]]
        for b in row[1:]:
            if b.left - run[-1].right <= JOIN_GAP * max(1, b.bottom - b.top):
                run.append(b)
            else:
                out.append(run)
                run = [b]
        out.append(run)
    return out


def _bands(rows: np.ndarray, height: int, old: list[Hit]) -> list[tuple[int, int]]:
    """Changed rows as bands to read: runs of rows, padded, merged, and widened to any
    earlier box they cut."""
    if rows.size == 0:
        return []
    bands: list[list[int]] = []
    for r in rows.tolist():
        if bands and r - bands[-1][1] <= 2 * PAD:
            bands[-1][1] = r + 1
        else:
            bands.append([r, r + 1])
    out = []
    for top, bottom in bands:
        top, bottom = max(0, top - PAD), min(height, bottom + PAD)
        for h in old:
            if h.rect[1] < bottom and h.rect[3] > top:
                top, bottom = (
                    min(top, max(0, h.rect[1] - PAD)),
                    max(bottom, min(height, h.rect[3] + PAD)),
                )
        if out and top <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], bottom))
        else:
            out.append((top, bottom))
    return out


def _paint(bgrx: np.ndarray, hits: list[Hit]) -> None:
    h, w = bgrx.shape[:2]
    for (left, top, right, bottom), _ in ((x.rect, x.rule) for x in hits):
        x0, x1, y0, y1 = max(0, left), min(w, right), max(0, top), min(h, bottom)
        if x0 < x1 and y0 < y1:
            bgrx[y0:y1, x0:x1] = (0, 0, 0, 255)


def lower_priority() -> None:
    """Run the calling thread (and the onnxruntime threads it starts) at low priority."""
    # not on every OS: where it fails, the work still runs off the input path
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
