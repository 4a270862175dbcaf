"""Recall of the text masking on secrets typed a few characters a frame.

`bench_textmask` reads each generated frame whole. On a laptop most frames are typing:
the masker reads only around the change, and takes from its word cache every word
whose pixels it read before. This benchmark types lines onto a terminal-like screen,
a few characters between two frames (as a person types between two clicks), with a
cursor block after the last character, and checks every frame in which a secret shows
whole. One masker serves every line, so its word cache fills as a day's would: the
harmless words come from a small vocabulary, and some secrets are typed again later.
It prints:
- the share of frames in which a whole, visible secret was masked (90% of its drawn
  box covered), per kind, and the secrets left unmasked in any frame after they showed
  whole;
- the share of harmless words typed whole that were masked by mistake (over half
  covered), frame by frame;
- the words taken from the cache, the lines recognised, and CPU per typing frame.

    python -m bench.bench_typed [--lines 120] [--seed 11] [--no-word-cache]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from PIL import Image, ImageDraw, ImageFont

from bench.bench_textmask import THEMES, WORDS, _secret, canvas, coverage, fonts
from worktape.core.privacy import screen_text
from worktape.core.privacy.screen_text import TextMasker

SIZE = (1100, 90)
TYPED_SIZES = (12, 13, 14, 16)


def typed_line(rng: random.Random, again: list[tuple[str, str]]) -> tuple[str, str, str]:
    """A line to type: harmless words around one secret, and the secret's kind. A
    secret typed before comes back a third of the time."""
    if again and rng.random() < 0.33:
        kind, secret = rng.choice(again)
    else:
        kind, secret = _secret(rng)
        again.append((kind, secret))
    before = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    after = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 3)))
    return kind, secret, f"{before} {secret} {after}".rstrip()


def render(
    text: str, font: ImageFont.FreeTypeFont, theme: tuple[str, str]
) -> tuple[Image.Image, int]:
    """The screen with `text` typed after a prompt, a cursor block after it; returns
    the x where the typed text starts."""
    bg, fg = theme
    img = canvas(SIZE, bg)
    d = ImageDraw.Draw(img)
    d.text((12, 10), "build finished: 42 tests passed", font=font, fill=fg)
    prompt = "$ "
    x0 = 12 + int(font.getlength(prompt))
    y = 10 + int(font.size * 1.8)
    d.text((12, y), prompt + text, font=font, fill=fg)
    end = 12 + font.getlength(prompt + text)
    d.rectangle((int(end) + 1, y, int(end) + 1 + font.size // 2, y + font.size), fill=fg)
    return img, x0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=120)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument(
        "--no-word-cache", action="store_true", help="every word recognised: the comparison"
    )
    args = ap.parse_args()
    if args.no_word_cache:
        screen_text.CACHE_WORDS = 0
    rng = random.Random(args.seed)
    font_files = fonts()
    masker = TextMasker()
    shown, masked = Counter[str](), Counter[str]()
    leaked: list[str] = []
    n_leaked = 0
    again: list[tuple[str, str]] = []
    cpu, typing_frames = 0.0, 0
    harmless, wrong = 0, 0
    for n in range(args.lines):
        kind, secret, line = typed_line(rng, again)
        font = ImageFont.truetype(str(rng.choice(font_files)), rng.choice(TYPED_SIZES))
        theme = rng.choice([t for t in THEMES if t[0] != "gradient"])
        masker.forget()  # a new screen: its first frame is read whole; the cache stays
        img, _ = render("", font, theme)
        masker.mask(1, bytearray(img.convert("RGBA").tobytes("raw", "BGRA")), *SIZE)
        start = line.index(secret)
        typed, left_unmasked = 0, False
        while typed < len(line):
            typed = min(len(line), typed + rng.randint(2, 14))
            img, x0 = render(line[:typed], font, theme)
            px = bytearray(img.convert("RGBA").tobytes("raw", "BGRA"))
            t = time.process_time()
            masker.mask(1, px, *SIZE)
            cpu += time.process_time() - t
            typing_frames += 1
            y = 10 + int(font.size * 1.8)
            d = ImageDraw.Draw(img)
            rects = [h.rect for h in masker._hits.get(1, [])]
            # the harmless words typed whole so far, none of them the secret's
            at = 0
            for word in line[:typed].split(" ")[:-1]:
                if word and not start <= at < start + len(secret):
                    w = d.textbbox((x0 + font.getlength(line[:at]), y), word, font=font)
                    harmless += 1
                    wrong += coverage((int(w[0]), int(w[1]), int(w[2]), int(w[3])), rects) > 0.5
                at += len(word) + 1
            if typed < start + len(secret):
                continue  # not whole yet
            b = d.textbbox((x0 + font.getlength(line[:start]), y), secret, font=font)
            box = (int(b[0]), int(b[1]), int(b[2]), int(b[3]))
            shown[kind] += 1
            if coverage(box, rects) >= 0.9:
                masked[kind] += 1
            else:
                left_unmasked = True
        n_leaked += left_unmasked
        if left_unmasked and len(leaked) < 25:
            leaked.append(f"line {n}: {kind} {secret!r} in {line!r}")
    total = sum(shown.values())
    stats = masker.stats
    print(
        f"typed secrets, {args.lines} lines typed 2-14 characters a frame "
        f"({len(font_files)} fonts, word cache {'off' if args.no_word_cache else 'on'})"
    )
    print(f"  frames with a whole secret masked   {sum(masked.values()) / max(1, total):.3f}")
    for k in sorted(shown):
        print(f"    {k:8s} {masked[k]}/{shown[k]}")
    print(f"  lines with a secret left unmasked   {n_leaked} of {args.lines}")
    print(f"  harmless words masked by mistake    {wrong / max(1, harmless):.3f}")
    print(
        f"  words from the cache {stats['words_reused']}, lines recognised "
        f"{stats['lines_read']}, CPU per typing frame {1000 * cpu / typing_frames:.0f} ms"
    )
    for m in leaked:
        print("  unmasked:", m)


if __name__ == "__main__":
    main()
