"""The agent's journal (no Arrow) and the writer that seals it: what the laptop wrote is
what the bundle holds, whether the agent closed the bundle or crashed."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.bundlekit import CONSENT, SCREENS, T0
from worktape.core.bundle import BundleWriter, read_bundle
from worktape.core.bundle.journal import BundleJournal, close_time, from_us, to_us


def journal(tmp_path: Path, bundle_id: str = "bjournal01") -> BundleJournal:
    return BundleJournal(
        tmp_path / f"{bundle_id}.tar",
        bundle_id=bundle_id,
        device_id="dj",
        contributor_id="cj",
        started_at=T0,
        screens=SCREENS,
        consent=CONSENT,
        utc_offset_minutes=60,
    )


def record(j: BundleJournal, n: int = 30) -> None:
    t = T0
    for i in range(n):
        t += timedelta(seconds=1)
        if i % 10 == 0:
            sid = f"{j.bundle_id}-{i:06d}"
            j.add_frame(
                screenshot_id=sid,
                ts=t,
                monitor=1,
                width=2,
                height=2,
                trigger="keyframe",
                data=f"f{i}".encode(),
                phash="0f0f0f0f0f0f0f0f",
            )
            j.add_event(t, "screenshot", screenshot_id=sid, monitor=1)
        j.add_event(t, "key_down", key="é", app="xterm", window_title="naïve — ü")
        j.add_event(t, "scroll", x=1, y=2, dx=0, dy=-1, monitor=1)
        j.add_event(t, "key_up", key=None, redacted=True, detail="email")
        if i in (9, 19):
            j.checkpoint()


def test_microseconds_round_trip_exactly() -> None:
    t = T0 + timedelta(microseconds=123457)
    assert from_us(to_us(t)) == t


def test_a_closed_journal_seals_to_what_was_recorded(tmp_path: Path) -> None:
    j = journal(tmp_path)
    record(j)
    end = T0 + timedelta(minutes=5)
    work = j.close(end)
    assert close_time(work) == end
    w, last = BundleWriter.recover(work)  # type: ignore[misc]  # recover returns a pair here
    assert last == T0 + timedelta(seconds=30)
    sealed = w.seal(close_time(work) or last)
    b = read_bundle(sealed.path)  # verifies the contract, frames included
    assert not work.exists()
    assert b.events.num_rows == 30 * 3 + 3 and b.screenshots.num_rows == 3
    rows = b.events.to_pylist()
    assert [r["seq"] for r in rows] == list(range(len(rows)))
    kd = next(r for r in rows if r["kind"] == "key_down")
    assert kd["key"] == "é" and kd["window_title"] == "naïve — ü" and not kd["redacted"]
    sc = next(r for r in rows if r["kind"] == "scroll")
    assert (sc["dx"], sc["dy"], sc["app"]) == (0, -1, None)  # a zero is kept, a null stays
    ku = next(r for r in rows if r["kind"] == "key_up")
    assert ku["key"] is None and ku["redacted"] and ku["detail"] == "email"
    assert b.manifest["utc_offset_minutes"] == 60 and b.manifest["ended_at"].startswith(
        "2026-11-02T09:05:00"
    )


def test_a_crash_keeps_the_closed_chunks_and_whole_frames(tmp_path: Path) -> None:
    j = journal(tmp_path)
    record(j)  # 10 s after the second checkpoint are still in memory
    (j.work_dir / "frames.jsonl").open("a").write('{"screenshot_id": "bjournal01-0000')
    (j.work_dir / "events-00003.jsonl.tmp").write_text('{"ts": 1')  # a write cut short
    # the process dies: only the disk is left
    w, last = BundleWriter.recover(j.work_dir)  # type: ignore[misc]  # recover returns a pair here
    b = read_bundle(w.seal(last).path)
    assert b.events.num_rows == 20 * 3 + 2  # two chunks; the frame at 21 s lost its event
    assert b.screenshots.num_rows == 3
    assert b.manifest["ended_at"].startswith("2026-11-02T09:00:21")  # the last frame


def test_a_corrupt_chunk_is_dropped_not_sealed(tmp_path: Path) -> None:
    j = journal(tmp_path)
    record(j, n=20)
    (j.work_dir / "events-00001.jsonl").write_text("not json\n")
    w, last = BundleWriter.recover(j.work_dir)  # type: ignore[misc]  # recover returns a pair here
    b = read_bundle(w.seal(last).path)
    assert b.events.num_rows == 10 * 3 + 1  # chunk 2, less the dangling frame event


def test_unknown_fields_and_kinds_are_refused(tmp_path: Path) -> None:
    j = journal(tmp_path)
    with pytest.raises(ValueError, match="unknown event kind"):
        j.add_event(T0, "teleport")
    with pytest.raises(ValueError, match="unknown event fields"):
        j.add_event(T0, "key_down", keycode=12)
    with pytest.raises(ValueError, match="trigger"):
        j.add_frame(screenshot_id="x", ts=T0, monitor=1, width=1, height=1, trigger="now", data=b"")


def test_the_journal_side_never_loads_arrow() -> None:
    code = (
        "import sys; import worktape.core.bundle.journal, capture_agent.recorder, "
        "capture_agent.agent; "
        "bad = sorted(m for m in ('pyarrow', 'numpy', 'boto3', 'botocore') if m in sys.modules); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_journal_closed_after_a_crash_ends_at_its_last_event(tmp_path: Path) -> None:
    from capture_agent.courier import seal_closed
    from worktape.core.bundle.journal import mark_closed

    spool = tmp_path / "spool"
    (spool / "open").mkdir(parents=True)
    j = BundleJournal(
        spool / "open" / "bcrashed01.tar",
        bundle_id="bcrashed01",
        device_id="dj",
        contributor_id="cj",
        started_at=T0,
        screens=SCREENS,
        consent=CONSENT,
    )
    record(j)
    mark_closed(j.work_dir, None)  # what the next start does with a journal left open
    (sealed,) = seal_closed(spool)
    b = read_bundle(sealed)
    assert b.manifest["ended_at"].startswith("2026-11-02T09:00:21")
    assert b.manifest["redaction"]["changed"] == {"keys_email": 20}
    assert sealed.with_suffix(".json").exists() and not j.work_dir.exists()
