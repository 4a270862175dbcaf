"""The dbt project through the real DAGs: a night loads, then one `dbt build` (models,
data tests, unit tests) builds the marts for the days it loaded, incrementally; a later
night leaves other days alone; a full rebuild agrees with the nights."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.nightkit import DAY
from worktape.simulate import simulate

# the tables a night builds, and the order that makes their rows comparable
MARTS = {
    "actions": "SELECT * EXCLUDE (action_code) FROM marts.actions ORDER BY ALL",
    "sessions": "SELECT * FROM marts.sessions ORDER BY ALL",
    "episodes": "SELECT * FROM marts.episodes ORDER BY ALL",
    "steps": "SELECT * FROM marts.steps ORDER BY ALL",
    "workflow_instances": "SELECT * FROM marts.workflow_instances ORDER BY ALL",
    "workflows": "SELECT * FROM marts.workflows ORDER BY ALL",
    "contributor_daily": "SELECT * FROM marts.contributor_daily ORDER BY ALL",
    "procedures": "SELECT * FROM marts.procedures ORDER BY ALL",
    "procedure_steps": "SELECT * FROM marts.procedure_steps ORDER BY ALL",
    # the units a night kept (same sample, same method) are those a full build aligns
    "procedure_units": "SELECT * FROM marts.procedure_units ORDER BY ALL",
}


def snapshot(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {name: con.execute(sql).fetchall() for name, sql in MARTS.items()}
    finally:
        con.close()


@pytest.mark.slow
def test_nights_build_the_marts_incrementally(
    airflow_home: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worktape.core.storage import open_storage
    from worktape.evaluate import evaluate
    from worktape.pipeline.runner import run_dag, run_night

    day2 = DAY + timedelta(days=1)
    bucket = tmp_path / "bucket"
    simulate(
        str(bucket), contributors=2, days=2, seed=9, frames="tiny", start=DAY, jobs=1, hours=1.5
    )
    db = tmp_path / "wh.duckdb"
    monkeypatch.setenv("WORKTAPE_STORAGE_URL", str(bucket))
    monkeypatch.setenv("WORKTAPE_WAREHOUSE", str(db))

    ingest, build = run_night(DAY, airflow_home, publish=False)
    assert ingest.ok and build.ok, (ingest, build)
    con = duckdb.connect(str(db), read_only=True)
    kinds = dict(
        con.execute("SELECT action_type, count(*) FROM marts.actions GROUP BY 1").fetchall()
    )
    assert {"click", "type", "hotkey", "scroll"} <= set(kinds)
    # every action has a frame from before it started, and coordinates on its screen
    bad = con.execute("""
        SELECT count(*) FROM marts.actions a
        LEFT JOIN staging.stg_worktape__screenshots s ON s.screenshot_id = a.frame_before_id
        WHERE a.frame_before_id IS NULL OR s.taken_at > a.started_at
           OR a.x_norm NOT BETWEEN 0 AND 1 OR a.y_norm NOT BETWEEN 0 AND 1""").fetchone()[0]
    assert bad == 0
    con.close()

    # a night rebuilds only the work dates its days touch: a mark on another one stays
    for night in (day2, day2 + timedelta(days=1)):
        ingest, build = run_night(night, airflow_home, publish=False)
        assert ingest.ok and build.ok, (ingest, build)
    con = duckdb.connect(str(db))
    untouched = con.execute(
        "SELECT min(work_date) FROM marts.episodes WHERE work_date NOT IN "
        "(SELECT work_date FROM marts.actions WHERE action_date = ?)",
        [day2],
    ).fetchone()[0]
    assert untouched is not None
    con.execute("UPDATE marts.episodes SET action_count = -1 WHERE work_date = ?", [untouched])
    con.close()
    again = run_dag("worktape_build", day2, airflow_home, conf={"days": [day2.isoformat()]})
    assert again.ok
    con = duckdb.connect(str(db), read_only=True)
    marked = con.execute(
        "SELECT count(*) FROM marts.episodes WHERE action_count = -1 AND work_date = ?",
        [untouched],
    ).fetchone()[0]
    con.close()
    assert marked > 0

    # a full rebuild, a day at a time, clears the mark and agrees with the nights
    monkeypatch.setenv("WORKTAPE_DBT_CHUNK_DAYS", "1")
    full = run_dag("worktape_build", day2, airflow_home, conf={"full_refresh": True})
    assert full.ok
    rebuilt = snapshot(db)
    assert all(rebuilt.values()), {k: len(v) for k, v in rebuilt.items()}
    for night in (DAY, day2):
        assert run_dag("worktape_build", night, airflow_home, conf={"days": [night.isoformat()]}).ok
    assert snapshot(db) == rebuilt

    # the marts score above a floor against the simulator's truth (its tasks follow each
    # other within seconds, mostly; targets: 0.9 on a simulated week, `make evaluate`;
    # this sample is a few hours of two people)
    scores, clusters = evaluate(db, open_storage(str(bucket)))
    print(f"episode boundary F1 {scores.f1:.3f}, workflow ARI {clusters.ari:.3f}")
    assert scores.true > 40 and scores.f1 >= 0.9
    assert clusters.ari >= 0.85


ELEMENT = (
    "element_role",
    "element_name",
    "element_x",
    "element_y",
    "element_width",
    "element_height",
)


def _elements(db: Path, sql: str) -> dict[str, tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0]: tuple(r[1:]) for r in con.execute(sql).fetchall()}
    finally:
        con.close()


@pytest.mark.slow
def test_elements_reach_actions_steps_and_records_and_an_older_warehouse_builds(
    tmp_path: Path,
) -> None:
    """A 1.1 bundle whose press and first typed key name their element, beside a 1.0
    bundle that names none: the click and the typed run carry their element through
    actions and steps to the published records; the rest carry none. A warehouse whose
    actions were built before the element columns still builds: incrementally when raw
    names no element (the columns are appended), with a full refresh when it does."""
    import json

    from tests.bundlekit import BUTTON, FIELD, as_format_1_0, write_small, write_with_elements
    from tests.nightkit import worktape_env
    from worktape.core.layout import raw_key
    from worktape.core.storage import open_storage
    from worktape.pipeline import tasks
    from worktape.publish import frames as F
    from worktape.publish.publisher import build_dataset

    storage = open_storage(tmp_path / "bucket")
    new = write_with_elements(tmp_path / "new.tar")
    storage.put(raw_key(new.device_id, new.started_at, new.bundle_id), new.path)
    small = write_small(tmp_path / "small.tar", bundle_id="bold0001", device_id="dold")
    old = as_format_1_0(small.path, tmp_path / "old.tar")
    storage.put(raw_key("dold", small.started_at, "bold0001"), old)
    db = tmp_path / "warehouse.duckdb"
    day = [DAY.isoformat()]
    actions_sql = f"SELECT action_id, action_type, {', '.join(ELEMENT)} FROM marts.actions"
    steps_sql = f"SELECT step_id, {', '.join(ELEMENT)} FROM marts.steps"
    button, field = tuple(BUTTON.values()), tuple(FIELD.values())
    none = (None,) * 6

    with worktape_env(tmp_path):
        start = datetime.combine(DAY, time(0), UTC)
        loaded = tasks.load_keys(tasks.discover_new(start, start + timedelta(days=1)), run_id="t")
        assert loaded["loaded"] == 2 and not loaded["quarantined"], loaded
        assert tasks.dbt_build(day)["built"]

        actions = _elements(db, actions_sql)
        ordered = sorted(
            (int(k.removeprefix("belem0001-")), v)
            for k, v in actions.items()
            if k.startswith("belem0001-")
        )
        assert [v for _, v in ordered] == [
            ("click", *button),
            ("click", *field),
            ("type", *field),
            ("scroll", *none),
            ("click", *none),
        ]
        assert all(v[1:] == none for k, v in actions.items() if k.startswith("bold0001-"))
        steps = _elements(db, steps_sql)
        assert {k: v for k, v in steps.items() if v != none} == {
            k: v[1:] for k, v in actions.items() if v[1:] != none
        }
        assert len({v for v in steps.values() if v != none}) == 2

        # the published records: each step's element, null where none was named
        con = duckdb.connect(str(db), read_only=True)
        build_dataset(con, tmp_path / "dataset", F.INDEX_SCHEMA.empty_table())
        con.close()
        records = [json.loads(line) for line in (tmp_path / "dataset/episodes.jsonl").open()]
        published = {s["step_id"]: s["element"] for r in records for s in r["traj"]}
        assert published.keys() == steps.keys()
        for step_id, element in published.items():
            role, name, x, y, width, height = steps[step_id]
            if role is None:
                assert element is None
            else:
                assert element == {
                    "role": role,
                    "name": name,
                    "bounds": {"x": x, "y": y, "width": width, "height": height},
                }

    def built_before_elements() -> None:
        """The warehouse as a build before the element columns left it."""
        con = duckdb.connect(str(db))
        for table in ("intermediate.int_actions_framed", "marts.steps"):
            for column in ELEMENT:
                con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.close()

    with worktape_env(tmp_path):
        # raw names elements the actions lack: the build is a full refresh, which
        # carries them to every day
        built_before_elements()
        assert tasks.dbt_build(day)["full_refresh"]
        assert _elements(db, actions_sql) == actions and _elements(db, steps_sql) == steps

        # raw names none (1.0 bundles only): the incremental build appends the columns
        built_before_elements()
        con = duckdb.connect(str(db))
        con.execute(f"UPDATE raw.events SET {', '.join(f'{c} = NULL' for c in ELEMENT)}")
        con.close()
        assert not tasks.dbt_build(day)["full_refresh"]
        assert {v[1:] for v in _elements(db, actions_sql).values()} == {none}
        con = duckdb.connect(str(db), read_only=True)
        columns = [r[0] for r in con.execute("DESCRIBE marts.steps").fetchall()]
        con.close()
        assert columns[-6:] == list(ELEMENT)
