"""Bundles the contract accepts but that are unusual, as hypothesis strategies.

Each odd case writes one or more real bundles with the reference writer (and, for a
newer minor version, edits the sealed tar the way a newer writer would). The cases are
the ones real laptops produce now and then: a newer agent, an hour with one event or
nothing but pauses or idle, frames with no action, monitors left of or above the primary,
a daylight-saving change, titles in any script and of any length, the largest ids and
screens the contract allows, one person on two laptops at once, and a first bundle that
arrives a week late.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from tests.bundlekit import CONSENT, assemble, edit_table, explode, refresh_files
from worktape.core.bundle import BundleWriter
from worktape.core.layout import raw_key
from worktape.core.storage import Storage

Screen = dict[str, int]
ONE_SCREEN: list[Screen] = [{"monitor": 1, "left": 0, "top": 0, "width": 1920, "height": 1080}]
APPS = [
    ("chromium", "Expense Report - Concur - Chromium"),
    ("chromium", "Accounts | CRM - Chromium"),
    ("thunderbird", "Inbox - Mozilla Thunderbird"),
    ("libreoffice", "Q3 plan.odt - LibreOffice Writer"),
]


def _webp() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (40, 90, 160)).save(buf, format="WEBP", lossless=True)
    return buf.getvalue()


FRAME = _webp()


@dataclass
class OddBundle:
    key: str
    case: str
    bundle_id: str
    #: whether the bundle must load (False: it may load, or be quarantined with a reason)
    must_load: bool = True
    #: whether it holds actions (clicks, typing) that the published tables must show
    has_work: bool = False


@dataclass
class Plan:
    """A night's odd bundles, written into a bucket."""

    bundles: list[OddBundle] = field(default_factory=list)

    def cases(self) -> list[str]:
        return [b.case for b in self.bundles]


@dataclass
class Spec:
    """What a bundle holds: who, when, where, and what happens in it."""

    bundle_id: str
    device_id: str
    contributor_id: str
    start: datetime
    minutes: float = 20.0
    screens: list[Screen] = field(default_factory=lambda: list(ONE_SCREEN))
    utc_offset_minutes: int = 0
    titles: list[tuple[str, str]] = field(default_factory=lambda: list(APPS))
    actions: int = 12
    # work | one_event | pauses | idle | frames_only | same_instant | orphans | stale_frame
    kind: str = "work"


def _on(screen: Screen, rng: random.Random) -> tuple[int, int]:
    return (
        screen["left"] + rng.randrange(screen["width"]),
        screen["top"] + rng.randrange(screen["height"]),
    )


def _frame(w: BundleWriter, t: datetime, monitor: int, trigger: str, **kw: Any) -> None:
    """A stored frame and its `screenshot` event, as the agent writes them."""
    sid = w.add_frame(
        ts=t,
        monitor=monitor,
        width=4,
        height=3,
        trigger=trigger,
        data=FRAME,
        phash="00ff00ff00ff00ff",
    )
    w.add_event(t, "screenshot", screenshot_id=sid, monitor=monitor, **kw)


def write_spec(spec: Spec, out: Path, rng: random.Random) -> Path:
    """Seal a bundle for `spec`: focus changes, a frame before each click, clicks and
    typed words with human gaps, all inside the capture window and in time order."""
    end = spec.start + timedelta(minutes=spec.minutes)
    with BundleWriter(
        out,
        bundle_id=spec.bundle_id,
        device_id=spec.device_id,
        contributor_id=spec.contributor_id,
        started_at=spec.start,
        screens=spec.screens,
        consent=CONSENT,
        utc_offset_minutes=spec.utc_offset_minutes,
        durable=False,
    ) as w:
        t = spec.start + timedelta(milliseconds=rng.randint(0, 2000))
        if spec.kind == "one_event":
            app, title = rng.choice(spec.titles)
            w.add_event(t, "focus_change", app=app, window_title=title)
        elif spec.kind == "pauses":
            for i in range(rng.randint(1, 4)):
                w.add_event(t, "pause", detail=rng.choice(["user", "denylist", "quota"]))
                t += timedelta(seconds=rng.randint(1, 120))
                if i % 2 == 0:
                    w.add_event(t, "resume")
                    t += timedelta(seconds=rng.randint(0, 60))
        elif spec.kind == "idle":
            w.add_event(t, "idle_start")
            w.add_event(t + timedelta(minutes=rng.randint(1, 15)), "idle_end")
        elif spec.kind == "same_instant":
            # a burst in one microsecond: a frame, clicks and keys, all at one ts
            app, title = rng.choice(spec.titles)
            kw: dict[str, Any] = {"app": app, "window_title": title}
            w.add_event(t, "focus_change", **kw)
            for _ in range(rng.randint(2, 6)):
                if rng.random() < 0.5:  # another window, in the same microsecond
                    app, title = rng.choice(spec.titles)
                    kw = {"app": app, "window_title": title}
                    w.add_event(t, "focus_change", **kw)
                _frame(w, t, 1, "action", **kw)
                x, y = _on(spec.screens[0], rng)
                w.add_event(t, "mouse_down", x=x, y=y, button="left", monitor=1, **kw)
                w.add_event(t, "mouse_up", x=x, y=y, button="left", monitor=1, **kw)
                w.add_event(t, "key_down", key="a", **kw)
                w.add_event(t, "key_up", key="a", **kw)
        elif spec.kind == "orphans":
            # input whose other half fell outside the hour (or was never seen)
            app, title = rng.choice(spec.titles)
            kw = {"app": app, "window_title": title}
            x, y = _on(spec.screens[0], rng)
            w.add_event(t, "mouse_up", x=x, y=y, button="left", monitor=1, **kw)
            w.add_event(t + timedelta(seconds=1), "key_up", key="enter", **kw)
            w.add_event(t + timedelta(seconds=2), "scroll", x=x, y=y, dx=0, dy=-3, monitor=1, **kw)
            w.add_event(t + timedelta(seconds=3), "mouse_down", x=x, y=y, button="right", **kw)
            w.add_event(t + timedelta(seconds=4), "key_down", key="ctrl", modifiers="ctrl", **kw)
        elif spec.kind == "stale_frame":
            # one frame, then work minutes later with no new frame (capture of frames
            # paused, or the screen did not change)
            app, title = rng.choice(spec.titles)
            kw = {"app": app, "window_title": title}
            w.add_event(t, "focus_change", **kw)
            _frame(w, t, 1, "keyframe", **kw)
            t += timedelta(minutes=rng.randint(2, 15))
            for _ in range(rng.randint(1, 8)):
                x, y = _on(spec.screens[0], rng)
                w.add_event(t, "mouse_down", x=x, y=y, button="left", monitor=1, **kw)
                t += timedelta(milliseconds=rng.randint(40, 150))
                w.add_event(t, "mouse_up", x=x, y=y, button="left", monitor=1, **kw)
                t += timedelta(seconds=rng.randint(1, 20))
        elif spec.kind == "frames_only":
            app, title = rng.choice(spec.titles)
            for _ in range(rng.randint(1, 6)):
                screen = rng.choice(spec.screens)
                trigger = rng.choice(["keyframe", "focus_change"])
                _frame(w, t, screen["monitor"], trigger, app=app, window_title=title)
                t += timedelta(seconds=rng.randint(2, 30))
        else:
            _work(w, spec, rng, t, end)
        w.seal(end)
    return out


def _work(w: BundleWriter, spec: Spec, rng: random.Random, t: datetime, end: datetime) -> None:
    app, title = rng.choice(spec.titles)
    w.add_event(t, "focus_change", app=app, window_title=title)
    for _ in range(spec.actions):
        t += timedelta(milliseconds=rng.randint(300, 4000))
        if t + timedelta(seconds=5) >= end:
            return
        if rng.random() < 0.25:  # back to back: another window within a second
            app, title = rng.choice(spec.titles)
            w.add_event(t, "focus_change", app=app, window_title=title)
        screen = rng.choice(spec.screens)
        m = screen["monitor"]
        x, y = _on(screen, rng)
        kw: dict[str, Any] = {"app": app, "window_title": title}
        _frame(w, t, m, "action", **kw)
        w.add_event(t, "mouse_move", x=x, y=y, monitor=m, **kw)
        t += timedelta(milliseconds=rng.randint(0, 40))
        w.add_event(t, "mouse_down", x=x, y=y, button="left", monitor=m, **kw)
        t += timedelta(milliseconds=rng.randint(40, 150))
        w.add_event(t, "mouse_up", x=x, y=y, button="left", monitor=m, **kw)
        if rng.random() < 0.5:
            for ch in rng.choice(["lunch", "Berlin", "42.50", "ok"]):
                t += timedelta(milliseconds=rng.randint(60, 250))
                w.add_event(t, "key_down", key=ch, **kw)
                t += timedelta(milliseconds=rng.randint(20, 90))
                w.add_event(t, "key_up", key=ch, **kw)


def newer_minor(path: Path, rng: random.Random) -> None:
    """What a newer 1.x writer adds: manifest fields, a column, an event kind, a member."""
    from worktape.core.bundle.contract import FORMAT_MINOR

    manifest, members = explode(path)
    # newer than this reader: 1.1 made element_role a column of its own
    manifest["format_version"] = f"1.{rng.randint(FORMAT_MINOR + 1, 40)}"
    manifest["element_capture"] = {"backend": "atspi", "version": 2}

    def grow(t: pa.Table) -> pa.Table:
        n = t.num_rows
        t = t.append_column("element_states", pa.array(["focused"] * n, pa.string()))
        if n:
            last = t.slice(n - 1, 1).to_pylist()[0]
            new = {
                **{c: None for c in t.column_names},
                "seq": n,
                "ts": last["ts"],
                "kind": "window_moved",
                "redacted": False,
                "element_states": None,
            }
            t = pa.concat_tables([t, pa.Table.from_pylist([new], schema=t.schema)])
        return t

    edit_table(members, "events.parquet", grow)
    manifest["counts"]["events"] += 1 if manifest["counts"]["events"] else 0
    members["accessibility.jsonl"] = b'{"role": "push button"}\n'
    refresh_files(manifest, members)
    path.write_bytes(assemble(manifest, members))


# unicode, right-to-left, combining marks, emoji and very long titles
titles = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\u200f\u202e"
    ),
    min_size=1,
    max_size=60,
)
RTL = ["\u05d3\u05d5\u05d7 \u05d4\u05d5\u05e6\u05d0\u05d5\u05ea", "\u062a\u0642\u0631\u064a\u0631"]

Case = Callable[[Any, "Night"], None]
CASES: dict[str, Case] = {}


def case(fn: Case) -> Case:
    CASES[fn.__name__.removeprefix("case_")] = fn
    return fn


@dataclass
class Night:
    storage: Storage
    tmp: Path
    day: datetime
    plan: Plan = field(default_factory=Plan)
    n: int = 0

    def put(
        self,
        spec: Spec,
        case: str,
        rng: random.Random,
        *,
        must_load: bool = True,
        edit: Callable[[Path, random.Random], None] | None = None,
    ) -> None:
        self.n += 1
        path = write_spec(spec, self.tmp / f"{spec.bundle_id}.tar", rng)
        if edit is not None:
            edit(path, rng)
        key = raw_key(spec.device_id, spec.start, spec.bundle_id)
        self.storage.put(key, path)
        has_work = spec.kind in ("work", "stale_frame", "same_instant") and spec.actions > 0
        self.plan.bundles.append(OddBundle(key, case, spec.bundle_id, must_load, has_work))

    def ids(self, label: str) -> tuple[str, str, str]:
        i = self.n
        return f"b{label}{i:03d}", f"d{label}{i:03d}", f"c{label}{i:03d}"


def _rng(draw: Any) -> random.Random:
    # one drawn seed, not hypothesis' own Random (which records every call as a choice)
    return random.Random(draw(st.integers(0, 2**32 - 1)))


def _hour(draw: Any, night: Night) -> datetime:
    return night.day + timedelta(hours=draw(st.integers(6, 20)), minutes=draw(st.integers(0, 30)))


@case
def case_newer_minor(draw: Any, night: Night) -> None:
    b, d, c = night.ids("minor")
    night.put(Spec(b, d, c, _hour(draw, night)), "newer_minor", _rng(draw), edit=newer_minor)


@case
def case_one_event(draw: Any, night: Night) -> None:
    b, d, c = night.ids("one")
    night.put(Spec(b, d, c, _hour(draw, night), kind="one_event"), "one_event", _rng(draw))


@case
def case_only_pauses(draw: Any, night: Night) -> None:
    b, d, c = night.ids("pause")
    night.put(Spec(b, d, c, _hour(draw, night), kind="pauses"), "only_pauses", _rng(draw))


@case
def case_only_idle(draw: Any, night: Night) -> None:
    b, d, c = night.ids("idle")
    night.put(Spec(b, d, c, _hour(draw, night), kind="idle"), "only_idle", _rng(draw))


@case
def case_frames_without_action(draw: Any, night: Night) -> None:
    b, d, c = night.ids("frames")
    spec = Spec(b, d, c, _hour(draw, night), kind="frames_only")
    night.put(spec, "frames_without_action", _rng(draw))


@case
def case_negative_coordinates(draw: Any, night: Night) -> None:
    b, d, c = night.ids("neg")
    screens = [
        {"monitor": 1, "left": 0, "top": 0, "width": 1920, "height": 1080},
        {"monitor": 2, "left": -2560, "top": -360, "width": 2560, "height": 1440},
        {"monitor": 3, "left": 0, "top": -1080, "width": 1920, "height": 1080},
    ]
    spec = Spec(b, d, c, _hour(draw, night), screens=screens, actions=draw(st.integers(2, 30)))
    night.put(spec, "negative_coordinates", _rng(draw))


@case
def case_dst_change(draw: Any, night: Night) -> None:
    """Two bundles of one laptop in one day, the clock moving by an hour between them."""
    b, d, c = night.ids("dst")
    before = draw(st.sampled_from([-300, -240, 0, 60, 120, 330, 600]))
    after = before + draw(st.sampled_from([60, -60]))
    start = night.day + timedelta(hours=draw(st.integers(1, 20)))
    rng = _rng(draw)
    night.put(Spec(b, d, c, start, minutes=50, utc_offset_minutes=before), "dst_change", rng)
    night.put(
        Spec(b + "x", d, c, start + timedelta(hours=1), minutes=50, utc_offset_minutes=after),
        "dst_change",
        rng,
    )


@case
def case_any_script_titles(draw: Any, night: Night) -> None:
    b, d, c = night.ids("text")
    chosen = draw(st.lists(titles, min_size=1, max_size=3)) + RTL
    # and a very long one: titles have no length limit in the contract
    chosen.append((draw(titles) + " ") * draw(st.integers(50, 400)))
    apps = [
        (draw(st.sampled_from(["chromium", "gedit", "\u0645\u062d\u0631\u0631"])), t)
        for t in chosen
    ]
    # random text may hold a digit run that reads as a phone number: then the bundle is
    # quarantined (unredacted_secret), which is also a green night
    night.put(
        Spec(b, d, c, _hour(draw, night), titles=apps),
        "any_script_titles",
        _rng(draw),
        must_load=False,
    )


@case
def case_largest_sizes(draw: Any, night: Night) -> None:
    """The longest ids, the most monitors (16, some of 8K, some left and above), and a
    busy hour of events."""
    i = night.n
    bid = f"b{i:03d}" + "L" * 85
    screens = [
        {
            "monitor": m + 1,
            "left": (m % 4 - 2) * 7680,
            "top": (m // 4 - 2) * 4320,
            "width": 7680,
            "height": 4320,
        }
        for m in range(16)
    ]
    spec = Spec(
        bid,
        f"d{i:03d}" + "D" * 92,
        f"c{i:03d}" + "C" * 92,
        _hour(draw, night),
        minutes=59,
        screens=screens,
        actions=draw(st.integers(200, 800)),
    )
    night.put(spec, "largest_sizes", _rng(draw))


@case
def case_two_devices_one_person(draw: Any, night: Night) -> None:
    b, d, c = night.ids("two")
    start = _hour(draw, night)
    rng = _rng(draw)
    night.put(Spec(b, d, c, start), "two_devices_one_person", rng)
    skew = timedelta(seconds=draw(st.integers(-600, 600)))
    night.put(Spec(b + "y", d + "y", c, start + skew), "two_devices_one_person", rng)


@case
def case_first_bundle_a_week_late(draw: Any, night: Night) -> None:
    b, d, c = night.ids("late")
    start = night.day - timedelta(days=7) + timedelta(hours=draw(st.integers(0, 23)))
    night.put(Spec(b, d, c, start), "first_bundle_a_week_late", _rng(draw))


@case
def case_same_instant(draw: Any, night: Night) -> None:
    b, d, c = night.ids("instant")
    spec = Spec(b, d, c, _hour(draw, night), kind="same_instant")
    night.put(spec, "same_instant", _rng(draw))


@case
def case_orphan_inputs(draw: Any, night: Night) -> None:
    b, d, c = night.ids("orphan")
    night.put(Spec(b, d, c, _hour(draw, night), kind="orphans"), "orphan_inputs", _rng(draw))


@case
def case_stale_frame(draw: Any, night: Night) -> None:
    b, d, c = night.ids("stale")
    night.put(Spec(b, d, c, _hour(draw, night), kind="stale_frame"), "stale_frame", _rng(draw))
