"""Secrets shown on screen, found by OCR and painted out of a frame before it is stored.

Text on screen is read with RapidOCR (PP-OCRv4 detection and recognition through
onnxruntime; the models ship inside the wheel, nothing is downloaded). The text of each
line goes through the same rules as typed keys (`worktape.core.privacy.rules`: e-mail, card
numbers by Luhn, phone numbers, tokens) plus the contributor's `privacy.mask_patterns`,
and the characters of every match are filled solid.

Reading a whole 1920x1080 screen costs seconds of CPU, so the work follows what changed:
- the pixels are compared with the previous frame of the same monitor; only bands of
  rows that changed are read again, padded so that a line of text is read whole;
- boxes found earlier in rows that did not change are painted again without reading;
- each text line the detector finds is recognised once per distinct look (a digest of
  its pixels), so a window brought back or a list scrolled costs detection only.

It runs on full-resolution pixels (at half scale, normal terminal text is unreadable to
the recogniser), with one onnxruntime thread, never on the input path: on the laptop,
in a low-priority process of its own (`capture_agent/text_reader.py`), so the capture
process never loads the models. Anything it cannot finish raises: the caller drops the
frame and counts why (privacy fails closed).
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from worktape.core.privacy.policy import Rect
from worktape.core.privacy.reading import RedactionIncomplete
from worktape.core.privacy.rules import (
    CARD_RE,
    PATTERN,
    TOKEN_RE,
    _digits,
    luhn_ok,
    not_a_phone,
    pattern_spans,
)

PAD = 24  # rows read above and below a changed band: a whole line up to this tall
JOIN_GAP = 2.5  # boxes on one line closer than this many line heights are read as one
CACHE_LINES = 4096
CACHE_WORDS = 4096
JOINERS = "._-@+%"  # what joins the parts of an address or a token
MIN_DET_HEIGHT = 128
CHUNK = 320  # rows detected at once
OVERLAP = 64  # rows two chunks share: a line up to 32 px tall lies whole in one
PIECE = 48  # line-heights of text recognised at once
GROW = 3  # line-heights past a known line's end where a change is text typed onto it
SCROLL_ROWS = 64  # changed rows before a frame is tried as the previous one scrolled
KEEP_CHANGED = 0.05  # share of a masked box's pixels that may change and it stays
WORDS = 5  # words each side of a change read with it (a card or phone is up to four)
GAP = 0.3  # of a line's height: blank columns at least this wide part two words


# letters an OCR reads for digits; a number is matched on a copy with these swapped back
_AS_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1",
                           "i": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2"})  # fmt: skip
_LOOKALIKE = re.compile(r"(?<=\d)[OoDlI|iSsBZz]|[OoDlI|iSsBZz](?=\d)")
_UNDERSCORE_IN_NUMBER = re.compile(r"(?<=\d)_(?=\d)")


# an e-mail address whose "@" the recogniser misread (small bitmap fonts turn it into
# "e" or "a"): a dotted name ending in a common mail domain, not part of a URL or a path
_MISREAD_EMAIL = re.compile(
    r"(?<![\w.@/:-])(?!www\.)[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)+"
    r"\.(?:com|org|net|io|co|edu|gov|info|biz|uk|de|fr|nl|eu|us|ca|au|ai|dev|app)"
    r"(?![\w/@-])"
)


# an address as read: the recogniser sometimes sets the "@" or a dot apart with a space,
# or drops the dot before a common top-level domain ("northwindio"); a bare user@host (a
# shell prompt) is not an address
_READ_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+ ?@ ?[A-Za-z0-9-]+(?: ?\. ?[A-Za-z0-9-]+)*"
    r"(?: ?\. ?[A-Za-z]{2,}|(?<=[a-z])(?:com|org|net|io|co|uk|de|fr|eu))\b"
)
# a phone number as read: separators doubled ("446 -2959"), letters glued on
_READ_PHONE = re.compile(
    r"(?<![\d+])(?:\+\d{1,3}\s?[ .-]?)?(?:\(\d{2,4}\)\s?[ .-]?)?"
    r"\d{2,4}(?:\s?[ .-]?\d{2,4}){2,4}(?!\d)"
)
_PREFIXED_TOKEN = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
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
    digits = _LOOKALIKE.sub(lambda m: m.group().translate(_AS_DIGIT), text)
    # the line below a number, close under it, is read as an underscore between its
    # groups ("+1 415_555 0199"): there, it separates them as a space would
    return _UNDERSCORE_IN_NUMBER.sub(" ", digits)


def pixel_spans(text: str, patterns: Sequence[re.Pattern[str]] = ()) -> list[tuple[int, int, str]]:
    """(start, end, rule) spans of recognised text that must not be shown."""
    text = _normal(text)
    nums = _numbers_view(text)
    found: list[tuple[int, int, str]] = []
    # an address is one word: all of it goes, where the recogniser read a "." as ","
    for rx in (_READ_EMAIL, _MISREAD_EMAIL):
        found += [(*_word(text, m.start(), m.end()), "email") for m in rx.finditer(text)]
    # a token is one word; keys with a known prefix are also matched with the spaces
    # the recogniser put inside them taken out (not any long run: that glues words)
    found += [(m.start(), m.end(), "token") for m in TOKEN_RE.finditer(text)]
    keep = [i for i, ch in enumerate(text) if not ch.isspace()]
    solid = "".join(text[i] for i in keep)
    for rx in (_PREFIXED_TOKEN, _READ_AWS_KEY):
        found += [(keep[m.start()], keep[m.end() - 1] + 1, "token") for m in rx.finditer(solid)]
    for view in (text, nums):  # look-alike letters swapped back, or left as read
        for m in CARD_RE.finditer(view):
            found += [(a, b, "card") for a, b in _card_windows(view, m.start(), m.end())]
        for m in _READ_PHONE.finditer(view):
            digits = _digits(m.group())
            if 9 <= len(digits) <= 15 and len(set(digits)) > 1 and not not_a_phone(m.group()):
                found.append((m.start(), m.end(), "phone"))
    found += [(start, end, PATTERN) for start, end in pattern_spans(text, patterns)]
    # overlapping matches are one thing on screen: merged, named by the rule that
    # found the earliest, longest of them
    merged: list[tuple[int, int, str]] = []
    for start, end, rule in sorted(found, key=lambda f: (f[0], -f[1])):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
        else:
            merged.append((start, end, rule))
    return merged


def _word(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to the whitespace around it."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _card_windows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Card numbers inside a run of digit groups: the longest run of whole groups that
    passes Luhn (a stray digit read next to a card makes the whole run fail)."""
    groups = [(m.start() + start, m.end() + start) for m in re.finditer(r"\d+", text[start:end])]
    best: tuple[int, int] | None = None
    for i in range(len(groups)):
        for j in range(len(groups) - 1, i - 1, -1):
            digits = "".join(text[a:b] for a, b in groups[i : j + 1])
            # one digit over and over passes Luhn and is no card: a row of redaction
            # blocks or placeholder zeros read as digits
            if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits):
                span = (groups[i][0], groups[j][1])
                if best is None or span[1] - span[0] > best[1] - best[0]:
                    best = span
                break
    return [best] if best else []


@dataclass(frozen=True)
class Hit:
    rect: Rect
    rule: str
    rows: tuple[int, int]  # the line's core rows


# what a read found: its rectangle, rule, text and core rows
_Found = tuple[Rect, str, str, tuple[int, int]]


def _kept(h: Hit, diff: np.ndarray) -> bool:
    """Whether a box found earlier is painted again: its pixels still show what was
    found there, changed in under KEEP_CHANGED of them (a sliver, such as the ascenders
    of a line typed below reaching into its rows, is no new text). Even when this frame
    reads the line again: the recogniser does not read the same pixels the same way in
    every crop, and a second read that misses a secret must not unmask it. A box kept
    over text that changed a little masks too much, never too little."""
    core = diff[max(0, h.rows[0]) : h.rows[1], h.rect[0] : h.rect[2]]
    return core.size == 0 or float(core.mean()) < KEEP_CHANGED


def _scrolled(prev: np.ndarray, cur: np.ndarray, diff: np.ndarray) -> tuple[int, Rect] | None:
    """Whether the changed region shows the previous frame's rows moved up or down (a
    terminal, a list or a page scrolled): (k, region) where row i of `cur` shows row
    i + k of `prev` inside the region (left, top, right, bottom), or None. Rows are
    matched by their pixels; rows of one colour match anywhere and do not count."""
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size < SCROLL_ROWS:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    p, c = prev[top:bottom, left:right], cur[top:bottom, left:right]

    def keys(a: np.ndarray) -> list[int | None]:
        varied = (a != a[:, :1]).any(axis=1)
        return [hash(a[i].tobytes()) if varied[i] else None for i in range(len(a))]

    where: dict[int, list[int]] = {}
    for j, key in enumerate(keys(p)):
        if key is not None:
            where.setdefault(key, []).append(j)
    votes: Counter[int] = Counter()
    seen = 0
    for i, key in enumerate(keys(c)):
        if key is None:
            continue
        seen += 1
        for j in where.get(key, [])[:4]:
            if j != i:
                votes[j - i] += 1
    if not votes:
        return None
    k, n = votes.most_common(1)[0]
    if n < max(SCROLL_ROWS // 4, seen // 2):
        return None
    return k, (left, top, right, bottom)


def _shifted(prev: np.ndarray, k: int, region: Rect) -> np.ndarray:
    """The previous frame with the region's rows moved by k (row i shows row i + k);
    the rows scrolled in keep what was there, so they read as changed."""
    left, top, right, bottom = region
    out = prev.copy()
    if k > 0:
        out[top : bottom - k, left:right] = prev[top + k : bottom, left:right]
    else:
        out[top - k : bottom, left:right] = prev[top : bottom + k, left:right]
    return out


def _moved(h: Hit, k: int, region: Rect) -> list[Hit]:
    """A box found earlier, and where it went if it moved with the region that scrolled
    (clipped to the region). Which one still shows its secret is for the pixels to say
    (`_kept`): a box only partly in the region, or in a part of it that did not move (a
    header inside the changed rows), may have stayed where it was."""
    top, bottom = region[1], region[3]
    r = h.rect
    if not _overlaps(r, region):
        return [h]
    t, b = max(top, r[1] - k), min(bottom, r[3] - k)
    if t >= b:
        return [h]
    rows = (max(t, h.rows[0] - k), min(b, h.rows[1] - k))
    return [h, Hit((r[0], t, r[2], b), h.rule, rows if rows[0] < rows[1] else (t, b))]


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _outermost(hits: list[Hit]) -> list[Hit]:
    """The hits less any lying inside another (a secret kept from one read and found
    again, or a part of it, by the next)."""
    out: list[Hit] = []
    for i, h in enumerate(hits):
        inside = any(
            j != i
            and o.rect[0] <= h.rect[0]
            and o.rect[1] <= h.rect[1]
            and h.rect[2] <= o.rect[2]
            and h.rect[3] <= o.rect[3]
            and (o.rect != h.rect or j < i)
            for j, o in enumerate(hits)
        )
        if not inside:
            out.append(h)
    return out


def _rect(b: np.ndarray) -> Rect:
    """A detected box (four corners) as a rectangle."""
    return int(b[:, 0].min()), max(0, int(b[:, 1].min())), int(b[:, 0].max()), int(b[:, 1].max())


def _changed(boxes: list[np.ndarray], diff: np.ndarray) -> list[np.ndarray]:
    """The detected boxes to read again: those whose own pixels (their middle rows,
    their columns) changed, and every box the rules' text would join to one of them
    (`_rows`: the same line, a small gap apart), since a secret can span them. A box
    beside a change, on the same rows but apart from it (another column of a table,
    a sidebar), shows what it showed."""
    stand_ins = [_Box(*_rect(b), _Line("", [])) for b in boxes]
    again: set[int] = set()
    for run in _rows(stand_ins):
        if any(diff[slice(*_core(s.top, s.bottom + 1)), s.left : s.right + 1].any() for s in run):
            again.update(id(s) for s in run)
    return [b for b, s in zip(boxes, stand_ins, strict=True) if id(s) in again]


def _holding_line(band: tuple[int, int], diff: np.ndarray, lines: list[Rect]) -> Rect | None:
    """The one known text line that holds every change in `band`: the changed rows
    within its rows, the changed columns within it or just past its end (text typed
    onto it). None: the change is elsewhere, spans lines, or no line is known."""
    part = diff[band[0] : band[1]]
    rows = np.flatnonzero(part.any(axis=1))
    if rows.size == 0:
        return None
    r0, r1 = band[0] + int(rows[0]), band[0] + int(rows[-1]) + 1
    cols = np.flatnonzero(part.any(axis=0))
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    # typed onto the line's end: it starts inside the line or just past its end, and
    # is no wider than half a piece (what `_window` reads whole); text typed between
    # two frames can run many characters past where the line ended
    holding = [
        k
        for k in lines
        if k[1] <= r0
        and r1 <= k[3]
        and k[0] - (k[3] - k[1]) <= c0 <= k[2] + GROW * (k[3] - k[1])
        and c1 - c0 <= PIECE * (k[3] - k[1]) // 2
    ]
    return holding[0] if len(holding) == 1 else None


def _window(line: Rect, diff: np.ndarray, pixels: np.ndarray) -> tuple[Rect, Rect]:
    """What to read of a line where it changed, and the line grown to hold the change.
    Its rows, from WORDS words before the first changed column to WORDS after the last,
    within half a piece of the change and within the grown line: a secret touching the
    change, with fewer than WORDS spaces in it and up to half a piece long, lies whole
    inside. `pixels` is the frame (rows by columns, one value per pixel)."""
    left, top, right, bottom = line
    h = max(1, bottom - top)
    cols = np.flatnonzero(diff[top:bottom].any(axis=0))
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    half = PIECE * h // 2
    grown = (min(left, c0), top, min(pixels.shape[1], max(right, c1 + h // 2)), bottom)
    # within the line: blank margins make the recogniser drop the spaces between words
    lo, hi = max(grown[0], c0 - half), min(grown[2], c1 + half)
    core = _glyph_rows(pixels[top:bottom, lo:hi])
    values, counts = np.unique(core, return_counts=True)
    blank = (core == values[counts.argmax()]).all(axis=0)  # the background's columns
    gap = max(2, round(GAP * h))
    start = c0 - _after_words(blank[: c0 - lo][::-1], gap)  # read leftwards from c0
    end = c1 + _after_words(blank[c1 - lo :], gap)
    return (max(lo, start - gap), top, min(hi, end + gap), bottom), grown


def _after_words(blank: np.ndarray, gap: int) -> int:
    """How many columns hold the first WORDS words of `blank` (True: a blank column),
    read from its start: up to the WORDS-th run of at least `gap` blank columns, or all
    of it."""
    n, run, words = len(blank), 0, 0
    for i in range(n):
        if blank[i]:
            run += 1
            continue
        if run >= gap:
            words += 1
            if words >= WORDS:
                return i - run
        run = 0
    return n


def _words(core: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """The column ranges of the words in a line's middle rows (one value per pixel):
    runs of columns that are not all background, apart by at least `gap` blank ones."""
    values, counts = np.unique(core, return_counts=True)
    ink = np.flatnonzero(~(core == values[counts.argmax()]).all(axis=0))
    if ink.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(ink) > gap)
    starts = np.concatenate(([ink[0]], ink[breaks + 1]))
    ends = np.concatenate((ink[breaks] + 1, [ink[-1] + 1]))
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _digest(pixels: np.ndarray) -> bytes:
    return hashlib.blake2b(
        np.ascontiguousarray(pixels).tobytes() + repr(pixels.shape).encode(), digest_size=16
    ).digest()


def _glyph_rows(rows: np.ndarray) -> np.ndarray:
    """The rows of a line (one value per pixel) where its words are told apart: from
    the middle half's top down to the baseline and below, as long as a row is mostly
    background. The middle half alone misses what sits on the baseline, an address's
    "_" and ".": a name cached on each side of them was joined with a space and only
    the part after it matched as an address. A detected box reaches past its glyphs,
    and what lies below (a window's border, the black past a terminal's last line) is
    no part of them."""
    top, bottom = _core(0, rows.shape[0])
    values, counts = np.unique(rows[top:bottom], return_counts=True)
    mostly_bg = (rows[bottom:] == values[counts.argmax()]).mean(axis=1) > 0.5
    below = int(np.argmin(mostly_bg)) if not mostly_bg.all() else len(mostly_bg)
    return rows[top : bottom + below]


def _core(top: int, bottom: int) -> tuple[int, int]:
    """The middle half of a detected box's rows: the detector widens boxes past the
    glyphs, into the neighbouring lines, and a change there is not a change here."""
    q = (bottom - top) // 4
    return top + q, max(top + q + 1, bottom - q)


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
    group: int | None = None  # pieces of one long line share it and are never joined


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
            # a box scored by its own outline: scored by its bounding rectangle, a long
            # line a pixel off level scores low and is dropped whole
            det_score_mode="slow",
            # each line at its own width: padded to 320 (PaddleOCR's batch shape), a
            # word typed costs what a line does; the recall benchmark reads as well or
            # better (0.987 of personal data against 0.985, harmless words alike)
            rec_img_shape=[3, 48, 8],
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
        # every text line the detector last found on a monitor (secret or not): a change
        # inside one of them is read without detecting again
        self._lines: dict[int, list[Rect]] = {}
        self._cache: OrderedDict[bytes, _Line] = OrderedDict()
        # the text of single words by their pixels (a line's rows, a word's columns)
        self._word_cache: OrderedDict[bytes, str] = OrderedDict()
        # every key set here: the status writer copies it from another thread
        self.stats: Counter[str] = Counter(
            dict.fromkeys(
                (
                    "frames",
                    "bands",
                    "bands_in_line",
                    "words_reused",
                    "scrolls",
                    "rows_read",
                    "lines_read",
                    "lines_cached",
                    "cpu_ms",
                ),
                0,
            )
        )

    @property
    def engine(self) -> _Engine:
        if self._engine is None:
            self._engine = _Engine()
        return self._engine

    def forget(self) -> None:
        """Drop the previous frames (after a pause: the next frame is read whole)."""
        self._prev.clear()
        self._hits.clear()
        self._lines.clear()

    def mask(self, monitor: int, pixels: bytearray, width: int, height: int) -> Counter[str]:
        """Find and paint secrets on a monitor's BGRX pixels (full resolution), in place.
        Returns the masked boxes per rule; raises if the frame was not fully read."""
        hits = self.find(monitor, pixels, width, height)
        _paint(np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 4), hits)
        return Counter(h.rule for h in hits)

    def find(
        self, monitor: int, pixels: bytes | bytearray | memoryview, width: int, height: int
    ) -> list[Hit]:
        """The boxes to paint on a monitor's BGRX pixels (full resolution), from what
        changed since its previous frame; raises if the frame was not fully read."""
        started, cpu = time.monotonic(), time.thread_time()
        cur = np.frombuffer(pixels, dtype=np.uint32).reshape(height, width)
        prev = self._prev.get(monitor)
        old = self._hits.get(monitor, [])
        known = self._lines.get(monitor, [])
        if prev is None or prev.shape != cur.shape:
            diff = np.ones((height, width), dtype=bool)
            bands = [(0, height)]
        else:
            diff = cur != prev
            if (moved := _scrolled(prev, cur, diff)) is not None:
                # what scrolled shows what it showed, moved: compared with the previous
                # frame moved the same way, only the rows scrolled in are read
                k, region = moved
                prev = _shifted(prev, k, region)
                old = [m for h in old for m in _moved(h, k, region)]
                known = [ln for ln in known if not _overlaps(ln, region)]
                diff = cur != prev
                self.stats["scrolls"] += 1
            bands = _bands(np.flatnonzero(diff.any(axis=1)), height, old)
        new: list[Hit] = []
        bgr = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 4)
        slow: list[tuple[int, int]] = []
        for band in bands:
            line = _holding_line(band, diff, known)
            if line is None:
                slow.append(band)
                continue
            # typing in a line already found: its rows are read around the change, no
            # detection (the costlier half of reading)
            if time.monotonic() - started > self.deadline:
                raise RedactionIncomplete("deadline")
            window, grown = _window(line, diff, cur)
            known = [grown if k == line else k for k in known]
            for r, rule, _, core in self._secrets(self._typed(window, cur, bgr, started)):
                new.append(Hit(r, rule, core))
            self.stats["bands_in_line"] += 1
        for top, bottom, own in _chunks(slow, height):
            if time.monotonic() - started > self.deadline:
                raise RedactionIncomplete("deadline")
            crop = np.ascontiguousarray(bgr[top:bottom, :, :3])
            owned = (own[0] - top, own[1] - top)
            seen: list[Rect] = []
            for r, rule, _, core in self._read(crop, started, diff[top:bottom], owned, seen):
                rect = (r[0], r[1] + top, r[2], r[3] + top)
                new.append(Hit(rect, rule, (core[0] + top, core[1] + top)))
            # the lines of the rows this chunk owns are now the ones it detected
            known = [k for k in known if not own[0] <= (k[1] + k[3]) // 2 < own[1]]
            known += [(b[0], b[1] + top, b[2], b[3] + top) for b in seen]
        self._lines[monitor] = known
        self._prev[monitor] = cur.copy()  # not what the caller paints: what the screen showed
        # a box whose pixels did not change shows what it showed: painted again unread
        kept = [h for h in old if _kept(h, diff)]
        hits = _outermost(kept + new)
        self._hits[monitor] = hits
        self.stats["frames"] += 1
        self.stats["bands"] += len(bands)
        self.stats["rows_read"] += sum(b - t for t, b in bands)
        self.stats["cpu_ms"] += int(1000 * (time.thread_time() - cpu))
        return hits

    def scan(self, bgr: np.ndarray) -> list[tuple[str, str]]:
        """Every secret readable in a whole image (BGR): (rule, the text read). For
        re-checking frames that were already masked; keeps no state between images."""
        return [(f[1], f[2]) for f in self._read(np.ascontiguousarray(bgr), None)]

    def lines(self, bgr: np.ndarray) -> list[str]:
        """The text of every line readable in a whole image (BGR), secret or not."""
        img = np.ascontiguousarray(bgr)
        boxes = self.engine.detect(img)
        return [ln.text for ln in self.engine.recognise(self.engine.crops(img, boxes))]

    def _read(
        self,
        img: np.ndarray,
        started: float | None,
        diff: np.ndarray | None = None,
        own: tuple[int, int] | None = None,
        seen: list[Rect] | None = None,
    ) -> list[_Found]:
        """Detect the text lines of `img` and recognise those whose middle row is in
        `own` and whose rows show a change in `diff` (all lines without them); of a long
        line cut into pieces, only the pieces over changed columns. Every line whose
        middle row is in `own` goes to `seen`. Returns the secrets."""
        eng = self.engine
        boxes = eng.detect(img)
        if diff is not None and own is not None:

            def mine(b: np.ndarray) -> bool:
                top, bottom = _core(max(0, int(b[:, 1].min())), int(b[:, 1].max()) + 1)
                return own[0] <= (top + bottom) // 2 < own[1]

            boxes = [b for b in boxes if mine(b)]
            if seen is not None:
                seen += [_rect(b) for b in boxes]
            boxes = _changed(boxes, diff)
        elif seen is not None:
            seen += [_rect(b) for b in boxes]
        if not boxes:
            return []
        pieces = _pieces(boxes, eng.crops(img, boxes))
        if diff is not None:
            # a piece over unchanged columns shows what it showed (its secrets are kept)
            pieces = [
                p
                for p in pieces
                if p[4] is None
                or diff[_core(p[1], p[3])[0] : _core(p[1], p[3])[1], p[0] : p[2]].any()
            ]
        return self._recognise(pieces, started)

    def _typed(
        self,
        window: Rect,
        cur: np.ndarray,
        bgr: np.ndarray,
        started: float,
    ) -> list[_Box]:
        """The text of a window of a line being typed onto, as boxes: each word that
        shows exactly the pixels of a word read before is taken from the word cache;
        the words from the one before the first that is not to the last that is not
        are recognised (and cached when they line up with their pixels). Typing between
        two frames changes a word or two, and the words around it, which a secret typed
        there may begin or end with, are read once; a word typed again, in a terminal's
        fixed cells, is not read again. The word before is read for its context: a crop
        that starts at an address, the recogniser more often splits with a space
        (`bench.bench_typed`)."""
        left, top, right, bottom = window
        h = bottom - top
        gap = max(2, round(GAP * h))
        words = _words(_glyph_rows(cur[top:bottom, left:right]), gap)
        if not words:  # nothing but background where it changed: read it all
            words = [(0, right - left)]
        texts = [
            self._word_cache.get(_digest(bgr[top:bottom, left + a : left + b, :3]))
            for a, b in words
        ]
        missed = [i for i, text in enumerate(texts) if text is None]
        first, last = (max(0, missed[0] - 1), missed[-1]) if missed else (len(words), -1)
        # a cached word's box reaches halfway to its neighbours: its columns are its
        # ink, and a secret over several words is painted with the spaces between
        # them, as a recognised one is
        edges = [0, *((b + a2) // 2 for (_, b), (a2, _) in pairwise(words)), right - left]
        reused = [
            _Box(
                left + max(edges[i], a - gap),
                top,
                left + min(edges[i + 1], b + gap),
                bottom,
                _Line(text, []),
            )
            for i, ((a, b), text) in enumerate(zip(words, texts, strict=True))
            if text is not None and not first <= i <= last
        ]
        self.stats["words_reused"] += len(reused)
        if not missed:
            return reused
        # from just past the word before to just short of the word after
        start = min(words[first - 1][1] + gap, words[first][0]) if first else 0
        end = (
            max(words[last + 1][0] - gap, words[last][1]) if last + 1 < len(words) else right - left
        )
        x0, x1 = left + start, left + end
        crop = np.ascontiguousarray(bgr[top:bottom, x0:x1, :3])
        (box,) = self._boxes([(x0, top, x1, bottom, None, crop)], started)
        self._learn(box, [(a - start, b - start) for a, b in words[first : last + 1]], bgr)
        return sorted([*reused, box], key=lambda b: b.left)

    def _learn(self, box: _Box, words: list[tuple[int, int]], bgr: np.ndarray) -> None:
        """Cache the words of a recognised box by their pixels (`words`: the column
        ranges of the words its pixels show, relative to the box). Each character goes
        to the word whose columns hold the middle of its cell; nothing is cached when
        the recogniser gave no cells, or a character falls between words or out of
        order (the next frame then reads the window whole). A word is cached only where
        the recogniser read a space on each side of it: from the cache, a word is joined
        to its neighbours with a space, and a gap in the pixels inside one word (an
        "i" beside an "l" in a fixed-width font, the "_" of an address) would split an
        address in two, the rules matching only its second half."""
        line = box.line
        if len(line.chars) != len(line.text):
            return
        texts = [""] * len(words)
        whole = [True] * len(words)  # a space read before and after it
        slack = max(2, round(GAP * (box.bottom - box.top))) // 2 + 1
        last, prev_word, prev_at = 0, -1, -2
        for at, (ch, (x0, x1)) in enumerate(zip(line.text, line.chars, strict=True)):
            if ch.isspace():
                continue
            mid = (x0 + x1) / 2
            into = [i for i, (a, b) in enumerate(words) if a - slack <= mid <= b + slack]
            if len(into) != 1 or into[0] < last:
                return
            last = into[0]
            if prev_at == at - 1 and prev_word != last:  # read as one word, two in pixels
                whole[prev_word] = whole[last] = False
            prev_word, prev_at = last, at
            texts[last] += ch
        for (a, b), text, ok in zip(words, texts, whole, strict=True):
            # nor one that starts or ends in what joins the parts of an address or a
            # token: the recogniser may itself have set the part after it apart
            if ok and text and text[0] not in JOINERS and text[-1] not in JOINERS:
                key = _digest(bgr[box.top : box.bottom, box.left + a : box.left + b, :3])
                self._word_cache[key] = text
                self._word_cache.move_to_end(key)
        while len(self._word_cache) > CACHE_WORDS:
            self._word_cache.popitem(last=False)

    def _recognise(
        self, pieces: list[tuple[int, int, int, int, int | None, np.ndarray]], started: float | None
    ) -> list[_Found]:
        """Recognise the pieces (through the cache of lines already read) and return the
        secrets in their text."""
        return self._secrets(self._boxes(pieces, started))

    def _boxes(
        self, pieces: list[tuple[int, int, int, int, int | None, np.ndarray]], started: float | None
    ) -> list[_Box]:
        """The pieces with their text, recognised through the cache of lines already
        read."""
        eng = self.engine
        keys = [_digest(c) for *_, c in pieces]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        self.stats["lines_cached"] += len(keys) - len(missing)
        self.stats["lines_read"] += len(missing)
        if missing:
            if started is not None and time.monotonic() - started > self.deadline:
                raise RedactionIncomplete("deadline")
            got = eng.recognise([pieces[i][-1] for i in missing])
            for i, line in zip(missing, got, strict=True):
                self._cache[keys[i]] = line
        lines = []
        for k, (left, top, right, bottom, group, _) in zip(keys, pieces, strict=True):
            self._cache.move_to_end(k)
            lines.append(_Box(left, top, right, bottom, self._cache[k], group))
        while len(self._cache) > CACHE_LINES:
            self._cache.popitem(last=False)
        return lines

    def _secrets(self, boxes: list[_Box]) -> list[_Found]:
        """Join the boxes of each text line, match the rules on its text, and return the
        rectangles of the matching characters."""
        out: list[_Found] = []
        for row in _rows(boxes):
            # where[i]: the box of text[i], None for a joining space
            text, where = "", list[tuple[_Box, int] | None]()
            for b in row:
                if text:
                    text += " "
                    where.append(None)
                text += b.line.text
                where += [(b, i) for i in range(len(b.line.text))]
            for start, end, rule in pixel_spans(text, self.patterns):
                for r in _span_rects(where[start:end]):
                    out.append((r, rule, text[start:end], _core(r[1], r[3])))
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
            same = b.group is not None and b.group == run[-1].group
            if not same and b.left - run[-1].right <= JOIN_GAP * max(1, b.bottom - b.top):
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
    out: list[tuple[int, int]] = []
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


def _pieces(
    boxes: list[np.ndarray], crops: list[np.ndarray]
) -> list[tuple[int, int, int, int, int | None, np.ndarray]]:
    """Each detected line as (left, top, right, bottom, group, crop); a line longer than
    PIECE line-heights is cut into pieces of that length overlapping by half of it, so
    that any secret up to half a piece long lies whole in one (the recogniser's cost and
    memory grow faster than the width it reads)."""
    out: list[tuple[int, int, int, int, int | None, np.ndarray]] = []
    for n, (b, crop) in enumerate(zip(boxes, crops, strict=True)):
        left, top, right, bottom = _rect(b)
        h, w = crop.shape[:2]
        size = PIECE * max(1, h)
        if w <= size:
            out.append((left, top, right, bottom, None, crop))
            continue
        x = 0
        while True:
            x1 = min(w, x + size)
            out.append((left + x, top, left + x1, bottom, n, crop[:, x:x1]))
            if x1 == w:
                break
            x += size // 2
    return out


def _chunks(bands: list[tuple[int, int]], height: int) -> list[tuple[int, int, tuple[int, int]]]:
    """Bands cut into chunks of at most CHUNK rows, overlapping by OVERLAP, each with
    the rows it owns: a line is read by the chunk owning its middle row, where it lies
    whole (the detector's memory grows with the image: a whole screen at once takes
    hundreds of MB). A chunk shorter than MIN_DET_HEIGHT is grown to it with the
    frame's own rows around it: the detector misses text in a thin strip, and padding
    the strip with a copy of its last row can hide a whole line from it (a line above
    the black below a window was not found at all)."""
    out = []
    for top, bottom in bands:
        start = top
        while True:
            stop = min(bottom, start + CHUNK)
            own_top = top if start == top else start + OVERLAP // 2
            own_bottom = bottom if stop == bottom else stop - OVERLAP // 2
            lo, hi = start, stop
            if hi - lo < MIN_DET_HEIGHT:
                grow = MIN_DET_HEIGHT - (hi - lo)
                lo = max(0, lo - grow // 2)
                hi = min(height, lo + MIN_DET_HEIGHT)
                lo = max(0, hi - MIN_DET_HEIGHT)
            out.append((lo, hi, (own_top, own_bottom)))
            if stop == bottom:
                break
            start = stop - OVERLAP
    return out


def _paint(bgrx: np.ndarray, hits: list[Hit]) -> None:
    h, w = bgrx.shape[:2]
    for (left, top, right, bottom), _ in ((x.rect, x.rule) for x in hits):
        x0, x1, y0, y1 = max(0, left), min(w, right), max(0, top), min(h, bottom)
        if x0 < x1 and y0 < y1:
            bgrx[y0:y1, x0:x1] = (0, 0, 0, 255)
