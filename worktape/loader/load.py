"""Verify bundles and load them into the warehouse's raw tables, exactly once.

Bundles are fetched and verified on a few threads (hashing, tar and Parquet decoding
release the GIL), then committed in batches: one DuckDB transaction holds a batch's
manifests, events, screenshot index *and* ledger rows. A crash anywhere before COMMIT
leaves no trace, and a bundle is loaded if and only if the ledger says so. That, plus
discovery skipping ledgered keys, is the exactly-once effect.

Rows go in through Arrow and DuckDB's own Arrow scan: no Python loop over events.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import tempfile
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, BinaryIO, Literal, cast

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from worktape.core.bundle import Bundle, BundleError, Limits, Reason, read_bundle
from worktape.core.bundle import contract as S
from worktape.core.bundle.contract import frame_member
from worktape.core.layout import parse_raw_key, quarantine_key
from worktape.core.storage import ObjectMissing, Storage
from worktape.core.timeutil import from_iso
from worktape.loader.profile import PROFILE_SCHEMA, profile
from worktape.loader.quarantine import quarantine
from worktape.tombstones import Tombstone, Tombstones, read_tombstones

log = logging.getLogger(__name__)


@dataclass
class LoadSummary:
    loaded: int = 0
    duplicates: int = 0
    missing: int = 0
    events: int = 0
    screenshots: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    days: set[str] = field(default_factory=set)
    #: events of newer minors' kinds that this reader does not know (left out)
    ignored_events: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "missing": self.missing,
            "events": self.events,
            "screenshots": self.screenshots,
            "quarantined": dict(sorted(self.quarantined.items())),
            "ignored_events": self.ignored_events,
            "days": sorted(self.days),
        }


@dataclass
class _Fetched:
    key: str
    bundle: Bundle | None = None
    sha256: str | None = None
    error: BundleError | None = None
    missing: bool = False
    profile: dict[str, Any] | None = None
    #: what the privacy rules found in its titles and apps (measured on the verify thread)
    privacy: BundleError | None = None

    @property
    def read(self) -> Bundle:
        """The bundle, for a fetch that read one (those that did not are never loaded)."""
        if self.bundle is None:
            raise ValueError(f"{self.key} was not read")
        return self.bundle


def _fetch(storage: Storage, key: str, verify_frames: bool, limits: Limits) -> _Fetched:
    """Read and verify one bundle. The checksum stored at upload is compared with the
    object's own when the whole object is read; when frames are skipped it is trusted
    (the tables are still checked against the manifest's checksums)."""
    info = storage.head(key)
    if info is None:
        return _Fetched(key, missing=True)
    meta_sha = info.sha256
    mode: Literal["skip", "verify"] = "skip" if meta_sha and not verify_frames else "verify"
    try:
        with storage.open(key) as body, _seekable(body, mode, limits) as seekable:
            b = read_bundle(seekable, frames=mode, limits=limits, dictionary=True)
    except ObjectMissing:
        return _Fetched(key, missing=True)
    except BundleError as e:
        return _Fetched(key, error=e)
    if b.sha256 and meta_sha and b.sha256 != meta_sha:
        return _Fetched(
            key,
            bundle=b,
            sha256=b.sha256,
            error=BundleError(
                Reason.CHECKSUM_MISMATCH,
                f"object sha256 {b.sha256[:12]}… differs from the "
                f"checksum stored at upload {meta_sha[:12]}…",
            ),
        )
    return _Fetched(
        key, bundle=b, sha256=b.sha256 or meta_sha, profile=profile(b), privacy=_privacy_error(b)
    )


@contextmanager
def _seekable(
    body: BinaryIO, mode: Literal["skip", "verify"], limits: Limits
) -> Iterator[BinaryIO]:
    """The reader's fast path wants a seekable object: an S3 body is spooled to memory
    (to disk past 64 MB) first. In skip mode the reader stops early: stream it."""
    if mode == "skip" or body.seekable():
        yield body
        return
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
        left = limits.max_bytes + 1  # one byte more: the reader then says it is too large
        while left and (chunk := body.read(min(1 << 20, left))):
            spool.write(chunk)
            left -= len(chunk)
        spool.seek(0)
        yield cast(BinaryIO, spool)  # a SpooledTemporaryFile is a binary file


def _key_matches(key: str, b: Bundle) -> BundleError | None:
    rk = parse_raw_key(key)
    started = from_iso(b.manifest["started_at"])
    if rk is None:
        return BundleError(Reason.KEY_MISMATCH, f"{key} is not a raw/v1 bundle key")
    wrong = [
        name
        for name, ok in (
            ("bundle_id", rk.bundle_id == b.bundle_id),
            ("device_id", rk.device_id == b.manifest["device_id"]),
            ("date", rk.date == started.date()),
            ("hour", rk.hour == started.hour),
        )
        if not ok
    ]
    if wrong:
        return BundleError(
            Reason.KEY_MISMATCH, f"key disagrees with the manifest on {', '.join(wrong)}"
        )
    return None


def _window(b: Bundle) -> tuple[datetime, datetime]:
    return from_iso(b.manifest["started_at"]), from_iso(b.manifest["ended_at"])


def _const(value: str, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value]))


def _bundle_row(f: _Fetched, run_id: str | None, now: datetime) -> dict[str, Any]:
    m = f.read.manifest
    return {
        "bundle_id": m["bundle_id"],
        "object_key": f.key,
        "sha256": f.sha256,
        "bytes": f.read.bytes,
        "device_id": m["device_id"],
        "contributor_id": m["contributor_id"],
        "agent_version": m["agent_version"],
        "format_version": m["format_version"],
        "started_at": from_iso(m["started_at"]),
        "ended_at": from_iso(m["ended_at"]),
        "utc_offset_minutes": m["utc_offset_minutes"],
        "screens": json.dumps(m["screens"]),
        "frame_format": m["frame_format"],
        "consent_policy_version": m["consent"]["policy_version"],
        "consent_granted_at": from_iso(m["consent"]["granted_at"]),
        "redaction": json.dumps(m["redaction"]),
        "event_count": m["counts"]["events"],
        "screenshot_count": m["counts"]["screenshots"],
        "is_simulated": bool(m.get("simulated", False)),
        "manifest": f.read.manifest_text,
        "loaded_at": now,
        "load_run_id": run_id,
    }


def _screenshots(b: Bundle) -> pa.Table:
    """The screenshot index with its bundle and where each frame lies in the object."""
    shots = b.screenshots
    fmt = b.manifest["frame_format"]
    offsets = [
        b.frame_offsets.get(frame_member(sid, fmt)) for sid in shots["screenshot_id"].to_pylist()
    ]
    return shots.append_column("bundle_id", _const(b.bundle_id, shots.num_rows)).append_column(
        "data_offset", pa.array(offsets, pa.int64())
    )


def _commit(con: duckdb.DuckDBPyConnection, batch: list[_Fetched], run_id: str | None) -> None:
    now = datetime.now(UTC)
    bundles = pa.Table.from_pylist([_bundle_row(f, run_id, now) for f in batch])
    events = pa.concat_tables(
        [
            f.read.events.append_column(
                "bundle_id", _const(f.read.bundle_id, f.read.events.num_rows)
            )
            for f in batch
        ]
    )
    shots = pa.concat_tables([_screenshots(f.read) for f in batch])
    profiles = pa.Table.from_pylist([f.profile for f in batch], schema=PROFILE_SCHEMA)
    con.register("_bundles", bundles)
    con.register("_events", events)
    con.register("_shots", shots)
    con.register("_profiles", profiles)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("INSERT INTO raw.bundles BY NAME SELECT * FROM _bundles")
            con.execute(
                "INSERT INTO raw.events BY NAME "
                "SELECT * REPLACE (bundle_id::VARCHAR AS bundle_id) FROM _events"
            )
            con.execute(
                "INSERT INTO raw.screenshots BY NAME "
                "SELECT * REPLACE (bundle_id::VARCHAR AS bundle_id) FROM _shots"
            )
            con.execute("INSERT INTO raw.bundle_profiles BY NAME SELECT * FROM _profiles")
            _commit_ledger(con)
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        for name in ("_bundles", "_events", "_shots", "_profiles"):
            con.unregister(name)


def _commit_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """The ledger rows, then COMMIT: a bundle is loaded iff its ledger row is committed.
    (Its own function: the tests crash the loader right here, from outside.)"""
    con.execute("""
        INSERT INTO raw.ledger BY NAME
        SELECT bundle_id, object_key, sha256, event_count, screenshot_count,
               loaded_at, load_run_id FROM _bundles""")
    con.execute("COMMIT")


class _Windows:
    """The capture windows of each device's loaded bundles, to find one that overlaps a
    new bundle. Accepted windows never overlap, so sorted by start their ends are sorted
    too, and the nearest window starting before a new one's end is the only one to
    check."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._by_device: dict[str, list[tuple[datetime, datetime, str]]] = {}
        for device, started, ended, bid in con.execute(
            "SELECT device_id, started_at, ended_at, bundle_id FROM raw.bundles "
            "ORDER BY device_id, started_at, ended_at"
        ).fetchall():
            self._by_device.setdefault(device, []).append((started, ended, bid))

    def overlap(self, device: str, started: datetime, ended: datetime) -> str | None:
        windows = self._by_device.get(device, [])
        i = bisect.bisect_left(windows, (ended,)) - 1
        if i >= 0 and windows[i][0] < ended and started < windows[i][1]:
            return windows[i][2]
        return None

    def add(self, device: str, started: datetime, ended: datetime, bundle_id: str) -> None:
        bisect.insort(self._by_device.setdefault(device, []), (started, ended, bundle_id))


def _privacy_error(b: Bundle) -> BundleError | None:
    """A window title, app or element name that the agent should have redacted or never
    recorded: the same rules the privacy gate applies to what is published, per bundle,
    so that one laptop that did not redact is refused alone instead of blocking the
    night."""
    for column in ("window_title", "app", "element_name"):
        for value in sorted(_distinct(b.events[column])):
            rule = _text_rule(column, value)
            if rule == "denylist":
                return BundleError(
                    Reason.DENYLISTED_WINDOW,
                    f"events carry a window the denylist covers (in {column})",
                    member=S.EVENTS,
                )
            if rule:
                return BundleError(
                    Reason.UNREDACTED_SECRET,
                    f"an event's {column} holds an unredacted {rule}",
                    member=S.EVENTS,
                )
    return None


@lru_cache(maxsize=1 << 16)
def _text_rule(column: str, value: str) -> str | None:
    """The privacy rule a title or app breaks ("denylist" for a denylisted window), or
    None. Cached: a device shows the same few titles hour after hour."""
    from worktape.core.privacy.policy import denylisted, finding

    if rule := finding(value):
        return rule
    if column == "element_name":  # a button's label is no window: the denylist is not its
        return None
    app, title = (value, None) if column == "app" else (None, value)
    return "denylist" if denylisted(app, title) else None


def _distinct(col: pa.ChunkedArray) -> set[str]:
    """A string column's distinct values; of a dictionary column, the entries its rows
    use, without decoding the rows."""
    out: set[str] = set()
    for chunk in col.chunks:
        if pa.types.is_dictionary(chunk.type):
            used = pc.unique(chunk.indices.drop_null())
            out.update(chunk.dictionary.take(used).to_pylist())
        else:
            out.update(pc.unique(chunk).drop_null().to_pylist())
    out.discard(None)  # type: ignore[arg-type]  # a dictionary may hold a null entry
    return out


def _refuse_erased(
    storage: Storage, con: duckdb.DuckDBPyConnection, key: str, stone: Tombstone, run_id: str | None
) -> None:
    """A bundle of an erased contributor: delete it and keep nothing of it, not even in
    quarantine. What is recorded is that a bundle was refused, under an opaque key."""
    storage.delete(key)
    storage.delete(quarantine_key(key))
    con.execute(
        "INSERT OR REPLACE INTO raw.quarantine VALUES (?, NULL, NULL, ?, ?, NULL, ?, ?)",
        [
            "erased:" + hashlib.sha256(key.encode()).hexdigest()[:32],
            Reason.ERASED_CONTRIBUTOR.value,
            f"refused and deleted: its contributor was erased (request {stone.erasure_id})",
            datetime.now(UTC),
            run_id,
        ],
    )


def load_bundles(
    storage: Storage,
    con: duckdb.DuckDBPyConnection,
    keys: Iterable[str],
    *,
    run_id: str | None = None,
    verify_frames: bool = True,
    batch_events: int = 4_000_000,
    workers: int = 2,
    prefetch: int = 32,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass
    tombstones: Tombstones | None = None,
) -> LoadSummary:
    """Verify and load `keys`; quarantine what fails; refuse what an erasure forbids;
    return what happened. Tombstones are read from `storage` unless given."""
    summary = LoadSummary()
    stones = read_tombstones(storage) if tombstones is None else tombstones
    windows = _Windows(con)
    ledger = {
        bid: (sha, key)
        for bid, sha, key in con.execute(
            "SELECT bundle_id, sha256, object_key FROM raw.ledger"
        ).fetchall()
    }
    batch: list[_Fetched] = []
    batch_rows = 0

    def flush() -> None:
        nonlocal batch, batch_rows
        if batch:
            _commit(con, batch, run_id)
            for f in batch:
                summary.loaded += 1
                summary.events += f.read.events.num_rows
                summary.screenshots += f.read.screenshots.num_rows
                summary.days.add(f.read.manifest["started_at"][:10])
        batch, batch_rows = [], 0

    def refuse(key: str, stone: Tombstone) -> None:
        _refuse_erased(storage, con, key, stone, run_id)
        summary.quarantined[Reason.ERASED_CONTRIBUTOR.value] += 1
        log.warning("refused and deleted a bundle of an erased contributor")

    def handle(f: _Fetched) -> None:
        nonlocal batch_rows
        if f.missing:
            log.warning("%s disappeared before it could be loaded", f.key)
            summary.missing += 1
            return
        err = f.error
        b = f.bundle
        if b is not None and (stone := stones.for_contributor(b.manifest["contributor_id"])):
            refuse(f.key, stone)
            return
        if err is None and b is not None:
            # the same bundle again is a no-op wherever it was put; then the key must
            # tell the truth about the bundle (an agent may only write its own prefix)
            seen_sha, seen_key = ledger.get(b.bundle_id, (None, None))
            if seen_sha == f.sha256:
                summary.duplicates += 1
                if seen_key != f.key:  # another copy: remember it, never fetch it again
                    con.execute(
                        "INSERT OR IGNORE INTO raw.duplicate_keys VALUES (?, ?, ?, ?, ?)",
                        [f.key, b.bundle_id, f.sha256, datetime.now(UTC), run_id],
                    )
                return
            if seen_sha is not None:
                err = BundleError(
                    Reason.CONFLICT,
                    f"bundle_id {b.bundle_id} was already loaded from {seen_key} with "
                    f"sha256 {seen_sha[:12]}…, this one is {(f.sha256 or '?')[:12]}…",
                )
            else:
                err = _key_matches(f.key, b) or _window_error(b) or f.privacy
        if err is not None:
            summary.quarantined[err.reason.value] += 1
            quarantine(
                storage,
                con,
                f.key,
                err,
                run_id=run_id,
                bundle_id=b.bundle_id if b else None,
                sha256=f.sha256,
            )
            log.warning("quarantined %s: %s", f.key, err)
            return
        assert b is not None and f.sha256 is not None
        ledger[b.bundle_id] = (f.sha256, f.key)
        windows.add(b.manifest["device_id"], *_window(b), b.bundle_id)
        summary.ignored_events += b.ignored_events
        batch.append(f)
        batch_rows += b.events.num_rows
        if batch_rows >= batch_events:
            flush()

    def _window_error(b: Bundle) -> BundleError | None:
        other = windows.overlap(b.manifest["device_id"], *_window(b))
        if other is None:
            return None
        return BundleError(
            Reason.OVERLAPPING_BUNDLE,
            f"its capture window overlaps that of bundle {other}, already loaded from the "
            "same device",
        )

    todo_keys = []
    for key in keys:
        if stones and (stone := stones.for_key(key)):
            refuse(key, stone)
        else:
            todo_keys.append(key)

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="verify") as pool:
        todo = iter(todo_keys)
        inflight: deque[Future[_Fetched]] = deque()

        def submit() -> None:
            key = next(todo, None)
            if key is not None:
                inflight.append(pool.submit(_fetch, storage, key, verify_frames, limits))

        # a deep window keeps the verify threads busy while a batch is being inserted
        for _ in range(prefetch):
            submit()
        while inflight:
            fetched = inflight.popleft().result()
            submit()
            handle(fetched)
    flush()
    return summary
