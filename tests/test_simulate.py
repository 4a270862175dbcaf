"""The workday simulator writes real, verifiable bundles, deterministically, with truth."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from worktape.core.bundle import read_bundle
from worktape.core.bundle.contract import EVENT_KINDS
from worktape.core.layout import RAW, TRUTH, parse_raw_key
from worktape.core.privacy.rules import EMAIL_RE, looks_secret
from worktape.core.storage import LocalStorage
from worktape.simulate import simulate
from worktape.simulate.templates import BY_NAME, DENYLISTED


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStorage, object, list]:
    """Four people (one per role) over two short days, every bundle read once."""
    root = tmp_path_factory.mktemp("sim")
    res = simulate(str(root), contributors=4, days=2, seed=11, frames="tiny", jobs=2, hours=4)
    storage = LocalStorage(root)
    bundles = [(i.key, read_bundle(storage.root / i.key)) for i in storage.list(RAW)]
    return storage, res, bundles


def test_every_bundle_verifies_and_sits_at_its_key(team) -> None:
    _, res, bundles = team
    assert len(bundles) == res.bundles >= 4 * 2 * 4
    for key, b in bundles:
        rk = parse_raw_key(key)
        assert rk is not None and rk.bundle_id == b.bundle_id
        assert rk.device_id == b.manifest["device_id"]
        assert b.manifest["started_at"].startswith(rk.date.isoformat())
        assert b.manifest["simulated"] is True
    assert sum(b.events.num_rows for _, b in bundles) == res.events
    assert sum(b.screenshots.num_rows for _, b in bundles) == res.frames


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = simulate(
        str(tmp_path / "a"), contributors=2, days=1, seed=5, frames="tiny", jobs=1, hours=1.5
    )
    b = simulate(
        str(tmp_path / "b"), contributors=2, days=1, seed=5, frames="tiny", jobs=2, hours=1.5
    )
    sa, sb = LocalStorage(tmp_path / "a"), LocalStorage(tmp_path / "b")
    ka = {i.key: sa.head(i.key).sha256 for i in sa.list("")}
    kb = {i.key: sb.head(i.key).sha256 for i in sb.list("")}
    assert ka == kb and a == b
    # rerunning into the same place stores nothing new and says so
    again = simulate(
        str(tmp_path / "a"), contributors=2, days=1, seed=5, frames="tiny", jobs=1, hours=1.5
    )
    assert again.skipped == again.bundles == a.bundles


def test_ground_truth_describes_the_events(team) -> None:
    storage, _, bundles = team
    truth = pa.concat_tables(pq.read_table(storage.root / i.key) for i in storage.list(TRUTH))
    assert set(truth["workflow"].to_pylist()) <= set(BY_NAME)
    work = truth.filter(pc.invert(truth["is_distraction"]))
    # several workflows, each repeated, with variations
    counts = Counter(work["workflow"].to_pylist())
    assert len(counts) >= 4 and min(counts.values()) >= 3
    per_wf = Counter(
        (w, v)
        for w, v in zip(work["workflow"].to_pylist(), work["variant"].to_pylist(), strict=True)
    )
    assert len(per_wf) > len(counts)
    assert pc.any(truth["is_interrupted"]).as_py()
    assert pc.all(pc.greater(truth["ended_at"], truth["started_at"])).as_py()
    ids = truth["episode_id"].to_pylist()
    assert len(ids) == len(set(ids))
    # every episode's span is covered by events of its device
    events = pa.concat_tables(
        b.events.append_column("device_id", pa.array([b.manifest["device_id"]] * b.events.num_rows))
        for _, b in bundles
    )
    for row in truth.slice(0, 40).to_pylist():
        mask = pc.and_(
            pc.equal(events["device_id"], row["device_id"]),
            pc.and_(
                pc.greater_equal(events["ts"], row["started_at"]),
                pc.less_equal(events["ts"], row["ended_at"]),
            ),
        )
        assert pc.sum(mask).as_py() >= row["n_actions"]


def test_realistic_mix_of_events_screens_and_gaps(team) -> None:
    _, _, bundles = team
    kinds: Counter[str] = Counter()
    monitors, apps = set(), set()
    for _, b in bundles:
        kinds.update(b.events["kind"].to_pylist())
        monitors.add(len(b.manifest["screens"]))
        apps.update(a for a in b.events["app"].to_pylist() if a)
    for k in EVENT_KINDS:  # the simulator writes every kind the contract knows
        assert kinds[k] > 0, k
    assert kinds["idle_start"] == kinds["idle_end"]
    assert monitors == {1, 2}  # single- and dual-monitor people
    assert {"slack", "thunderbird", "chrome"} <= apps


def test_frames_are_taken_before_actions(team) -> None:
    _, _, bundles = team
    for _, b in bundles[:6]:
        kinds = b.events["kind"].to_pylist()
        for i, k in enumerate(kinds):
            if k == "mouse_down" and (i == 0 or kinds[i - 1] != "mouse_up"):
                prior = kinds[max(0, i - 20) : i]
                assert "screenshot" in prior


def test_presses_and_first_keys_name_the_element_they_act_on(team) -> None:
    """As the agent records it (format 1.1): a press names the element under the pointer,
    whose bounds hold it; a typed run's first key names the focused element; nothing
    else names one, and some presses name none (an app that exposes nothing there)."""
    _, _, bundles = team
    roles: Counter[str] = Counter()
    unnamed_presses = key_downs = named_keys = 0
    for _, b in bundles:
        ev = b.events
        named = ev.filter(pc.is_valid(ev["element_role"]))
        assert set(named["kind"].to_pylist()) <= {"mouse_down", "key_down"}
        for r in named.to_pylist():
            roles[r["element_role"]] += 1
            assert r["element_name"] is not None and r["element_width"] > 0
            assert r["element_height"] > 0
            if r["kind"] == "mouse_down":
                assert r["element_x"] <= r["x"] < r["element_x"] + r["element_width"]
                assert r["element_y"] <= r["y"] < r["element_y"] + r["element_height"]
        kinds = ev["kind"].to_pylist()
        unnamed_presses += sum(
            1
            for k, role in zip(kinds, ev["element_role"].to_pylist(), strict=True)
            if k == "mouse_down" and role is None
        )
        keys = ev.filter(pc.equal(ev["kind"], "key_down"))
        key_downs += keys.num_rows
        named_keys += keys.num_rows - keys["element_role"].null_count
    assert {"push button", "entry", "link", "table cell", "terminal"} <= set(roles)
    assert unnamed_presses > 0
    assert 0 < named_keys < key_downs / 3  # a typed run's later keys name none


def test_nothing_secret_or_denylisted_in_the_bundles(team) -> None:
    _, _, bundles = team
    deny_titles = {t for _, t in DENYLISTED}
    redacted_runs = 0
    for _, b in bundles:
        ev = b.events
        titles = set(pc.unique(ev["window_title"]).to_pylist()) - {None}
        assert not titles & deny_titles
        assert not any(looks_secret(t) for t in titles), titles
        names = set(pc.unique(ev["element_name"]).to_pylist()) - {None}
        assert not any(looks_secret(n) for n in names), names
        assert "1password" not in set(ev["app"].to_pylist())
        # typed text, rebuilt from key_down events, holds no secret
        typed = "".join(
            k
            for k, kind in zip(ev["key"].to_pylist(), ev["kind"].to_pylist(), strict=True)
            if kind == "key_down" and k and len(k) == 1
        )
        assert not EMAIL_RE.search(typed)
        assert not re.search(r"\+\d{1,3} \d{3}-555-\d{4}", typed)
        red = ev.filter(ev["redacted"])
        assert red.num_rows == 0 or red["key"].null_count == red.num_rows
        redacted_runs += red.num_rows
        changed = b.manifest["redaction"]["changed"]
        assert sum(v for k, v in changed.items() if k.startswith("keys_")) == red.num_rows
    assert redacted_runs > 0  # the simulation does type secrets, and they were caught


def test_frames_modes(tmp_path: Path) -> None:
    none = simulate(
        str(tmp_path / "n"), contributors=1, days=1, seed=3, frames="none", jobs=1, hours=1
    )
    real = simulate(
        str(tmp_path / "r"), contributors=1, days=1, seed=3, frames="real", jobs=1, hours=1
    )
    assert none.frames == 0 and real.frames > 100
    assert none.events > 1000
    s = LocalStorage(tmp_path / "r")
    key = next(i.key for i in s.list(RAW))
    b = read_bundle(s.root / key, frames="extract", extract_to=tmp_path / "x")
    sid = b.screenshots["screenshot_id"][0].as_py()
    from PIL import Image

    img = Image.open(tmp_path / "x" / "screenshots" / f"{sid}.webp")
    assert img.size == (b.screenshots["width"][0].as_py(), b.screenshots["height"][0].as_py())
