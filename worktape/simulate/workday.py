"""One simulated person's working day, as the capture agent would record it.

`simulate_day` plays a person through a day of workflow episodes, distractions,
interruptions, idle gaps, pauses and denylisted windows, emitting the same event stream
the real agent records (moves throttled to path shape, frames before actions, keyframes,
idle start/end, redaction with the agent's own rules, the element a press or a typed
run's first key acts on), then seals it into hourly format-1 bundles and returns ground
truth for every episode.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from worktape.core.bundle import BundleWriter, SealedBundle
from worktape.core.bundle.schema import UTC_US
from worktape.core.privacy.rules import RULES, count_changes, redact_run, scrub
from worktape.simulate import frames as F
from worktape.simulate.templates import BY_NAME, DENYLISTED, DISTRACTIONS, ROLES, Step, Template

US = 1_000_000
KEYFRAME_S = 30.0
IDLE_S = 60.0
POLICY_VERSION = "2026-11"
SIM_AGENT_VERSION = "sim-0.1.0"
_DENYLISTED_APPS = {a for a, _ in DENYLISTED}
_DENYLISTED_TITLES = {t for _, t in DENYLISTED}
_APPS = sorted({t.app for t in BY_NAME.values()} | {"xdg-desktop-portal-gtk"})

TRUTH_SCHEMA = pa.schema(
    [
        ("episode_id", pa.string()),
        ("device_id", pa.string()),
        ("contributor_id", pa.string()),
        ("workflow", pa.string()),
        ("label", pa.string()),
        ("started_at", UTC_US),
        ("ended_at", UTC_US),
        ("n_actions", pa.int32()),
        ("variant", pa.string()),
        ("is_distraction", pa.bool_()),
        ("is_interrupted", pa.bool_()),
        ("parent_episode_id", pa.string()),
    ]
)


def _hid(*parts: object, n: int = 16) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


@dataclass
class Person:
    index: int
    contributor_id: str
    device_id: str
    role: str
    utc_offset_minutes: int
    screens: list[dict[str, int]]
    speed: float  # >1 is slower
    typing_cps: float
    windows: dict[str, tuple[int, float, float, float, float]]  # app -> monitor, rect 0-1


def make_person(seed: int, index: int) -> Person:
    r = random.Random(f"person:{seed}:{index}")
    screens = [{"monitor": 1, "left": 0, "top": 0, "width": 1920, "height": 1080}]
    if r.random() < 0.4:  # a second, larger monitor on the right
        screens.append({"monitor": 2, "left": 1920, "top": 0, "width": 2560, "height": 1440})
    windows = {}
    for app in _APPS:
        mon = r.choice(screens)["monitor"]
        if r.random() < 0.5:
            rect = (0.0, 0.0, 1.0, 1.0)  # maximised
        else:
            x0, y0 = r.uniform(0, 0.25), r.uniform(0, 0.2)
            rect = (x0, y0, min(1.0, x0 + r.uniform(0.6, 0.75)), min(1.0, y0 + r.uniform(0.7, 0.8)))
        windows[app] = (mon, *rect)
    return Person(
        index=index,
        contributor_id="c" + _hid("contributor", seed, index),
        device_id="d" + _hid("device", seed, index),
        role=list(ROLES)[index % len(ROLES)],
        utc_offset_minutes=r.choice([0, 60, 60, -300, -480, 330]),
        screens=screens,
        speed=r.uniform(0.75, 1.35),
        typing_cps=r.uniform(4.0, 8.0),
        windows=windows,
    )


@dataclass
class Truth:
    episode_id: str
    workflow: str
    label: str
    started_at: int
    ended_at: int = 0
    n_actions: int = 0
    variant: str = ""
    is_distraction: bool = False
    is_interrupted: bool = False
    parent_episode_id: str | None = None


# the element acted on, as the agent records it: role, name, x, y, width, height
Element = tuple[str, str, int, int, int, int]
# an element's size in its window (fractions of the window's width and height), by role
_ELEMENT_SIZE = {
    "push button": (0.07, 0.04),
    "entry": (0.24, 0.04),
    "combo box": (0.24, 0.04),
    "link": (0.22, 0.03),
    "page tab": (0.09, 0.04),
    "radio button": (0.14, 0.03),
    "table cell": (0.10, 0.03),
    "list item": (0.18, 0.035),
    "text": (0.50, 0.20),
    "terminal": (1.0, 1.0),
}
ELEMENT_COLUMNS = (
    "element_role",
    "element_name",
    "element_x",
    "element_y",
    "element_width",
    "element_height",
)

_COLS = (
    "ts",
    "kind",
    "x",
    "y",
    "monitor",
    "button",
    "dx",
    "dy",
    "key",
    "modifiers",
    "app",
    "window_title",
    "redacted",
    "detail",
    "frame",
    "element",  # an Element or None; the bundle's six element columns
)


@dataclass
class _Day:
    """The recorder: columns of events in time order, frames, and the focus state."""

    person: Person
    rng: random.Random
    frames_mode: str
    t: int  # µs since epoch, the simulated clock
    cols: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in _COLS})
    frames: list[tuple[int, int, bytes, int, int, str, str]] = field(default_factory=list)
    app: str | None = None
    title: str | None = None
    pos: tuple[int, int] = (960, 540)
    denied: bool = False
    paused: bool = False
    content: list[str] = field(default_factory=list)
    last_frame_t: int = 0
    changed: bool = True
    focused: Element | None = None  # where typing goes: the element the last click focused
    truths: list[Truth] = field(default_factory=list)

    # -- recording --------------------------------------------------------------
    def emit(
        self,
        kind: str,
        *,
        x: int | None = None,
        y: int | None = None,
        monitor: int | None = None,
        button: str | None = None,
        dx: int | None = None,
        dy: int | None = None,
        key: str | None = None,
        modifiers: str | None = None,
        redacted: bool = False,
        detail: str | None = None,
        frame: int | None = None,
        context: bool = True,
        element: Element | None = None,
    ) -> None:
        c = self.cols
        c["ts"].append(self.t)
        c["kind"].append(kind)
        c["x"].append(x)
        c["y"].append(y)
        c["monitor"].append(monitor)
        c["button"].append(button)
        c["dx"].append(dx)
        c["dy"].append(dy)
        c["key"].append(key)
        c["modifiers"].append(modifiers)
        c["app"].append(self.app if context else None)
        c["window_title"].append(self.title if context else None)
        c["redacted"].append(redacted)
        c["detail"].append(detail)
        c["frame"].append(frame)
        c["element"].append(element)

    def advance(self, seconds: float) -> None:
        self.t += max(1, int(seconds * US))

    def wait(self, seconds: float) -> None:
        """Time passes with no input: keyframes and idle events happen here."""
        start, end = self.t, self.t + int(seconds * US)
        if (
            self.changed
            and not self.denied
            and self.frames_mode != "none"
            and end - self.last_frame_t > KEYFRAME_S * US
        ):
            self.t = max(start, self.last_frame_t + int(KEYFRAME_S * US))
            self.take_frame("keyframe")
        if seconds >= IDLE_S and not self.paused:
            self.t = max(self.t, start + int(IDLE_S * US))
            self.emit("idle_start", context=False)
            self.t = end
            self.emit("idle_end", context=False)
        self.t = max(self.t, end)

    def window(self, app: str) -> tuple[dict[str, int], tuple[float, float, float, float]]:
        mon, *rect = self.person.windows[app]
        return self.person.screens[mon - 1], tuple(rect)  # type: ignore[return-value]  # windows hold four numbers

    def take_frame(self, trigger: str) -> None:
        if self.frames_mode == "none" or self.denied or self.app is None:
            return
        screen, rect = self.window(self.app)
        data, w, h, phash = F.render(
            self.frames_mode, self.app, self.title or "", rect, tuple(self.content[-8:])
        )
        self.frames.append((self.t, screen["monitor"], data, w, h, trigger, phash))
        self.emit("screenshot", monitor=screen["monitor"], frame=len(self.frames) - 1)
        self.last_frame_t = self.t
        self.changed = False
        self.advance(0.01)

    # -- focus, pause, denylist ----------------------------------------------------
    def focus(self, app: str, title: str) -> None:
        if (app, title) == (self.app, self.title) and not self.denied:
            return
        if app in _DENYLISTED_APPS and title in _DENYLISTED_TITLES:
            if not self.denied:
                self.emit("pause", detail="denylist", context=False)
            self.denied, self.app, self.title = True, None, None
            return
        if self.denied:
            self.emit("resume", detail="denylist", context=False)
            self.denied = False
        clean, _ = scrub(title)
        self.app, self.title = app, clean
        self.focused = None  # another window: its focused element is not known here
        self.emit("focus_change")
        self.changed = True
        self.advance(self.rng.uniform(0.05, 0.2))
        self.take_frame("focus_change")

    # -- input ------------------------------------------------------------------
    def on_desktop(self, x: int, y: int, monitor: int) -> tuple[int, int, int]:
        """The point a real pointer would be at: on the monitor it is over, or held at
        the edge of `monitor` when a curved path would leave the desktop."""
        for sc in self.person.screens:
            inside_x = sc["left"] <= x < sc["left"] + sc["width"]
            if inside_x and sc["top"] <= y < sc["top"] + sc["height"]:
                return x, y, sc["monitor"]
        sc = self.person.screens[monitor - 1]
        x = min(max(x, sc["left"]), sc["left"] + sc["width"] - 1)
        y = min(max(y, sc["top"]), sc["top"] + sc["height"] - 1)
        return x, y, monitor

    def point(self, at: tuple[float, float], jitter: float) -> tuple[int, int, int]:
        assert self.app is not None
        screen, (x0, y0, x1, y1) = self.window(self.app)
        fx = min(0.999, max(0.0, at[0] + self.rng.gauss(0, jitter)))
        fy = min(0.999, max(0.0, at[1] + self.rng.gauss(0, jitter)))
        x = screen["left"] + int((x0 + fx * (x1 - x0)) * screen["width"])
        y = screen["top"] + int((y0 + fy * (y1 - y0)) * screen["height"])
        return x, y, screen["monitor"]

    def element(
        self,
        spec: tuple[str, str] | None,
        at: tuple[float, float],
        vars_: dict[str, str],
        point: tuple[int, int] | None = None,
    ) -> Element | None:
        """The element `spec` names, at `at` in the focused window, as the agent records
        it: its name scrubbed like titles, its bounds in desktop pixels, holding `point`
        (the pointer is on it). Computed from the template alone: no random draw."""
        if spec is None or self.app is None:
            return None
        role, name = spec
        screen, (x0, y0, x1, y1) = self.window(self.app)
        w, h = _ELEMENT_SIZE.get(role, (0.10, 0.04))
        fx = min(max(at[0] - w / 2, 0.0), 1.0 - w)
        fy = min(max(at[1] - h / 2, 0.0), 1.0 - h)

        def px(f: float, lo: float, hi: float, origin: int, size: int) -> int:
            return origin + int((lo + f * (hi - lo)) * size)

        left = px(fx, x0, x1, screen["left"], screen["width"])
        right = px(fx + w, x0, x1, screen["left"], screen["width"])
        top = px(fy, y0, y1, screen["top"], screen["height"])
        bottom = px(fy + h, y0, y1, screen["top"], screen["height"])
        if point is not None:  # a click's jitter may land at its edge: it is still on it
            left, right = min(left, point[0]), max(right, point[0] + 1)
            top, bottom = min(top, point[1]), max(bottom, point[1] + 1)
        clean, _ = scrub(name.format(**vars_))
        return role, clean, left, top, right - left, bottom - top

    def move(self, x: int, y: int, monitor: int) -> None:
        """A curved path, sampled the way the agent throttles moves (about every 40 ms,
        fewer points on straight stretches)."""
        x0, y0 = self.pos
        dist = math.hypot(x - x0, y - y0)
        if dist < 3:
            return
        dur = self.person.speed * (0.12 + 0.11 * math.log2(1 + dist / 12))
        n = max(2, min(14, int(dur / 0.04)))
        bend = self.rng.uniform(-0.2, 0.2) * dist
        nx, ny = -(y - y0) / dist, (x - x0) / dist
        for i in range(1, n + 1):
            s = i / n
            e = s * s * (3 - 2 * s)  # ease in-out
            off = bend * math.sin(math.pi * s)
            self.advance(dur / n)
            px = int(x0 + (x - x0) * e + nx * off)
            py = int(y0 + (y - y0) * e + ny * off)
            # on its way to another monitor the pointer is on whichever one it crosses
            px, py, mon = self.on_desktop(px, py, monitor)
            self.emit("mouse_move", x=px, y=py, monitor=mon)
        self.pos = (x, y)

    def press(
        self,
        x: int,
        y: int,
        monitor: int,
        button: str,
        clicks: int = 1,
        element: Element | None = None,
    ) -> None:
        for i in range(clicks):
            self.emit("mouse_down", x=x, y=y, monitor=monitor, button=button, element=element)
            self.advance(self.rng.uniform(0.06, 0.12))
            self.emit("mouse_up", x=x, y=y, monitor=monitor, button=button)
            if i + 1 < clicks:
                self.advance(self.rng.uniform(0.06, 0.12))

    def type_text(self, text: str, element: Element | None = None) -> None:
        """A typed run; its first key names `element`, the one the keyboard focus is in."""
        hidden = redact_run(text)
        # the frame shows what the agent would store: the secret painted out
        shown = "".join(F.MASKED if i in hidden else ch for i, ch in enumerate(text))
        for i, ch in enumerate(text):
            rule = hidden.get(i)
            mods = "shift" if ch.isupper() and rule is None else None
            key = None if rule else ch
            self.emit(
                "key_down",
                key=key,
                modifiers=mods,
                redacted=bool(rule),
                detail=rule,
                element=element if i == 0 else None,
            )
            self.advance(self.rng.uniform(0.04, 0.09))
            self.emit("key_up", key=key, modifiers=mods, redacted=bool(rule), detail=rule)
            self.advance(self.rng.uniform(0.5, 1.6) / self.person.typing_cps)
        self.content.append(shown)

    def hotkey(self, combo: str) -> None:
        *mods, main = combo.split("+")
        modifiers = "+".join(mods) or None
        for m in mods:
            self.emit("key_down", key=m)
            self.advance(self.rng.uniform(0.03, 0.08))
        self.emit("key_down", key=main, modifiers=modifiers)
        self.advance(self.rng.uniform(0.05, 0.1))
        self.emit("key_up", key=main, modifiers=modifiers)
        for m in reversed(mods):
            self.advance(self.rng.uniform(0.02, 0.05))
            self.emit("key_up", key=m)
        self.content.append(f"[{combo}]")

    def step(self, step: Step, vars_: dict[str, str]) -> None:
        a = step.action
        if a == "focus":
            self.focus(step.app or "", step.text.format(**vars_))
            return
        if a in ("click", "double_click", "right_click", "drag", "scroll"):
            x, y, mon = self.point(step.at, step.jitter)
            # a scroll names no element (the agent asks only at a press and a first key)
            el = None if a == "scroll" else self.element(step.element, step.at, vars_, (x, y))
            self.move(x, y, mon)
            self.advance(self.rng.uniform(0.05, 0.25))
            self.take_frame("action")
            if a == "scroll":
                for _ in range(int(step.text)):
                    self.emit("scroll", x=x, y=y, monitor=mon, dx=0, dy=-1)
                    self.advance(self.rng.uniform(0.05, 0.14))
                self.content.append("~")
            elif a == "drag":
                self.focused = el
                self.emit("mouse_down", x=x, y=y, monitor=mon, button="left", element=el)
                ex, ey, _ = self.point((step.at[0] + 0.15, step.at[1] + 0.1), 0.01)
                self.move(ex, ey, mon)
                self.emit("mouse_up", x=ex, y=ey, monitor=mon, button="left")
                self.content.append("[selection]")
            else:
                self.focused = el
                self.press(
                    x,
                    y,
                    mon,
                    "right" if a == "right_click" else "left",
                    2 if a == "double_click" else 1,
                    element=el,
                )
                self.content.append(f"> {a} {step.at[0]:.2f},{step.at[1]:.2f}")
        elif a == "type":
            if step.element is not None:  # focus moved without a click (Tab, a dialog)
                self.focused = self.element(step.element, step.at, vars_)
            self.take_frame("action")
            self.type_text(step.text.format(**vars_), self.focused)
        elif a == "hotkey":
            self.take_frame("action")
            self.hotkey(step.text)
        else:
            raise ValueError(f"unknown step action {a!r}")
        self.changed = True
        if step.title:
            self.focus(self.app or "", step.title.format(**vars_))

    # -- episodes ---------------------------------------------------------------
    def episode(
        self,
        tpl: Template,
        ep_id: str,
        *,
        parent: Truth | None = None,
        interrupt_p: float = 0.0,
        next_id: Iterator[str] | None = None,
        abandon_p: float = 0.0,
    ) -> Truth:
        vars_ = tpl.make_vars(self.rng)
        # a task given up half way (a missing receipt, a question for someone else)
        stop_at = (
            self.rng.randrange(3, len(tpl.steps) - 1)
            if abandon_p and len(tpl.steps) > 4 and self.rng.random() < abandon_p
            else None
        )
        skipped = {s.group for s in tpl.steps if s.group and self.rng.random() < s.optional}
        truth = Truth(
            ep_id,
            tpl.name,
            tpl.label,
            self.t,
            is_distraction=tpl.is_distraction,
            parent_episode_id=parent.episode_id if parent else None,
        )
        self.truths.append(truth)
        self.content = [tpl.label]
        ts = self.cols["ts"]
        n0 = len(ts)
        self.focus(tpl.app, tpl.title.format(**vars_))
        started = len(ts) > n0  # else it began in the window the last task ended in
        if started:
            truth.started_at = ts[n0]
        variant = []
        for i, step in enumerate(tpl.steps):
            if i == stop_at:
                break
            if step.group in skipped or (not step.group and self.rng.random() < step.optional):
                continue
            variant.append(str(i))
            self.wait(self.person.speed * self.rng.lognormvariate(0.9, 0.6))
            if (
                interrupt_p
                and next_id
                and 2 < i < len(tpl.steps) - 2
                and self.rng.random() < interrupt_p
            ):
                app, title, content = self.app, self.title, self.content
                focused = self.focused
                self.episode(self.rng.choice(DISTRACTIONS), next(next_id), parent=truth)
                truth.is_interrupted = True
                self.wait(self.rng.uniform(1, 4))
                self.content = content
                self.focus(app or tpl.app, title or "")
                self.focused = focused  # back in the window, focus is where it was left
            n_first = len(ts)
            self.step(step, vars_)
            if not started and len(ts) > n_first:
                truth.started_at, started = ts[n_first], True
            truth.n_actions += step.action != "focus"
        truth.variant = ".".join(variant)
        truth.ended_at = self.cols["ts"][-1]
        return truth


def simulate_day(
    person: Person,
    day: date,
    *,
    seed: int,
    frames: str = "real",
    work_dir: Path,
    hours: float | None = None,
) -> tuple[list[SealedBundle], pa.Table]:
    """Play one person's working `day` (about 8 hours, or `hours`); seal hourly bundles
    under `work_dir`."""
    rng = random.Random(f"day:{seed}:{person.index}:{day.isoformat()}")
    offset = timedelta(minutes=person.utc_offset_minutes)
    local_start = datetime.combine(day, time(8, 30), UTC) + timedelta(minutes=rng.uniform(0, 60))
    start = local_start - offset
    t0 = int(start.timestamp() * US)
    length = rng.uniform(7.5, 8.5)
    lunch_at = rng.uniform(3.0, 4.0)
    if hours is not None:  # a shorter day keeps its proportions, lunch included
        lunch_at, length = lunch_at * hours / length, hours
    end_t = t0 + int(length * 3600 * US)
    lunch_t = t0 + int(lunch_at * 3600 * US)
    d = _Day(person, rng, frames, t0)
    weights = ROLES[person.role]
    names, w = list(weights), list(weights.values())
    counter = iter(f"{person.device_id}-{day:%Y%m%d}-{k:04d}" for k in range(100_000))
    had_lunch = False

    while d.t < end_t:
        if not had_lunch and d.t > lunch_t:
            had_lunch = True
            d.wait(rng.uniform(30, 60) * 60)
            continue
        r = rng.random()
        if r < 0.03:  # a denylisted window: password manager, banking, private browsing
            app, title = rng.choice(DENYLISTED)
            d.focus(app, title)
            d.advance(rng.uniform(15, 90))
        elif r < 0.04:  # the contributor pauses recording for a while
            d.emit("pause", detail="user", context=False)
            d.paused = True
            d.advance(rng.uniform(2, 15) * 60)
            d.paused = False
            d.emit("resume", detail="user", context=False)
            d.app = d.title = None  # focus is re-read after a pause
        elif r < 0.16:
            d.episode(rng.choice(DISTRACTIONS), next(counter))
        else:
            tpl = BY_NAME[rng.choices(names, w)[0]]
            d.episode(tpl, next(counter), interrupt_p=0.06, next_id=counter, abandon_p=0.04)
        # people mostly go on to the next task within seconds; sometimes they read,
        # think or talk first
        gap = rng.uniform(0.5, 5) if rng.random() < 0.7 else rng.expovariate(1 / 25) + 3
        if rng.random() < 0.05:
            gap += rng.uniform(2, 12) * 60  # a coffee, a colleague, a meeting
        d.wait(gap)

    if d.denied:
        d.emit("resume", detail="denylist", context=False)
        d.denied = False
    d.advance(0.5)
    bundles = _seal_hours(d, seed, start, work_dir)
    return bundles, _truth_table(d)


def _seal_hours(d: _Day, seed: int, start: datetime, work_dir: Path) -> list[SealedBundle]:
    p = d.person
    ts = d.cols["ts"]
    day_end = d.t
    consent = {
        "policy_version": POLICY_VERSION,
        "granted_at": (start - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    rules = [*RULES, "denylist"]
    first_hour = int(start.timestamp()) // 3600 * 3600 * US
    sealed = []
    hour = first_hour
    frame_ts = [f[0] for f in d.frames]
    while hour < day_end:
        nxt = hour + 3600 * US
        lo, hi = bisect.bisect_left(ts, hour), bisect.bisect_left(ts, nxt)
        if hi > lo:
            b_start = max(hour, int(start.timestamp() * US))
            b_end = min(nxt, day_end)
            started_at = datetime.fromtimestamp(b_start / US, UTC)
            bundle_id = "b" + _hid("bundle", seed, p.device_id, hour, n=31)
            out = work_dir / f"{bundle_id}.tar"
            with BundleWriter(
                out,
                bundle_id=bundle_id,
                device_id=p.device_id,
                contributor_id=p.contributor_id,
                started_at=started_at,
                screens=p.screens,
                consent=consent,
                utc_offset_minutes=p.utc_offset_minutes,
                agent_version=SIM_AGENT_VERSION,
                simulated=True,
                durable=False,  # a lost bundle is simulated again: no work dir I/O
            ) as w:
                f_lo, f_hi = bisect.bisect_left(frame_ts, hour), bisect.bisect_left(frame_ts, nxt)
                sids = {}
                for fi in range(f_lo, f_hi):
                    ft, mon, data, fw, fh, trig, phash = d.frames[fi]
                    sids[fi] = w.add_frame(
                        ts=datetime.fromtimestamp(ft / US, UTC),
                        monitor=mon,
                        width=fw,
                        height=fh,
                        trigger=trig,
                        data=data,
                        phash=phash,
                    )
                cols = {c: d.cols[c][lo:hi] for c in _COLS if c not in ("frame", "element")}
                elements = d.cols["element"][lo:hi]
                for i, name in enumerate(ELEMENT_COLUMNS):
                    cols[name] = [None if e is None else e[i] for e in elements]
                cols["screenshot_id"] = [
                    None if f is None else sids[f] for f in d.cols["frame"][lo:hi]
                ]
                cols["ts"] = pa.array(cols["ts"], UTC_US)
                w.add_events(cols)
                w.set_redaction(
                    rules,
                    count_changes(
                        cols["kind"], cols["detail"], cols["window_title"], cols["redacted"]
                    ),
                )
                sealed.append(w.seal(datetime.fromtimestamp(b_end / US, UTC)))
        hour = nxt
    return sealed


def _truth_table(d: _Day) -> pa.Table:
    p = d.person
    rows = [
        {
            "episode_id": t.episode_id,
            "device_id": p.device_id,
            "contributor_id": p.contributor_id,
            "workflow": t.workflow,
            "label": t.label,
            "started_at": t.started_at,
            "ended_at": t.ended_at,
            "n_actions": t.n_actions,
            "variant": t.variant,
            "is_distraction": t.is_distraction,
            "is_interrupted": t.is_interrupted,
            "parent_episode_id": t.parent_episode_id,
        }
        for t in d.truths
    ]
    return pa.Table.from_pylist(rows, schema=TRUTH_SCHEMA)
