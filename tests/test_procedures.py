"""The usual path of a workflow from its instances (worktape.procedures): kept steps,
optional steps, detours left out, insertions in place, independent of input order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from worktape.procedures import Step, alignment_score, medoid, named_keys, units, usual_path

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


# -- procedure units: steps as a person would say them ------------------------------------
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def step(
    i: int, kind: str, role: str | None = None, name: str | None = None, code: str = ""
) -> Step:
    return Step(
        f"s{i}", T0 + timedelta(seconds=i), kind, code, role, name, "chromium", "New · Ledgerly 42"
    )


def test_a_field_clicked_typed_with_a_typo_and_tabbed_from_is_one_fill() -> None:
    got = units(
        [
            step(1, "click", "push button", "New expense"),
            step(2, "click", "entry", "Merchant"),
            step(3, "type", "entry", "Merchant", "pyautogui.write('Prey')"),
            step(4, "hotkey", code="pyautogui.press('backspace')"),
            step(5, "type", code="pyautogui.write('t')"),
            step(6, "hotkey", code="pyautogui.press('tab')"),
            step(7, "type", "entry", "Amount", "pyautogui.write('12.50')"),
            step(8, "hotkey", code="pyautogui.press('tab')"),
            step(9, "type", "combo box", "Category", "pyautogui.write('Tra')"),
            step(10, "hotkey", code="pyautogui.hotkey('ctrl', '2')"),  # off to chat and back
            step(11, "click", "combo box", "Category"),
            step(12, "type", "menu item", "Travel", "pyautogui.write('Tra')"),
            step(13, "hotkey", code="pyautogui.press('enter')"),
            step(14, "click", "push button", "Submit"),
            step(15, "hotkey", code="pyautogui.hotkey('ctrl', 's')"),
        ]
    )
    assert [u.key for u in got] == [
        "click:new expense",
        "fill:merchant",
        "fill:amount",
        "choose:category",  # left for another tab and back: the same choice, one step
        "click:submit",
        "press:ctrl+s",
    ]
    assert [u.text for u in got][:4] == [
        "Click 'New expense'",
        "Fill in 'Merchant'",
        "Fill in 'Amount'",
        "Choose 'Category'",
    ]
    assert got[1].steps == ["s2", "s3", "s5"] and got[1].step_id == "s2"  # a fix is no step
    assert got[-1].text == "Press Ctrl+S"
    assert got[0].page == "New · Ledgerly #"


def test_data_in_a_controls_name_is_cut_and_a_page_click_names_nothing() -> None:
    got = units(
        [
            step(1, "click", "push button", "Report 2242 — Dana Reyes"),
            step(2, "click", "document web", "Report 2242 – Dana Reyes · Ledgerly"),
            step(3, "click", None, None),
        ]
    )
    assert [u.key for u in got] == ["click:report #", "click:", "click:"]
    assert [u.text for u in got] == ["Click 'Report #'", "Click in the page", "Click in the window"]


def test_an_unnamed_click_takes_the_name_others_have_at_the_same_place() -> None:
    named = ["click:new expense", "fill:merchant", "click:submit"]
    unnamed = ["click:", "fill:merchant", "click:submit"]
    elsewhere = ["fill:merchant", "click:", "click:submit"]
    out = named_keys([named, unnamed, elsewhere])
    assert out[1] == named
    assert out[2] == elsewhere  # no named click between those neighbours: left as it is


def test_a_click_named_by_data_is_one_step_however_the_data_varies() -> None:
    # an inbox: every reply opens a different message, named by sender and subject
    messages = ["li wei — lunch on friday?", "sam okafor — your invoice", "omar haddad — q"]
    instances = [[f"click:{m}", "click:reply", "fill:message", "click:send"] for m in messages] + [
        ["click:", "click:reply", "fill:message", "click:send"]
    ]
    out = named_keys(instances)
    assert all(o == ["click:", "click:reply", "fill:message", "click:send"] for o in out)
    path = usual_path(out)
    assert [p.key for p in path] == ["click:", "click:reply", "fill:message", "click:send"]
    # a control most instances name alike keeps its name, and lends it to an unnamed one
    same = [["click:approve", "click:expenses"]] * 3 + [["click:other", "click:expenses"]]
    assert named_keys(same) == same


def test_the_score_against_a_script_counts_an_unnamed_step_of_the_same_verb() -> None:
    script = ["click:new expense", "fill:merchant", "click:submit"]
    assert alignment_score(script, script) == 1.0
    assert alignment_score(["click:", "fill:merchant", "click:submit"], script) == 1.0
    assert alignment_score(["fill:merchant", "click:submit"], script) == 0.8
    assert alignment_score(["press:enter", "fill:merchant", "click:submit"], script) == 4 / 6
