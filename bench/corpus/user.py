"""A scripted user with human timing, and the ground truth it writes as it works.

Everything it does goes through real X input (xdotool's XTest), so the capture agent
records it as it would record a person. Timing comes from the contributor's habits:
typing speed with typos corrected by backspace, pauses to read a page, mouse moves
that take time, keyboard or mouse between form fields."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench.corpus.desk import Browser, Editor
from tests.xkit import Desk

EDITOR = "mousepad"
# a typo hits the key to the right (or left, at a row's end) on a US keyboard
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {
    ch: row[i + 1] if i + 1 < len(row) else row[i - 1] for row in _ROWS for i, ch in enumerate(row)
}


@dataclass(frozen=True)
class Habits:
    """How one contributor works."""

    name: str
    cps: float  # characters per second while typing
    typo_rate: float  # share of characters first typed wrong, then corrected
    read_s: float  # median pause to take in a new page
    act_s: float  # median pause between actions on one page
    keyboard: bool  # Tab between form fields rather than clicking each
    interrupt_p: float  # chance that a task is interrupted by chat
    abandon_p: float  # chance that a task is given up halfway
    workflows: tuple[str, ...]  # what this person's job is made of


@dataclass
class Episode:
    """One row of ground truth, in the simulator's truth schema."""

    episode_id: str
    workflow: str
    label: str
    started_at: datetime
    ended_at: datetime | None = None
    n_actions: int = 0
    variant: str = ""
    is_distraction: bool = False
    is_interrupted: bool = False
    parent_episode_id: str | None = None


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class User:
    habits: Habits
    desk: Desk
    browser: Browser
    editor: Editor
    rng: random.Random
    interruption: Callable[[User], str] | None = None  # what a chat ping makes them do
    truth: list[Episode] = field(default_factory=list)
    front: str = "ledgerly"  # the tab or window in front
    _open: list[Episode] = field(default_factory=list)
    _interrupt_at: int = -1  # the checkpoint of the current task that brings a chat ping
    _abandon_at: int = -1
    _checkpoints: int = 0

    # --- timing -------------------------------------------------------------------
    def pause(self, median: float, spread: float = 0.45) -> None:
        time.sleep(min(12.0, self.rng.lognormvariate(math.log(median), spread)))

    def read(self) -> None:
        self.pause(self.habits.read_s)

    def think(self) -> None:
        self.pause(self.habits.act_s)

    # --- input --------------------------------------------------------------------
    def _counted(self) -> None:
        for ep in self._open:
            ep.n_actions += 1

    def move_to(self, x: float, y: float) -> None:
        loc = dict(kv.split(":") for kv in self.desk.xdo("getmouselocation").split() if ":" in kv)
        x0, y0 = int(loc["x"]), int(loc["y"])
        steps = self.rng.randint(4, 8)
        for i in range(1, steps + 1):
            f = 1 - (1 - i / steps) ** 2  # fast start, slow landing
            self.desk.xdo("mousemove", str(int(x0 + (x - x0) * f)), str(int(y0 + (y - y0) * f)))
            time.sleep(self.rng.uniform(0.03, 0.08))

    def click_at(self, x: float, y: float) -> None:
        self.move_to(x, y)
        time.sleep(self.rng.uniform(0.05, 0.2))
        # a person holds the button for about a tenth of a second; xdotool's click lets
        # go at once, before the page under the pointer could be asked what it is
        self.desk.xdo("mousedown", "1")
        time.sleep(self.rng.uniform(0.06, 0.14))
        self.desk.xdo("mouseup", "1")
        self._counted()

    def type(self, text: str) -> None:
        """Types as a person: bursts of words at the contributor's speed, some
        characters wrong and fixed with backspace."""
        delay = max(20, int(1000 / self.habits.cps))
        words = text.split(" ")
        for i, word in enumerate(words):
            chunk = ""
            for ch in word:
                wrong = _NEIGHBOURS.get(ch.lower())
                if wrong and self.rng.random() < self.habits.typo_rate:
                    self._type_raw(chunk + wrong, delay)
                    chunk = ""
                    time.sleep(self.rng.uniform(0.2, 0.6))  # noticing
                    self.desk.xdo("key", "BackSpace")
                chunk += ch
            self._type_raw(chunk + (" " if i + 1 < len(words) else ""), delay)
        self._counted()

    def _type_raw(self, text: str, delay: int) -> None:
        if text:
            jitter = int(delay * self.rng.uniform(0.7, 1.4))
            self.desk.xdo("type", "--delay", str(jitter), "--", text)

    def key(self, combo: str) -> None:
        self.desk.xdo("key", combo)
        self._counted()

    # --- the applications -----------------------------------------------------------
    def show(self, app: str) -> None:
        """Brings an app to the front: its browser tab (ctrl+N) or the editor's window."""
        if app == self.front:
            return
        if app == EDITOR:
            self.desk.focus(self.editor.window)
            self._counted()
        else:
            if self.front == EDITOR:
                self.desk.focus(self.browser.window)
                self._counted()
            self.key(self.browser.tab_key(app))
        self.front = app
        self.read()

    def click(self, app: str, view: str, target: str) -> int:
        """Clicks a target once the app shows `view`; returns the layout's number."""
        lay = self.browser.layout(app, view)
        x, y, w, h = lay.targets[target]
        gx, gy, _, _ = self.desk.geometry(self.browser.window)
        left, top = self.browser.chrome
        px = gx + left + x + w * self.rng.uniform(0.3, 0.7)
        py = gy + top + y + h * self.rng.uniform(0.35, 0.65)
        self.click_at(px, py)
        return lay.seq

    def fill(self, app: str, view: str, target: str, text: str, *, tab: bool = False) -> None:
        """Types into a field: by Tab from the previous one when the contributor works
        from the keyboard and `tab` says the field is next, else by clicking it."""
        if tab and self.habits.keyboard:
            self.key("Tab")
        else:
            self.click(app, view, target)
        self.think()
        self.type(text)
        self.think()

    def choose(self, app: str, view: str, target: str, option: str, *, tab: bool = False) -> None:
        if tab and self.habits.keyboard:
            self.key("Tab")
            self.type(option[:3])
        else:
            self.click(app, view, target)
            time.sleep(0.5)
            self.type(option[:3])
            self.key("Return")
        self.think()

    def arrive(self, app: str, view: str, after: int) -> None:
        """Waits for the page a click led to, then takes it in."""
        self.browser.layout(app, view, after=after)
        self.read()

    # --- episodes -----------------------------------------------------------------
    def begin(self, workflow: str, label: str, *, distraction: bool = False) -> Episode:
        parent = self._open[-1] if self._open else None
        ep = Episode(
            episode_id=f"{self.habits.name}-{len(self.truth) + 1:04d}",
            workflow=workflow,
            label=label,
            started_at=now(),
            is_distraction=distraction,
            parent_episode_id=parent.episode_id if parent else None,
        )
        if parent:
            parent.is_interrupted = True
        self.truth.append(ep)
        self._open.append(ep)
        return ep

    def end(self, ep: Episode, variant: str) -> None:
        ep.ended_at = now()
        ep.variant = variant
        self._open.remove(ep)

    def plan(self, checkpoints: int) -> None:
        """Decides before a task whether a chat ping comes in during it, and whether it
        will be given up, and at which of its `checkpoints`."""
        h, r = self.habits, self.rng
        self._checkpoints = 0
        self._interrupt_at = r.randrange(1, checkpoints) if r.random() < h.interrupt_p else -1
        self._abandon_at = r.randrange(2, checkpoints) if r.random() < h.abandon_p else -1

    def checkpoint(self) -> bool:
        """Between two steps of a task: runs a scheduled interruption, and returns True
        when the task is given up here."""
        self._checkpoints += 1
        if self._checkpoints == self._interrupt_at and self.interruption:
            back = self.front
            self.interruption(self)
            self.show(back)
        return self._checkpoints == self._abandon_at
