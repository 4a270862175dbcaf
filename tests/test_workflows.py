"""The workflow clustering (worktape.workflows): deterministic, independent of input
order, keeps instances that differ in variable words together, keeps an app's distinct
workflows apart; and the adjusted Rand index it is scored with."""

from __future__ import annotations

import random

import pytest

from worktape.workflows import EpisodeShape, adjusted_rand_index, cluster_workflows

CRM = {"home", "salesforce", "account", "google", "chrome"}
EXPENSE = {"expenses", "expensify", "new", "expense", "google", "chrome"}
CHAT = {"slack", "acme"}


def shapes() -> list[EpisodeShape]:
    rng = random.Random(3)
    out = []
    for i in range(60):
        kind = i % 3
        if kind == 0:
            words = CRM | {rng.choice(["globex", "initech", "hooli", "soylent"])}
            app = "chrome"
        elif kind == 1:
            words = EXPENSE - ({"new"} if i % 2 else set())
            app = "chrome"
        else:
            words = CHAT | {rng.choice(["general", "random", "team"])}
            app = "slack"
        out.append(EpisodeShape(f"e{i:03d}", app, frozenset(words)))
    return out


def test_workflows_separate_tasks_and_join_their_instances() -> None:
    got = cluster_workflows(shapes())
    by_kind: dict[int, set[str]] = {0: set(), 1: set(), 2: set()}
    for s in shapes():
        by_kind[int(s.episode_id[1:]) % 3].add(got[s.episode_id])
    assert all(len(ids) == 1 for ids in by_kind.values()), by_kind
    assert len(set.union(*by_kind.values())) == 3


def test_workflows_are_deterministic_and_order_free() -> None:
    a = cluster_workflows(shapes())
    shuffled = shapes()
    random.Random(5).shuffle(shuffled)
    assert cluster_workflows(shuffled) == a
    assert cluster_workflows(shapes()) == a


def test_an_app_never_shares_a_workflow_with_another() -> None:
    got = cluster_workflows(
        [
            EpisodeShape("a", "chrome", frozenset({"x"})),
            EpisodeShape("b", "slack", frozenset({"x"})),
        ]
    )
    assert got["a"] != got["b"]


def test_adjusted_rand_index() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 7, 7]) == pytest.approx(1.0)
    # the textbook example (Hubert and Arabie's formula; sklearn gives the same value)
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(
        0.2424, abs=1e-4
    )
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    with pytest.raises(ValueError):
        adjusted_rand_index([1], [1, 2])
