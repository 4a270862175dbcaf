"""Pixels count as much as text: on a real X session (Xvfb + openbox), a denylisted
window never reaches a stored frame, neither as focus moves into it nor while it stays
visible behind another window. The windows are xterms; the denylisted one has a magenta
background, so every stored frame can be checked pixel by pixel."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agentkit import RunningAgent, configure
from tests.xkit import Desk, missing_tools, virtual_desktop
from worktape.core.bundle import read_bundle
from worktape.core.storage import LocalStorage

pytestmark = pytest.mark.skipif(
    bool(missing_tools()), reason=f"needs {missing_tools()} (make test installs them)"
)
MAGENTA = "#ff00ff"


@pytest.fixture(scope="module")
def desk() -> Iterator[Desk]:
    with virtual_desktop() as disp:
        d = Desk(disp)
        yield d
        d.close()


def stored_frames(bucket: Path, tmp: Path) -> list[tuple[dict, object]]:
    from PIL import Image

    storage = LocalStorage(bucket)
    out = []
    for info in storage.list("raw/"):
        b = read_bundle(storage.root / info.key, frames="extract", extract_to=tmp / info.key)
        assert b.frames_dir is not None
        for row in b.screenshots.to_pylist():
            fmt = b.manifest["frame_format"]
            path = b.frames_dir / "screenshots" / f"{row['screenshot_id']}.{fmt}"
            out.append((b.manifest, Image.open(io.BytesIO(path.read_bytes())).convert("RGB")))
    return out


def magenta_pixels(img) -> int:
    from PIL import ImageChops

    r, g, b = img.split()
    strong_r = r.point(lambda v: 255 if v > 180 else 0)
    strong_b = b.point(lambda v: 255 if v > 180 else 0)
    weak_g = g.point(lambda v: 255 if v < 80 else 0)
    mask = ImageChops.multiply(ImageChops.multiply(strong_r, strong_b), weak_g)
    return mask.histogram()[255]


def _pixels(img) -> list[int]:
    return list(img.convert("L").tobytes())


def test_a_denylisted_window_never_reaches_a_frame(desk: Desk, tmp_path: Path) -> None:
    env = {**configure(tmp_path, storage_url=str(tmp_path / "bucket")), "DISPLAY": desk.display}
    chat = desk.terminal("wt-chat", "70x16+40+40")
    desk.focus(chat)
    agent = RunningAgent(env)
    desk.xdo("type", "--delay", "40", "hello from the chat")
    time.sleep(1.5)
    # the password manager opens, raised and focused, overlapping the chat
    vault = desk.terminal("1Password - Vault", "60x14+300+200", background=MAGENTA)
    desk.focus(vault)
    desk.xdo("type", "--delay", "40", "hunter2-secret")
    time.sleep(1.0)
    # back to the chat: the vault stays visible behind it
    desk.focus(chat)
    for word in ("one", "two", "three"):
        desk.xdo("mousemove", "--sync", "120", "120", "click", "1")
        desk.xdo("type", "--delay", "40", f" typing {word} ")
        time.sleep(1.2)
    agent.stop()

    frames = stored_frames(tmp_path / "bucket", tmp_path / "x")
    assert len(frames) >= 4, "the scripted activity stores frames"
    for _, img in frames:
        assert magenta_pixels(img) == 0  # no pixel of the denylisted window, anywhere
    # the vault's visible part is solid in the frames after it opened, and the chat in
    # front of it is intact (its white background and text)
    vx, vy, vw, vh = desk.geometry(vault)
    cx, cy, cw, ch = desk.geometry(chat)
    last = frames[-1][1]
    scale = last.width / 1920
    visible = (
        int((cx + cw + 20) * scale),
        int((vy + 20) * scale),
        int((vx + vw - 10) * scale),
        int((vy + vh - 10) * scale),
    )
    assert max(_pixels(last.crop(visible))) < 40, "the vault's visible part is not solid"
    front = last.crop(
        (int(cx * scale), int(cy * scale), int((cx + cw) * scale), int((cy + ch) * scale))
    )
    light = sum(1 for v in _pixels(front) if v > 200)
    assert light > 0.5 * front.width * front.height, "the chat in front was painted over"
    changed = {}
    for manifest, _ in frames:
        changed.update(manifest["redaction"]["changed"])
    assert changed.get("frames_masked_windows", 0) >= 1


def read_text(img) -> list[str]:
    """The text lines the agent's own OCR reads in a stored frame."""
    import numpy as np

    from worktape.core.privacy.screen_text import TextMasker

    return TextMasker().lines(np.asarray(img)[:, :, ::-1])


def test_secrets_shown_on_screen_are_masked_in_stored_frames(desk: Desk, tmp_path: Path) -> None:
    """A program prints a customer record; nobody types it. The stored frames (kept at
    full size here, so that their text is readable) show the harmless words and none of
    the e-mail address, card number or phone number."""
    from worktape.core.privacy.rules import luhn_ok
    from worktape.core.privacy.screen_text import pixel_spans

    card = "4539 5787 6362 1485"
    assert not luhn_ok(card.replace(" ", ""))
    card = card[:-1] + next(d for d in "0123456789" if luhn_ok(card.replace(" ", "")[:-1] + d))
    record = tmp_path / "record.txt"
    record.write_text(
        "Customer record 4471   Status: active\n"
        "Email: dana.whitfield@northwind-example.com   Tier: gold\n"
        f"Card on file: {card}   Renewal: spring\n"
        "Phone: +1 415 555 0199   Notes: prefers morning calls\n"
    )
    env = {
        **configure(tmp_path, storage_url=str(tmp_path / "bucket"), frame_scale=1.0),
        "DISPLAY": desk.display,
    }
    crm = desk.terminal("CRM - Customer record", "80x10+60+500", showing=record)
    desk.focus(crm)
    agent = RunningAgent(env)
    for x in (200, 400, 600):
        desk.xdo("mousemove", "--sync", str(x), "560", "click", "1")
        time.sleep(2.0)
    agent.stop()

    frames = stored_frames(tmp_path / "bucket", tmp_path / "x")
    assert frames, "the clicks store frames"
    seen = [line for _, img in frames for line in read_text(img)]
    joined = " ".join(seen)
    for harmless in ("Status", "gold", "spring", "morning"):
        assert harmless in joined, f"{harmless!r} should still be readable: {seen}"
    leaks = [(line, span) for line in seen for span in pixel_spans(line)]
    assert not leaks, f"secrets readable in stored frames: {leaks}"
    assert "dana.whitfield" not in joined and "0199" not in joined
    changed: dict[str, int] = {}
    for manifest, _ in frames:
        assert "screen_text" in manifest["redaction"]["rules"]
        for k, v in manifest["redaction"]["changed"].items():
            changed[k] = changed.get(k, 0) + v
    assert changed.get("pixels_email", 0) >= 1 and changed.get("pixels_card", 0) >= 1
    assert changed.get("pixels_phone", 0) >= 1 and changed.get("frames_masked_text", 0) >= 1


def test_the_contributors_own_names_leave_titles_and_frames(desk: Desk, tmp_path: Path) -> None:
    """The bundle calls the contributor by a salted hash, but a shell prompt and a
    terminal's title name them ("ana@laptop", "/home/ana"). The stored titles say
    "<user>@<host>" and "~"; the stored frames show neither name, and the words
    around them stay readable."""
    import json
    import subprocess
    import sys

    env = {
        **configure(tmp_path, storage_url=str(tmp_path / "bucket"), frame_scale=1.0),
        "DISPLAY": desk.display,
    }
    # the names as the agent, started with this environment, finds them
    own = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import dataclasses, json; from capture_agent.own_names import OwnNames; "
                "print(json.dumps(dataclasses.asdict(OwnNames.here())))",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    user_at_host, home = f"{own['login']}@{own['host']}", own["home"].rstrip("/")
    shown = tmp_path / "prompt.txt"
    shown.write_text(
        f"{user_at_host}:~$ ls {home}/projects   Status: active\nInvoices  Reports  Summary\n"
    )
    term = desk.terminal(f"{user_at_host}: {home}/projects", "80x6+60+500", showing=shown)
    desk.focus(term)
    agent = RunningAgent(env)
    for x in (200, 400):  # clicks on the desktop beside the terminal: frames are stored
        desk.xdo("mousemove", "--sync", str(x), "700", "click", "1")
        time.sleep(2.0)
    agent.stop()

    storage = LocalStorage(tmp_path / "bucket")
    titles = {
        t
        for info in storage.list("raw/")
        for t in read_bundle(storage.root / info.key).events["window_title"].to_pylist()
        if t
    }
    assert titles == {"<user>@<host>: ~/projects"}, titles
    frames = stored_frames(tmp_path / "bucket", tmp_path / "x")
    assert frames, "the clicks store frames"
    seen = " ".join(line for _, img in frames for line in read_text(img))
    assert "Status" in seen and "Summary" in seen, seen
    assert user_at_host not in seen and f"{home}/" not in seen, seen


def test_text_masking_turned_on_while_the_agent_runs_masks_the_next_frames(
    desk: Desk, tmp_path: Path
) -> None:
    """A contributor who recorded with `privacy.mask_text = false` turns it on, then adds
    a pattern, without restarting the agent: the frames after each change are masked by
    it, and the bundle counts the frames stored before it unmasked. (Before, turning it
    on changed nothing but the counts. And this test found a second leak: the word
    typed below the address reached into its box, the line was read again, the "@" was
    misread, and the address was stored from the second masked frame on.)"""
    from datetime import UTC, datetime

    from PIL import Image

    from capture_agent import config as C
    from worktape.core.privacy.screen_text import pixel_spans

    record = tmp_path / "record.txt"
    record.write_text(
        "Customer record EMP-204417   Status: active\n"
        "Email: dana.whitfield@northwind-example.com   Tier: gold\n"
    )
    env = {
        **configure(tmp_path, storage_url=str(tmp_path / "bucket"), frame_scale=1.0),
        "DISPLAY": desk.display,
    }
    path = Path(env["WORKTAPE_AGENT_CONFIG"])
    cfg = C.load(path)
    cfg.privacy.mask_text = False
    C.save(cfg, path)
    crm = desk.terminal("CRM - Customer record", "80x6+60+500", showing=record)
    desk.focus(crm)
    agent = RunningAgent(env)

    def clicks() -> datetime:
        """Type a word (the screen changes, so a frame is stored) and click, twice."""
        started = datetime.now(UTC)
        for x in (200, 400):
            desk.xdo("type", "--delay", "40", "noted ")
            desk.xdo("mousemove", "--sync", str(x), "540", "click", "1")
            time.sleep(2.0)
        return started

    clicks()
    cfg.privacy.mask_text = True
    C.save(cfg, path)
    time.sleep(2.0)  # the agent sees the change on its next turn and starts the reader
    masked_from = clicks()
    cfg.privacy.mask_patterns = ["EMP-[0-9]{6}"]
    C.save(cfg, path)
    time.sleep(2.0)
    pattern_from = clicks()
    agent.stop()

    storage = LocalStorage(tmp_path / "bucket")
    frames: list[tuple[datetime, str]] = []
    for info in storage.list("raw/"):
        b = read_bundle(storage.root / info.key, frames="extract", extract_to=tmp_path / info.key)
        assert b.frames_dir is not None
        changed = b.manifest["redaction"]["changed"]
        assert changed.get("frames_text_unmasked", 0) >= 1  # those before it was on
        for row in b.screenshots.to_pylist():
            data = (b.frames_dir / "screenshots" / f"{row['screenshot_id']}.webp").read_bytes()
            img = Image.open(io.BytesIO(data)).convert("RGB")
            frames.append((row["ts"], " ".join(read_text(img))))
    before = [t for ts, t in frames if ts < masked_from]
    after = [t for ts, t in frames if ts >= masked_from]
    assert any("whitfield" in t for t in before), before  # the test saw it unmasked
    assert after, "frames were stored after masking was turned on"
    for text in after:
        assert "whitfield" not in text and not pixel_spans(text), text
        assert "Status" in text, text
    late = [t for ts, t in frames if ts >= pattern_from]
    assert late and all("204417" not in t for t in late), late
