"""The DAG files, parsed by Airflow's own DagBag and run with dag.test()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.airflowkit import s3_connection
from tests.faults import crash_before_ledger
from tests.nightkit import DAY, assert_night_loaded, plant_night, snapshot
from worktape.core.storage import open_storage

DAGS = Path(__file__).parents[1] / "dags"


def test_dagbag_imports_cleanly(airflow_home: dict[str, str]) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import CronDataIntervalTimetable

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    dag = bag.get_dag("worktape_ingest")
    assert dag is not None
    assert dag.max_active_runs == 1 and dag.catchup
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    for t in dag.tasks:
        assert t.pool == "duckdb_writer", t.task_id
    assert [a.name for a in dag.get_task("load").outlets] == ["worktape_raw"]
    build = bag.get_dag("worktape_build")
    assert build is not None and build.max_active_runs == 1
    assert [t.pool for t in build.tasks] == ["duckdb_writer"]  # one dbt process a night
    assert "worktape_raw" in str(build.timetable.asset_condition)
    publish = bag.get_dag("worktape_publish")
    assert publish is not None and "worktape_marts" in str(publish.timetable.asset_condition)
    assert publish.get_task("gate_and_publish").pool == "duckdb_writer"
    assert publish.get_task("report").trigger_rule == "all_done"  # Data Docs either way
    forget = bag.get_dag("worktape_forget")
    assert forget is not None and type(forget.timetable).__name__ == "NullTimetable"
    stats = {Path(s.file).name: s.duration for s in bag.dagbag_stats}
    print("DAG parse times:", stats)


# Every task of every DAG, with the pool it must run in: the ones that open the DuckDB
# warehouse share the one-slot writers' pool; the others read only what was published
# (the analyst file, the bucket) and must never open the warehouse. A new task fails
# this test until it is placed here.
POOLS = {
    ("worktape_ingest", "discover"): "duckdb_writer",
    ("worktape_ingest", "load"): "duckdb_writer",
    ("worktape_build", "dbt_build"): "duckdb_writer",
    ("worktape_publish", "gate_and_publish"): "duckdb_writer",
    ("worktape_publish", "report"): "default_pool",
    ("worktape_publish", "watcher"): "default_pool",
    ("worktape_forget", "forget"): "duckdb_writer",
}


def test_every_task_runs_in_its_pool(airflow_home: dict[str, str]) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    seen = {(d.dag_id, t.task_id): t.pool for d in bag.dags.values() for t in d.tasks}
    assert seen == POOLS


def test_tasks_outside_the_writers_pool_never_open_the_warehouse() -> None:
    """The report's body reads the analyst file and the bucket: neither it nor anything
    it calls names the warehouse's settings or its connection."""
    import inspect

    from worktape.pipeline import tasks
    from worktape.publish import night_report

    for fn in (tasks.nightly_report, night_report.render, night_report.write_report):
        text = inspect.getsource(fn)
        assert "WarehouseSettings" not in text and "connect(" not in text, fn.__name__
    assert "WarehouseSettings" not in inspect.getsource(night_report)


def test_dag_files_do_no_io_or_heavy_imports_at_parse_time() -> None:
    """Parsing must stay cheap: the scheduler parses these files over and over."""
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        "heavy = sorted(m for m in ('duckdb', 'pyarrow', 'boto3', 'worktape.loader',"
        " 'worktape.warehouse', 'great_expectations', 'dbt') if m in sys.modules);"
        "print(heavy)"
    )
    for dag_file in sorted(DAGS.glob("*.py")):
        out = (
            subprocess.run(
                [sys.executable, "-c", code, str(dag_file)],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        assert out == "[]", f"{dag_file.name} imports {out} at parse time"


@pytest.mark.slow
def test_nightly_ingest_dag_end_to_end_on_s3(
    airflow_home: dict[str, str],
    moto_server: str,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worktape.pipeline.runner import run_dag

    url = f"s3://{s3_bucket}/team"
    monkeypatch.setenv("WORKTAPE_S3_ENDPOINT_URL", moto_server)
    planted = plant_night(url, tmp_path)
    # in the DAG, S3 settings come from the Airflow connection, not the environment
    monkeypatch.delenv("WORKTAPE_S3_ENDPOINT_URL")
    monkeypatch.setenv("AIRFLOW_CONN_WORKTAPE_S3", s3_connection(moto_server))
    monkeypatch.setenv("WORKTAPE_STORAGE_URL", url)
    clean = tmp_path / "clean.duckdb"
    monkeypatch.setenv("WORKTAPE_WAREHOUSE", str(clean))

    first = run_dag("worktape_ingest", DAY, airflow_home)
    assert first.ok, first
    storage = open_storage(url, endpoint_url=moto_server)
    assert_night_loaded(clean, storage, planted)
    clean_tables = snapshot(clean)

    again = run_dag("worktape_ingest", DAY, airflow_home)
    assert again.ok
    assert snapshot(clean) == clean_tables  # a second run over the interval changes nothing

    # a night that dies between load and ledger, then reruns, ends like the clean night
    faulty = tmp_path / "faulty.duckdb"
    monkeypatch.setenv("WORKTAPE_WAREHOUSE", str(faulty))
    with monkeypatch.context() as m:
        crash_before_ledger(m)
        failed = run_dag("worktape_ingest", DAY, airflow_home)
    assert failed.state == "failed"
    rerun = run_dag("worktape_ingest", DAY, airflow_home)
    assert rerun.ok
    # (the clean night deleted the erased contributor's bundles from the shared bucket)
    assert snapshot(faulty) == snapshot(clean, refusals=False)

    _assert_raw_asset_event(first.run_id)


def _assert_raw_asset_event(run_id: str) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = [e for e in session.query(AssetEvent).all() if e.source_run_id == run_id]
    assert events and events[0].extra["days"] == [DAY.isoformat()]


def test_the_metadata_db_is_postgres_as_in_a_deployment(airflow_home: dict[str, str]) -> None:
    import os

    if os.environ.get("WORKTAPE_TEST_AIRFLOW_DB") == "sqlite":
        pytest.skip("WORKTAPE_TEST_AIRFLOW_DB=sqlite asked for the embedded default")
    from airflow import settings

    assert settings.engine is not None
    assert settings.engine.url.get_backend_name() == "postgresql"
    with settings.engine.connect() as c:
        from sqlalchemy import text

        assert (
            c.execute(text("SELECT count(*) FROM slot_pool WHERE pool = 'duckdb_writer'")).scalar()
            == 1
        )
