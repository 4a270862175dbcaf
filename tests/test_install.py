"""The laptop install: `pip install '.[agent]'` into a fresh venv runs the agent and pulls
none of the pipeline's dependencies (Airflow, dbt, Great Expectations, DuckDB)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_ONLY = ("airflow", "dbt", "great_expectations", "duckdb", "pandas")

pytestmark = pytest.mark.slow


def _run(*cmd: str | Path, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=900, env=env
    )
    assert out.returncode == 0, f"{cmd}: {out.stdout[-2000:]}{out.stderr[-2000:]}"
    return out.stdout


def test_a_laptop_only_install_runs_the_agent_without_the_pipeline(tmp_path: Path) -> None:
    env = tmp_path / "laptop"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    _run(py, "-m", "pip", "install", "--quiet", "-c", ROOT / "constraints.txt", f"{ROOT}[agent]")
    _run(py, "-m", "pip", "check")
    assert "worktape agent" in _run(env / "bin" / "worktape", "agent", "--help")
    code = (
        "import importlib.util, sys, contextlib, io\n"
        "from worktape.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['agent', 'status'])\n"
        "    except SystemExit: pass\n"
        "import capture_agent.agent, capture_agent.courier, capture_agent.recorder\n"
        f"names = {SERVER_ONLY!r}\n"
        "installed = [n for n in names if importlib.util.find_spec(n)]\n"
        "loaded = [n for n in names if n in sys.modules]\n"
        "print(installed, loaded)\n"
    )
    private = {**os.environ, "WORKTAPE_AGENT_CONFIG": str(tmp_path / "agent.toml")}
    assert _run(py, "-c", code, env=private).strip() == "[] []"


def test_the_server_side_never_imports_the_laptop_side() -> None:
    code = (
        "import sys, worktape.loader, worktape.publish.publisher, worktape.pipeline.tasks, "
        "worktape.pipeline.runner, worktape.simulate, worktape.evaluate, expectations.checkpoint\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'capture_agent', 'pynput', 'mss', 'Xlib'}))"
    )
    assert _run(sys.executable, "-c", code).strip() == "[]"
