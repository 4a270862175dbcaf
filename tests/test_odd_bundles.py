"""A night degrades per bundle, never per team: bundles the contract accepts but that are
unusual (tests/oddkit.py) go through the real night, load -> dbt build -> gate ->
publish, beside a simulated contributor's ordinary day. Every night must be green and
publish; an odd bundle either loads or is quarantined with a reason. A failed night is
a test failure.

Every generated night holds every odd case, in a random order with random parameters,
so each example exercises all of them together. WORKTAPE_ODD_NIGHTS sets how many
nights (default 4). The totals are printed at the end of the module.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.nightkit import DAY, worktape_env
from tests.oddkit import CASES, Night
from worktape.core.storage import open_storage
from worktape.simulate import simulate

pytestmark = pytest.mark.slow
NIGHTS = int(os.environ.get("WORKTAPE_ODD_NIGHTS", "4"))
TOTALS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def ordinary_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One simulated contributor's ordinary half day: the odd bundles come beside it."""
    bucket = tmp_path_factory.mktemp("ordinary") / "bucket"
    simulate(
        str(bucket), contributors=1, days=1, seed=9, frames="tiny", start=DAY, jobs=1, hours=0.5
    )
    yield bucket
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(TOTALS.items()) if r.startswith("q:"))
    print(
        f"\nodd bundles: {TOTALS['nights']} night(s), {TOTALS['bundles']} generated bundle(s), "
        f"{TOTALS['loaded']} loaded, {TOTALS['quarantined']} quarantined"
        + (f" ({reasons.replace('q:', '')})" if reasons else ""),
        file=sys.__stderr__,
    )


@settings(
    max_examples=NIGHTS,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failing night is reported as it is
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(data=st.data())
def test_odd_but_valid_bundles_never_fail_a_night(
    data: st.DataObject,
    airflow_home: dict[str, str],
    ordinary_day: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from worktape.pipeline.runner import run_night
    from worktape.warehouse import WarehouseSettings, connect, open_db

    root = tmp_path_factory.mktemp("odd-night")
    shutil.copytree(ordinary_day, root / "bucket")
    night = Night(
        open_storage(root / "bucket"),
        root,
        datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC),
    )
    for name in data.draw(st.permutations(sorted(CASES)), label="cases"):
        CASES[name](data.draw, night)

    with worktape_env(root):
        results = run_night(DAY, airflow_home)
    states = {r.dag_id: r.state for r in results}
    assert states == {
        "worktape_ingest": "success",
        "worktape_build": "success",
        "worktape_publish": "success",
    }, f"the night failed with {night.plan.cases()}: {states}"
    assert (root / "bucket" / "published" / "LATEST").exists()

    con = connect(WarehouseSettings(path=root / "warehouse.duckdb"), read_only=True)
    try:
        loaded = {k for (k,) in con.execute("SELECT object_key FROM raw.ledger").fetchall()}
        quarantined = {
            k: (r, m)
            for k, r, m in con.execute(
                "SELECT object_key, reason, message FROM raw.quarantine"
            ).fetchall()
        }
    finally:
        con.close()
    # what loaded was published: the analyst file has the actions of every bundle that
    # held work
    analyst = open_db(root / "home" / "published.duckdb", read_only=True)
    try:
        published = {
            b
            for (b,) in analyst.execute(
                "SELECT DISTINCT split_part(action_id, '-', 1) FROM actions"
            ).fetchall()
        }
    finally:
        analyst.close()
    TOTALS["nights"] += 1
    for b in night.plan.bundles:
        TOTALS["bundles"] += 1
        if b.key in loaded:
            TOTALS["loaded"] += 1
            if b.has_work:
                assert b.bundle_id in published, f"{b.case} bundle loaded but not published"
            continue
        assert b.key in quarantined, f"{b.case} bundle {b.key} was neither loaded nor quarantined"
        reason, message = quarantined[b.key]
        assert reason and message
        assert not b.must_load, f"{b.case} bundle was quarantined: {reason}: {message}"
        TOTALS["quarantined"] += 1
        TOTALS[f"q:{reason}"] += 1
