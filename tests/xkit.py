"""A virtual desktop for agent tests: Xvfb + openbox, xterm windows, xdotool input."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NEEDED = ("Xvfb", "openbox", "xdotool", "xterm")


def missing_tools() -> list[str]:
    return [t for t in NEEDED if shutil.which(t) is None]


@contextmanager
def virtual_desktop(width: int = 1920, height: int = 1080) -> Iterator[str]:
    # Xvfb picks a free display itself and writes its number to a pipe (-displayfd):
    # desktops started at once (the corpus records contributors in parallel) never race
    # for one number
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        [
            *("Xvfb", "-displayfd", str(write_end)),
            *("-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"),
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    got = b""
    with os.fdopen(read_end, "rb") as pipe:
        if select.select([pipe], [], [], 30)[0]:
            got = pipe.readline()
    if not got.strip().isdigit():
        xvfb.kill()
        raise RuntimeError("Xvfb did not start (no display number within 30 s)")
    disp = f":{int(got)}"
    env = {**os.environ, "DISPLAY": disp}
    wm = subprocess.Popen(
        ["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    try:
        yield disp
    finally:
        wm.terminate()
        xvfb.terminate()
        wm.wait(5)
        xvfb.wait(5)


class Desk:
    def __init__(self, display: str) -> None:
        self.display = display
        self.env = {**os.environ, "DISPLAY": display}
        self.procs: list[subprocess.Popen[bytes]] = []

    def xdo(self, *args: str) -> str:
        return subprocess.run(
            ["xdotool", *args], env=self.env, check=True, capture_output=True, text=True, timeout=30
        ).stdout.strip()

    def terminal(
        self,
        title: str,
        geometry: str = "100x30+50+50",
        app: str = "xterm",
        showing: Path | None = None,
        background: str | None = None,
    ) -> str:
        """An xterm running `cat` (typed text executes nothing), with `app` as its
        WM_CLASS instance and class (the class is what the agent reports as the app),
        first showing the text of `showing` if given; returns its window id."""
        command = ["sh", "-c", f"cat '{showing}'; exec cat"] if showing else ["cat"]
        colors = ["-bg", background] if background else []
        args = [
            *("-name", app, "-class", app, "-title", title, "-geometry", geometry),
            *colors,
            *("-e", *command),
        ]
        p = subprocess.Popen(
            ["xterm", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(p)
        for _ in range(100):
            out = subprocess.run(
                ["xdotool", "search", "--name", f"^{title}$"],
                env=self.env,
                capture_output=True,
                text=True,
            ).stdout.split()
            if out:
                return out[0]
            time.sleep(0.05)
        raise RuntimeError(f"xterm {title!r} did not appear")

    def focus(self, wid: str) -> None:
        # a window found by name may not be mapped and managed yet (a loaded machine
        # shows it): activation fails until it is, so try again for a few seconds
        for attempt in range(20):
            try:
                self.xdo("windowactivate", "--sync", wid)
                break
            except subprocess.CalledProcessError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        time.sleep(0.4)

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(5)

    def visible_window(self, *how: str, timeout: float = 30.0) -> str:
        """The newest visible window `xdotool search` finds by `how` (e.g. --class
        chromium), waiting for it to be mapped."""
        deadline = time.monotonic() + timeout
        while True:
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", *how],
                env=self.env,
                capture_output=True,
                text=True,
            ).stdout.split()
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise RuntimeError(f"no visible window {' '.join(how)} within {timeout:g} s")
            time.sleep(0.2)

    def geometry(self, wid: str) -> tuple[int, int, int, int]:
        """A client window's x, y, width and height on the screen."""
        out = dict(
            line.split("=", 1)
            for line in self.xdo("getwindowgeometry", "--shell", wid).splitlines()
            if "=" in line
        )
        return int(out["X"]), int(out["Y"]), int(out["WIDTH"]), int(out["HEIGHT"])


def own_settings(folder: Path) -> dict[str, str]:
    """Environment for a GTK application with settings of its own under `folder`: one
    that was stopped remembers it in its settings (Mousepad then opens on a "restore the
    previous session?" dialog), and a test or a recording must start from the same
    state every time."""
    return {
        "GSETTINGS_BACKEND": "memory",
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_STATE_HOME": str(folder / "state"),
        "XDG_CACHE_HOME": str(folder / "cache"),
    }


LAUNCHER = "/usr/libexec/at-spi-bus-launcher"


@contextmanager
def accessibility_bus(env: dict[str, str], runtime_dir: Path) -> Iterator[str]:
    """A private D-Bus session with at-spi2-core's accessibility bus launcher on it, as a
    desktop session has: `env` (a desk's) is pointed at it, so the applications started
    with it expose their accessibility tree and the agent can read it. Yields the
    session bus address."""
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    runtime_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        DBUS_SESSION_BUS_ADDRESS=address,
        NO_AT_BRIDGE="0",
        GTK_A11Y="atspi",
        XDG_RUNTIME_DIR=str(runtime_dir),
    )
    env.pop("AT_SPI_BUS_ADDRESS", None)
    launcher = subprocess.Popen(
        [LAUNCHER, "--launch-immediately"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield address
    finally:
        for p in (launcher, daemon):
            p.terminate()
        for p in (launcher, daemon):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
