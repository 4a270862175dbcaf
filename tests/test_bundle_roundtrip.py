"""Writer -> reader round trips: what goes in comes out, typed, whatever the content."""

from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bundlekit import CONSENT, SCREENS, T0, assemble, edit_table, explode, refresh_files
from worktape.core.bundle import BundleWriter, read_bundle
from worktape.core.bundle.errors import BundleError, Reason
from worktape.core.bundle.schema import EVENT_KINDS, EVENTS_SCHEMA

text = st.one_of(st.none(), st.text(max_size=40))
small_int = st.one_of(st.none(), st.integers(-5000, 10000))
event = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([k for k in EVENT_KINDS if k != "screenshot"]),
        # a pointer lies on the monitor it names (a contract rule): SCREENS is one monitor
        "x": st.one_of(st.none(), st.integers(0, 1920)),
        "y": st.one_of(st.none(), st.integers(0, 1080)),
        "dx": small_int,
        "dy": small_int,
        "monitor": st.one_of(st.none(), st.just(1)),
        "button": st.one_of(st.none(), st.sampled_from(["left", "right", "middle"])),
        "key": text,
        "modifiers": st.one_of(st.none(), st.sampled_from(["ctrl", "ctrl+shift"])),
        "app": text,
        "window_title": text,
        "redacted": st.booleans(),
        "detail": text,
        "gap_us": st.integers(0, 2_000_000),
    }
)
frame = st.fixed_dictionaries(
    {
        "data": st.binary(min_size=0, max_size=300),
        "trigger": st.sampled_from(["action", "keyframe", "focus_change"]),
        "width": st.integers(1, 4000),
        "height": st.integers(1, 3000),
        "phash": st.one_of(st.none(), st.text("0123456789abcdef", min_size=16, max_size=16)),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(event, max_size=60),
    frames=st.lists(frame, max_size=6),
    batch=st.integers(1, 16),
    columnar=st.booleans(),
)
def test_roundtrip(events: list[dict], frames: list[dict], batch: int, columnar: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b.tar"
        t = T0
        rows = []
        with BundleWriter(
            out,
            bundle_id="bprop",
            device_id="dprop",
            contributor_id="cprop",
            started_at=T0,
            screens=SCREENS,
            consent=CONSENT,
            batch_rows=batch,
        ) as w:
            sids = []
            for f in frames:
                t += timedelta(milliseconds=100)
                sid = w.add_frame(
                    ts=t,
                    monitor=1,
                    width=f["width"],
                    height=f["height"],
                    trigger=f["trigger"],
                    data=f["data"],
                    phash=f["phash"],
                )
                sids.append(sid)
                rows.append({"ts": t, "kind": "screenshot", "screenshot_id": sid})
            for e in events:
                e = dict(e)
                t += timedelta(microseconds=e.pop("gap_us"))
                rows.append({"ts": t, **e})
            if columnar and rows:
                cols = {
                    name: [r.get(name) for r in rows]
                    for name in EVENTS_SCHEMA.names
                    if name != "seq"
                }
                cols["redacted"] = [bool(r.get("redacted")) for r in rows]
                w.add_events(cols)
            else:
                for r in rows:
                    w.add_event(**r)
            sealed = w.seal(t + timedelta(seconds=1))

        b = read_bundle(out)
        assert b.sha256 == sealed.sha256 and b.bytes == out.stat().st_size
        assert b.events.schema == EVENTS_SCHEMA
        assert b.events["seq"].to_pylist() == list(range(len(rows)))
        got = b.events.to_pylist()
        for want, have in zip(rows, got, strict=True):
            for k, v in want.items():
                if k == "redacted":
                    v = bool(v)
                assert have[k] == v, (k, want, have)
        assert b.screenshots["screenshot_id"].to_pylist() == sids
        assert b.manifest["counts"] == {"events": len(rows), "screenshots": len(frames)}

        extract = Path(tmp) / "x"
        b2 = read_bundle(out, frames="extract", extract_to=extract)
        for sid, f in zip(sids, frames, strict=True):
            assert (extract / "screenshots" / f"{sid}.webp").read_bytes() == f["data"]
        assert b2.events.equals(b.events)

        head = read_bundle(out, frames="skip")
        assert head.events.equals(b.events)
        assert head.frames_verified is (not frames)


def test_sealing_is_deterministic(tmp_path: Path) -> None:
    from tests.bundlekit import write_small

    a = write_small(tmp_path / "a.tar")
    b = write_small(tmp_path / "b.tar")
    assert a.sha256 == b.sha256
    assert a.path.read_bytes() == b.path.read_bytes()


def test_members_small_first_manifest_first(small_bundle: Path) -> None:
    with tarfile.open(small_bundle) as tar:
        names = tar.getnames()
    assert names[:3] == ["manifest.json", "events.parquet", "screenshots.parquet"]
    assert all(n.startswith("screenshots/") for n in names[3:])


def test_reads_from_a_non_seekable_stream(small_bundle: Path) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._b = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return self._b.read(min(n, 777) if n and n > 0 else 777)

        def seekable(self) -> bool:
            return False

    b = read_bundle(Pipe(small_bundle.read_bytes()))  # type: ignore[arg-type]  # a pipe is not seekable on purpose
    assert b.events.num_rows == read_bundle(small_bundle).events.num_rows == 9


def test_newer_minor_version_loads_and_ignores_what_it_does_not_know(small_bundle: Path) -> None:
    manifest, members = explode(small_bundle)
    manifest["format_version"] = "1.7"
    manifest["future_field"] = {"anything": [1, 2]}
    edit_table(
        members,
        "events.parquet",
        lambda t: t.append_column("pressure", pa.array([0.5] * t.num_rows)),
    )
    edit_table(
        members,
        "screenshots.parquet",
        lambda t: t.append_column("ocr_text", pa.array(["hi"] * t.num_rows)),
    )
    members["accessibility.parquet"] = b"a future member, listed and checksummed"
    refresh_files(manifest, members)
    path = small_bundle.with_name("future.tar")
    path.write_bytes(assemble(manifest, members))
    b = read_bundle(path)
    assert b.format_minor == 7
    assert "pressure" not in b.events.column_names
    assert b.ignored_members == ["accessibility.parquet"]


def test_a_1_0_bundle_without_the_element_columns_still_loads(small_bundle: Path) -> None:
    """Format 1.1 added the element acted on; a 1.0 bundle lacks those columns, and its
    rows read them as null. A 1.1 bundle must have them."""
    from worktape.core.bundle.schema import EVENT_FIELDS_SINCE

    manifest, members = explode(small_bundle)
    manifest["format_version"] = "1.0"
    edit_table(members, "events.parquet", lambda t: t.drop_columns(list(EVENT_FIELDS_SINCE)))
    refresh_files(manifest, members)
    old = small_bundle.with_name("old.tar")
    old.write_bytes(assemble(manifest, members))
    b = read_bundle(old)
    assert b.events.schema == EVENTS_SCHEMA
    assert b.events["element_role"].null_count == b.events.num_rows == 9
    # read for loading (dictionary columns), its events concatenate with a 1.1 bundle's:
    # the loader commits bundles of both minors in one batch
    loaded = [read_bundle(p, dictionary=True).events for p in (old, small_bundle)]
    assert loaded[0].schema == loaded[1].schema
    assert pa.concat_tables(loaded).num_rows == 18

    manifest["format_version"] = "1.1"
    refresh_files(manifest, members)
    old.write_bytes(assemble(manifest, members))
    with pytest.raises(BundleError) as e:
        read_bundle(old)
    assert e.value.reason is Reason.BAD_SCHEMA


def test_writer_rejects_bad_ids_and_kinds(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(ValueError):
        BundleWriter(
            tmp_path / "x.tar",
            bundle_id="../evil",
            device_id="d",
            contributor_id="c",
            started_at=T0,
            screens=SCREENS,
            consent=CONSENT,
        )
    with BundleWriter(
        tmp_path / "y.tar",
        bundle_id="b1",
        device_id="d",
        contributor_id="c",
        started_at=T0,
        screens=SCREENS,
        consent=CONSENT,
    ) as w:
        with pytest.raises(ValueError):
            w.add_event(T0, "teleport")
        with pytest.raises(ValueError):
            w.add_event(T0, "key_down", password="hunter2")
    assert not (tmp_path / "y.tar").exists()
    assert not (tmp_path / "y.tar.work").exists()


def test_the_longest_ids_seal_and_read_back(tmp_path: Path) -> None:
    from tests.bundlekit import CONSENT, SCREENS, T0

    # as long as an id may be, scoped to its bundle: with ".jpeg" the name needs a pax header
    sid = "b" * 89 + "-000000"
    assert len(sid) == 96
    with BundleWriter(
        tmp_path / "long.tar",
        bundle_id="b" * 89,
        device_id="d" * 96,
        contributor_id="c" * 96,
        started_at=T0,
        screens=SCREENS,
        consent=CONSENT,
        frame_format="jpeg",
    ) as w:
        w.add_frame(
            ts=T0, monitor=1, width=1, height=1, trigger="keyframe", data=b"x", screenshot_id=sid
        )
        w.add_event(T0, "screenshot", screenshot_id=sid)
        sealed = w.seal(T0)
    b = read_bundle(sealed.path)
    assert b.screenshots["screenshot_id"].to_pylist() == [sid]


class _Stream:
    """A file that can only be read forward, like an S3 body."""

    def __init__(self, path: Path) -> None:
        self._f = path.open("rb")

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)


@pytest.mark.parametrize("frames", ["verify", "extract"])
def test_the_fast_path_and_the_tarfile_scan_agree(tmp_path: Path, frames: str) -> None:
    from tests.bundlekit import write_small

    path = write_small(tmp_path / "b.tar", n_frames=3).path
    kw = {"frames": frames}
    fast = read_bundle(path, **kw, extract_to=tmp_path / "fast" if frames == "extract" else None)
    slow = read_bundle(
        _Stream(path), **kw, extract_to=tmp_path / "slow" if frames == "extract" else None
    )
    assert fast.fast and not slow.fast
    assert fast.manifest == slow.manifest and fast.manifest_text == slow.manifest_text
    assert fast.events.equals(slow.events) and fast.screenshots.equals(slow.screenshots)
    assert (fast.sha256, fast.bytes) == (slow.sha256, slow.bytes)
    assert fast.frame_offsets == slow.frame_offsets and len(fast.frame_offsets) == 3
    data = path.read_bytes()
    for member, at in fast.frame_offsets.items():  # each offset is where its image starts
        sid = member.removeprefix("screenshots/").removesuffix(".webp")
        row = fast.screenshots.filter(pc.equal(fast.screenshots["screenshot_id"], sid))
        size = row["bytes"][0].as_py()
        assert hashlib.sha256(data[at : at + size]).hexdigest() == row["sha256"][0].as_py()
    if frames == "extract":
        names = sorted(p.name for p in (tmp_path / "fast" / "screenshots").iterdir())
        assert names == sorted(p.name for p in (tmp_path / "slow" / "screenshots").iterdir())
        assert len(names) == 3
