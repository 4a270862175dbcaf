"""A night's worth of bucket content for loader and DAG tests, and a way to compare
warehouses: simulated bundles, one hostile bundle per reason code, a duplicate, an id
conflict and a key that lies about its bundle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from tests.bundlekit import T0, explode, write_small
from tests.hostile_cases import CASES
from worktape.core.bundle import Reason, read_bundle
from worktape.core.layout import RAW, raw_key
from worktape.core.storage import Storage, open_storage
from worktape.simulate import simulate
from worktape.tombstones import Tombstone, write_tombstone

DAY = date(2026, 11, 2)
# these two need limits lower than any real bundle; the reader tests cover them
NEEDS_LIMITS = {"too_large", "too_many_members"}


@dataclass
class Planted:
    valid: dict[str, dict[str, int]] = field(default_factory=dict)  # key -> manifest counts
    hostile: dict[str, str] = field(default_factory=dict)  # key -> expected reason
    duplicates: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)  # keys refused: their contributor was erased


def plant_night(
    storage_url: str, tmp: Path, *, contributors: int = 2, hours: float = 1.5
) -> Planted:
    storage = open_storage(storage_url)
    simulate(
        storage_url,
        contributors=contributors,
        days=1,
        seed=4,
        frames="tiny",
        start=DAY,
        jobs=1,
        hours=hours,
    )
    planted = Planted()
    for info in storage.list(RAW):
        with storage.open(info.key) as body:
            b = read_bundle(body)
        if b.manifest["started_at"][:10] == DAY.isoformat():
            planted.valid[info.key] = b.manifest["counts"]

    good = write_small(tmp / "good.tar", bundle_id="bgood0001", device_id="dhostile")
    key = raw_key("dhostile", T0, "bgood0001")
    storage.put(key, good.path)
    planted.valid[key] = explode(good.path)[0]["counts"]
    raw = good.path.read_bytes()
    for name, (reason, build, _) in sorted(CASES.items()):
        if name in NEEDS_LIMITS:
            continue
        manifest, members = explode(good.path)
        hkey = raw_key("dhostile", T0, f"h-{name.replace('_', '-')}")
        storage.put(hkey, build(manifest, members, raw))
        planted.hostile[hkey] = reason.value

    # the same bundle uploaded again under another hour's key: a no-op, not a failure
    dup_key = raw_key("dhostile", T0 + timedelta(hours=1), "bgood0001")
    storage.put(dup_key, good.path)
    planted.duplicates.add(dup_key)
    # a different bundle claiming an id that is already loaded
    other = write_small(
        tmp / "other.tar",
        bundle_id="bgood0001",
        device_id="dhostile",
        start=T0 + timedelta(hours=2),
        n_frames=1,
    )
    planted.hostile[raw_key("dhostile", other.started_at, "bgood0001")] = Reason.CONFLICT.value
    storage.put(raw_key("dhostile", other.started_at, "bgood0001"), other.path)
    # a valid bundle at a key naming another device
    liar = write_small(tmp / "liar.tar", bundle_id="bliar0001", device_id="dhostile")
    lkey = raw_key("dsomeoneelse", T0, "bliar0001")
    storage.put(lkey, liar.path)
    planted.hostile[lkey] = Reason.KEY_MISMATCH.value

    # valid under the reader, refused by the loader: each in an hour of its own, so that
    # only the planted fault shows
    def loader_case(reason: Reason, hour: int, bid: str, **kw: str) -> None:
        b = write_small(
            tmp / f"{bid}.tar",
            bundle_id=bid,
            device_id="dhostile",
            start=T0 + timedelta(hours=hour),
            **kw,
        )
        key = raw_key("dhostile", b.started_at, bid)
        storage.put(key, b.path)
        planted.hostile[key] = reason.value

    # a capture window that overlaps bgood0001's (same device, half an hour later)
    overlap = write_small(
        tmp / "overlap.tar",
        bundle_id="boverlap0001",
        device_id="dhostile",
        start=T0 + timedelta(minutes=30),
    )
    okey = raw_key("dhostile", overlap.started_at, "boverlap0001")
    storage.put(okey, overlap.path)
    planted.hostile[okey] = Reason.OVERLAPPING_BUNDLE.value
    loader_case(Reason.UNREDACTED_SECRET, 3, "bsecret0001", title="Re: quote for bob@example.com")
    loader_case(Reason.DENYLISTED_WINDOW, 4, "bdenied0001", app="1password", title="Vault")

    # an erased contributor: a bundle still in their spool (a new device), and one from
    # a device the tombstone names that cannot even be read
    write_tombstone(
        storage, Tombstone("cerased", "2026-11-01T00:00:00Z", "erasure-test", ("derased",))
    )
    late = write_small(
        tmp / "late.tar", bundle_id="blate0001", device_id="dnew", contributor_id="cerased"
    )
    lkey = raw_key("dnew", late.started_at, "blate0001")
    storage.put(lkey, late.path)
    planted.erased.add(lkey)
    ckey = raw_key("derased", T0, "bcorrupt0001")
    storage.put(ckey, b"not a bundle at all")
    planted.erased.add(ckey)
    return planted


VOLATILE = {"loaded_at", "load_run_id", "quarantined_at", "run_id", "seen_at"}
TABLES = ("bundles", "events", "screenshots", "ledger", "quarantine", "duplicate_keys")


def snapshot(db: Path, *, refusals: bool = True) -> dict[str, list[tuple]]:
    """Every raw table's rows, sorted, without the columns that record when or by whom.
    refusals=False leaves out the records of bundles refused for an erased contributor
    (the first night deletes those bundles: a second warehouse on the same bucket never
    sees them)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for t in TABLES:
            cols = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
                    "AND table_name = ? ORDER BY ordinal_position",
                    [t],
                ).fetchall()
                if c not in VOLATILE
            ]
            where = (
                "reason <> 'erased_contributor'" if t == "quarantine" and not refusals else "1=1"
            )
            out[t] = con.execute(
                f"SELECT {', '.join(cols)} FROM raw.{t} WHERE {where} ORDER BY ALL"
            ).fetchall()
        return out
    finally:
        con.close()


def assert_night_loaded(db: Path, storage: Storage, planted: Planted) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        ledger = dict(con.execute("SELECT object_key, event_count FROM raw.ledger").fetchall())
        assert set(ledger) == set(planted.valid)
        for key, counts in planted.valid.items():
            assert ledger[key] == counts["events"]
        per_bundle = dict(
            con.execute("""
            SELECT b.object_key, count(e.seq) FROM raw.bundles b
            LEFT JOIN raw.events e USING (bundle_id) GROUP BY 1""").fetchall()
        )
        assert per_bundle == {k: c["events"] for k, c in planted.valid.items()}
        shots = dict(
            con.execute("""
            SELECT b.object_key, count(s.screenshot_id) FROM raw.bundles b
            LEFT JOIN raw.screenshots s USING (bundle_id) GROUP BY 1""").fetchall()
        )
        assert shots == {k: c["screenshots"] for k, c in planted.valid.items()}
        quarantined = dict(con.execute("SELECT object_key, reason FROM raw.quarantine").fetchall())
        refused = {k: r for k, r in quarantined.items() if r == Reason.ERASED_CONTRIBUTOR.value}
        assert {k: r for k, r in quarantined.items() if k not in refused} == planted.hostile
        # refusals are recorded under opaque keys that name no device
        assert len(refused) == len(planted.erased)
        assert all(k.startswith("erased:") for k in refused)
        dupes = {k for (k,) in con.execute("SELECT object_key FROM raw.duplicate_keys").fetchall()}
        assert dupes == planted.duplicates
    finally:
        con.close()
    for key, reason in planted.hostile.items():
        assert storage.exists(f"quarantine/{key}"), key
        import json

        why = json.loads(storage.get_bytes(f"quarantine/{key}.reason.json"))
        assert why["reason"] == reason and why["message"]
        assert storage.exists(key)  # raw is never deleted by the pipeline...
    for key in planted.erased:  # ...except an erased contributor's: deleted, kept nowhere
        assert not storage.exists(key)
        assert not storage.exists(f"quarantine/{key}")
        assert not storage.exists(f"quarantine/{key}.reason.json")


class worktape_env:
    """Point worktape at one copy of the state: its home, bucket, warehouse and analyst
    file under `root`."""

    def __init__(self, root: Path) -> None:
        self.vars = {
            "WORKTAPE_HOME": str(root / "home"),
            "WORKTAPE_STORAGE_URL": str(root / "bucket"),
            "WORKTAPE_WAREHOUSE": str(root / "warehouse.duckdb"),
            "WORKTAPE_ANALYST_DB": str(root / "home" / "published.duckdb"),
        }

    def __enter__(self) -> None:
        import os

        self.saved = {k: os.environ.get(k) for k in self.vars}
        os.environ.update(self.vars)

    def __exit__(self, *exc: object) -> None:
        import os

        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
