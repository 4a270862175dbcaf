"""Recall of the agent's on-screen text masking (`worktape.core.privacy.screen_text`).

Generates frames that show personal data (e-mail addresses, card numbers, phone
numbers, tokens) among harmless words, in several fonts, sizes, colours and
backgrounds, runs the agent's masker on each, and prints:
- the share of personal-data items masked (goal >= 0.98): an item counts as masked when
  the painted boxes cover at least 90% of its drawn bounding box;
- the share of harmless words masked by mistake (goal <= 0.05): covered over half;
- CPU seconds per frame (one onnxruntime thread), and the misses, to read.

    python -m bench.bench_textmask [--frames 300] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from worktape.core.privacy.rules import luhn_ok
from worktape.core.privacy.screen_text import TextMasker

FONT_DIRS = ("/usr/share/fonts",)
FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSans-Bold.ttf",
    "NimbusSans-Regular.otf",
    "NimbusMonoPS-Regular.otf",
    "NimbusRoman-Regular.otf",
    "URWGothic-Book.otf",
)
SIZES = (12, 13, 14, 16, 18, 22)
# (background, text): light and dark themes, tinted panels, low contrast
THEMES = (
    ("#ffffff", "#000000"),
    ("#1e1e1e", "#d4d4d4"),
    ("#f3f6fb", "#1f3b73"),
    ("#fff8e1", "#5d4037"),
    ("#263238", "#80cbc4"),
    ("#e8f5e9", "#2e7d32"),
    ("#ffffff", "#6b6b6b"),
    ("gradient", "#111111"),
)
WORDS = [
    "invoice",
    "quarterly",
    "region",
    "status",
    "approved",
    "pending",
    "review",
    "meeting",
    "project",
    "budget",
    "customer",
    "account",
    "renewal",
    "priority",
    "ticket",
    "report",
    "summary",
    "travel",
    "expense",
    "hotel",
    "contract",
    "notes",
    "morning",
    "schedule",
    "delivery",
    "warehouse",
    "order",
    "shipped",
    "team",
    "update",
    "draft",
    "final",
    "policy",
    "request",
    "manager",
    "office",
    "supplies",
    "lunch",
    "client",
    "onboarding",
]
FIRST = [
    "alice",
    "bob",
    "carol",
    "dana",
    "erik",
    "fatima",
    "george",
    "hana",
    "ivan",
    "julia",
    "kofi",
    "lena",
]
DOMAINS = ["example.com", "northwind.io", "contoso.org", "acme-corp.net", "mail.example.co.uk"]


@dataclass
class Item:
    text: str
    kind: str  # email, card, phone, token, or harmless
    box: tuple[int, int, int, int]


def _card(rng: random.Random) -> str:
    while True:
        digits = rng.choice(("4", "51", "37", "6011")) + "".join(
            rng.choice(string.digits) for _ in range(15)
        )
        digits = digits[: 16 if not digits.startswith("37") else 15]
        if luhn_ok(digits):
            break
    sep = rng.choice((" ", "-", ""))
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _phone(rng: random.Random) -> str:
    n = [rng.randint(200, 989), rng.randint(200, 999), rng.randint(1000, 9999)]
    return rng.choice(
        (
            f"+1 {n[0]} {n[1]} {n[2]}",
            f"({n[0]}) {n[1]}-{n[2]}",
            f"{n[0]}-{n[1]}-{n[2]}",
            f"+44 20 {n[1]} {n[2]}",
            f"+49 30 {n[1]}{n[2]}",
        )
    )


def _secret(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(("email", "email", "card", "phone", "token"))
    if kind == "email":
        user = rng.choice(FIRST) + rng.choice((".", "_", "")) + rng.choice(FIRST)
        return kind, f"{user}@{rng.choice(DOMAINS)}"
    if kind == "card":
        return kind, _card(rng)
    if kind == "phone":
        return kind, _phone(rng)
    alnum = string.ascii_letters + string.digits
    prefix = rng.choice(("ghp_", "AKIA", "sk-"))
    return kind, prefix + "".join(
        rng.choice(string.ascii_uppercase + string.digits if prefix == "AKIA" else alnum)
        for _ in range(16 if prefix == "AKIA" else 28)
    )


def fonts() -> list[Path]:
    found = {
        p.name: p for d in FONT_DIRS for p in Path(d).rglob("*") if p.suffix in {".ttf", ".otf"}
    }
    return [found[n] for n in FONT_NAMES if n in found]


def canvas(size: tuple[int, int], bg: str) -> Image.Image:
    """An empty screen in a theme's background: a colour, or a light grey gradient."""
    if bg == "gradient":
        img = Image.linear_gradient("L").resize(size).convert("RGB")
        return Image.eval(img, lambda v: 140 + v // 3)
    return Image.new("RGB", size, bg)


def frame(
    rng: random.Random, font_files: list[Path], size: tuple[int, int] = (720, 300)
) -> tuple[Image.Image, list[Item]]:
    bg, fg = rng.choice(THEMES)
    img = canvas(size, bg)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(rng.choice(font_files)), rng.choice(SIZES))
    items: list[Item] = []
    y = 10
    while True:
        line_h = int(font.size * 1.6)
        if y + line_h > size[1] - 6:
            break
        x = 12
        parts: list[tuple[str, str]] = []
        for _ in range(rng.randint(2, 5)):
            parts.append(("harmless", rng.choice(WORDS).capitalize() + ":"))
            parts.append(_secret(rng) if rng.random() < 0.35 else ("harmless", rng.choice(WORDS)))
        for kind, text in parts:
            w = int(d.textlength(text, font=font))
            if x + w > size[0] - 12:
                break
            d.text((x, y), text, font=font, fill=fg)
            left, top, right, bottom = d.textbbox((x, y), text, font=font)
            items.append(Item(text, kind, (int(left), int(top), int(right), int(bottom))))
            x += w + int(d.textlength("   ", font=font))
        y += line_h
    return img, items


def coverage(box: tuple[int, int, int, int], rects: list[tuple[int, int, int, int]]) -> float:
    """Share of `box` under the union of `rects` (counted per pixel column band)."""
    left, top, right, bottom = box
    area = max(1, (right - left) * (bottom - top))
    import numpy as np

    m = np.zeros((bottom - top, right - left), dtype=bool)
    for r in rects:
        x0, x1 = max(left, r[0]) - left, min(right, r[2]) - left
        y0, y1 = max(top, r[1]) - top, min(bottom, r[3]) - top
        if x0 < x1 and y0 < y1:
            m[y0:y1, x0:x1] = True
    return float(m.sum()) / area


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    font_files = fonts()
    masker = TextMasker()
    masked: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong = harmless = 0
    misses: list[str] = []
    cpu = 0.0
    for i in range(args.frames):
        img, items = frame(rng, font_files)
        bgrx = bytearray(img.convert("RGBA").tobytes("raw", "BGRA"))
        masker.forget()  # every frame is new: read it whole
        t = time.process_time()
        masker.mask(1, bgrx, img.width, img.height)
        cpu += time.process_time() - t
        rects = [h.rect for h in masker._hits.get(1, [])]
        for it in items:
            c = coverage(it.box, rects)
            if it.kind == "harmless":
                harmless += 1
                wrong += c > 0.5
            else:
                total[it.kind] += 1
                if c >= 0.9:
                    masked[it.kind] += 1
                elif len(misses) < 25:
                    misses.append(f"frame {i}: {it.kind} {it.text!r} covered {c:.2f}")
    n_pii = sum(total.values())
    print(f"text masking recall on {args.frames} generated frames ({len(font_files)} fonts)")
    print(f"  personal data masked   {sum(masked.values()) / n_pii:.3f}   (goal >= 0.98)")
    for kind in sorted(total):
        print(f"    {kind:8s} {masked[kind]}/{total[kind]}")
    print(f"  harmless words masked  {wrong / max(1, harmless):.3f}   (goal <= 0.05)")
    print(f"  CPU per frame          {cpu / args.frames:.2f} s (720x300, one onnxruntime thread)")
    for m in misses:
        print("  miss:", m)


if __name__ == "__main__":
    main()
