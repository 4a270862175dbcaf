"""One hostile bundle per reason code: each is rejected with exactly that reason, and
the reader writes nothing outside the folder it was given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bundlekit import explode, write_small
from tests.hostile_cases import CASES, LOADER_ONLY
from worktape.core.bundle import BundleError, Reason, read_bundle

# what lies past the first frame, a reader that skips frames cannot see
SEEN_ONLY_IN_FRAMES = {
    Reason.TRUNCATED,
    Reason.TRAILING_DATA,
    Reason.TOO_LARGE,
    Reason.MISSING_MEMBER,
    Reason.CHECKSUM_MISMATCH,
    Reason.LINK_MEMBER,
    Reason.SPECIAL_MEMBER,
    Reason.UNLISTED_MEMBER,
    Reason.SIZE_MISMATCH,
    Reason.DUPLICATE_MEMBER,
    Reason.BAD_MEMBER_NAME,
    Reason.ABSOLUTE_PATH,
    Reason.PARENT_PATH,
    Reason.TOO_MANY_MEMBERS,
}


def test_every_reader_reason_has_a_hostile_case() -> None:
    covered = {reason for reason, _, _ in CASES.values()}
    assert set(Reason) - LOADER_ONLY - covered == set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_bundle_is_rejected_with_its_reason(name: str, tmp_path: Path) -> None:
    reason, build, limits = CASES[name]
    good = write_small(tmp_path / "good.tar").path
    raw = good.read_bytes()
    manifest, members = explode(good)
    bad = tmp_path / "bad.tar"
    bad.write_bytes(build(manifest, members, raw))
    out = tmp_path / "extract"
    out.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    for mode, dictionary in (("verify", False), ("extract", False), ("skip", True)):
        try:
            read_bundle(bad, frames=mode, extract_to=out, limits=limits, dictionary=dictionary)  # type: ignore[arg-type]  # modes from a parametrize
        except BundleError as err:
            assert err.message
            if mode == "skip" and reason in SEEN_ONLY_IN_FRAMES:
                continue  # rejected for the first fault visible before the frames
            assert err.reason is reason, (mode, err)
        else:
            # a head-only read stops at the first frame and cannot see faults past it
            assert mode == "skip" and reason in SEEN_ONLY_IN_FRAMES, mode
    # nothing was written anywhere but the extract folder, and nothing through a link
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    for p in out.rglob("*"):
        assert not p.is_symlink()
        assert p.resolve().is_relative_to(out.resolve())


def test_reason_round_trips_through_json(tmp_path: Path) -> None:
    err = BundleError(Reason.SEQ_GAP, "row 3 has seq 4", member="events.parquet")
    assert json.loads(json.dumps(err.to_dict()))["reason"] == "seq_gap"


def test_manifest_schema_is_2020_12_and_the_compiled_check_agrees(tmp_path: Path) -> None:
    """The reader validates with a compiled (draft-07 compatible) copy of the schema for
    speed; the documented schema is 2020-12. Both must judge manifests alike."""
    import jsonschema

    from worktape.core.bundle.reader import manifest_schema

    schema = manifest_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    good, _ = explode(write_small(tmp_path / "g.tar").path)
    variants = [good]
    for field in ("consent", "files", "screens"):
        variants.append({k: v for k, v in good.items() if k != field})
    variants.append({**good, "bundle_id": "../evil"})
    variants.append({**good, "started_at": "yesterday"})
    variants.append({**good, "frame_format": "gif"})
    entry = {"path": "x", "bytes": 1, "sha256": "0" * 64}
    for bad in (
        {"bytes": -1},
        {"bytes": True},
        {"bytes": 1.5},
        {"bytes": 2.0},  # an integer-valued number: JSON Schema takes it
        {"bytes": "1"},
        {"path": ""},
        {"path": "p" * 256},
        {"path": 7},
        {"sha256": "0" * 63},
        {"sha256": "A" * 64},
        {"extra": "kept"},  # other properties are allowed
    ):
        variants.append({**good, "files": [*good["files"], {**entry, **bad}]})
    variants.append({**good, "files": [*good["files"], {"path": "x", "bytes": 1}]})
    variants.append({**good, "files": [*good["files"], "x"]})
    variants.append({**good, "files": {"path": "x"}})
    from worktape.core.bundle.manifest import parse_manifest

    for manifest in variants:
        by_jsonschema = jsonschema.Draft202012Validator(schema).is_valid(manifest)
        try:
            parse_manifest(json.dumps(manifest).encode())
            compiled = True
        except BundleError:
            compiled = False
        assert by_jsonschema == compiled, manifest
