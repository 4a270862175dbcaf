"""Train, validation and test splits by contributor.

A contributor's split is fixed by their pseudonymous id alone: the first 8 bytes of
sha256(`worktape-split:` + id), read as a fraction of [0, 1), fall in one split's share
of [0, 1), the splits taking their fractions in order. So no contributor is in two
splits, and a contributor keeps their split from one version to the next (a model
evaluated on a later version's test split never trained on an earlier version's
rows of the same people). The price: with few contributors the splits hold
contributors, not rows, in about those fractions, and a small split can be empty; the
card says how many each holds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

Splits = tuple[tuple[str, float], ...]

DEFAULT_SPLITS = "train=0.8,validation=0.1,test=0.1"
SALT = b"worktape-split:"
METHOD = (
    "sha256('worktape-split:' + contributor_id): its first 8 bytes as a fraction of [0, 1) "
    "fall in one split's share of [0, 1), the splits taking their fractions in order"
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SplitError(ValueError):
    """Split fractions that cannot be used."""


def parse_splits(text: str) -> Splits:
    """`train=0.8,validation=0.1,test=0.1` as ((name, fraction), ...), in that order."""
    pairs: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        try:
            fraction = float(value) if sep else -1.0
        except ValueError:
            fraction = -1.0
        if not _NAME.match(name) or not 0.0 <= fraction <= 1.0:
            raise SplitError(
                f"bad split {part.strip()!r} in {text!r}: want name=fraction, e.g. {DEFAULT_SPLITS}"
            )
        pairs.append((name, fraction))
    return check_splits(pairs)


def check_splits(pairs: Sequence[tuple[str, float]]) -> Splits:
    names = [n for n, _ in pairs]
    if not pairs or len(set(names)) != len(names):
        raise SplitError(f"split names must be given once each: {', '.join(names) or 'none'}")
    total = sum(f for _, f in pairs)
    if abs(total - 1.0) > 1e-6:
        raise SplitError(f"split fractions add up to {total:g}, not 1")
    return tuple((n, float(f)) for n, f in pairs)


def split_of(contributor_id: str, splits: Splits) -> str:
    """The split a contributor's rows go to, from their id alone."""
    point = int.from_bytes(hashlib.sha256(SALT + contributor_id.encode()).digest()[:8], "big")
    edge = 0.0
    for name, fraction in splits:
        edge += fraction
        if point < int(edge * 2**64):
            return name
    return splits[-1][0]


class SplitCounter:
    """Contributors, episodes, steps and embedded images of each split, for the card."""

    def __init__(self, splits: Splits) -> None:
        self.splits = splits
        self.contributors: dict[str, set[str]] = {n: set() for n, _ in splits}
        self.episodes = dict.fromkeys(self.contributors, 0)
        self.steps = dict.fromkeys(self.contributors, 0)
        self.images = dict.fromkeys(self.contributors, 0)

    def episode(self, split: str, contributor_id: str) -> None:
        self.contributors[split].add(contributor_id)
        self.episodes[split] += 1

    def step(self, split: str, has_image: bool) -> None:
        self.steps[split] += 1
        self.images[split] += has_image

    def card(self) -> list[dict[str, Any]]:
        return [
            {
                "name": n,
                "fraction": f,
                "contributors": len(self.contributors[n]),
                "episodes": self.episodes[n],
                "steps": self.steps[n],
                "images": self.images[n],
            }
            for n, f in self.splits
        ]


def splits_from_card(card: dict[str, Any]) -> Splits | None:
    """The splits a version was published with, from its card (None before splits)."""
    rows = card.get("splits")
    if not rows:
        return None
    return check_splits([(r["name"], r["fraction"]) for r in rows])
