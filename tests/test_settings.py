"""One settings object: every WORKTAPE_* variable the code reads is a field of
worktape.settings.Settings (or the agent's config path), docs/configuration.md lists
every one, and the defaults are what they were before the settings were gathered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worktape import settings as S
from worktape.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CODE = ("worktape", "capture_agent", "expectations", "dags", "bench", "docker", "dbt_project")
# the laptop's one variable: the agent has its own TOML config and no pydantic
AGENT = {"WORKTAPE_AGENT_CONFIG"}
NAME = re.compile(r"(?<![A-Za-z0-9_])WORKTAPE_[A-Z0-9_]*[A-Z0-9]")


def _code_files() -> list[Path]:
    skip = {"target", "logs", "__pycache__"}
    return [ROOT / "Makefile"] + [
        path
        for top in CODE
        for path in (ROOT / top).rglob("*")
        if path.suffix in (".py", ".sh", ".yml", ".yaml", ".toml", "")
        and path.is_file()
        and not skip & set(path.parts)
    ]


def _fields() -> set[str]:
    return {f"WORKTAPE_{name.upper()}" for name in Settings.model_fields}


def test_every_variable_the_code_names_is_a_setting() -> None:
    named: dict[str, Path] = {}
    for path in _code_files():
        for name in NAME.findall(path.read_text(errors="replace")):
            named.setdefault(name, path)
    unknown = {n: str(p.relative_to(ROOT)) for n, p in named.items() if n not in _fields() | AGENT}
    assert not unknown, f"not a Settings field (worktape/settings.py): {unknown}"


def test_the_docs_table_lists_every_setting_and_nothing_else() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    rows = set(re.findall(r"^\| `(WORKTAPE_[A-Z0-9_]+)` \|", doc, re.MULTILINE))
    assert _fields() - rows == set(), "missing from docs/configuration.md"
    assert rows - _fields() - AGENT == set(), "in docs/configuration.md but not a setting"
    assert rows >= AGENT


def test_defaults_are_the_ones_before(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _fields():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    s = Settings()
    home = tmp_path / "xdg" / "worktape"
    assert s.home == home
    assert s.storage_url == str(home / "bucket")
    assert s.warehouse == home / "warehouse" / "worktape.duckdb"
    assert s.analyst_db == home / "published.duckdb"
    assert (s.duckdb_memory_limit, s.duckdb_threads) == ("4GB", 2)
    assert (s.lookback_days, s.verify_frames, s.task_retries) == (7, True, 2)
    assert (s.dbt_batch_events, s.dbt_chunk_days, s.gate_frame_sample) == (20_000_000, 14, None)
    assert (s.airflow_log_level, s.debug, s.s3_endpoint_url) == ("WARNING", False, None)
    # from a source checkout: its dbt project and DAG files
    assert s.dbt_project_dir == ROOT / "dbt_project"
    assert s.dags_dir == ROOT / "dags"
    db = s.warehouse_settings()
    assert (db.path, db.memory_limit, db.threads) == (s.warehouse, "4GB", 2)


def test_the_environment_applies_to_each_new_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WORKTAPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WORKTAPE_DUCKDB_THREADS", "3")
    monkeypatch.setenv("WORKTAPE_VERIFY_FRAMES", "0")
    monkeypatch.setenv("WORKTAPE_GATE_FRAME_SAMPLE", "")  # empty: unset, as before
    monkeypatch.setenv("WORKTAPE_DEBUG", "0")  # any value shows tracebacks, as before
    s = Settings()
    assert s.home == (tmp_path / "home").resolve()
    assert s.warehouse == s.home / "warehouse" / "worktape.duckdb"
    assert s.warehouse_settings(tmp_path / "w.duckdb").threads == 3
    assert (s.verify_frames, s.gate_frame_sample, s.debug) == (False, None, True)
    monkeypatch.setenv("WORKTAPE_WAREHOUSE", str(tmp_path / "elsewhere.duckdb"))
    assert Settings().warehouse == tmp_path / "elsewhere.duckdb"


def test_outside_a_checkout_the_project_and_dags_must_be_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(S, "CHECKOUT", tmp_path / "site-packages")
    monkeypatch.delenv("WORKTAPE_DBT_PROJECT", raising=False)
    monkeypatch.delenv("WORKTAPE_DAGS_FOLDER", raising=False)
    with pytest.raises(RuntimeError, match="WORKTAPE_DBT_PROJECT"):
        Settings().dbt_project_dir  # noqa: B018
    with pytest.raises(RuntimeError, match="WORKTAPE_DAGS_FOLDER"):
        Settings().dags_dir  # noqa: B018
    monkeypatch.setenv("WORKTAPE_DBT_PROJECT", str(tmp_path / "dbt"))
    monkeypatch.setenv("WORKTAPE_DAGS_FOLDER", str(tmp_path / "dags"))
    assert Settings().dbt_project_dir == tmp_path / "dbt"
    assert Settings().dags_dir == tmp_path / "dags"


def test_the_laptop_side_and_the_core_never_import_the_settings() -> None:
    for top in ("capture_agent", "worktape/core"):
        for path in (ROOT / top).rglob("*.py"):
            text = path.read_text()
            assert "worktape.settings" not in text and "pydantic" not in text, path


def test_only_the_settings_read_worktape_variables() -> None:
    """Library code takes explicit arguments: the server reads WORKTAPE_* only through
    Settings. The exceptions are the laptop's (no pydantic there) and the one shared
    command-line front, which also runs `worktape agent`."""
    reads = re.compile(
        r"(?:environ\.get\(|getenv\()\s*[\"']WORKTAPE_"
        r"|environ\[[\"']WORKTAPE_\w+[\"']\](?!\s*=[^=])"  # a read, not the demo's writes
    )
    allowed = {
        "worktape/settings.py",
        "capture_agent/config.py",  # WORKTAPE_AGENT_CONFIG
        "worktape/cli.py",  # WORKTAPE_DEBUG, for `worktape agent` on a laptop too
        "worktape/core/storage/s3.py",  # WORKTAPE_S3_ENDPOINT_URL, shared with the laptop
    }
    found = {
        str(p.relative_to(ROOT))
        for top in ("worktape", "capture_agent", "expectations", "dags")
        for p in (ROOT / top).rglob("*.py")
        if reads.search(p.read_text())
    }
    assert found <= allowed, found - allowed
