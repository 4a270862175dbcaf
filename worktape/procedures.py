"""A workflow's usual path, found by aligning its instances' steps (issue #18, groundwork:
not yet called by the pipeline).

Each instance is a sequence of step keys (what was done to what, with what varies between
instances taken out: "click:New expense", "type:Merchant"). The path is not one
instance copied: the medoid instance (the one most like all others) is the backbone,
every instance is aligned to it, and
- a backbone step is kept with the share of instances that have it at that place;
- a step the backbone lacks but enough instances do at the same place is put in;
- a step whose share is under `optional_below` reads as optional, and one under
  `keep_at_least` is left out (one person's detour).

Deterministic: the same instances, in any order, give the same path (ties are broken by
the sequences themselves). Pure Python, on a bounded sample of instances: the cost is
the number of instances squared times their length.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

# instances aligned per workflow, at most (the newest, chosen by the caller)
MAX_INSTANCES = 40


@dataclass(frozen=True)
class PathStep:
    key: Hashable
    share: float  # of instances that have this step at this place
    is_optional: bool


def similarity(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """2 x matched steps / all steps (1.0: the same sequence; two empty ones are alike)."""
    if not a and not b:
        return 1.0
    return SequenceMatcher(None, list(a), list(b), autojunk=False).ratio()


def medoid(instances: Sequence[Sequence[Hashable]]) -> int:
    """The index of the instance most like all the others (ties: the shortest, then the
    first in sorted order of their keys as text)."""
    best: tuple[float, int, str] | None = None
    pick = 0
    for i, a in enumerate(instances):
        total = sum(similarity(a, b) for j, b in enumerate(instances) if j != i)
        rank = (-total, len(a), repr(list(a)))
        if best is None or rank < best:
            best, pick = rank, i
    return pick


def usual_path(
    instances: Sequence[Sequence[Hashable]],
    *,
    optional_below: float = 0.8,
    keep_at_least: float = 0.3,
) -> list[PathStep]:
    """The usual path through `instances` (see the module's docstring)."""
    if not instances:
        return []
    ordered = sorted(instances, key=lambda s: repr(list(s)))  # order-independent result
    center = list(ordered[medoid(ordered)])
    n = len(ordered)
    matched = [0] * len(center)
    # steps others have between backbone steps: (gap, key) -> instances, and where in
    # the gap they first came (to order several in one gap)
    inserted: dict[tuple[int, Hashable], set[int]] = {}
    first_at: dict[tuple[int, Hashable], tuple[int, int]] = {}
    for k, inst in enumerate(ordered):
        seq = list(inst)
        ops = SequenceMatcher(None, center, seq, autojunk=False).get_opcodes()
        seen: set[int] = set()
        for tag, i1, i2, j1, j2 in ops:
            if tag == "equal":
                for i in range(i1, i2):
                    if i not in seen:
                        matched[i] += 1
                        seen.add(i)
            elif tag in ("insert", "replace"):
                # what this instance does instead of, or besides, center[i1:i2]: it
                # goes in the gap before center[i2] (after center[i1 - 1])
                for offset, key in enumerate(seq[j1:j2]):
                    slot = (i2 if tag == "replace" else i1, key)
                    inserted.setdefault(slot, set()).add(k)
                    first_at.setdefault(slot, (offset, k))
    path: list[PathStep] = []

    def put(key: Hashable, count: int) -> None:
        share = count / n
        if share >= keep_at_least:
            path.append(PathStep(key, round(share, 4), share < optional_below))

    for gap in range(len(center) + 1):
        extra = sorted(
            (slot for slot in inserted if slot[0] == gap),
            key=lambda slot: (first_at[slot], repr(slot[1])),
        )
        for slot in extra:
            put(slot[1], len(inserted[slot]))
        if gap < len(center):
            put(center[gap], matched[gap])
    return path


def alignment_score(found: Sequence[Hashable], expected: Sequence[Hashable]) -> float:
    """How well a found path matches an expected one (a driver's script): 2 x matched
    steps / all steps, in order."""
    return similarity(found, expected)
