"""The recorder's decisions, driven by synthetic input (fake clock, fake screen): what is
recorded, what is redacted, when frames are taken. The real X path is test_agent_x11."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest

from capture_agent import frames as F
from capture_agent.config import AgentConfig
from capture_agent.courier import seal_work_dir
from capture_agent.elements import ElementLookups
from capture_agent.platform import WindowInfo
from capture_agent.platform.atspi import Element
from capture_agent.recorder import ELEMENT_WAIT_S, Recorder
from capture_agent.session import BundleSession
from worktape.core.bundle import read_bundle


class FakeClock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t

    def step(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class FakeScreen(F.Grabber):
    """A fake 8x6 monitor whose pixels follow `state`: no X needed."""

    def __init__(self) -> None:
        self.monitors = [{"left": 0, "top": 0, "width": 1920, "height": 1080}]
        self.state = 0

    def grab(self, monitor: int) -> F.Grab:
        raw = bytes([self.state % 256, 0, 0, 255]) * 48
        return F.Grab(monitor, 8, 6, raw)

    def close(self) -> None:
        pass


@pytest.fixture
def rig(tmp_path: Path):
    clock, screen = FakeClock(), FakeScreen()
    cfg = AgentConfig()
    cfg.ensure_identity("tester")

    def new_session(now: datetime) -> BundleSession:
        return BundleSession(
            spool=tmp_path / "spool",
            device_id=cfg.identity.device_id,
            contributor_id=cfg.identity.contributor_id,
            started_at=now,
            screens=[{"monitor": 1, "left": 0, "top": 0, "width": 1920, "height": 1080}],
            consent={"policy_version": "t", "granted_at": "2026-11-01T00:00:00.000000Z"},
            utc_offset_minutes=0,
            encoder=None,
        )

    rec = Recorder(cfg, new_session=new_session, grabber=lambda: screen, clock=clock)
    return rec, clock, screen


def type_text(rec: Recorder, clock: FakeClock, text: str) -> None:
    for ch in text:
        shifted = ch.isupper() or ch in "@!#$%"
        if shifted:
            rec.on_key("shift", "shift", True, is_char=False)
        rec.on_key(ch, ch.lower(), True, is_char=True)
        clock.step(0.03)
        rec.on_key(ch, ch.lower(), False, is_char=True)
        if shifted:
            rec.on_key("shift", "shift", False, is_char=False)
        clock.step(0.08)


def sealed_events(rec: Recorder, clock: FakeClock):
    clock.step(1)
    work = rec.rotate()  # closed: the courier seals it
    assert work is not None
    sealed = seal_work_dir(work, work.parent.parent)
    assert sealed is not None
    return read_bundle(sealed)


def test_clicks_keys_and_frames_before_actions(rig) -> None:
    rec, clock, screen = rig
    rec.on_focus(WindowInfo("xterm", "bash", 42))
    clock.step(0.5)
    for x in range(100, 400, 10):
        rec.on_move(x, 200)
        clock.step(0.02)
    screen.state = 1
    rec.on_click(400, 200, "left", True)
    clock.step(0.08)
    rec.on_click(400, 200, "left", False)
    clock.step(1)
    type_text(rec, clock, "ls -la")
    rec.on_key("enter", "enter", True, is_char=False)
    rec.on_key("enter", "enter", False, is_char=False)
    b = sealed_events(rec, clock)
    ev = b.events.to_pylist()
    kinds = [e["kind"] for e in ev]
    assert kinds[0] == "focus_change" and ev[0]["app"] == "xterm"
    moves = [e for e in ev if e["kind"] == "mouse_move"]
    assert 5 <= len(moves) < 30  # thinned, not dropped
    down = kinds.index("mouse_down")
    assert "screenshot" in kinds[:down]
    typed = "".join(
        e["key"] for e in ev if e["kind"] == "key_down" and e["key"] and len(e["key"]) == 1
    )
    assert typed == "ls -la"
    assert ev[-2]["key"] == "enter" and all(e["app"] == "xterm" for e in ev[1:])
    assert b.screenshots.num_rows >= 2


@pytest.mark.parametrize(
    "secret,rule",
    [
        ("jane.doe@example.com", "email"),
        ("4111 1111 1111 1111", "card"),
        ("S3cret!Pass", "password"),
        ("+1 415-555-0132", "phone"),
    ],
)
def test_secrets_typed_into_a_normal_window_are_redacted(rig, secret: str, rule: str) -> None:
    rec, clock, _ = rig
    rec.on_focus(WindowInfo("xterm", "bash", 42))
    type_text(rec, clock, f"say {secret} ok")
    clock.step(3)
    rec.tick()
    b = sealed_events(rec, clock)
    keys = [e["key"] for e in b.events.to_pylist() if e["key"] and e["kind"] == "key_down"]
    assert secret not in "".join(k for k in keys if len(k) == 1)
    assert secret not in str(b.events.to_pylist())
    red = b.events.filter(b.events["redacted"])
    assert red["key"].null_count == red.num_rows > 0
    assert rule in set(red["detail"].to_pylist())
    assert b.manifest["redaction"]["changed"][f"keys_{rule}"] > 0
    # the rest of the run survives
    assert "".join(k for k in keys if len(k) == 1).startswith("say ")


def test_the_contributors_patterns_hide_keys_and_titles_and_follow_the_config(rig) -> None:
    """A contributor masks their employer's ids (`privacy.mask_patterns`). Before, the
    pattern only painted frames: typed, it was stored in the keys, and a window title
    carried it. A pattern added while the agent runs applies to the title already shown
    from the next event on."""
    rec, clock, _ = rig
    rec.cfg.privacy.mask_patterns = ["EMP-[0-9]{6}"]
    rec.on_focus(WindowInfo("xterm", "EMP-204417 - CRM", 42))
    type_text(rec, clock, "open EMP-310922 now")
    clock.step(3)
    rec.tick()
    rec.on_focus(WindowInfo("firefox", "Case 7781-A - Helpdesk", 43))
    rec.cfg.privacy.mask_patterns = ["EMP-[0-9]{6}", "Case [0-9]{4}-[A-Z]"]
    rec.reconfigure(rec.cfg)  # as the agent does when it reloads the file
    type_text(rec, clock, "fine")
    clock.step(3)
    rec.tick()
    b = sealed_events(rec, clock)
    ev = b.events.to_pylist()
    assert "204417" not in str(ev) and "310922" not in str(ev)
    keys = "".join(e["key"] for e in ev if e["kind"] == "key_down" and e["key"])
    assert keys.startswith("open ") and keys.endswith(" now" + "fine")
    assert {e["detail"] for e in ev if e["redacted"]} == {"pattern"}
    assert ev[0]["window_title"] == "<pattern> - CRM"
    assert {e["window_title"] for e in ev if e["key"] == "f"} == {"<pattern> - Helpdesk"}
    changed = b.manifest["redaction"]["changed"]
    assert changed["keys_pattern"] > 0 and changed["title_pattern"] >= 1


def test_denylisted_window_leaves_only_a_gap(rig) -> None:
    rec, clock, screen = rig
    rec.on_focus(WindowInfo("xterm", "bash", 1))
    clock.step(1)
    rec.on_focus(WindowInfo("keepassxc", "Passwords.kdbx - KeePassXC", 2))
    screen.state = 7
    rec.on_click(10, 10, "left", True)
    type_text(rec, clock, "hunter2 4111 1111 1111 1111")
    rec.tick()
    clock.step(40)
    rec.tick()
    rec.on_focus(WindowInfo("xterm", "bash", 1))
    b = sealed_events(rec, clock)
    ev = b.events.to_pylist()
    assert [e["kind"] for e in ev if e["kind"] in ("pause", "resume")] == ["pause", "resume"]
    assert all(e["app"] != "keepassxc" for e in ev)
    assert not any("KeePass" in (e["window_title"] or "") for e in ev)
    assert not any(e["kind"] in ("key_down", "mouse_down") for e in ev)
    gap = next(e for e in ev if e["kind"] == "pause")
    assert gap["detail"] == "denylist" and gap["app"] is None


def test_nothing_while_paused_and_titles_are_scrubbed(rig) -> None:
    rec, clock, _ = rig
    rec.on_focus(WindowInfo("thunderbird", "Re: invoice from bob@example.com", 3))
    rec.set_pause("user")
    type_text(rec, clock, "private")
    rec.on_click(5, 5, "left", True)
    rec.set_pause(None)
    type_text(rec, clock, "ok")
    b = sealed_events(rec, clock)
    ev = b.events.to_pylist()
    assert "bob@example.com" not in str(ev)
    assert ev[0]["window_title"] == "Re: invoice from <email>"
    typed = "".join(
        e["key"] for e in ev if e["kind"] == "key_down" and e["key"] and len(e["key"]) == 1
    )
    assert typed == "ok"
    assert [e["detail"] for e in ev if e["kind"] in ("pause", "resume")] == ["user", "user"]


def test_idle_and_keyframes_only_when_the_screen_changed(rig) -> None:
    rec, clock, screen = rig
    rec.on_focus(WindowInfo("xterm", "bash", 1))
    rec.on_move(10, 10)
    frames_before = rec.frames_taken
    for _ in range(4):  # a static screen: no keyframes stored
        clock.step(31)
        rec.tick()
    assert rec.frames_taken == frames_before
    screen.state = 3
    clock.step(31)
    rec.tick()
    assert rec.frames_taken == frames_before + 1
    rec.on_move(300, 300)
    b = sealed_events(rec, clock)
    kinds = b.events["kind"].to_pylist()
    assert kinds.count("idle_start") == kinds.count("idle_end") == 1
    idle_at = b.events.filter(pc.equal(b.events["kind"], "idle_start"))["ts"][0].as_py()
    assert idle_at == datetime(2026, 11, 2, 9, 1, tzinfo=UTC)  # 60 s after the last move


def test_events_during_a_typed_run_stay_in_time_order(rig) -> None:
    """A mouse move while a run is open (held back for redaction) used to be written
    before the run's keys, out of time order; the pipeline's raw suite caught it."""
    rec, clock, _ = rig
    rec.on_focus(WindowInfo("xterm", "bash", 42))
    clock.step(0.5)
    type_text(rec, clock, "Hel")
    rec.on_move(500, 500)  # the hand brushes the mouse mid-word
    clock.step(0.1)
    type_text(rec, clock, "lo")
    b = sealed_events(rec, clock)
    ts = b.events["ts"].to_pylist()
    assert ts == sorted(ts)
    kinds = b.events["kind"].to_pylist()
    assert "mouse_move" in kinds


def test_masking_paints_only_the_visible_part_of_a_denylisted_window() -> None:
    from capture_agent.masking import paint, visible_parts
    from capture_agent.platform import WindowRect

    def denied(app: str | None, title: str | None) -> bool:
        return app == "1password"

    vault = WindowRect("1password", "Vault", 100, 100, 200, 100)
    chat = WindowRect("xterm", "chat", 150, 50, 100, 100)  # in front, over its top
    parts = visible_parts([vault, chat], denied)
    area = sum((r - x) * (b - y) for x, y, r, b in parts)
    assert area == 200 * 100 - 100 * 50
    assert visible_parts([chat, vault], denied) == [(100, 100, 300, 200)]  # vault on top
    # on a monitor whose corner is at (-50, 80): painted where it lies, clipped to it
    px = bytearray(b"\xff" * (400 * 300 * 4))
    assert paint(px, 400, 300, (-50, 80), parts) == len(parts)
    pixel = lambda x, y: px[((y - 80) * 400 + (x + 50)) * 4]  # noqa: E731
    assert pixel(120, 190) == 0 and pixel(290, 110) == 0  # the vault, visible
    assert pixel(200, 120) == 0xFF  # under the chat: left as it was
    assert pixel(20, 90) == 0xFF  # outside both


def test_no_frame_while_focus_is_unidentified_or_the_window_list_unknown_fake_desktop(
    rig,
) -> None:
    """Fakes the desktop: the recorder is told what the X adapter would tell it."""
    from capture_agent.platform import WindowRect

    rec, clock, screen = rig
    rec.on_focus(WindowInfo("xterm", "notes", 1))
    rec.on_focus(WindowInfo(None, None, None))  # a transition: no window has focus
    screen.state += 1
    clock.step(5)
    rec.on_click(100, 100, "left", True)
    rec.on_click(100, 100, "left", False)
    assert rec.session is not None
    assert rec.session.frame_changes["frames_dropped_unidentified_focus"] >= 1

    class Guard:  # what the X adapter answers, set by hand
        answer: tuple[int, list[WindowRect] | None] | None = (1, None)

        def settled(self, timeout: float = 0.05) -> tuple[int, list | None] | None:
            return self.answer

    guard = Guard()
    rec.window_guard = guard
    rec.on_focus(WindowInfo("xterm", "notes", 1))
    for why, answer in (
        ("window_list", (1, None)),  # the list could not be read
        ("window_change", None),  # an X event not read yet, or the list being read
    ):
        guard.answer = answer
        screen.state += 1
        clock.step(5)
        rec.on_click(100, 100, "left", True)
        rec.on_click(100, 100, "left", False)
        assert rec.session.frame_changes[f"frames_dropped_{why}"] >= 1


def test_fixed_regions_are_painted_and_masking_off_is_written_into_the_manifest(rig) -> None:
    rec, clock, screen = rig
    rec.cfg.privacy.mask_regions = [[0, 0, 4, 3]]  # the fake monitor's top-left corner
    rec.cfg.privacy.mask_windows = False  # the explicit setting

    class Guard:  # never asked while window masking is off
        def settled(self, timeout: float = 0.05) -> None:
            raise AssertionError("the window guard was asked")

    rec.window_guard = Guard()
    rec.on_focus(WindowInfo("xterm", "notes", 1))
    screen.state += 1
    clock.step(5)
    rec.on_click(10, 10, "left", True)
    rec.on_click(10, 10, "left", False)
    b = sealed_events(rec, clock)
    changed = b.manifest["redaction"]["changed"]
    assert changed["frames_masked_regions"] >= 1 and changed["frames_unmasked"] >= 1
    assert "pixel_masking_off" in b.manifest["redaction"]["rules"]
    assert "denylist_windows" not in b.manifest["redaction"]["rules"]


class FakeProbe:
    """Fakes AT-SPI (tests/test_atspi.py and test_agent_x11.py use the real one): answers
    after `delay` seconds with the element it was set to, and records what it was asked."""

    def __init__(self, delay: float = 0.02, hang: threading.Event | None = None) -> None:
        self.delay, self.hang, self.asked = delay, hang, []

    def element_at(self, x: int, y: int, pid: int | None = None) -> Element | None:
        self.asked.append(("point", x, y, pid))
        return self._answer(
            Element("push button", "Send to jane@example.com", (x - 5, y - 5, 40, 20))
        )

    def focused_element(self, pid: int | None = None) -> Element | None:
        self.asked.append(("focus", pid))
        return self._answer(Element("entry", "Merchant", (10, 20, 300, 24)))

    def _answer(self, element: Element) -> Element | None:
        if self.hang is not None:
            self.hang.wait()
            return None
        time.sleep(self.delay)
        return element

    def close(self) -> None:
        pass


def _with_lookups(rec: Recorder, probe: FakeProbe) -> ElementLookups:
    lookups = ElementLookups(lambda: probe, rec.on_element, rec.window_at)
    lookups.start()
    rec.attach_elements(lookups)
    return lookups


def _answered(rec: Recorder) -> None:
    deadline = time.monotonic() + 5
    while rec._waiting and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not rec._waiting


def test_the_element_goes_on_the_click_and_the_first_typed_key_fake_probe(rig) -> None:
    rec, clock, _screen = rig
    probe = FakeProbe()
    _with_lookups(rec, probe)
    rec.on_focus(WindowInfo("mousepad", "notes", 42))
    clock.step(0.5)
    rec.on_click(400, 200, "left", True)
    clock.step(0.08)
    rec.on_click(400, 200, "left", False)  # while the lookup waits: held, in order
    rec.on_move(420, 210)
    clock.step(1)
    type_text(rec, clock, "Acme")
    _answered(rec)
    b = sealed_events(rec, clock)
    ev = b.events.to_pylist()
    assert [e["seq"] for e in ev] == list(range(len(ev)))
    assert all(a["ts"] <= b_["ts"] for a, b_ in itertools.pairwise(ev))
    with_element = [e for e in ev if e["element_role"] is not None]
    assert [(e["kind"], e["element_role"]) for e in with_element] == [
        ("mouse_down", "push button"),
        ("key_down", "entry"),
    ]
    click, key = with_element
    # the name is scrubbed like a title: an e-mail in a label never reaches the bundle
    assert click["element_name"] == "Send to <email>"
    assert (click["element_x"], click["element_y"]) == (395, 195)
    assert key["key"] == "A" and key["element_name"] == "Merchant"
    assert probe.asked == [("point", 400, 200, 42), ("focus", 42)]


def test_no_element_is_asked_of_a_denylisted_window_under_the_pointer_fake_probe(rig) -> None:
    from capture_agent.platform import WindowRect

    rec, clock, _screen = rig
    probe = FakeProbe()
    _with_lookups(rec, probe)

    class Guard:  # what the X adapter answers, set by hand
        answer: tuple[int, list[WindowRect] | None] | None = (
            1,
            [
                WindowRect("mousepad", "notes", 0, 0, 800, 600, 42),
                WindowRect("keepassxc", "Vault", 500, 100, 400, 400, 77),
            ],
        )

        def settled(self, timeout: float = 0.05) -> tuple[int, list | None] | None:
            return self.answer

    guard = Guard()
    rec.window_guard = guard
    rec.on_focus(WindowInfo("mousepad", "notes", 42))
    for x, y in ((600, 200), (1500, 900)):  # the password manager on top; the desktop
        clock.step(2)
        rec.on_click(x, y, "left", True)
        rec.on_click(x, y, "left", False)
    guard.answer = None  # the windows are changing: nothing known about the point
    clock.step(2)
    rec.on_click(100, 100, "left", True)
    rec.on_click(100, 100, "left", False)
    guard.answer = (2, None)  # the list could not be read
    clock.step(2)
    rec.on_click(100, 100, "left", True)
    _answered(rec)
    assert probe.asked == []
    guard.answer = (
        2,
        [WindowRect("mousepad", "notes", 0, 0, 800, 600, 42)],
    )
    clock.step(2)
    rec.on_click(100, 100, "left", True)
    _answered(rec)
    assert probe.asked == [("point", 100, 100, 42)]


def test_events_held_behind_a_lookup_that_never_answers_still_reach_the_bundle_fake_probe(
    rig,
) -> None:
    rec, clock, _screen = rig
    hang = threading.Event()
    probe = FakeProbe(hang=hang)
    lookups = _with_lookups(rec, probe)
    rec.on_focus(WindowInfo("mousepad", "notes", 42))
    clock.step(0.5)
    rec.on_click(400, 200, "left", True)
    rec.on_click(400, 200, "left", False)
    rec.checkpoint()
    assert rec._held  # held in memory behind the lookup
    clock.step(ELEMENT_WAIT_S + 0.5)
    rec.tick()  # waited long enough: they go without an element
    assert not rec._held and not rec._waiting
    rec.on_click(410, 200, "left", True)  # a second one waits too (one at a time)...
    b = sealed_events(rec, clock)  # ...and closing the bundle does not wait for it
    hang.set()
    lookups.stop()
    kinds = [e["kind"] for e in b.events.to_pylist()]
    assert kinds.count("mouse_down") == 2 and kinds.count("mouse_up") == 1
    assert b.events["element_role"].null_count == b.events.num_rows


def test_the_contributors_own_names_leave_titles_and_element_names(rig) -> None:
    """The bundle calls the contributor by a salted hash; a terminal's title named them
    ("ana@laptop: ~/src" is the shell's default) and an editor's gave their home."""
    from capture_agent.own_names import OwnNames

    rec, clock, _ = rig
    rec.own_names = OwnNames("ana", "ana-laptop", "/home/ana")
    rec.on_focus(WindowInfo("xterm", "ana@ana-laptop: /home/ana/src/billing", 42))
    type_text(rec, clock, "make")
    rec.on_focus(WindowInfo("gedit", "todo.txt (/home/ana/notes) - gedit", 43))
    type_text(rec, clock, "x")
    rec.on_focus(WindowInfo("gedit", "/home/anabel/notes.txt - banana@ana-laptops", 44))
    b = sealed_events(rec, clock)
    titles = [e["window_title"] for e in b.events.to_pylist() if e["kind"] == "focus_change"]
    assert titles == [
        "<user>@<host>: ~/src/billing",
        "todo.txt (~/notes) - gedit",
        "/home/anabel/notes.txt - banana@ana-laptops",  # other names, left as they are
    ]
    stored = str(b.events.to_pylist())
    assert "ana@ana-laptop:" not in stored and "/home/ana/" not in stored
    assert "own_names" in b.manifest["redaction"]["rules"]  # what the dataset card counts


def test_a_bundle_claims_own_names_only_where_they_are_known() -> None:
    from capture_agent.own_names import OwnNames

    assert OwnNames("ana", "ana-laptop", "/home/ana").complete
    assert not OwnNames("", "ana-laptop", "/home/ana").complete  # no login: nothing hidden
    assert not OwnNames("ana", "", "/home/ana").complete
    assert not OwnNames("ana", "ana-laptop", "/").complete


def test_own_names_for_the_text_reader_match_only_the_names() -> None:
    import re

    from capture_agent.own_names import OwnNames

    rx = [re.compile(p) for p in OwnNames("ana", "ana-laptop", "/home/ana").patterns()]
    # as the recogniser reads a prompt: ":~" can come back as "t*"
    shown = "ana@ana-laptopt*$ ls /home/ana/src  /home/anabel  hana@ana-laptop"
    hits = [m.group() for p in rx for m in p.finditer(shown)]
    assert hits == ["ana@ana-laptop", "/home/ana"]
    assert OwnNames("root", "box", "/").patterns() == [r"(?<![\w.-])root@box"]
