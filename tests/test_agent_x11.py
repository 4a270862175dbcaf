"""The real agent on a real (virtual) X display: xdotool sends input into real xterm
windows, pynput and mss capture it, and we read what reached the bucket."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from tests.agentkit import RunningAgent, cli, configure
from tests.xkit import Desk, missing_tools, virtual_desktop
from worktape.core.bundle import read_bundle
from worktape.core.storage import LocalStorage

pytestmark = pytest.mark.skipif(
    bool(missing_tools()), reason=f"needs {missing_tools()} (make test installs them)"
)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with virtual_desktop() as disp:
        yield disp


@pytest.fixture
def desk(display: str) -> Iterator[Desk]:
    d = Desk(display)
    yield d
    d.close()


def bucket_events(bucket: Path) -> tuple[pa.Table, list]:
    storage = LocalStorage(bucket)
    bundles = [read_bundle(storage.root / i.key) for i in storage.list("raw/")]
    bundles.sort(key=lambda b: b.manifest["started_at"])
    assert bundles, "no bundle reached the bucket"
    return pa.concat_tables(b.events for b in bundles), bundles


def typed(events: pa.Table) -> str:
    return "".join(
        k
        for k, kind in zip(events["key"].to_pylist(), events["kind"].to_pylist(), strict=True)
        if kind == "key_down" and k and len(k) == 1
    )


def test_captured_events_match_what_xdotool_sent(desk: Desk, tmp_path: Path) -> None:
    env = {**configure(tmp_path, storage_url=str(tmp_path / "bucket")), "DISPLAY": desk.display}
    wid = desk.terminal("wt-capture-term")
    desk.focus(wid)
    agent = RunningAgent(env)
    desk.xdo("mousemove", "300", "300")
    time.sleep(0.2)
    desk.xdo("mousemove", "--sync", "600", "420")
    time.sleep(0.3)
    desk.xdo("click", "1")
    time.sleep(0.4)
    desk.xdo("click", "--repeat", "2", "--delay", "80", "1")
    time.sleep(0.4)
    desk.xdo("click", "5")
    desk.xdo("click", "5")
    time.sleep(0.4)
    desk.xdo("type", "--delay", "40", "hello world")
    time.sleep(2.5)  # the typed run ends
    desk.xdo("key", "ctrl+shift+a")
    time.sleep(0.5)
    agent.stop()
    ev, bundles = bucket_events(tmp_path / "bucket")
    rows = ev.to_pylist()
    kinds = [r["kind"] for r in rows]

    focus = [r for r in rows if r["kind"] == "focus_change"]
    assert focus and focus[0]["app"] == "xterm" and focus[0]["window_title"] == "wt-capture-term"
    moves = [(r["x"], r["y"]) for r in rows if r["kind"] == "mouse_move"]
    assert (600, 420) in moves or any(abs(x - 600) + abs(y - 420) < 10 for x, y in moves)
    downs = [r for r in rows if r["kind"] == "mouse_down"]
    assert len(downs) == 3 and all(r["button"] == "left" for r in downs)
    assert (downs[0]["x"], downs[0]["y"]) == (600, 420)
    # the two clicks of the double click come close together
    gap = (downs[2]["ts"] - downs[1]["ts"]).total_seconds()
    assert gap < 0.5
    scrolls = [r for r in rows if r["kind"] == "scroll"]
    assert len(scrolls) == 2 and all(r["dy"] == -1 for r in scrolls)
    assert typed(ev).startswith("hello world")
    hot = [r for r in rows if r["kind"] == "key_down" and r["modifiers"] == "ctrl+shift"]
    assert hot and hot[0]["key"].lower() == "a"
    # a frame is stored before the first click; every screenshot event has its frame
    first_down = kinds.index("mouse_down")
    assert "screenshot" in kinds[:first_down]
    shot_ids = {s for b in bundles for s in b.screenshots["screenshot_id"].to_pylist()}
    assert {r["screenshot_id"] for r in rows if r["kind"] == "screenshot"} <= shot_ids
    assert all(b.manifest["consent"]["policy_version"] for b in bundles)


def test_nothing_is_captured_before_consent_or_while_paused(desk: Desk, tmp_path: Path) -> None:
    env = {
        **configure(tmp_path, storage_url=str(tmp_path / "bucket"), consent=False),
        "DISPLAY": desk.display,
    }
    r = cli("start", env=env)
    assert r.returncode == 2 and "consent" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bucket").exists()

    env = {**configure(tmp_path, storage_url=str(tmp_path / "bucket")), "DISPLAY": desk.display}
    assert cli("pause", env=env).returncode == 0
    wid = desk.terminal("wt-paused-term")
    desk.focus(wid)
    agent = RunningAgent(env)
    desk.xdo("mousemove", "400", "400", "click", "1")
    desk.xdo("type", "--delay", "30", "secret plans")
    time.sleep(0.5)
    status = cli("status", env=env).stdout
    assert "paused" in status
    agent.stop()
    if (tmp_path / "bucket").exists():
        ev, _ = bucket_events(tmp_path / "bucket")
        assert set(ev["kind"].to_pylist()) <= {"pause"}
        assert typed(ev) == ""


def test_a_config_edit_that_cannot_be_applied_pauses_capture_until_it_is_fixed(
    desk: Desk, tmp_path: Path
) -> None:
    """A contributor adds a pattern to mask, with a typo, while the agent runs. The
    agent cannot mask what it asks for, so it records nothing until the file is fixed
    (before, the agent stopped), and says why in its status; fixed, it records again,
    and what the pattern names is redacted from the keys typed."""
    import json

    env = {**configure(tmp_path, storage_url=str(tmp_path / "bucket")), "DISPLAY": desk.display}
    path = Path(env["WORKTAPE_AGENT_CONFIG"])
    good = path.read_text()
    wid = desk.terminal("wt-config-term")
    desk.focus(wid)
    agent = RunningAgent(env)
    desk.xdo("type", "--delay", "30", "before ")
    path.write_text(good.replace("mask_patterns = []", 'mask_patterns = ["EMP-[0-9"]'))
    status = tmp_path / "agent-data" / "status.json"
    deadline = time.monotonic() + 10
    while json.loads(status.read_text())["state"] != "paused (config invalid)":
        assert time.monotonic() < deadline, status.read_text()
        time.sleep(0.1)
    assert "mask_patterns" in json.loads(status.read_text())["config_error"]
    desk.xdo("type", "--delay", "30", "during ")
    time.sleep(0.3)
    path.write_text(good.replace("mask_patterns = []", 'mask_patterns = ["EMP-[0-9]+"]'))
    while json.loads(status.read_text())["state"] != "recording":
        assert time.monotonic() < deadline, status.read_text()
        time.sleep(0.1)
    desk.xdo("type", "--delay", "30", "after EMP-2044 done ")
    time.sleep(0.3)
    err = agent.stop()
    assert "capture paused until it is fixed" in err
    ev, _ = bucket_events(tmp_path / "bucket")
    # the pattern, once it applies, hides the id from the keys as it does on screen
    assert typed(ev) == "before after  done "
    kinds, details = ev["kind"].to_pylist(), ev["detail"].to_pylist()
    assert [d for k, d in zip(kinds, details, strict=True) if k == "pause"] == ["config"]
    assert "pattern" in {d for d, r in zip(details, ev["redacted"].to_pylist(), strict=True) if r}


SECRETS = ("4111 1111 1111 1111", "jane.doe@example.com", "S3cret!Pass")


def test_secrets_never_reach_the_sealed_bundle(desk: Desk, tmp_path: Path) -> None:
    env = {**configure(tmp_path, storage_url=str(tmp_path / "bucket")), "DISPLAY": desk.display}
    normal = desk.terminal("wt-notes-term", "80x20+40+40")
    vault = desk.terminal("KeePassXC - Passwords.kdbx", "80x20+900+400")
    desk.focus(normal)
    agent = RunningAgent(env)
    for wid in (normal, vault):
        desk.focus(wid)
        for secret in SECRETS:
            desk.xdo("type", "--delay", "30", f"note {secret} done")
            time.sleep(2.4)  # each typed run ends before the next
    desk.focus(normal)
    agent.stop()
    ev, bundles = bucket_events(tmp_path / "bucket")
    text = typed(ev)
    for secret in SECRETS:
        assert secret not in text
        for b in bundles:
            assert secret not in str(b.events.to_pylist())
            assert secret not in str(b.manifest)
    assert "note " in text and " done" in text  # the ordinary words survive
    # the denylisted window: no keys, no title, no app, only a gap
    assert not any("KeePass" in (t or "") for t in ev["window_title"].to_pylist())
    assert ev["kind"].to_pylist().count("pause") >= 1
    red = ev.filter(ev["redacted"])
    assert {"card", "email", "password"} <= set(red["detail"].to_pylist())
    changed = {k: v for b in bundles for k, v in b.manifest["redaction"]["changed"].items()}
    assert changed.get("denylist_gaps", 0) >= 1 and changed.get("keys_email", 0) > 0


def test_kill_9_mid_hour_leaves_no_corrupt_bundle(desk: Desk, tmp_path: Path) -> None:
    env = {**configure(tmp_path, storage_url=str(tmp_path / "bucket")), "DISPLAY": desk.display}
    wid = desk.terminal("wt-crash-term")
    desk.focus(wid)
    agent = RunningAgent(env)
    desk.xdo("mousemove", "200", "200", "click", "1")  # inside the xterm: it keeps focus
    desk.xdo("type", "--delay", "30", "before the crash")
    time.sleep(3.5)  # a checkpoint (1 s) puts it on disk
    agent.kill9()
    assert not list((tmp_path / "bucket").rglob("*.tar"))  # nothing half-made uploaded
    restarted = RunningAgent(env)
    time.sleep(1)
    restarted.stop()
    ev, bundles = bucket_events(tmp_path / "bucket")
    assert "before the crash" in typed(ev)
    assert len(bundles) == 2  # the recovered hour and the new run's
    assert not list((tmp_path / "agent-data" / "spool").rglob("*.tar"))


def test_without_a_display_the_agent_says_so(tmp_path: Path) -> None:
    env = configure(tmp_path, storage_url=str(tmp_path / "bucket"))
    full = {k: v for k, v in {**os.environ, **env}.items() if k != "DISPLAY"}
    r = subprocess.run(
        [sys.executable, "-m", "worktape.cli", "agent", "start"],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "DISPLAY" in r.stderr and "Traceback" not in r.stderr


def test_the_fast_event_parser_reads_what_python_xlib_reads(display: str) -> None:
    """The listeners parse input events with one struct unpack; python-xlib's parser
    must read the same from the same bytes (KeyPress, ButtonRelease, MotionNotify)."""
    import struct

    from Xlib import display as xdisplay
    from Xlib.protocol import rq

    from capture_agent.inputs import _INPUT_EVENT, _FastEventParser

    d = xdisplay.Display(display)
    slow = rq.EventField(None)
    fast = _FastEventParser(slow)
    for kind, detail in ((2, 38), (5, 3), (6, 0)):
        for sent in (0, 0x80):
            raw = _INPUT_EVENT.pack(
                kind | sent, detail, 7, 123456, 0x111, 0x222, 0, 640, -3, 40, 50, 0x2004, 1
            )
            data = raw + struct.pack("=I", 99)  # the next event's first bytes stay
            got, rest = fast.parse_binary_value(data, d.display, None, None)
            want, rest_want = slow.parse_binary_value(data, d.display, None, None)
            assert bytes(rest) == bytes(rest_want)
            for attr in ("type", "detail", "time", "root_x", "root_y", "state", "send_event"):
                assert getattr(got, attr) == getattr(want, attr), (kind, attr)
    d.close()
