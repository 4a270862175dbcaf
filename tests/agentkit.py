"""Run the real agent (`worktape agent start`) as its own process, configured for tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from capture_agent import config as C


def configure(
    tmp: Path,
    *,
    storage_url: str,
    endpoint_url: str = "",
    consent: bool = True,
    fast: bool = True,
    **capture: float,
) -> dict[str, str]:
    """A config for tests (`fast`: checkpoints every second, focus read every 100 ms) or
    with the shipped defaults (fast=False, for benchmarks)."""
    path = tmp / "agent.toml"
    cfg = C.load(path)
    cfg.data_dir = str(tmp / "agent-data")
    cfg.upload.storage_url = storage_url
    cfg.upload.endpoint_url = endpoint_url
    cfg.upload.retry_base_seconds = 0.2
    cfg.upload.retry_max_seconds = 1.0
    if fast:
        cfg.capture.checkpoint_seconds = 1.0
        cfg.capture.focus_poll_seconds = 0.1
    for k, v in capture.items():
        setattr(cfg.capture, k, v)
    if consent:
        cfg.consent = C.Consent(C.POLICY_VERSION, "2026-11-01T00:00:00.000000Z")
    cfg.ensure_identity("tester")
    C.save(cfg, path)
    return {"WORKTAPE_AGENT_CONFIG": str(path)}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worktape.cli", "agent", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _running(status: Path, pid: int) -> bool:
    try:
        data = json.loads(status.read_text())
    except (OSError, ValueError):
        return False
    return data.get("pid") == pid and data.get("state") != "stopped"


class RunningAgent:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worktape.cli", "agent", "start"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # the agent writes its status once its input listeners are attached
        status = Path(env["WORKTAPE_AGENT_CONFIG"]).parent / "agent-data" / "status.json"
        status.unlink(missing_ok=True)
        deadline = time.monotonic() + 60
        while not _running(status, self.proc.pid):
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline, "the agent did not start within 60 s"
            time.sleep(0.1)
        time.sleep(0.5)  # one focus poll

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return err

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
