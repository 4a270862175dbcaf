"""The capture agent under load: CPU, memory, and bundle bytes per active hour.

The agent runs as its own process for 60 s (after a 12 s warm-up) on a 1920x1080 Xvfb,
with a text-heavy, maximised xterm in focus, while this script drives real X input
through XTest: mouse motion at 50 Hz, steady typing (about 5 characters a second) and a
click every 3 seconds. It prints the agent's average CPU (% of one core, from
/proc/<pid>/stat), its peak RSS (VmHWM) and the sealed bundle bytes per active hour.

    python -m bench.bench_agent [--seconds 60] [--frame-scale 1.0]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.agentkit import configure
from tests.xkit import Desk, virtual_desktop

WARMUP = 12  # seconds: past the first checkpoint, whose first Parquet write loads modules
TEXT = (
    "The quarterly report lists revenue by region, the open tickets by priority and "
    "the pull requests waiting for review. "
) * 3


def cpu_seconds(pid: int) -> float:
    """User + system time of the process and of its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--frame-scale", type=float, default=0.5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, virtual_desktop() as disp:
        tmp_p = Path(tmp)
        lines = tmp_p / "screen.txt"
        lines.write_text("\n".join(f"{n:5d}  {TEXT[(n * 7) % 60 :][:150]}" for n in range(400)))
        desk = Desk(disp)
        wid = desk.terminal("bench-term", "318x82+0+0")
        desk.xdo("type", "--delay", "0", "")  # warm xdotool
        subprocess.run(["xdotool", "windowactivate", "--sync", wid], env=desk.env)
        # a text-heavy screen: the terminal full of lines, then what is typed echoes
        subprocess.Popen(
            ["sh", "-c", f"cat {lines} > /proc/{desk.procs[0].pid}/fd/1"], env=desk.env
        ).wait()
        env = {
            **os.environ,
            **configure(tmp_p, storage_url=str(tmp_p / "bucket"), frame_scale=args.frame_scale),
            "DISPLAY": disp,
        }
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
        time.sleep(WARMUP)  # start-up: imports, listeners, first frames, first checkpoint
        c0, t0 = cpu_seconds(agent.pid), time.monotonic()
        time.sleep(args.seconds)
        c1, t1 = cpu_seconds(agent.pid), time.monotonic()
        rss = peak_rss_mb(agent.pid)
        stop.set()
        driver.join()
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
        desk.close()
        tars = list((tmp_p / "bucket").rglob("*.tar"))
        total = sum(p.stat().st_size for p in tars)
        active = args.seconds + WARMUP
        cpu = 100 * (c1 - c0) / (t1 - t0)
        print(
            f"capture agent, {args.seconds:.0f} s of scripted activity on 1920x1080 "
            f"(frame_scale {args.frame_scale}):"
        )
        print(
            f"  input sent        {result.get('moves', 0)} moves (50 Hz), "
            f"{result.get('keys', 0)} keys, {result.get('clicks', 0)} clicks"
        )
        print(f"  CPU               {cpu:.1f}% of one core        (target <= 3%)")
        print(f"  peak RSS          {rss:.0f} MB                  (target <= 120 MB)")
        print(
            f"  bundles           {len(tars)}, {total / 1e6:.2f} MB for {active:.0f} s "
            f"-> {total / 1e6 * 3600 / active:.1f} MB per active hour (target <= 25 MB)"
        )


if __name__ == "__main__":
    main()
