"""Where worktape keeps its state on this machine, and the embedded defaults."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """WORKTAPE_HOME, else $XDG_STATE_HOME/worktape (~/.local/state/worktape)."""
    if home := os.environ.get("WORKTAPE_HOME"):
        return Path(home).expanduser().resolve()
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "worktape"


def default_storage_url() -> str:
    """WORKTAPE_STORAGE_URL, else a local folder with the bucket layout (no cloud)."""
    return os.environ.get("WORKTAPE_STORAGE_URL") or str(state_dir() / "bucket")
