"""The laptop install: `pip install '.[agent]'` into a fresh venv runs the agent and pulls
none of the pipeline's dependencies (Airflow, dbt, Great Expectations, DuckDB)."""

from __future__ import annotations

import os
import shutil
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
    # from a copy of the tracked files: building in place would leave build/ in the repo
    src = tmp_path / "src"
    files = _run("git", "-C", ROOT, "ls-files", "-z").split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    _run(py, "-m", "pip", "install", "--quiet", "-c", ROOT / "constraints.txt", f"{src}[agent]")
    _run(py, "-m", "pip", "check")
    assert "worktape agent" in _run(env / "bin" / "worktape", "agent", "--help")
    code = (
        "import importlib.util, sys, contextlib, io\n"
        "from worktape.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['agent', 'status'])\n"
        "    except SystemExit: pass\n"
        "import capture_agent.agent, capture_agent.courier, capture_agent.recorder\n"
        "import capture_agent.platform.atspi, jeepney.io.blocking\n"
        f"names = {SERVER_ONLY!r}\n"
        "installed = [n for n in names if importlib.util.find_spec(n)]\n"
        "loaded = [n for n in names if n in sys.modules]\n"
        "print(installed, loaded)\n"
    )
    private = {**os.environ, "WORKTAPE_AGENT_CONFIG": str(tmp_path / "agent.toml")}
    assert _run(py, "-c", code, env=private).strip() == "[] []"


def test_the_server_side_never_imports_the_laptop_side() -> None:
    code = (
        "import sys, worktape.loader, worktape.publish.publisher, worktape.transform.dbt, "
        "worktape.pipeline.tasks, "
        "worktape.pipeline.runner, worktape.simulate, worktape.evaluate, expectations.checkpoint\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'capture_agent', 'pynput', 'mss', 'Xlib'}))"
    )
    assert _run(sys.executable, "-c", code).strip() == "[]"


def _imports(path: Path) -> set[str]:
    """Every module (or name from a module) a file imports, at the top or inside a
    function."""
    import ast

    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_library_code_never_imports_the_pipeline_and_the_core_only_itself() -> None:
    """worktape/pipeline/ is orchestration (task bodies, the local runner): the library
    under it (loader, transform, publish, ...) never imports it; only the front ends
    that run nights (cli, demo) and the DAGs do. The core imports nothing of worktape
    but itself and the version."""
    front_ends = {ROOT / "worktape" / "cli.py", ROOT / "worktape" / "demo.py"}
    pipeline = ROOT / "worktape" / "pipeline"
    for path in sorted((ROOT / "worktape").rglob("*.py")):
        if path in front_ends or pipeline in path.parents:
            continue
        bad = {m for m in _imports(path) if m.startswith("worktape.pipeline")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    for path in sorted((ROOT / "worktape" / "core").rglob("*.py")):
        mine = {m for m in _imports(path) if m.split(".")[0] == "worktape"}
        bad = {m for m in mine if not m.startswith("worktape.core") and m != "worktape.__version__"}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
