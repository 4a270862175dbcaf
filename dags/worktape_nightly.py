"""The nightly worktape pipeline (Apache Airflow 3, TaskFlow).

For the data interval [D 00:00, D+1 00:00) UTC: discover the raw bundles uploaded for D
(and, to catch laptops that were offline, for the days before it), then verify and load
them into the DuckDB warehouse, quarantining what fails. The load updates the
`worktape_raw` asset; `worktape_build` hangs off that asset and runs one `dbt build` for
the days the night touched, updating `worktape_marts`; `worktape_publish` hangs off that:
the quality gate (Great Expectations), then a versioned dataset and the analyst file,
then the nightly report (written whether the gate passed or not).

The task bodies live in `worktape.pipeline.tasks` (tested without Airflow). This file only
wires them together: no I/O and no heavy imports at parse time (settings are read from
the environment: WORKTAPE_TASK_RETRIES here, the rest by each task as it runs). Every
task that opens the DuckDB warehouse runs in the `duckdb_writer` pool (1 slot); the
report reads only what was published (the analyst file, the bucket), so it needs no
slot and never blocks a writer (tests/test_dags.py holds every task to its pool).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from worktape.settings import Settings

RAW_LAYER = Asset(name="worktape_raw", uri="file:///worktape/warehouse/raw")
MARTS = Asset(name="worktape_marts", uri="file:///worktape/warehouse/marts")
DATASET = Asset(name="worktape_dataset", uri="file:///worktape/published")
WRITER_POOL = "duckdb_writer"
DEFAULT_ARGS = {
    "retries": Settings().task_retries,
    "retry_delay": timedelta(minutes=2),
}
# what every DAG after the first shares: triggered (by an asset or by hand), one run
# at a time
FOLLOWER = {
    "start_date": datetime(2026, 11, 1, tzinfo=UTC),
    "catchup": False,
    "max_active_runs": 1,
    "tags": ["worktape"],
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
    **FOLLOWER,
    default_args=DEFAULT_ARGS,
    doc_md="One `dbt build` (staging, intermediate, marts, tests, unit tests) for the days "
    'the triggering load touched. Trigger with conf {"full_refresh": true} to rebuild all.',
)
def worktape_build() -> None:
    @task(pool=WRITER_POOL, outlets=[MARTS])
    def dbt_build(
        dag_run: Any = None, triggering_asset_events: Any = None, outlet_events: Any = None
    ) -> dict[str, Any]:
        from worktape.pipeline.tasks import dbt_build as build

        days = _asset_days(dag_run, triggering_asset_events)
        conf = (dag_run.conf if dag_run is not None else None) or {}
        out = build(days, full_refresh=bool(conf.get("full_refresh")))
        outlet_events[MARTS].extra = {"days": out["days"]}
        return out

    dbt_build()


worktape_build()


def _asset_days(dag_run: Any, triggering_asset_events: Any) -> list[str]:
    """The days a run is about: from its conf, and from the asset events behind it."""
    conf = (dag_run.conf if dag_run is not None else None) or {}
    days = set(conf.get("days") or [])
    for events in (triggering_asset_events or {}).values():
        for event in events:
            days.update((event.extra or {}).get("days", []))
    return sorted(days)


@dag(
    dag_id="worktape_publish",
    schedule=[MARTS],
    **FOLLOWER,
    default_args=DEFAULT_ARGS,
    doc_md="The quality gate, then publishing: a versioned dataset under published/, the "
    "analyst DuckDB file, and the nightly report (written whether the gate passed or not).",
)
def worktape_publish() -> None:
    @task(pool=WRITER_POOL, outlets=[DATASET], retries=0)
    def gate_and_publish(
        dag_run: Any = None, triggering_asset_events: Any = None, run_id: str | None = None
    ) -> dict[str, Any]:
        from worktape.pipeline.tasks import publish_night

        return publish_night(_asset_days(dag_run, triggering_asset_events), run_id=run_id)

    @task(trigger_rule="all_done")
    def report(
        dag_run: Any = None,
        triggering_asset_events: Any = None,
        logical_date: datetime | None = None,
        run_id: str | None = None,
    ) -> str:
        from datetime import date

        from worktape.pipeline.tasks import nightly_report

        # the night the runner names, else the newest day the data came for
        conf = (dag_run.conf if dag_run is not None else None) or {}
        days = _asset_days(dag_run, triggering_asset_events)
        named = conf.get("night") or (days[-1] if days else None)
        assert named or logical_date is not None
        night = date.fromisoformat(named) if named else logical_date.date()  # type: ignore[union-attr]
        return nightly_report(night, run_id=run_id)

    @task(trigger_rule="one_failed", retries=0)
    def watcher() -> None:
        # the report runs whatever happened, so as a leaf it would mark a failed gate's
        # run a success; this fails the run when anything upstream failed
        raise RuntimeError("the night failed: see the gate_and_publish task and the report")

    published = gate_and_publish()
    reported = report()
    published >> reported
    [published, reported] >> watcher()


worktape_publish()


@dag(
    dag_id="worktape_forget",
    schedule=None,
    **FOLLOWER,
    default_args={**DEFAULT_ARGS, "retries": 0},
    params={"contributor_id": ""},
    doc_md='Right to erasure: trigger with conf {"contributor_id": "..."} to remove a '
    "contributor from the bucket, the warehouse and every published version.",
)
def worktape_forget() -> None:
    @task(pool=WRITER_POOL)
    def forget(params: Any = None) -> dict[str, Any]:
        from worktape.pipeline.tasks import forget_contributor

        contributor_id = (params or {}).get("contributor_id")
        if not contributor_id:
            raise ValueError('trigger with conf {"contributor_id": "..."}')
        return forget_contributor(contributor_id)

    forget()


worktape_forget()
