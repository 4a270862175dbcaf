"""A workflow's procedure: its instances' steps as procedure units, and the usual path
found by aligning them. The dbt model `procedure_units` calls it; the marts
`procedure_steps` and `procedures` summarise what it returns.

An instance's steps become **units**, what a person would call one step of a procedure
(`units`): a click into a field and the typing that follows, with its typos fixed by
Backspace, is one "Fill in 'Merchant'"; Tab to a drop-down, typing the first letters of a
choice and Return is one "Choose 'Category'"; keys that only move between fields, fix
typos or switch tabs are not steps. Each unit has a key, what was done to what with what
varies between instances taken out ("click:new expense", "fill:merchant"). The path is
not one instance copied: the medoid instance (the one most like all others) is the backbone,
every instance is aligned to it, and
- a backbone step is kept with the share of instances that have it at that place;
- a step the backbone lacks but enough instances do at the same place is put in;
- a step whose share is under `optional_below` reads as optional, and one under
  `keep_at_least`, or done in fewer than `keep_min_instances` instances, is left out
  (one person's detour).

Deterministic: the same instances, in any order, give the same path (ties are broken by
the sequences themselves). Pure Python, on a bounded sample of instances: the cost is
the number of instances squared times their length.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
    optional_below: float = 0.9,
    keep_at_least: float = 0.2,
    keep_min_instances: int = 2,
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
        if share >= keep_at_least and count >= min(keep_min_instances, n):
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


def alignment_score(found: Sequence[str], expected: Sequence[str]) -> float:
    """How well a found path of unit keys matches an expected one (a driver's script):
    2 x matched steps / all steps, in order (the longest common subsequence). A step
    whose element went unnamed ("click:") matches a step of the same verb: the step is
    there, what it acted on was not told (the application named nothing, or the page
    had changed under the lookup)."""
    if not found and not expected:
        return 1.0

    def alike(f: str, e: str) -> bool:
        verb, _, target = f.partition(":")
        other, _, expected = e.partition(":")
        return f == e or ((not target or not expected) and verb == other)

    prev = [0] * (len(expected) + 1)
    for f in found:
        row = [0]
        for j, e in enumerate(expected):
            row.append(prev[j] + 1 if alike(f, e) else max(prev[j + 1], row[j]))
        prev = row
    return 2 * prev[-1] / (len(found) + len(expected))


# roles of elements one types into: a click on one is the start of filling it in
FIELD_ROLES = frozenset(
    {"entry", "text", "password text", "spin button", "combo box", "document text"}
)
CHOICE_ROLES = frozenset({"combo box"})
# roles that name a control (its name says what it does, the same in every instance);
# other roles (a page, a cell, a list item) name data, which varies
CONTROL_ROLES = frozenset(
    {
        "push button",
        "toggle button",
        "button",
        "link",
        "menu item",
        "check menu item",
        "radio menu item",
        "menu",
        "page tab",
        "check box",
        "radio button",
        "combo box",
        "entry",
        "text",
        "password text",
        "spin button",
        "slider",
    }
)
ROLE_WORDS = {
    "push button": "button",
    "toggle button": "toggle",
    "entry": "text field",
    "text": "text field",
    "password text": "password field",
    "spin button": "number field",
    "combo box": "drop-down",
    "check box": "checkbox",
    "radio button": "option",
    "page tab": "tab",
    "list item": "list item",
    "table cell": "table cell",
    "document web": "page",
    "document text": "document",
    "link": "link",
    "menu item": "menu item",
    "menu": "menu",
}
# keys that move between fields, fix typing or switch tabs and windows: not steps
_NOT_STEPS = re.compile(
    r"^(tab|shift\+tab|backspace|delete|left|right|up|down|home|end|shift|ctrl|alt"
    r"|ctrl\+[1-9]|ctrl\+tab|ctrl\+shift\+tab|ctrl\+page_(up|down)|alt\+tab)$"
)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


@dataclass(frozen=True)
class Step:
    """A step of an instance as the steps mart has it."""

    step_id: str
    started_at: datetime
    action_type: str
    action_code: str | None
    element_role: str | None
    element_name: str | None
    app: str | None
    window_title: str | None


@dataclass
class Unit:
    """One step of a procedure as a person would say it; `step_id` is its first step."""

    verb: str  # click, double_click, right_click, drag, scroll, fill, choose, press
    step_id: str
    started_at: datetime
    element_role: str | None
    element_name: str | None
    keys: str | None
    app: str | None
    page: str | None
    steps: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        """What the unit acted on, as the key has it: a control's name (lowercase, cut
        at its first digit: ids vary), else a role."""
        if self.verb == "press":
            return self.keys or ""
        name = (self.element_name or "").strip()
        if name and (self.element_role in CONTROL_ROLES or self.verb in ("fill", "choose")):
            return name_key(name)
        # a page, a cell, a label, nothing: the same step whatever the data under it
        # (and a lookup that raced the page's change often names the page instead)
        return ""

    @property
    def key(self) -> str:
        return f"{self.verb}:{self.target}"

    @property
    def text(self) -> str:
        return unit_text(self.verb, self.element_role, self.element_name, self.keys)


def name_key(name: str) -> str:
    """'Report 2242 — Dana Reyes' -> 'report #': lowercase, digits masked, cut after the
    first number (what follows an id is the record's data)."""
    masked = re.sub(r"[0-9]+", "#", name.strip().lower())
    cut = masked.find("#")
    return masked[: cut + 1] if cut >= 0 else masked[:60]


def shown_name(name: str) -> str:
    """A control's name as a procedure shows it: digits masked, cut after the first
    number, at most 60 characters."""
    masked = re.sub(r"[0-9]+", "#", name.strip())
    cut = masked.find("#")
    shown = masked[: cut + 1] if cut >= 0 else masked
    return shown if len(shown) <= 60 else shown[:59] + "…"


def key_words(keys: str) -> str:
    """'ctrl+s' -> 'Ctrl+S', 'page_down' -> 'Page Down' (as the step_text macro)."""
    return "+".join(
        k.upper() if len(k) == 1 else " ".join(w.capitalize() for w in k.split("_"))
        for k in keys.split("+")
    )


def unit_text(verb: str, role: str | None, name: str | None, keys: str | None) -> str:
    """A procedure step in words: "Click 'New expense'", "Fill in 'Merchant'",
    "Choose 'Category'", "Press Ctrl+S". What a person typed is never in it."""
    name = (name or "").strip()
    is_control = role in CONTROL_ROLES or verb in ("fill", "choose")
    what = f"'{shown_name(name)}'" if name and is_control else None
    role_words = ROLE_WORDS.get(role or "")
    if verb == "press":
        return f"Press {key_words(keys or '')}"
    if verb == "fill":
        return f"Fill in {what}" if what else f"Type into the {role_words or 'window'}"
    if verb == "choose":
        return f"Choose {what}" if what else "Choose an option"
    if verb == "scroll":
        return "Scroll"
    words = {"click": "Click", "double_click": "Double-click", "right_click": "Right-click"}
    head = words.get(verb, verb.replace("_", " ").capitalize())
    if what:
        return f"{head} {what}"
    if role_words:
        return f"{head} a {role_words}" if role != "document web" else f"{head} in the page"
    return f"{head} in the window"


def page_shape(title: str | None) -> str | None:
    """A window title with its digits masked: the page, not the record."""
    return re.sub(r"[0-9]+", "#", title) if title else title


def _keys(code: str | None) -> str:
    return "+".join(k.lower() for k in _QUOTED.findall(code or ""))


def units(steps: Iterable[Step]) -> list[Unit]:
    """An instance's steps (in order) as procedure units (see the module's docstring)."""
    out: list[Unit] = []
    open_field: Unit | None = None  # a fill or choose that typing may still continue

    def start(verb: str, s: Step, keys: str | None = None) -> Unit:
        u = Unit(
            verb,
            s.step_id,
            s.started_at,
            s.element_role,
            s.element_name,
            keys,
            s.app,
            page_shape(s.window_title),
            [s.step_id],
        )
        out.append(u)
        return u

    for s in steps:
        kind = s.action_type
        if kind == "hotkey":
            keys = _keys(s.action_code)
            if _NOT_STEPS.match(keys):
                continue  # moving between fields keeps a fill open for the next field
            if keys in ("return", "enter") and open_field and open_field.verb == "choose":
                open_field.steps.append(s.step_id)  # the choice made
                open_field = None
                continue
            start("press", s, keys)
            open_field = None
        elif kind == "type":
            same = open_field is not None and (
                open_field.verb == "choose"  # the keys go to the choice's pop-up list
                or s.element_name is None
                or (s.element_name or "").strip() == (open_field.element_name or "").strip()
            )
            if open_field is not None and same:
                open_field.steps.append(s.step_id)
                if open_field.element_name is None and s.element_name and open_field.verb == "fill":
                    open_field.element_name, open_field.element_role = (
                        s.element_name,
                        s.element_role,
                    )
                continue
            verb = "choose" if s.element_role in CHOICE_ROLES else "fill"
            open_field = start(verb, s)
        elif kind == "click" and s.element_role in FIELD_ROLES:
            if (
                open_field is not None
                and (open_field.element_name or "") == (s.element_name or "")
                and open_field.step_id == out[-1].step_id
            ):
                open_field.steps.append(s.step_id)  # a second click into the same field
                continue
            verb = "choose" if s.element_role in CHOICE_ROLES else "fill"
            open_field = start(verb, s)
        elif kind == "scroll":
            if out and out[-1].verb == "scroll":
                out[-1].steps.append(s.step_id)
                continue
            start("scroll", s)
            open_field = None
        else:
            start(kind, s)
            open_field = None
    return out


@dataclass(frozen=True)
class Aligned:
    """An instance's unit and the place on its procedure's path it matched (None: a
    step of its own)."""

    unit: Unit
    path_index: int | None


CLICK_VERBS = frozenset({"click", "double_click", "right_click"})


def named_keys(instances: Sequence[Sequence[str]]) -> list[list[str]]:
    """The instances' unit keys, with two fixes made by looking at the same place (the
    same verb between the same two neighbours) in the other instances:
    - a click there that names a different control in nearly every instance (at least
      three names, none in half of them: an inbox's messages, a list's customers) names
      data, not a control: it becomes a click of no name ("click:"), one step however
      the data varies;
    - a step with no element named ("click:") takes the most common name the others
      have there (ties by the key): a lookup that raced a page change, or an
      application that named nothing this once, does not make the step a different one.
    """
    seen: dict[tuple[str, str, str], dict[str, int]] = {}

    def around(seq: Sequence[str], i: int) -> tuple[str, str]:
        return (seq[i - 1] if i else "^", seq[i + 1] if i + 1 < len(seq) else "$")

    for seq in instances:
        for i, key in enumerate(seq):
            verb, _, target = key.partition(":")
            if target:
                counts = seen.setdefault((verb, *around(seq, i)), {})
                counts[key] = counts.get(key, 0) + 1

    def names_data(slot: tuple[str, str, str]) -> bool:
        counts = seen.get(slot, {})
        total = sum(counts.values())
        return (
            slot[0] in CLICK_VERBS
            and len(counts) >= 3
            and max(counts.values(), default=0) * 2 < total
        )

    out = []
    for seq in instances:
        named = list(seq)
        for i, key in enumerate(seq):
            verb, _, target = key.partition(":")
            slot = (verb, *around(seq, i))
            if names_data(slot):
                named[i] = f"{verb}:"
            elif not target:
                counts = seen.get(slot)
                if counts:
                    named[i] = min(counts, key=lambda k: (-counts[k], k))
        out.append(named)
    return out


def align(
    path: Sequence[Hashable], instance: Sequence[Unit], keys: Sequence[str] | None = None
) -> list[Aligned]:
    """Each unit of `instance` with the index of the path step it matches, in order
    (`keys`: the units' keys as the path was found from, by default their own)."""
    keys = list(keys) if keys is not None else [u.key for u in instance]
    at: dict[int, int] = {}
    for block in SequenceMatcher(None, list(path), keys, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            at[block.b + k] = block.a + k
    return [Aligned(u, at.get(i)) for i, u in enumerate(instance)]
