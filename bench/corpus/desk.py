"""The applications a corpus contributor works in, on a virtual X desktop: Chromium
(Debian's package) with one tab per web app, and Mousepad (GTK) for notes."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.corpus.webapps import APPS, Layout, WebApps
from tests.xkit import Desk, own_settings

NEEDED = ("chromium", "mousepad")


def missing_apps() -> list[str]:
    return [a for a in NEEDED if shutil.which(a) is None]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


class Browser:
    """One Chromium window; tab i+1 (ctrl+<i+1>) holds APPS[i]."""

    def __init__(self, desk: Desk, web: WebApps, profile: Path) -> None:
        self.desk, self.web = desk, web
        self.proc = subprocess.Popen(
            [
                "chromium",
                *("--no-sandbox", "--test-type", "--ozone-platform=x11", "--disable-gpu"),
                *("--no-first-run", "--no-default-browser-check", "--password-store=basic"),
                *("--disable-features=Translate,MediaRouter", "--disable-sync"),
                "--force-renderer-accessibility",
                f"--user-data-dir={profile}",
                "--window-position=0,0",
                "--window-size=1500,1040",
                *(web.url(a) for a in APPS),
            ],
            env=desk.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        first = web.layouts.wait(APPS[0], "list", timeout=60)
        # where pages sit inside the window: the same for every tab, but a tab that was
        # never shown reports its window as zero-sized, so take it from the first tab
        self.chrome = first.chrome
        self.window = desk.visible_window("--class", "chromium")
        for app in APPS[1:]:  # every tab has rendered once before work starts
            web.layouts.wait_any(app, timeout=60)

    def tab_key(self, app: str) -> str:
        return f"ctrl+{APPS.index(app) + 1}"

    def layout(self, app: str, view: str, after: int = 0, timeout: float = 20.0) -> Layout:
        return self.web.layouts.wait(app, view, timeout=timeout, after=after)

    def close(self) -> None:
        _stop(self.proc)


class Editor:
    """Mousepad, a GTK text editor, in its own window."""

    def __init__(self, desk: Desk, folder: Path) -> None:
        self.desk, self.folder = desk, folder
        folder.mkdir(parents=True, exist_ok=True)
        first = folder / "todo.txt"
        first.write_text("call the bank\nbook the venue\n")
        self.proc = subprocess.Popen(
            ["mousepad", "--disable-server", str(first)],
            env={**desk.env, "NO_AT_BRIDGE": "0", **own_settings(folder / ".mousepad")},
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.window = desk.visible_window("--class", "mousepad")
        desk.xdo("windowmove", self.window, "420", "160")
        desk.xdo("windowsize", self.window, "1100", "760")

    def saved(self, timeout: float = 10.0) -> bool:
        """Whether the editor's title lost its `*` (saved) in time."""
        deadline = time.monotonic() + timeout
        while self.desk.xdo("getwindowname", self.window).startswith("*"):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def close(self) -> None:
        _stop(self.proc)


def profile_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="worktape-chromium-"))
