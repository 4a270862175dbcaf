"""Run the nightly DAGs locally with `dag.test()`: what `worktape pipeline run` does.

The embedded defaults are a SQLite Airflow metadata DB under the state dir, the DAGs of
this checkout, the storage and warehouse of worktape.settings. The same DAG files run
unchanged under a real scheduler (docker/). Each function takes the `Settings` its caller
read (a fresh `Settings()` when none is given).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from worktape.settings import Settings

WRITER_POOL = "duckdb_writer"


def airflow_env(home: Path | None = None, settings: Settings | None = None) -> dict[str, str]:
    """Environment for an embedded Airflow. Airflow's own variables already set win."""
    s = settings or Settings()
    home = home or s.home / "airflow"
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(s.dags_dir),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": s.airflow_log_level,
    }
    return {k: os.environ.get(k, v) for k, v in defaults.items()}


def _airflow_cli(*args: str, env: dict[str, str]) -> None:
    exe = Path(sys.executable).with_name("airflow")
    subprocess.run(
        [str(exe), *args],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def prepare_airflow(
    env: dict[str, str] | None = None, settings: Settings | None = None
) -> dict[str, str]:
    """Migrate the metadata DB (once per Airflow version) and make the writer pool."""
    import importlib.metadata as md

    env = env or airflow_env(settings=settings)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    stamp = home / ".worktape-migrated"
    version = md.version("apache-airflow-core")
    if not stamp.exists() or stamp.read_text() != version:
        _airflow_cli("db", "migrate", env=env)
        _airflow_cli(
            "pools",
            "set",
            WRITER_POOL,
            "1",
            "DuckDB allows one writer process: every task that opens the warehouse file runs here",
            env=env,
        )
        stamp.write_text(version)
    return env


@dataclass
class NightResult:
    dag_id: str
    run_id: str
    state: str
    day: date  # the UTC day whose data the night processed
    log: Path | None = None  # what Airflow printed while it ran
    log_offset: int = 0  # where this run's part of the log starts (reruns append)

    @property
    def ok(self) -> bool:
        return self.state == "success"


def run_dag(
    dag_id: str,
    day: date,
    env: dict[str, str] | None = None,
    conf: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> NightResult:
    """Run one DAG for the night of `day` in this process, with `dag.test()`. Its tasks
    read their settings from the environment, as under a scheduler."""
    s = settings or Settings()
    env = prepare_airflow(env, s)
    os.environ.update(env)
    # dag.test() builds an in-process API client whose test transport warns on every run
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=env["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise RuntimeError(f"no DAG {dag_id!r} in {env['AIRFLOW__CORE__DAGS_FOLDER']}")
    # A manual run's data interval is inferred as the one that *ends* at its logical
    # date, so the night of `day` ([day, day+1) UTC) is triggered at day+1 00:00.
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    log = s.home / "logs" / f"{dag_id}-{day.isoformat()}.log"
    offset = log.stat().st_size if log.exists() else 0
    with _output_to(log):
        dr = dag.test(logical_date=logical, run_conf=conf)
    return NightResult(dag_id, dr.run_id, str(dr.state), day, log, offset)


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """What Airflow prints while it runs a DAG (task logs, a failed task's traceback)
    goes to a file: a person reads the night's summary, and the log when it failed.
    At the file-descriptor level, because Airflow's loggers hold on to the streams."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def loaded_days(run_id: str, settings: Settings | None = None) -> list[str]:
    """The UTC days of the bundles a load run committed (what dbt must rebuild)."""
    from worktape.warehouse import connect

    s = (settings or Settings()).warehouse_settings()
    if not s.path.exists():
        return []
    con = connect(s, read_only=True)  # UTC: the days are UTC days on any host
    try:
        rows = con.execute(
            "SELECT DISTINCT strftime(b.started_at, '%Y-%m-%d') FROM raw.ledger l "
            "JOIN raw.bundles b USING (bundle_id) WHERE l.load_run_id = ? ORDER BY 1",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def run_night(
    day: date,
    env: dict[str, str] | None = None,
    *,
    publish: bool = True,
    settings: Settings | None = None,
) -> list[NightResult]:
    """The night's DAGs in order: ingest, then (as their assets would trigger them under
    a scheduler) the build for the days the load touched, then the gate and publishing.
    Stops at the first failure."""
    s = settings or Settings()
    ingest = run_dag("worktape_ingest", day, env, settings=s)
    results = [ingest]
    if ingest.ok:
        days = loaded_days(ingest.run_id, s)
        build = run_dag("worktape_build", day, env, conf={"days": days}, settings=s)
        results.append(build)
        # a rerun after a failed gate publishes again even with nothing new to load
        if publish and build.ok and (days or not published_is_current(s)) and has_data(s):
            conf = {"days": days, "night": day.isoformat()}
            results.append(run_dag("worktape_publish", day, env, conf=conf, settings=s))
    return results


def has_data(settings: Settings | None = None) -> bool:
    """Whether the warehouse holds any bundle (an empty one has nothing to publish)."""
    from worktape.pipeline.tasks import warehouse_state

    state = warehouse_state(settings)
    return bool(state) and state[1] > 0


def published_is_current(settings: Settings | None = None) -> bool:
    """Whether the last successful publish saw the warehouse as it is now."""
    from worktape.pipeline.tasks import last_published, warehouse_state

    last = last_published(settings)
    return last is not None and last.get("warehouse_state") == warehouse_state(settings)


def preflight(settings: Settings | None = None) -> None:
    """What a night needs, checked before any DAG runs, so that a wrong setting is one
    line, not a failed task's traceback: a bucket that answers, and a warehouse that
    opens (or none yet: the first night makes it)."""
    import duckdb

    from worktape.core.layout import RAW
    from worktape.pipeline import resources
    from worktape.warehouse import connect

    settings = settings or Settings()
    storage = resources.storage(settings)
    storage.list_dirs(RAW)  # an unreachable endpoint or a missing bucket fails here
    s = settings.warehouse_settings()
    if not s.path.exists():
        return
    try:
        connect(s, read_only=True).close()
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise RuntimeError(
                f"the warehouse {s.path} is in use by another process (a night already "
                "running?): wait for it, then rerun"
            ) from e
        raise _unusable(s.path, e) from e
    except duckdb.Error as e:
        raise _unusable(s.path, e) from e


def _unusable(path: Path, e: Exception) -> RuntimeError:
    first = " ".join(str(e).split())[:200]
    return RuntimeError(
        f"the warehouse {path} cannot be opened ({first}): restore it, or move it aside "
        "and backfill the nights from the bucket with --date FIRST --to LAST"
    )


def bundles_on(day: date, settings: Settings | None = None) -> int:
    """How many bundles the bucket holds for a UTC day (loaded or not)."""
    from worktape.loader.discover import list_raw_keys
    from worktape.pipeline import resources

    return len(list_raw_keys(resources.storage(settings or Settings()), [day]))
