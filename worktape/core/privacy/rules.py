"""Secret detection and scrubbing, applied on the laptop before a bundle is sealed.

Two uses:
- `scrub(text)` rewrites a string (window titles) with placeholders like `<email>`;
- `secret_spans(text)` finds the character spans of a typed run, so the key events that
  typed them can be dropped to `key = NULL, redacted = true`.

Each takes the contributor's `privacy.mask_patterns`, compiled (rule `pattern`): what
they asked to hide on screen is hidden from the keys and titles too.

The pipeline's privacy gate (expectations/) re-checks the built-in rules downstream (a
laptop's own patterns stay on the laptop).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import groupby

RULES = ("email", "card", "phone", "token", "password")
# a match of one of the contributor's `privacy.mask_patterns`; the built-in rules win
# where both match
PATTERN = "pattern"

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by spaces or dashes; confirmed by the Luhn check
CARD_RE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# international or national numbers: 9-15 digits with the usual separators
PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)"
)
# digits the phone rule matches that are something else: a date (the hour after it
# makes the count: "2026-12-03 22:48"), or an IPv4 address (an address bar, a log line)
_DAY, _MONTH = r"(?:0?[1-9]|[12]\d|3[01])", r"(?:0?[1-9]|1[0-2])"
_DATE_FIRST = re.compile(
    rf"(?:(?:19|20)\d\d[-./]{_MONTH}[-./]{_DAY}|{_DAY}[-./]{_DAY}[-./](?:19|20)\d\d)(?!\d)"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
TOKEN_RE = re.compile(
    r"(?:"
    r"AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI-style secret keys
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWT
    r"|(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])"
    r"[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])"  # long random-looking strings
    r")"
)


# a password-like word: 8+ characters mixing upper, lower, digit and a symbol
PASSWORD_RE = re.compile(
    r"(?<!\S)(?=\S*[a-z])(?=\S*[A-Z])(?=\S*\d)(?=\S*[!@#$%^&*()+=?<>~{}\[\]|;:,/\\])\S{8,}(?!\S)"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def not_a_phone(match: str) -> bool:
    """Whether digits a phone rule matched are a date and what follows it, or an IPv4
    address (spaces a recogniser put around a separator aside)."""
    tight = re.sub(r"\s*([-./])\s*", r"\1", match.strip())
    return bool(_DATE_FIRST.match(tight) or _IPV4.fullmatch(tight))


def secret_spans(text: str, patterns: Sequence[re.Pattern[str]] = ()) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, rule) spans of secrets in `text`, in order;
    `patterns` adds the contributor's own (rule `pattern`)."""
    found: list[tuple[int, int, str]] = []
    for m in EMAIL_RE.finditer(text):
        found.append((m.start(), m.end(), "email"))
    for m in TOKEN_RE.finditer(text):
        found.append((m.start(), m.end(), "token"))
    for m in CARD_RE.finditer(text):
        d = _digits(m.group())
        if 13 <= len(d) <= 19 and luhn_ok(d):
            found.append((m.start(), m.end(), "card"))
    for m in PHONE_RE.finditer(text):
        if 9 <= len(_digits(m.group())) <= 15 and not not_a_phone(m.group()):
            found.append((m.start(), m.end(), "phone"))
    for m in PASSWORD_RE.finditer(text):
        found.append((m.start(), m.end(), "password"))
    # earlier rules win overlaps (an e-mail's digits are not also a phone)
    order = {r: i for i, r in enumerate(RULES)}
    found.sort(key=lambda s: (order[s[2]], s[0]))
    taken: list[tuple[int, int, str]] = []
    for span in found:
        if all(span[1] <= t[0] or span[0] >= t[1] for t in taken):
            taken.append(span)
    # the contributor's patterns hide every character they match: what a built-in rule
    # did not already take
    hidden = {i for start, end, _ in taken for i in range(start, end)}
    for start, end in pattern_spans(text, patterns):
        free = [i for i in range(start, end) if i not in hidden]
        hidden.update(free)
        for _, run in groupby(enumerate(free), key=lambda t: t[1] - t[0]):
            idx = [i for _, i in run]
            taken.append((idx[0], idx[-1] + 1, PATTERN))
    return sorted(taken)


def pattern_spans(text: str, patterns: Sequence[re.Pattern[str]]) -> list[tuple[int, int]]:
    """(start, end) of every non-empty match of the contributor's patterns: for typed
    text and titles here, for recognised text on screen (`screen_text`)."""
    return [(m.start(), m.end()) for p in patterns for m in p.finditer(text) if m.end() > m.start()]


def scrub(
    text: str | None, patterns: Sequence[re.Pattern[str]] = ()
) -> tuple[str | None, Counter[str]]:
    """Replace every secret in `text` with `<rule>`; returns the text and rule counts."""
    counts: Counter[str] = Counter()
    if not text:
        return text, counts
    spans = secret_spans(text, patterns)
    if not spans:
        return text, counts
    out, pos = [], 0
    for start, end, rule in spans:
        out.append(text[pos:start])
        out.append(f"<{rule}>")
        counts[rule] += 1
        pos = end
    out.append(text[pos:])
    return "".join(out), counts


def redact_run(chars: Iterable[str], patterns: Sequence[re.Pattern[str]] = ()) -> dict[int, str]:
    """For the characters of one typed run: index -> rule, for every character whose
    key events must be redacted."""
    text = "".join(chars)
    return {i: rule for start, end, rule in secret_spans(text, patterns) for i in range(start, end)}


def count_changes(
    kinds: Iterable[str],
    details: Iterable[str | None],
    titles: Iterable[str | None],
    redacted: Iterable[bool],
) -> dict[str, int]:
    """The manifest's `redaction.changed`: events changed per rule, from the events."""
    counts: Counter[str] = Counter()
    for kind, detail, title, red in zip(kinds, details, titles, redacted, strict=True):
        if red and kind in ("key_down", "key_up"):
            counts[f"keys_{detail or 'secret_field'}"] += 1
        elif kind == "pause" and detail == "denylist":
            counts["denylist_gaps"] += 1
        elif kind == "focus_change" and title and "<" in title:
            for rule in (*RULES, PATTERN):
                if n := title.count(f"<{rule}>"):
                    counts[f"title_{rule}"] += n
    return dict(sorted(counts.items()))


def looks_secret(text: str | None) -> bool:
    return bool(text) and bool(secret_spans(text or ""))
