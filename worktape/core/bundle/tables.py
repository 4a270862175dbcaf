"""The table rules: events.parquet and screenshots.parquet read against the schema
(newer minors' columns and event kinds left out), then checked against the manifest
and each other: counts, seq, the time window and order, pointer positions on their
monitor, known kinds, screenshot ids scoped to the bundle, a frame for every row and
no event pointing at a missing screenshot."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from worktape.core.bundle import schema as S
from worktape.core.bundle.errors import BundleError, Reason
from worktape.core.bundle.measure import off_screen, on_screen, ts_us
from worktape.core.timeutil import from_iso


def known_kinds(events: pa.Table, minor: int) -> tuple[pa.Table, int]:
    """A newer minor may add event kinds: their rows are left out, like its columns."""
    if minor <= S.FORMAT_MINOR or not events.num_rows:
        return events, 0
    known = pc.is_in(pc.cast(events["kind"], pa.string()), value_set=pa.array(S.EVENT_KINDS))
    kept = events.filter(known)
    return kept, events.num_rows - kept.num_rows


def load_table(
    data: bytes,
    name: str,
    schema: pa.Schema,
    dictionary: bool,
    *,
    minor: int = S.FORMAT_MINOR,
    since: dict[str, int] | None = None,
) -> pa.Table:
    """A table read against `schema`. A column that `since` says a later minor than the
    bundle's added may be absent: it reads as nulls."""
    dict_cols = [c for c in S.DICTIONARY_COLUMNS if c in schema.names] if dictionary else []
    try:
        # ParquetFile, not read_table: no dataset discovery, no nested thread pool. The
        # footer is parsed once when every dictionary column is there (the usual case)
        try:
            pf = pq.ParquetFile(pa.BufferReader(data), read_dictionary=dict_cols or None)
        except KeyError:  # a column is missing: ask only for those present (bad_schema below)
            pf = pq.ParquetFile(pa.BufferReader(data))
            present = [c for c in dict_cols if c in pf.schema_arrow.names]
            pf = pq.ParquetFile(pa.BufferReader(data), read_dictionary=present or None)
        table = pf.read(use_threads=False)
    except (pa.ArrowException, OSError) as e:
        raise BundleError(
            Reason.BAD_PARQUET, f"{name} is not readable parquet: {e}", member=name
        ) from e
    cols = []
    fields = []
    for f in schema:
        if f.name not in table.column_names and (since or {}).get(f.name, 0) > minor:
            # typed as the newer minor's column reads: bundles of both minors concatenate
            absent = pa.dictionary(pa.int32(), f.type) if f.name in dict_cols else f.type
            cols.append(pa.nulls(table.num_rows, absent))
            fields.append(f.with_type(absent))
            continue
        if f.name not in table.column_names:
            raise BundleError(Reason.BAD_SCHEMA, f"{name} lacks column {f.name!r}", member=name)
        col = table[f.name]
        want = f.type
        if f.name in dict_cols:
            want = pa.dictionary(pa.int32(), f.type)
        try:
            if col.type != want:
                col = col.cast(want)
        except (pa.ArrowException, ValueError) as e:
            raise BundleError(
                Reason.BAD_SCHEMA,
                f"{name} column {f.name!r} is {col.type}, expected {f.type}: {e}",
                member=name,
            ) from e
        if not f.nullable and col.null_count:
            raise BundleError(
                Reason.BAD_SCHEMA,
                f"{name} column {f.name!r} has {col.null_count} nulls",
                member=name,
            )
        cols.append(col)
        fields.append(f.with_type(want))
    # columns a newer minor version added are dropped here, by design
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def _ts_bounds(manifest: dict[str, Any]) -> tuple[pa.Scalar, pa.Scalar]:
    lo = pa.scalar(from_iso(manifest["started_at"]), S.UTC_US)
    hi = pa.scalar(from_iso(manifest["ended_at"]), S.UTC_US)
    return lo, hi


def _check_window(table: pa.Table, name: str, lo: pa.Scalar, hi: pa.Scalar) -> None:
    if table.num_rows == 0:
        return
    ts = table["ts"]
    outside = pc.sum(pc.or_(pc.less(ts, lo), pc.greater(ts, hi))).as_py() or 0
    if outside:
        raise BundleError(
            Reason.TS_OUT_OF_WINDOW,
            f"{outside} row(s) of {name} lie outside [{lo}, {hi}]",
            member=name,
        )


def _check_order(events: pa.Table) -> None:
    """In seq order, time never runs backwards (the agent writes events as they happen)."""
    steps = np.diff(ts_us(events))
    back = np.flatnonzero(steps < 0)
    if back.size:
        row = int(back[0]) + 1
        raise BundleError(
            Reason.TS_BACKWARDS,
            f"{back.size} event(s) are earlier than the one before them, first at seq {row}",
            member=S.EVENTS,
        )


def _check_pointer(events: pa.Table, screens: list[dict[str, Any]]) -> None:
    """A pointer position lies on the monitor its event names."""
    if not events.num_rows:
        return
    bad = np.flatnonzero(off_screen(*on_screen(events, screens)))
    if bad.size:
        row = int(bad[0])
        x, y = events["x"][row].as_py(), events["y"][row].as_py()
        raise BundleError(
            Reason.OFF_SCREEN,
            f"{bad.size} event(s) put the pointer outside the monitor they name, first "
            f"at seq {row}: ({x}, {y})",
            member=S.EVENTS,
        )


def check_tables(
    manifest: dict[str, Any],
    minor: int,
    files: dict[str, dict[str, Any]],
    events: pa.Table,
    shots: pa.Table,
    frame_names: list[str] | None,
) -> None:
    counts = manifest["counts"]
    if events.num_rows != counts["events"]:
        raise BundleError(
            Reason.COUNT_MISMATCH,
            f"events.parquet has {events.num_rows} rows, manifest counts {counts['events']}",
            member=S.EVENTS,
        )
    if shots.num_rows != counts["screenshots"]:
        raise BundleError(
            Reason.COUNT_MISMATCH,
            f"screenshots.parquet has {shots.num_rows} "
            f"rows, manifest counts {counts['screenshots']}",
            member=S.SCREENSHOTS,
        )
    seq = events["seq"].to_numpy()
    if seq.size and not np.array_equal(seq, np.arange(seq.size, dtype=seq.dtype)):
        bad = int(np.argmax(seq != np.arange(seq.size, dtype=seq.dtype)))
        raise BundleError(
            Reason.SEQ_GAP,
            f"seq is not 0..{seq.size - 1} in order: row {bad} has seq {int(seq[bad])}",
            member=S.EVENTS,
        )
    lo, hi = _ts_bounds(manifest)
    _check_window(events, S.EVENTS, lo, hi)
    _check_window(shots, S.SCREENSHOTS, lo, hi)
    _check_order(events)
    _check_pointer(events, manifest["screens"])
    if minor <= S.FORMAT_MINOR and events.num_rows:
        unknown = pc.unique(
            pc.filter(
                events["kind"],
                pc.invert(pc.is_in(events["kind"], value_set=pa.array(S.EVENT_KINDS))),
            )
        ).to_pylist()
        if unknown:
            raise BundleError(
                Reason.UNKNOWN_KIND, f"unknown event kind(s) {unknown[:5]}", member=S.EVENTS
            )

    ids = shots["screenshot_id"]
    if len(pc.unique(ids)) != len(ids):
        raise BundleError(
            Reason.DUPLICATE_SCREENSHOT,
            "screenshot_id repeats in screenshots.parquet",
            member=S.SCREENSHOTS,
        )
    bundle_id = manifest["bundle_id"]
    for sid in ids.to_pylist():
        if not S.is_scoped_id(bundle_id, sid):
            raise BundleError(
                Reason.UNSCOPED_ID,
                f"screenshot_id {sid!r} is not scoped to its bundle ({bundle_id}-<n>)",
                member=S.SCREENSHOTS,
            )
    suffix = "." + manifest["frame_format"]  # a frame's member is frame_member(sid, fmt)
    frame_files = {p for p in files if p.startswith(S.FRAMES_DIR)}
    for sid, sha, size in zip(
        ids.to_pylist(), shots["sha256"].to_pylist(), shots["bytes"].to_pylist(), strict=True
    ):
        member = S.FRAMES_DIR + sid + suffix
        entry = files.get(member)
        if entry is None:
            raise BundleError(
                Reason.MISSING_MEMBER,
                f"frame of screenshot {sid} is not in the bundle",
                member=member,
            )
        if entry["sha256"] != sha or entry["bytes"] != size:
            raise BundleError(
                Reason.CHECKSUM_MISMATCH,
                f"screenshots.parquet row {sid} disagrees with the manifest on its frame",
                member=member,
            )
    if len(frame_files) != len(ids):
        raise BundleError(
            Reason.COUNT_MISMATCH,
            f"{len(frame_files)} frame files but {len(ids)} screenshot rows",
            member=S.SCREENSHOTS,
        )
    if frame_names is not None and len(frame_names) != len(ids):
        raise BundleError(Reason.COUNT_MISMATCH, "frame members and screenshot rows differ")

    referenced = pc.drop_null(events["screenshot_id"])
    if len(referenced):
        dangling = pc.filter(referenced, pc.invert(pc.is_in(referenced, value_set=ids)))
        if len(dangling):
            raise BundleError(
                Reason.DANGLING_SCREENSHOT,
                f"{len(dangling)} event(s) reference "
                f"screenshots that do not exist, e.g. {dangling[0]}",
                member=S.EVENTS,
            )
