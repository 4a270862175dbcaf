"""Recurring episodes grouped into workflows, deterministically.

An episode is described by its main app and the words of its window titles (digits
dropped). Within one app, each word weighs as much as it is common among that app's
episodes: the words of the screens a workflow always visits ("zendesk", "expensify")
outweigh the words that vary between its instances (a company, a subject line, a chat
channel), so instances that differ only in those stay together.

Clustering is leader-based: distinct word sets are taken most frequent first (ties by
their sorted words); each joins the most similar existing workflow of its app if the
weighted Jaccard similarity reaches `threshold`, or starts a new one. The same input
always gives the same workflows and ids; the cost is linear in distinct word sets times
workflows, so it stays cheap over a long history. A workflow's id is a hash of its app
and its leading word set.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# measured on a simulated week (10 contributors): ARI 0.976 at 0.5, 0.974 at 0.6 and 0.65,
# 0.972 at 0.7, and 0.69 at 0.4, where an app's workflows start to merge
DEFAULT_THRESHOLD = 0.6


@dataclass(frozen=True)
class EpisodeShape:
    episode_id: str
    app: str
    words: frozenset[str]


def similarity(a: frozenset[str], b: frozenset[str], weight: Mapping[str, float]) -> float:
    """Weighted Jaccard similarity of two word sets (two empty sets are alike)."""
    if not a and not b:
        return 1.0
    union = sum(weight.get(w, 0.0) for w in a | b)
    if union <= 0:
        return 0.0
    return sum(weight.get(w, 0.0) for w in a & b) / union


def workflow_id(app: str, leader: frozenset[str]) -> str:
    key = app + "\x00" + "\x00".join(sorted(leader))
    return "w" + hashlib.sha1(key.encode()).hexdigest()[:15]


def cluster_workflows(
    shapes: Iterable[EpisodeShape],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, str]:
    """Map each episode id to a workflow id."""
    by_app: dict[str, list[EpisodeShape]] = defaultdict(list)
    for s in shapes:
        by_app[s.app].append(s)
    assigned: dict[str, str] = {}
    for app in sorted(by_app):
        group = by_app[app]
        n = len(group)
        df = Counter(w for s in group for w in s.words)
        weight = {w: c / n for w, c in df.items()}
        counts = Counter(s.words for s in group)
        leaders: list[frozenset[str]] = []
        leader_of: dict[frozenset[str], frozenset[str]] = {}
        for words in sorted(counts, key=lambda k: (-counts[k], sorted(k))):
            best, best_sim = None, threshold
            for lead in leaders:
                sim = similarity(words, lead, weight)
                if sim > best_sim or (best is None and sim >= best_sim):
                    best, best_sim = lead, sim
            if best is None:
                leaders.append(words)
                best = words
            leader_of[words] = best
        for s in group:
            assigned[s.episode_id] = workflow_id(app, leader_of[s.words])
    return assigned


def adjusted_rand_index(labels_true: list[object], labels_pred: list[object]) -> float:
    """The adjusted Rand index of two labelings of the same items (1: identical
    partitions, about 0: chance)."""
    if len(labels_true) != len(labels_pred):
        raise ValueError("labelings differ in length")
    n = len(labels_true)
    if n < 2:
        return 1.0

    def pairs(k: int) -> float:
        return k * (k - 1) / 2

    index = sum(pairs(c) for c in Counter(zip(labels_true, labels_pred, strict=True)).values())
    rows = sum(pairs(c) for c in Counter(labels_true).values())
    cols = sum(pairs(c) for c in Counter(labels_pred).values())
    expected = rows * cols / pairs(n)
    top = (rows + cols) / 2
    if top == expected:
        return 1.0
    return (index - expected) / (top - expected)
