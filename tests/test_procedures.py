"""The usual path of a workflow from its instances (worktape.procedures): kept steps,
optional steps, detours left out, insertions in place, independent of input order."""

from __future__ import annotations

import random

from worktape.procedures import alignment_score, medoid, usual_path

EXPENSE = ["click:New expense", "type:Merchant", "type:Amount", "click:Save"]


def keys(path) -> list[str]:
    return [s.key for s in path]


def test_alike_instances_give_their_path_with_every_step_required() -> None:
    path = usual_path([EXPENSE] * 4)
    assert keys(path) == EXPENSE
    assert all(s.share == 1.0 and not s.is_optional for s in path)


def test_a_step_some_skip_is_optional_and_one_persons_detour_is_left_out() -> None:
    with_date = [*EXPENSE[:3], "type:Date", EXPENSE[3]]
    detour = [EXPENSE[0], "click:Help", *EXPENSE[1:]]
    instances = [with_date, with_date, with_date, EXPENSE, EXPENSE, detour, EXPENSE]
    path = usual_path(instances)
    assert keys(path) == [*EXPENSE[:3], "type:Date", EXPENSE[3]]
    date = path[3]
    assert date.is_optional and date.share == round(3 / 7, 4)
    assert not any(s.is_optional for s in path if s.key != "type:Date")


def test_a_step_most_take_is_put_in_where_they_take_it() -> None:
    # the medoid is the shortest of the alike ones; most instances attach a receipt
    receipt = [*EXPENSE[:3], "click:Attach receipt", EXPENSE[3]]
    instances = [EXPENSE, EXPENSE, receipt, receipt, receipt]
    path = usual_path(instances)
    assert keys(path) == receipt
    assert path[3].share == 0.6 and path[3].is_optional


def test_the_path_does_not_depend_on_the_order_of_instances() -> None:
    rng = random.Random(3)
    base = ["a", "b", "c", "d", "e", "f"]
    instances = []
    for _ in range(12):
        inst = [s for s in base if rng.random() > 0.15]
        if rng.random() < 0.3:
            inst.insert(rng.randrange(len(inst) + 1), "x")
        instances.append(inst)
    first = usual_path(instances)
    for _ in range(5):
        rng.shuffle(instances)
        assert usual_path(instances) == first
    assert medoid([["a"], ["a", "b"], ["a", "b"]]) == 1


def test_alignment_score_against_a_script() -> None:
    assert alignment_score(EXPENSE, EXPENSE) == 1.0
    assert alignment_score(EXPENSE[:3], EXPENSE) == 6 / 7
    assert alignment_score([], []) == 1.0 and usual_path([]) == []
