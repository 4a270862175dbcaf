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
from tests.faults import KILL_BEFORE_LEDGER, LoaderCrash, crash_before_ledger
from tests.nightkit import DAY, assert_night_loaded, plant_night, snapshot
from worktape.core.layout import raw_key
from worktape.core.storage import open_storage
from worktape.loader import discover, load_bundles
from worktape.warehouse import WarehouseSettings, connect

START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
END = START + timedelta(days=1)


def night(storage_url: str, db: Path, **kw: object) -> dict:
    storage = open_storage(storage_url)
    con = connect(WarehouseSettings(path=db))
    try:
        keys = discover(storage, con, START, END)
        return load_bundles(storage, con, keys, run_id="test", **kw).to_dict()  # type: ignore[arg-type]  # keywords pass through
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
    assert sum(summary["quarantined"].values()) == len(planted.hostile) + len(planted.erased)
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
    with monkeypatch.context() as m:
        crash_before_ledger(m)
        with pytest.raises(LoaderCrash):
            night(url, db, batch_events=5_000)
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
        KILL_BEFORE_LEDGER + "import sys; sys.path.insert(0, '.');"
        "from tests.test_loader import night;"
        f"night({url!r}, __import__('pathlib').Path({str(db)!r}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=os.environ,
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
    for hour, bid in enumerate(("bfast0001", "bfast0002")):
        b = write_small(tmp_path / f"{bid}.tar", bundle_id=bid, start=T0 + timedelta(hours=hour))
        keys.append(raw_key("dtest", b.started_at, bid))
        storage.put(keys[-1], b.path)
    # the checksum stored at upload no longer matches the object (bit rot, tampering)
    meta = Path(storage.root) / ".worktape-meta" / (keys[1] + ".json")  # type: ignore[attr-defined]  # a LocalStorage here
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
    from worktape.transform.batches import day_batches

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


def test_batches_count_every_day_a_bundle_spans(tmp_path: Path) -> None:
    """A bundle over midnight counts on both days, so a full refresh lists (and builds)
    the second day even when no bundle starts on it."""
    from worktape.transform.batches import events_per_day
    from worktape.warehouse import WarehouseSettings, connect

    wh = WarehouseSettings(tmp_path / "wh.duckdb")
    con = connect(wh)
    for bundle_id, start, end, n in (
        ("b1", "2026-11-03 22:00:00", "2026-11-03 23:00:00", 10),
        ("b2", "2026-11-03 23:30:00", "2026-11-04 00:30:00", 7),
        ("b3", "2026-11-06 09:00:00", "2026-11-06 10:00:00", 5),
    ):
        con.execute(
            "INSERT INTO raw.bundles (bundle_id, object_key, sha256, device_id, "
            "contributor_id, format_version, started_at, ended_at, event_count, "
            "screenshot_count, is_simulated, manifest, loaded_at) VALUES "
            "(?, 'k', 's', 'd', 'c', '1.0', ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, 0, false, "
            "'{}', now())",
            [bundle_id, start + "+00", end + "+00", n],
        )
    con.close()
    assert events_per_day(wh) == {"2026-11-03": 17, "2026-11-04": 7, "2026-11-06": 5}
    assert events_per_day(wh, ["2026-11-04", "2026-11-05"]) == {"2026-11-04": 7}
    assert events_per_day(wh, []) == {}


def test_bundle_profiles_agree_with_the_sql_definitions_reader_rules_faked_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw suite judges per-bundle profiles the loader measures; they must say what
    SQL over every event says (a position on the monitor named, the smallest step in
    time in seq order, the first event breaking each rule). The reader now refuses a
    pointer off its monitor and time running backwards itself (off_screen,
    ts_backwards); to measure such bundles at all, this test turns those two reader
    rules off. The gate keeps judging the profiles as a second line."""
    from tests.bundlekit import CONSENT
    from worktape.core.bundle import BundleWriter
    from worktape.core.bundle import tables as T
    from worktape.core.storage import LocalStorage

    monkeypatch.setattr(T, "_check_order", lambda events: None)
    monkeypatch.setattr(T, "_check_pointer", lambda events, screens: None)
    storage = LocalStorage(tmp_path / "bucket")
    screens = [
        {"monitor": 1, "left": 0, "top": 0, "width": 1920, "height": 1080},
        {"monitor": 2, "left": 1920, "top": 0, "width": 2560, "height": 1440},
    ]
    keys = []
    for i, plant in enumerate(["clean", "off_screen", "backwards", "unknown_monitor"]):
        bid = f"bprof{i}"
        start = T0 + timedelta(hours=i)
        with BundleWriter(
            tmp_path / f"{bid}.tar",
            bundle_id=bid,
            device_id="dprof",
            contributor_id="cprof",
            started_at=start,
            screens=screens,
            consent=CONSENT,
            durable=False,
        ) as w:
            t = start + timedelta(seconds=1)
            w.add_event(t, "focus_change", app="xterm", window_title="t")
            for k in range(6):
                t += timedelta(milliseconds=300)
                mon = 1 if k < 3 else 2
                x, y = (0 if mon == 1 else 1920) + 100 + 300 * k, 200 + 50 * k
                if plant == "off_screen" and k == 4:
                    x = 9000
                if plant == "unknown_monitor" and k == 2:
                    mon = 3
                ts = t - timedelta(seconds=2) if plant == "backwards" and k == 3 else t
                w.add_event(ts, "mouse_move", x=x, y=y, monitor=mon)
            w.add_event(t + timedelta(seconds=1), "key_down", key="a")
            sealed = w.seal(start + timedelta(minutes=5))
        key = raw_key("dprof", start, bid)
        storage.put(key, sealed.path)
        keys.append(key)
    con = connect(WarehouseSettings(path=tmp_path / "w.duckdb"))
    assert load_bundles(storage, con, keys).loaded == 4
    oracle = con.execute(
        """
        WITH screens AS (
            SELECT bundle_id, unnest(from_json(screens, '[{"monitor": "INTEGER",
                "left": "INTEGER", "top": "INTEGER", "width": "INTEGER",
                "height": "INTEGER"}]')) AS s
            FROM raw.bundles
        ),
        e AS (
            SELECT e.bundle_id, e.seq, e.bundle_id || '-' || e.seq AS event_id, e.ts,
                   (e.x - s.s.left) / s.s.width AS x_on, (e.y - s.s.top) / s.s.height AS y_on,
                   epoch(e.ts - lag(e.ts) OVER (PARTITION BY e.bundle_id ORDER BY e.seq))
                       AS step
            FROM raw.events AS e
            LEFT JOIN screens AS s
              ON s.bundle_id = e.bundle_id AND s.s.monitor = coalesce(e.monitor, 1)
        )
        SELECT bundle_id, count(*), min(x_on), max(x_on), min(y_on), max(y_on),
               coalesce(min(step), 0), min(ts), max(ts),
               arg_min(event_id, seq) FILTER (WHERE x_on < 0 OR x_on > 1 OR y_on < 0
                                              OR y_on > 1),
               arg_min(event_id, seq) FILTER (WHERE step < 0)
        FROM e GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    profiles = con.execute(
        """
        SELECT bundle_id, events, min_x_on_screen, max_x_on_screen, min_y_on_screen,
               max_y_on_screen, min_ts_step_s, first_at, last_at, off_screen_example,
               backwards_example
        FROM raw.bundle_profiles ORDER BY 1
        """
    ).fetchall()
    con.close()
    assert len(profiles) == 4
    for got, want in zip(profiles, oracle, strict=True):
        assert got[0] == want[0] and got[1] == want[1]
        assert got[2:7] == pytest.approx(want[2:7]), got[0]
        assert got[7:] == want[7:], got[0]
    by_id = {p[0]: p for p in profiles}
    assert by_id["bprof1"][9] == "bprof1-5" and by_id["bprof1"][3] > 1  # x = 9000
    assert by_id["bprof2"][10] == "bprof2-4" and by_id["bprof2"][6] < 0  # 2 s back
    assert by_id["bprof0"][9] is None and by_id["bprof0"][10] is None


def test_loaded_days_are_utc_days_on_any_host(tmp_path: Path) -> None:
    """A bundle that starts at 23:30 UTC belongs to that UTC day, also on a host 14 hours
    ahead (every connection sets UTC; the runner once read days in the host's zone)."""
    storage = open_storage(tmp_path / "bucket")
    start = T0.replace(hour=23, minute=30)
    b = write_small(tmp_path / "late.tar", bundle_id="bnight0001", start=start)
    storage.put(raw_key("dtest", start, "bnight0001"), b.path)
    db = tmp_path / "wh.duckdb"
    con = connect(WarehouseSettings(path=db))
    load_bundles(storage, con, [raw_key("dtest", start, "bnight0001")], run_id="r1")
    con.close()
    code = "from worktape.pipeline.runner import loaded_days; print(loaded_days('r1'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TZ": "Pacific/Kiritimati", "WORKTAPE_WAREHOUSE": str(db)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "['2026-11-02']"


def test_a_newer_minor_loads_without_the_kinds_it_adds(tmp_path: Path) -> None:
    import random

    from tests.oddkit import newer_minor

    storage = open_storage(tmp_path / "bucket")
    b = write_small(tmp_path / "minor.tar", bundle_id="bminor0001")
    newer_minor(b.path, random.Random(1))
    key = raw_key("dtest", b.started_at, "bminor0001")
    storage.put(key, b.path)
    con = connect(WarehouseSettings(path=tmp_path / "wh.duckdb"))
    s = load_bundles(storage, con, [key])
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM raw.events").fetchall()}
    con.close()
    assert s.loaded == 1 and s.ignored_events == 1
    assert "window_moved" not in kinds and "mouse_down" in kinds


def test_bundles_of_format_1_0_and_1_1_load_together_and_an_element_name_is_checked(
    tmp_path: Path,
) -> None:
    """One batch holds a 1.0 bundle (no element columns) and 1.1 bundles that name
    elements; a bundle whose element name holds an e-mail address is refused alone, as
    one whose title does, before it could block the night at the privacy gate."""
    from tests.bundlekit import FIELD, as_format_1_0, write_with_elements
    from worktape.core.bundle import Reason

    storage = open_storage(tmp_path / "bucket")
    new = write_with_elements(tmp_path / "new.tar")
    leak = write_with_elements(
        tmp_path / "leak.tar",
        bundle_id="bleak0001",
        device_id="dleak",
        field={**FIELD, "element_name": "Reply to bob.smith@example.com"},
    )
    small = write_small(tmp_path / "small.tar", bundle_id="bold0001", device_id="dold")
    old = as_format_1_0(small.path, tmp_path / "old.tar")
    keys = [
        raw_key(new.device_id, new.started_at, new.bundle_id),
        raw_key(leak.device_id, leak.started_at, leak.bundle_id),
        raw_key("dold", small.started_at, "bold0001"),
    ]
    for key, path in zip(keys, (new.path, leak.path, old), strict=True):
        storage.put(key, path)
    con = connect(WarehouseSettings(path=tmp_path / "wh.duckdb"))
    try:
        s = load_bundles(storage, con, keys, run_id="r1")
        named = dict(
            con.execute(
                "SELECT bundle_id, count(element_role) FROM raw.events GROUP BY 1"
            ).fetchall()
        )
        (message,) = con.execute("SELECT message FROM raw.quarantine").fetchone()
    finally:
        con.close()
    assert s.loaded == 2 and s.quarantined == {Reason.UNREDACTED_SECRET.value: 1}
    assert named == {"belem0001": 3, "bold0001": 0}
    assert "element_name" in message and "bob.smith" not in message
