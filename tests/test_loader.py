"""The loader library against a real DuckDB file: counts, quarantine, exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.bundlekit import T0, write_small
from tests.nightkit import DAY, assert_night_loaded, plant_night, snapshot
from worktape.layout import raw_key
from worktape.loader import FAULT_ENV, FaultInjected, discover, load_bundles
from worktape.storage import open_storage
from worktape.warehouse import WarehouseSettings, connect

START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
END = START + timedelta(days=1)


def night(storage_url: str, db: Path, **kw: object) -> dict:
    storage = open_storage(storage_url)
    con = connect(WarehouseSettings(path=db))
    try:
        keys = discover(storage, con, START, END)
        return load_bundles(storage, con, keys, run_id="test", **kw).to_dict()  # type: ignore[arg-type]
    finally:
        con.close()


@pytest.fixture(scope="module")
def planted_bucket(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("night")
    url = str(tmp / "bucket")
    return url, plant_night(url, tmp)


def copy_bucket(src: str, dst: Path) -> str:
    import shutil

    shutil.copytree(src, dst)
    return str(dst)


def test_night_loads_valid_quarantines_hostile(planted_bucket, tmp_path: Path) -> None:
    url = copy_bucket(planted_bucket[0], tmp_path / "bucket")
    planted = planted_bucket[1]
    summary = night(url, tmp_path / "wh.duckdb", batch_events=5_000)
    assert summary["loaded"] == len(planted.valid)
    assert sum(summary["quarantined"].values()) == len(planted.hostile)
    assert summary["duplicates"] == 1
    assert_night_loaded(tmp_path / "wh.duckdb", open_storage(url), planted)


def test_second_run_changes_nothing(planted_bucket, tmp_path: Path) -> None:
    url = copy_bucket(planted_bucket[0], tmp_path / "bucket")
    db = tmp_path / "wh.duckdb"
    night(url, db)
    before = snapshot(db)
    again = night(url, db)
    assert again["loaded"] == 0 and again["quarantined"] == {} and again["duplicates"] == 0
    assert snapshot(db) == before


def test_fault_between_load_and_ledger_then_rerun_equals_clean_run(
    planted_bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_db = tmp_path / "clean.duckdb"
    night(copy_bucket(planted_bucket[0], tmp_path / "b1"), clean_db, batch_events=5_000)

    url = copy_bucket(planted_bucket[0], tmp_path / "b2")
    db = tmp_path / "faulty.duckdb"
    monkeypatch.setenv(FAULT_ENV, "before_ledger")
    with pytest.raises(FaultInjected):
        night(url, db, batch_events=5_000)
    monkeypatch.delenv(FAULT_ENV)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.events").fetchone() == (0,)
    con.close()
    night(url, db, batch_events=5_000)
    assert snapshot(db) == snapshot(clean_db)


def test_killed_between_load_and_ledger_then_rerun_equals_clean_run(
    planted_bucket, tmp_path: Path
) -> None:
    """kill -9 in the middle of a batch: nothing half-loaded survives."""
    clean_db = tmp_path / "clean.duckdb"
    night(copy_bucket(planted_bucket[0], tmp_path / "b1"), clean_db)
    url = copy_bucket(planted_bucket[0], tmp_path / "b2")
    db = tmp_path / "killed.duckdb"
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from tests.test_loader import night;"
        f"night({url!r}, __import__('pathlib').Path({str(db)!r}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, FAULT_ENV: "before_ledger:kill"},
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    night(url, db)
    assert snapshot(db) == snapshot(clean_db)


def test_late_bundles_are_found_by_a_later_night(tmp_path: Path) -> None:
    storage = open_storage(tmp_path / "bucket")
    db = tmp_path / "wh.duckdb"
    con = connect(WarehouseSettings(path=db))
    assert load_bundles(storage, con, discover(storage, con, START, END)).loaded == 0
    # a laptop that was offline uploads two days late
    late = write_small(tmp_path / "late.tar", bundle_id="blate0001", start=T0 - timedelta(days=2))
    storage.put(raw_key("dtest", late.started_at, "blate0001"), late.path)
    keys = discover(storage, con, START, END, lookback_days=7)
    assert keys == [raw_key("dtest", late.started_at, "blate0001")]
    s = load_bundles(storage, con, keys)
    assert s.loaded == 1 and s.days == {(DAY - timedelta(days=2)).isoformat()}
    assert discover(storage, con, START, END, lookback_days=0) == []
    con.close()


def test_object_changed_after_upload_is_caught_by_a_full_verify(tmp_path: Path) -> None:
    storage = open_storage(tmp_path / "bucket")
    keys = []
    for bid in ("bfast0001", "bfast0002"):
        b = write_small(tmp_path / f"{bid}.tar", bundle_id=bid)
        keys.append(raw_key("dtest", b.started_at, bid))
        storage.put(keys[-1], b.path)
    # the checksum stored at upload no longer matches the object (bit rot, tampering)
    meta = Path(storage.root) / ".worktape-meta" / (keys[1] + ".json")  # type: ignore[attr-defined]
    meta.write_text('{"sha256": "' + "0" * 64 + '"}')

    con = connect(WarehouseSettings(path=tmp_path / "full.duckdb"))
    s = load_bundles(storage, con, keys)
    assert s.loaded == 1 and dict(s.quarantined) == {"checksum_mismatch": 1}
    con.close()

    # trusting upload checksums skips the frames: the ledger then records the stored one
    con = connect(WarehouseSettings(path=tmp_path / "fast.duckdb"))
    s = load_bundles(storage, con, keys, verify_frames=False)
    assert s.loaded == 2
    assert con.execute(
        "SELECT sha256 FROM raw.ledger WHERE bundle_id = 'bfast0002'"
    ).fetchone() == ("0" * 64,)
    con.close()


def test_dbt_batches_hold_few_enough_events_and_days() -> None:
    from worktape.pipeline.tasks import day_batches

    days = [f"2026-11-0{i}" for i in range(1, 8)]
    events = dict.fromkeys(days, 3)
    events["2026-11-04"] = 50  # a day larger than a batch goes alone
    assert day_batches(days, events, max_events=7, max_days=7) == [
        ["2026-11-01", "2026-11-02"],
        ["2026-11-03"],
        ["2026-11-04"],
        ["2026-11-05", "2026-11-06"],
        ["2026-11-07"],
    ]
    assert day_batches(days, events, max_events=10**9, max_days=3) == [
        days[0:3],
        days[3:6],
        days[6:7],
    ]
    assert day_batches([], {}, max_events=1, max_days=1) == [[]]
