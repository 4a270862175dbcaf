"""The capture agent under load: CPU, memory, and bundle bytes per active hour.

The agent runs as its own process, with the shipped defaults, for 60 s (after a 12 s
warm-up, longer until the text reader has read its first frame whole) on a 1920x1080
Xvfb, with a maximised xterm full of source code in focus, while this script drives
real X input through XTest: mouse motion at 50 Hz, steady typing (about 5 characters a
second) and a click every 3 seconds. It prints:
- the agent's average CPU (% of one core, from /proc/<pid>/stat of the capture process
  and its children: the text reader, which runs the OCR, is one) and the peak RSS
  (VmHWM) of the capture process and of the text reader;
- the courier's, the child that seals and uploads at the hour (here, once, at exit):
  its CPU seconds and peak RSS, and its CPU spread over an hour of capture;
- the sealed bundle bytes per active hour.

    python -m bench.bench_agent [--seconds 60] [--frame-scale 1.0] [--no-text-masking]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from tests.agentkit import configure
from tests.xkit import Desk, virtual_desktop

WARMUP = 12  # seconds: start-up, listeners, the first frames, the first checkpoint
TEXT = (
    "The quarterly report lists revenue by region, the open tickets by priority and "
    "the pull requests waiting for review. "
) * 3


def screen_text() -> str:
    """A screenful of real, varied text: lines of Python's own tarfile.py."""
    import tarfile

    lines = Path(tarfile.__file__).read_text().splitlines()[1500:1600]
    return "\n".join(f"{n:5d}  {line[:150]}" for n, line in enumerate(lines, 1500))


def cpu_seconds(pid: int) -> float:
    """User + system time of the process and of its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (the text reader; a courier while it runs)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and all its descendants, live or reaped."""
    total = cpu_seconds(pid)
    for child in children(pid):
        try:
            total += tree_cpu_seconds(child)
        except OSError:  # ended between the listing and the read: now in cutime
            continue
    return total


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def wait_for_first_read(status: Path, agent: subprocess.Popen[str]) -> float:
    """Wait until the text reader has read its first frame, which it reads whole (the
    screen it starts on): a cost paid once when the agent starts, not during the
    activity measured. Returns its CPU seconds."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and agent.poll() is None:
        try:
            tm = json.loads(status.read_text()).get("text_masking") or {}
        except (OSError, ValueError):
            tm = {}
        if tm.get("frames", 0) >= 1:
            return tm["cpu_ms"] / 1000
        time.sleep(0.5)
    raise SystemExit("the agent's text reader read no frame within 180 s of the warm-up")


def drive(display: str, stop: threading.Event) -> dict[str, int]:
    from Xlib import XK, X
    from Xlib import display as xdisplay
    from Xlib.ext import xtest

    d = xdisplay.Display(display)
    counts = {"moves": 0, "keys": 0, "clicks": 0}
    keycodes = {
        c: d.keysym_to_keycode(XK.string_to_keysym(c)) for c in "abcdefghijklmnopqrstuvwxyz"
    }
    keycodes[" "] = d.keysym_to_keycode(XK.string_to_keysym("space"))
    text = "".join(c for c in TEXT.lower() if c in keycodes)
    t0 = time.monotonic()
    i = 0
    next_key = next_click = t0
    # BENCH_INPUT=moves,keys,clicks (the default) or a subset, to see what costs what
    only = os.environ.get("BENCH_INPUT", "moves,keys,clicks").split(",")
    while not stop.is_set():
        now = time.monotonic()
        a = (now - t0) * 0.7
        if "moves" in only:
            x, y = int(960 + 600 * math.cos(a)), int(540 + 350 * math.sin(1.3 * a))
            xtest.fake_input(d, X.MotionNotify, x=x, y=y)
            counts["moves"] += 1
        if now >= next_key and "keys" in only:
            kc = keycodes[text[i % len(text)]]
            xtest.fake_input(d, X.KeyPress, kc)
            xtest.fake_input(d, X.KeyRelease, kc)
            i += 1
            counts["keys"] += 1
            next_key = now + random.uniform(0.12, 0.28)
        if now >= next_click and "clicks" in only:
            xtest.fake_input(d, X.ButtonPress, 1)
            xtest.fake_input(d, X.ButtonRelease, 1)
            counts["clicks"] += 1
            next_click = now + 3.0
        d.sync()
        stop.wait(0.02)  # 50 Hz
    d.close()
    return counts


def seal_an_hour(tmp: Path, env: dict[str, str], bundle: Path, seconds: float) -> dict:
    """The courier's cost for a whole hour: the bundle the run made, repeated to an
    hour in a fresh journal (new frame ids, shifted times), sealed and uploaded by the
    courier process as at the hour. Returns its courier.json."""
    from datetime import timedelta

    from capture_agent import config as C
    from worktape.core.bundle import read_bundle
    from worktape.core.bundle.journal import BundleJournal

    b = read_bundle(bundle, frames="extract", extract_to=tmp / "frames")
    cfg = C.load(Path(env["WORKTAPE_AGENT_CONFIG"]))
    m = b.manifest
    start = datetime.fromisoformat(m["started_at"].replace("Z", "+00:00"))
    (cfg.spool_path / "open").mkdir(parents=True, exist_ok=True)
    j = BundleJournal(
        cfg.spool_path / "open" / "bhour.tar",
        bundle_id="bhour",
        device_id=m["device_id"],
        contributor_id=m["contributor_id"],
        started_at=start,
        screens=m["screens"],
        consent=m["consent"],
    )
    events = b.events.to_pylist()
    frames = {r["screenshot_id"]: r for r in b.screenshots.to_pylist()}
    copies = max(1, round(3600 / seconds))
    for k in range(copies):
        shift = timedelta(seconds=seconds * k)
        for e in events:
            e = {c: v for c, v in e.items() if c != "seq"}
            e["ts"] += shift
            if sid := e.get("screenshot_id"):
                f = frames[sid]
                # ids scoped to the new bundle (a contract rule): bhour-<copy>_<frame>
                new = e["screenshot_id"] = f"bhour-{k}_{sid.rsplit('-', 1)[-1]}"
                data = (tmp / "frames" / "screenshots" / f"{sid}.webp").read_bytes()
                j.add_frame(
                    screenshot_id=new,
                    ts=f["ts"] + shift,
                    monitor=f["monitor"],
                    width=f["width"],
                    height=f["height"],
                    trigger=f["trigger"],
                    data=data,
                    phash=f["phash"],
                )
            j.add_event(**e)
        j.checkpoint()
    j.close(start + timedelta(seconds=seconds * copies))
    subprocess.run(
        [sys.executable, "-m", "capture_agent.courier", "--config", env["WORKTAPE_AGENT_CONFIG"]],
        env=env,
        check=True,
    )
    return json.loads((cfg.data_path / "courier.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--frame-scale", type=float, default=0.5)
    ap.add_argument(
        "--no-text-masking",
        action="store_true",
        help="privacy.mask_text = false: what the agent costs without reading text",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, virtual_desktop() as disp:
        tmp_p = Path(tmp)
        lines = tmp_p / "screen.txt"
        lines.write_text(screen_text())
        desk = Desk(disp)
        # a text-heavy screen: the terminal full of code, then what is typed echoes
        # maximised: the last line, where typing echoes, in full view below the title bar
        wid = desk.terminal("bench-term", "318x79+0+0", showing=lines)
        desk.xdo("type", "--delay", "0", "")  # warm xdotool
        subprocess.run(["xdotool", "windowactivate", "--sync", wid], env=desk.env)
        cfg = configure(
            tmp_p, storage_url=str(tmp_p / "bucket"), fast=False, frame_scale=args.frame_scale
        )
        env = {**os.environ, **cfg, "DISPLAY": disp}
        if args.no_text_masking:
            from capture_agent import config as C

            path = Path(cfg["WORKTAPE_AGENT_CONFIG"])
            settings = C.load(path)
            settings.privacy.mask_text = False
            C.save(settings, path)
        agent = subprocess.Popen(
            [sys.executable, "-m", "worktape.cli", "agent", "start"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        stop = threading.Event()
        result: dict[str, int] = {}
        driver = threading.Thread(target=lambda: result.update(drive(disp, stop)))
        driver.start()
        started = time.monotonic()
        time.sleep(WARMUP)  # start-up: imports, listeners, first frames, first checkpoint
        status_path = tmp_p / "agent-data" / "status.json"
        first_read = wait_for_first_read(status_path, agent) if not args.no_text_masking else None
        warmup = time.monotonic() - started
        c0, t0 = tree_cpu_seconds(agent.pid), time.monotonic()
        if marks := os.environ.get("BENCH_WINDOW_FILE"):  # for a profiler to line up with
            Path(marks).write_text(f"{agent.pid}\n")
        time.sleep(args.seconds)
        c1, t1 = tree_cpu_seconds(agent.pid), time.monotonic()
        rss = peak_rss_mb(agent.pid)
        # the text reader: the agent's child that runs the OCR (when masking is on)
        reader = [c for c in children(agent.pid) if "text_reader" in _cmdline(c)]
        reader_rss = peak_rss_mb(reader[0]) if reader else 0.0
        stop.set()
        driver.join()
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
        desk.close()
        tars = list((tmp_p / "bucket").rglob("*.tar"))
        total = sum(p.stat().st_size for p in tars)
        active = args.seconds + warmup
        cpu = 100 * (c1 - c0) / (t1 - t0)
        hour = seal_an_hour(tmp_p, env, tars[0], active)
        print(
            f"capture agent, {args.seconds:.0f} s of scripted activity on 1920x1080 "
            f"(frame_scale {args.frame_scale}):"
        )
        print(
            f"  input sent        {result.get('moves', 0)} moves (50 Hz), "
            f"{result.get('keys', 0)} keys, {result.get('clicks', 0)} clicks"
        )
        print(f"  CPU               {cpu:.1f}% of one core (the agent and its text reader)")
        if first_read is not None:
            print(
                f"                    measured after a {warmup:.0f} s warm-up that ends once the "
                f"first frame is read whole ({first_read:.1f} s CPU, once per start)"
            )
        print(f"  peak RSS          {rss:.0f} MB capture process  (goal <= 150 MB)")
        if reader:
            print(
                f"                    {reader_rss:.0f} MB text reader (its own process, low "
                f"priority); {rss + reader_rss:.0f} MB both"
            )
        per_hour = 100 * hour["cpu_s"] / 3600
        print(
            f"  courier           {hour['cpu_s']:.2f} s CPU to seal and upload an hour of "
            f"this activity ({hour['startup_cpu_s']:.2f} s of it starting up) = "
            f"{per_hour:.2f}% of one core; peak RSS {hour['peak_rss_mb']:.0f} MB, for "
            "those seconds only"
        )
        print(f"  capture + courier {cpu + per_hour:.1f}% of one core   (goal <= 1.5%)")
        print(
            f"  bundles           {len(tars)}, {total / 1e6:.2f} MB for {active:.0f} s "
            f"-> {total / 1e6 * 3600 / active:.1f} MB per active hour (goal <= 20 MB)"
        )
        from worktape.core.bundle import read_bundle

        shown = [read_bundle(t, frames="skip") for t in tars]
        frames = sum(b.screenshots.num_rows for b in shown)
        privacy: dict[str, int] = {}
        for b in shown:
            for k, v in b.manifest["redaction"]["changed"].items():
                if k.startswith("frames_"):
                    privacy[k] = privacy.get(k, 0) + v
        print(f"  frames            {frames} stored; masked or dropped: {privacy or 'none'}")
        status = json.loads((tmp_p / "agent-data" / "status.json").read_text())
        if tm := status.get("text_masking"):
            print(
                f"  text masking      {tm['frames']} frames read, {tm['rows_read']} rows, "
                f"{tm['lines_read']} lines recognised ({tm['lines_cached']} from cache, "
                f"{tm.get('words_reused', 0)} words from the word cache), "
                f"{tm['cpu_ms'] / 1000:.1f} s CPU over the whole run (warm-up included); "
                f"{tm['bands']} changed bands, {tm.get('bands_in_line', 0)} of them read "
                "inside a line already found (no detection)"
            )


if __name__ == "__main__":
    main()
