"""The element acted on: AccessibilityProbe against real applications on a virtual
desktop with its own D-Bus session and accessibility bus (at-spi2-core's launcher and
registry). Nothing is faked."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from capture_agent.platform.atspi import AccessibilityProbe, Element
from tests.xkit import (
    LAUNCHER,
    Desk,
    accessibility_bus,
    missing_tools,
    own_settings,
    virtual_desktop,
)

_missing = [
    *missing_tools(),
    *(t for t in ("dbus-daemon", "mousepad", "chromium") if shutil.which(t) is None),
    *([] if os.path.exists(LAUNCHER) else [LAUNCHER]),
]

pytestmark = pytest.mark.skipif(bool(_missing), reason=f"needs {_missing}")


@dataclass
class A11yDesk:
    desk: Desk
    session_bus: str
    tmp: Path

    def probe(self) -> AccessibilityProbe:
        return AccessibilityProbe(session_bus=self.session_bus)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            args,
            env={**self.desk.env, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.desk.procs.append(p)
        return p

    def window(self, *how: str, timeout: float = 30.0) -> str:
        return self.desk.visible_window(*how, timeout=timeout)


def _wait_for(
    what: str, probe: AccessibilityProbe, x: int, y: int, timeout: float = 30.0
) -> Element:
    deadline = time.monotonic() + timeout
    while True:
        got = probe.element_at(x, y)
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: no accessible at ({x}, {y}) within {timeout:g} s")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def a11y() -> Iterator[A11yDesk]:
    with virtual_desktop(1280, 800) as disp:
        desk = Desk(disp)
        tmp = Path(tempfile.mkdtemp(prefix="worktape-atspi-"))
        try:
            with accessibility_bus(desk.env, tmp) as address:
                try:
                    yield A11yDesk(desk, address, tmp)
                finally:
                    desk.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _client(desk: Desk, wid: str) -> tuple[int, int, int, int]:
    """A client window's x, y, width and height on the screen, from xwininfo's absolute
    position (xdotool getwindowgeometry adds the frame's offset twice under openbox)."""
    out = subprocess.run(
        ["xwininfo", "-id", wid], env=desk.env, capture_output=True, text=True, check=True
    ).stdout
    field = {
        k.strip(): v.strip() for k, v in (ln.split(":", 1) for ln in out.splitlines() if ":" in ln)
    }
    return (
        int(field["Absolute upper-left X"]),
        int(field["Absolute upper-left Y"]),
        int(field["Width"]),
        int(field["Height"]),
    )


def _pid(desk: Desk, wid: str) -> int:
    return int(desk.xdo("getwindowpid", wid))


def _cost(what: str, call: Callable[[], object], n: int = 50) -> None:
    """Prints (no assertion: for judging the agent's CPU budget) the median wall time
    of a call and the median CPU time it costs this process (the agent's share; the
    application answering spends its own)."""
    wall, cpu = [], []
    for _ in range(n):
        w0, c0 = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    print(
        f"\n{what}: median {statistics.median(wall):.1f} ms wall, "
        f"{statistics.median(cpu):.1f} ms CPU here, over {n} calls"
    )


def _inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


def _mousepad(a11y: A11yDesk, path: Path) -> subprocess.Popen[bytes]:
    """Mousepad with settings of its own: one that was stopped remembers it in its
    settings, and the next would open on a "restore the previous session?" dialog."""
    fresh = Path(tempfile.mkdtemp(dir=a11y.tmp))
    return a11y.start("mousepad", "--disable-server", str(path), env=own_settings(fresh))


def test_mousepad_text_area_menu_bar_and_focus(a11y: A11yDesk) -> None:
    text = a11y.tmp / "notes.txt"
    text.write_text("call the bank\nbook the venue\n")
    proc = _mousepad(a11y, text)
    try:
        wid = a11y.window("--class", "mousepad")
        a11y.desk.xdo("windowmove", wid, "100", "100")
        a11y.desk.xdo("windowsize", wid, "800", "500")
        a11y.desk.focus(wid)
        client = _client(a11y.desk, wid)
        cx, cy = client[:2]
        pid = _pid(a11y.desk, wid)
        probe = a11y.probe()

        # the text area: well below the menu bar and the root-account warning
        body = _wait_for("mousepad text", probe, cx + 200, cy + 250)
        assert body.role == "text", body
        assert _inside(body.bounds, client), (body, client)
        assert probe.element_at(cx + 200, cy + 250, pid=pid) == body

        # the menu bar's first menu, at the client's top-left corner: the same screen
        # coordinates X reports for the client window (xwininfo's absolute position)
        menu = probe.element_at(cx + 10, cy + 8, pid=pid)
        assert menu is not None and menu.role == "menu" and menu.name == "File", menu
        assert menu.bounds[:2] == (cx, cy), (menu, client)

        focused = probe.focused_element()
        assert focused == probe.focused_element(pid=pid)
        assert focused is not None and focused.role == "text", focused

        _cost(
            "element_at, Mousepad text area", lambda: probe.element_at(cx + 200, cy + 250, pid=pid)
        )
        _cost("focused_element, Mousepad", lambda: probe.focused_element(pid=pid))
    finally:
        proc.terminate()
        proc.wait(5)


EXPENSES_PAGE = (
    "<!doctype html><title>Expenses</title><body style='margin:0;background:#fff'>"
    "<button style='position:absolute;left:120px;top:90px;width:220px;height:60px;"
    "background:#ff00ff;border:0'>New expense</button></body>"
)


def _chromium(a11y: A11yDesk, page: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Chromium showing `page`, with its accessibility tree asked for: as a screen reader
    does, the probe sets org.a11y.Status.IsEnabled (without it, or ACCESSIBILITY_ENABLED=1
    in Chromium's environment, it exposes nothing). Returns the process and its window."""
    assert a11y.probe().request_accessibility()
    proc = a11y.start(
        "chromium",
        *("--no-sandbox", "--test-type", "--ozone-platform=x11", "--disable-gpu"),
        *("--no-first-run", "--no-default-browser-check", "--password-store=basic"),
        *("--disable-features=Translate,MediaRouter", "--disable-sync"),
        "--force-renderer-accessibility",
        f"--user-data-dir={a11y.tmp / 'chromium'}",
        "--window-position=0,0",
        "--window-size=1000,700",
        page.as_uri(),
    )
    return proc, a11y.window("--class", "chromium", timeout=60)


def _magenta(a11y: A11yDesk, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, int, int]:
    """Where the page's button really is: its magenta pixels on the screen."""
    import mss

    monkeypatch.setenv("DISPLAY", a11y.desk.display)
    deadline = time.monotonic() + 60
    while True:
        with mss.MSS() as screen:
            shot = screen.grab(screen.monitors[1])
        px = shot.pixels
        hits = [
            (x, y)
            for y in range(0, shot.height, 2)
            for x in range(0, shot.width, 2)
            if px[y][x] == (255, 0, 255)
        ]
        if hits or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert hits, "the button was never drawn"
    xs, ys = [h[0] for h in hits], [h[1] for h in hits]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def test_chromium_button_in_a_page(a11y: A11yDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    page = a11y.tmp / "expenses.html"
    page.write_text(EXPENSES_PAGE)
    proc, wid = _chromium(a11y, page)
    try:
        pid = _pid(a11y.desk, wid)
        drawn = _magenta(a11y, monkeypatch)
        mid = (drawn[0] + drawn[2] // 2, drawn[1] + drawn[3] // 2)
        probe = a11y.probe()

        got = _wait_for("chromium button", probe, *mid)
        deadline = time.monotonic() + 30
        while got.name != "New expense" and time.monotonic() < deadline:
            time.sleep(0.5)
            got = probe.element_at(*mid) or got
        assert got.role in ("push button", "button"), got
        assert got.name == "New expense", got
        assert probe.element_at(*mid, pid=pid) == got
        bx, by, bw, bh = got.bounds
        assert abs(bx - drawn[0]) <= 3 and abs(by - drawn[1]) <= 3, (got, drawn)
        assert abs(bw - drawn[2]) <= 4 and abs(bh - drawn[3]) <= 4, (got, drawn)

        _cost("element_at, Chromium button", lambda: probe.element_at(*mid, pid=pid))
        _cost("element_at, Chromium button, no pid", lambda: probe.element_at(*mid))
        _cost("focused_element, Chromium", lambda: probe.focused_element(pid=pid))
    finally:
        proc.terminate()
        proc.wait(10)


def test_xterm_exposes_nothing(a11y: A11yDesk) -> None:
    wid = a11y.desk.terminal("plain-xterm", geometry="40x10+300+300")
    a11y.desk.focus(wid)
    cx, cy = _client(a11y.desk, wid)[:2]
    probe = a11y.probe()
    t0 = time.perf_counter()
    assert probe.element_at(cx + 50, cy + 50, pid=_pid(a11y.desk, wid)) is None
    assert probe.element_at(cx + 50, cy + 50) is None
    assert probe.focused_element(pid=_pid(a11y.desk, wid)) is None
    took = time.perf_counter() - t0
    assert took < 1.0, took


def test_no_accessibility_bus_gives_none() -> None:
    # no session bus at that address
    gone = AccessibilityProbe(session_bus="unix:path=/nonexistent/worktape-bus")
    assert gone.element_at(10, 10) is None
    assert gone.focused_element() is None
    assert not gone.request_accessibility()
    # a session bus with no accessibility bus launcher on it
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        bare = AccessibilityProbe(session_bus=daemon.stdout.readline().strip())
        t0 = time.perf_counter()
        assert bare.element_at(10, 10) is None
        assert bare.focused_element() is None
        assert bare.element_at(10, 10, pid=1) is None
        assert time.perf_counter() - t0 < 3.0
    finally:
        daemon.terminate()
        daemon.wait(5)


def _mousepad_showing(a11y: A11yDesk, name: str, timeout: float = 30.0) -> str:
    """Mousepad's window titled with the file `name`: it maps another window first."""
    deadline = time.monotonic() + timeout
    while True:
        a11y.window("--class", "mousepad")
        for wid in a11y.desk.xdo("search", "--onlyvisible", "--class", "mousepad").split():
            with contextlib.suppress(subprocess.CalledProcessError):
                if name in a11y.desk.xdo("getwindowname", wid):
                    return wid
        assert time.monotonic() < deadline, f"no Mousepad window showing {name}"
        time.sleep(0.3)


def test_the_agent_records_what_was_clicked_and_typed_into(
    a11y: A11yDesk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real agent (`worktape agent start`) on the same desktop and buses: xdotool
    clicks a Chromium button, opens Mousepad's File menu and types into its text area;
    each mouse_down and the typed run's first key carry the element AT-SPI named, and
    a click on xterm, which exposes nothing, carries none."""
    from tests.agentkit import RunningAgent, configure
    from tests.test_agent_x11 import bucket_events

    page = a11y.tmp / "agent-expenses.html"
    page.write_text(EXPENSES_PAGE)
    chromium, cwid = _chromium(a11y, page)
    notes = a11y.tmp / "agent-notes.txt"
    notes.write_text("call the bank\n")
    mousepad = _mousepad(a11y, notes)
    try:
        drawn = _magenta(a11y, monkeypatch)
        button = (drawn[0] + drawn[2] // 2, drawn[1] + drawn[3] // 2)
        _wait_for("chromium button", a11y.probe(), *button)
        mwid = _mousepad_showing(a11y, "agent-notes")
        a11y.desk.xdo("windowsize", "--sync", mwid, "700", "450")
        a11y.desk.xdo("windowmove", "--sync", mwid, "200", "150")
        term = a11y.desk.terminal("plain-xterm", geometry="40x8+900+600")
        mx, my = _client(a11y.desk, mwid)[:2]
        tx, ty = _client(a11y.desk, term)[:2]

        env = {**configure(tmp_path, storage_url=str(tmp_path / "bucket")), **a11y.desk.env}
        agent = RunningAgent(env)

        def click(wid: str | None, x: int, y: int) -> None:
            if wid is not None:
                a11y.desk.focus(wid)
                time.sleep(0.4)
            a11y.desk.xdo("mousemove", "--sync", str(x), str(y))
            time.sleep(0.3)
            a11y.desk.xdo("click", "1")
            time.sleep(0.8)

        click(cwid, *button)
        click(mwid, mx + 10, my + 8)  # the File menu
        a11y.desk.xdo("key", "Escape")
        time.sleep(0.5)
        # still focused (and activating a window while its menu closes may fail)
        click(None, mx + 300, my + 300)  # the text area
        a11y.desk.xdo("type", "--delay", "60", "book the venue")
        time.sleep(2.5)  # the typed run ends
        click(term, tx + 40, ty + 40)
        agent.stop()
    finally:
        for p in (chromium, mousepad):
            p.terminate()
            p.wait(10)

    ev, _ = bucket_events(tmp_path / "bucket")
    rows = ev.to_pylist()
    downs = [r for r in rows if r["kind"] == "mouse_down"]
    got = [(r["app"], r["element_role"], r["element_name"]) for r in downs]
    assert len(downs) == 4, got
    assert downs[0]["element_role"] in ("push button", "button"), got
    assert downs[0]["element_name"] == "New expense", got
    assert (downs[1]["element_role"], downs[1]["element_name"]) == ("menu", "File"), got
    assert downs[2]["element_role"] == "text", got
    assert downs[3]["element_role"] is None and downs[3]["element_name"] is None, got
    bx, by, bw, bh = (downs[0][f"element_{k}"] for k in ("x", "y", "width", "height"))
    assert abs(bx - drawn[0]) <= 3 and abs(by - drawn[1]) <= 3, (downs[0], drawn)
    assert abs(bw - drawn[2]) <= 4 and abs(bh - drawn[3]) <= 4, (downs[0], drawn)
    keys = [
        r
        for r in rows
        if r["kind"] == "key_down" and r["app"] == "mousepad" and r["key"] and len(r["key"]) == 1
    ]
    assert "".join(r["key"] for r in keys) == "book the venue"
    assert keys[0]["element_role"] == "text", keys[0]
    # each typed run's first key; the first keystroke marks the title modified ("*"),
    # and that focus change starts a second run
    runs = [r for r in keys if r["element_role"] is not None]
    assert len(runs) <= 2 and all(r["element_role"] == "text" for r in runs), runs
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
