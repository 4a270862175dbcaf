"""The nightly worktape pipeline, first half (Apache Airflow 3, TaskFlow).

For the data interval [D 00:00, D+1 00:00) UTC: discover the raw bundles uploaded for D
(and, to catch laptops that were offline, for the days before it), then verify and load
them into the DuckDB warehouse, quarantining what fails. The load updates the
`worktape_raw` asset, and dbt, the quality gate and publishing hang off that asset.

The task bodies live in `worktape.pipeline.tasks` (tested without Airflow). This file only
wires them together: no I/O and no heavy imports at parse time. Both tasks touch the
DuckDB file, so both run in the `duckdb_writer` pool (1 slot).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

RAW_LAYER = Asset(name="worktape_raw", uri="file:///worktape/warehouse/raw")
WRITER_POOL = "duckdb_writer"


@dag(
    dag_id="worktape_ingest",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=True,
    max_active_runs=1,
    default_args={
        "retries": int(os.environ.get("WORKTAPE_TASK_RETRIES", "2")),
        "retry_delay": timedelta(minutes=2),
    },
    tags=["worktape"],
    doc_md=__doc__,
)
def worktape_ingest() -> None:
    @task(pool=WRITER_POOL)
    def discover(
        data_interval_start: datetime | None = None, data_interval_end: datetime | None = None
    ) -> list[str]:
        from worktape.pipeline.tasks import discover_new

        assert data_interval_start is not None and data_interval_end is not None
        return discover_new(data_interval_start, data_interval_end)

    @task(pool=WRITER_POOL, outlets=[RAW_LAYER])
    def load(
        keys: list[str], run_id: str | None = None, outlet_events: Any = None
    ) -> dict[str, Any]:
        from worktape.pipeline.tasks import load_keys

        summary = load_keys(keys, run_id=run_id)
        # downstream rebuilds exactly the days this night touched
        outlet_events[RAW_LAYER].extra = {"days": summary["days"], "run_id": run_id}
        return summary

    load(discover())


worktape_ingest()
