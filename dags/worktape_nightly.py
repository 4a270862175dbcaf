"""The nightly worktape pipeline (Apache Airflow 3, TaskFlow).

For the data interval [D 00:00, D+1 00:00) UTC: discover the raw bundles uploaded for D
(and, to catch laptops that were offline, for the days before it), then verify and load
them into the DuckDB warehouse, quarantining what fails. The load updates the
`worktape_raw` asset; `worktape_build` hangs off that asset and runs one `dbt build` for
the days the night touched, updating `worktape_marts` (the gate and publishing follow).

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
MARTS = Asset(name="worktape_marts", uri="file:///worktape/warehouse/marts")
WRITER_POOL = "duckdb_writer"
DEFAULT_ARGS = {
    "retries": int(os.environ.get("WORKTAPE_TASK_RETRIES", "2")),
    "retry_delay": timedelta(minutes=2),
}


@dag(
    dag_id="worktape_ingest",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
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


@dag(
    dag_id="worktape_build",
    schedule=[RAW_LAYER],
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["worktape"],
    doc_md="One `dbt build` (staging, intermediate, marts, tests, unit tests) for the days "
    'the triggering load touched. Trigger with conf {"full_refresh": true} to rebuild all.',
)
def worktape_build() -> None:
    @task(pool=WRITER_POOL, outlets=[MARTS])
    def dbt_build(dag_run: Any = None, triggering_asset_events: Any = None) -> dict[str, Any]:
        from worktape.pipeline.tasks import dbt_build as build

        conf = (dag_run.conf if dag_run is not None else None) or {}
        days = set(conf.get("days") or [])
        for events in (triggering_asset_events or {}).values():
            for event in events:
                days.update((event.extra or {}).get("days", []))
        return build(sorted(days), full_refresh=bool(conf.get("full_refresh")))

    dbt_build()


worktape_build()
