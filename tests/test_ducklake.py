"""The scaling path (docs/scaling.md): a DuckLake raw layer with its catalog in a private
PostgreSQL cluster. Two loaders, in two processes, write different days at the same
time through it, with worktape's own loader unchanged; then dbt builds the marts from
the lake."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.pgkit import pg_bin, start_cluster
from worktape.simulate import simulate

pytestmark = pytest.mark.slow
DAYS = (date(2026, 11, 2), date(2026, 11, 3))


def _load_day(catalog: str, data: str, bucket: str, day: str, barrier: object) -> None:
    from worktape.core.storage import LocalStorage
    from worktape.lake import connect_lake
    from worktape.loader import discover, load_bundles

    con = connect_lake(catalog, data)
    storage = LocalStorage(bucket)
    d = date.fromisoformat(day)
    start = datetime(d.year, d.month, d.day, tzinfo=UTC)
    keys = discover(storage, con, start, start + timedelta(days=1), lookback_days=0)
    barrier.wait()  # type: ignore[attr-defined]  # both load at once
    summary = load_bundles(storage, con, keys, run_id=f"lake-{day}")
    assert summary.loaded == len(keys) > 0, summary
    con.close()


@pytest.fixture
def lake(tmp_path: Path) -> tuple[str, Path]:
    if pg_bin() is None:
        pytest.fail("PostgreSQL is not installed; the Makefile's sysdeps expect it")
    cluster = start_cluster(Path(tempfile.mkdtemp(prefix="worktape-lake-pg-")))
    try:
        subprocess.run(
            [
                *cluster.as_user,
                str(cluster.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(cluster.port),
                "-U",
                "airflow",
                "lake",
            ],
            check=True,
        )
        yield f"host=127.0.0.1 port={cluster.port} dbname=lake user=airflow", tmp_path
    finally:
        cluster.stop()


def test_two_loaders_write_different_days_at_once_and_the_marts_build(
    lake: tuple[str, Path],
) -> None:
    from worktape.lake import connect_lake, extension_paths

    catalog, tmp = lake
    bucket, data = tmp / "bucket", tmp / "lake-data"
    simulate(
        str(bucket), contributors=2, days=2, seed=6, frames="none", start=DAYS[0], jobs=1, hours=1
    )
    connect_lake(catalog, str(data)).close()  # the raw schema, once

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    loaders = [
        ctx.Process(
            target=_load_day, args=(catalog, str(data), str(bucket), d.isoformat(), barrier)
        )
        for d in DAYS
    ]
    for p in loaders:
        p.start()
    for p in loaders:
        p.join(timeout=300)
    assert [p.exitcode for p in loaders] == [0, 0]

    con = connect_lake(catalog, str(data))
    runs = dict(con.execute("SELECT load_run_id, count(*) FROM raw.ledger GROUP BY 1").fetchall())
    events = con.execute("SELECT count(*) FROM raw.events").fetchone()[0]
    con.close()
    assert set(runs) == {f"lake-{d.isoformat()}" for d in DAYS}
    assert events > 1000

    marts = tmp / "warehouse.duckdb"
    project = Path(__file__).parents[1] / "dbt_project"
    dbt_vars = {
        "days": [],
        "raw_database": "lake",
        "lake_catalog": catalog,
        "lake_data_path": f"{data}/",
        "lake_extensions": extension_paths(),
    }
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "build",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--vars",
            json.dumps(dbt_vars),
        ],
        env={**os.environ, "WORKTAPE_WAREHOUSE": str(marts)},
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = duckdb.connect(str(marts), read_only=True)
    per_day = dict(
        out.execute(
            "SELECT action_date, count(*) FROM marts.actions GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    episodes = out.execute("SELECT count(*) FROM marts.episodes").fetchone()[0]
    out.close()
    assert set(DAYS) <= set(per_day) and episodes > 10
