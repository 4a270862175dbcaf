"""The training formats of a published version, read back with the libraries people
train with: Hugging Face Parquet through `datasets.load_dataset`, WebDataset tars
through `webdataset`; the splits by contributor; `worktape export`; and erasure.

One small simulated night (five contributors, tiny frames) is loaded, built, gated and
published once per module through the real DAGs, with shards small enough that a split
takes several and split fractions under which each split has a contributor. Tests that
change the state work on a copy of it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.nightkit import DAY, worktape_env
from worktape.publish.formats.splits import SplitError, parse_splits, split_of
from worktape.simulate import simulate

pytestmark = pytest.mark.slow
SPLITS = "train=0.6,validation=0.3,test=0.1"
SHARD_BYTES = 40_000
FORMAT_ENV = {"WORKTAPE_DATASET_SHARD_BYTES": str(SHARD_BYTES), "WORKTAPE_DATASET_SPLITS": SPLITS}


@pytest.fixture(scope="module")
def night(airflow_home: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from worktape.pipeline.runner import run_night

    root = tmp_path_factory.mktemp("formats-night")
    simulate(
        str(root / "bucket"),
        contributors=5,
        days=1,
        seed=5,
        frames="tiny",
        start=DAY,
        jobs=1,
        hours=0.6,
    )
    with worktape_env(root), _env(FORMAT_ENV):
        results = run_night(DAY, airflow_home)
        assert all(r.ok for r in results), results
    return root


class _env:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc: object) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def state(night: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "state"
    shutil.copytree(night, root)
    with worktape_env(root), _env(FORMAT_ENV):
        yield root


def latest(root: Path) -> Path:
    version = (root / "bucket" / "published" / "LATEST").read_text().strip()
    return root / "bucket" / "published" / version


def split_names() -> list[str]:
    return [n for n, _ in parse_splits(SPLITS)]


def load_hf(folder: Path, cache: Path, pattern: str = "{split}-*.parquet") -> dict[str, Any]:
    """Every split of the Parquet shards in `folder`, through datasets.load_dataset."""
    os.environ["HF_DATASETS_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"
    import datasets

    files = {s: sorted(str(p) for p in folder.glob(pattern.format(split=s))) for s in split_names()}
    return dict(
        datasets.load_dataset(
            "parquet", data_files={s: f for s, f in files.items() if f}, cache_dir=str(cache)
        )
    )


def warehouse_steps(root: Path) -> dict[str, dict[str, Any]]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            """
            SELECT s.step_id, s.episode_id, s.step_index - 1 AS index, s.contributor_id,
                   s.action_code, s.step_text, s.action_type, s.app, s.window_title,
                   s.frame_before_id,
                   s.frame_after_id, strftime(s.work_date, '%Y-%m-%d') AS work_date
            FROM marts.steps AS s
            """
        ).fetchall()
        cols = [d[0] for d in con.description]
    finally:
        con.close()
    return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}


def frames_index(version: Path) -> dict[str, dict[str, Any]]:
    rows = duckdb.connect().execute(f"SELECT * FROM '{version}/frames.parquet'").fetchall()
    names = ["screenshot_id", "bundle_id", "shard", "member", "offset", "bytes", "sha256"]
    return {r[0]: dict(zip(names, r, strict=True)) for r in rows}


def frame_bytes(root: Path, row: dict[str, Any]) -> bytes:
    with (root / "bucket" / "published" / row["shard"]).open("rb") as f:
        f.seek(row["offset"])
        return f.read(row["bytes"])


def test_hf_parquet_loads_with_decoded_images(state: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    version = latest(state)
    files = sorted((version / "hf").iterdir())
    names = [p.name for p in files]
    # several shards a split at this size, named as the Hub names them
    assert any(n.endswith("-of-00002.parquet") or "-00001-of-" in n for n in names), names
    for s in split_names():
        mine = [n for n in names if n.startswith(f"{s}-")]
        assert mine and all(n.endswith(f"-of-{len(mine):05d}.parquet") for n in mine), names
    # the shards keep near their target (one row may take a shard past it)
    assert max(p.stat().st_size for p in files) < 3 * SHARD_BYTES

    loaded = load_hf(version / "hf", tmp_path / "cache")
    steps = warehouse_steps(state)
    index = frames_index(version)
    seen: set[str] = set()
    images = 0
    for split, ds in loaded.items():
        assert ds.features["image"].__class__.__name__ == "Image"
        for row in ds:
            want = steps[row["step_id"]]
            seen.add(row["step_id"])
            assert row["task_id"] == want["episode_id"] and row["index"] == want["index"]
            assert row["contributor_id"] == want["contributor_id"]
            assert split_of(row["contributor_id"], parse_splits(SPLITS)) == split
            # the action in words, and its code (both as the record has them)
            assert row["action"] == want["step_text"] and row["code"] == want["action_code"]
            assert row["action_type"] == want["action_type"]
            assert row["app"] == want["app"] and row["window_title"] == want["window_title"]
            assert row["work_date"] == want["work_date"] and row["instruction"]
            sid = want["frame_before_id"]
            if sid is None or sid not in index:
                assert row["image"] is None and row["image_ref"] is None
                continue
            # the screen before the action, decoded, pixel for pixel the published frame
            image = row["image"]
            assert isinstance(image, Image.Image) and image.size == (32, 18)
            published = Image.open(io.BytesIO(frame_bytes(state, index[sid])))
            assert np.array_equal(np.asarray(image), np.asarray(published))
            assert row["image_ref"] == f"{index[sid]['shard']}#{index[sid]['member']}"
            images += 1
    assert seen == set(steps)  # every step, once
    assert images > 100
    # the rows of each split are the records in order: a step's row follows its episode's
    jsonl = [json.loads(line) for line in (version / "dataset" / "episodes.jsonl").open()]
    order = [st["step_id"] for r in jsonl for st in r["traj"]]
    for ds in loaded.values():
        ids = ds["step_id"]
        assert ids == [i for i in order if i in set(ids)]


def test_webdataset_reads_the_tars(state: Path, tmp_path: Path) -> None:
    import webdataset as wds

    version = latest(state)
    loaded = load_hf(version / "hf", tmp_path / "cache")
    hf = {}
    for ds in loaded.values():
        for row in ds.cast_column("image", type(ds.features["image"])(decode=False)):
            hf[row["step_id"]] = row
    index = frames_index(version)
    total = 0
    for split in split_names():
        urls = sorted(str(p) for p in (version / "wds").glob(f"{split}-*.tar"))
        assert urls, split
        samples = list(wds.WebDataset(urls, shardshuffle=False).decode("pil"))
        raw = list(wds.WebDataset(urls, shardshuffle=False))  # undecoded: the bytes
        assert [s["__key__"] for s in samples] == [s["__key__"] for s in raw]
        assert [s["__key__"] for s in samples] == list(
            loaded[split]["step_id"]
        )  # the same rows, in the same order, as the Parquet split
        for sample, undecoded in zip(samples, raw, strict=True):
            row = hf[sample["__key__"]]
            doc = sample["json"]
            assert doc["step_id"] == sample["__key__"] and doc["contributor_id"]
            for k, v in doc.items():
                assert row[k] == v, k
            if row["image"] is None:
                assert "webp" not in sample
            else:
                assert sample["webp"].size == (32, 18)
                assert undecoded["webp"] == row["image"]["bytes"]
                sid = row["image"]["path"].removesuffix(".webp")
                assert hashlib.sha256(undecoded["webp"]).hexdigest() == index[sid]["sha256"]
        total += len(samples)
        # fixed members: no owner, no time
        with tarfile.open(urls[0]) as tar:
            assert {(m.mtime, m.uid, m.gid, m.uname) for m in tar.getmembers()} == {(0, 0, 0, "")}
    assert total == len(hf)


def test_splits_are_disjoint_by_contributor_and_in_the_card(state: Path, tmp_path: Path) -> None:
    version = latest(state)
    loaded = load_hf(version / "hf", tmp_path / "cache")
    people = {s: set(ds["contributor_id"]) for s, ds in loaded.items()}
    assert set(people) == set(split_names())  # each split has someone at these fractions
    for a in people:
        for b in people:
            assert a == b or not people[a] & people[b], (a, b)
    assert sum(len(p) for p in people.values()) == 5

    card = json.loads((version / "card.json").read_text())
    assert [s["name"] for s in card["splits"]] == split_names()
    for s in card["splits"]:
        ds = loaded[s["name"]]
        assert s["contributors"] == len(people[s["name"]])
        assert s["steps"] == ds.num_rows and s["episodes"] == len(set(ds["task_id"]))
        assert s["images"] == sum(r is not None for r in ds["image_ref"])
        assert s["hf_shards"] == len(list((version / "hf").glob(f"{s['name']}-*")))
        assert s["wds_shards"] == len(list((version / "wds").glob(f"{s['name']}-*")))
    assert card["formats"]["shard_bytes"] == SHARD_BYTES
    text = (version / "CARD.md").read_text()
    assert "## Splits" in text and "## Training formats" in text
    for s in card["splits"]:
        assert f"| {s['name']} | {s['fraction']:g} | {s['contributors']} | {s['episodes']:,} |" in (
            text
        )

    # the assignment is the contributor's id alone: the same for any version, any order
    splits = parse_splits(SPLITS)
    for s, ids in people.items():
        assert {split_of(c, splits) for c in ids} == {s}
    assert split_of("someone", splits) == split_of("someone", splits)


def test_the_same_records_give_the_same_bytes(state: Path, tmp_path: Path) -> None:
    """The formats written again from the version's records, into another folder: the
    same files, byte for byte (the version's digest covers them)."""
    import pyarrow.parquet as pq

    from worktape.core.storage import LocalStorage
    from worktape.publish.formats import FormatOptions, write_formats

    version = latest(state)
    again = tmp_path / "again"
    again.mkdir()
    shutil.copytree(version / "dataset", again / "dataset")
    card = json.loads((version / "card.json").read_text())
    for k in ("splits", "split_method", "formats"):
        card.pop(k)
    (again / "card.json").write_text(json.dumps(card))
    index = pq.read_table(version / "frames.parquet")
    written = write_formats(
        again,
        LocalStorage(state / "bucket"),
        index,
        FormatOptions.of(SHARD_BYTES, SPLITS),
    )
    assert written.files == sorted(
        str(p.relative_to(version)) for d in ("hf", "wds") for p in (version / d).iterdir()
    )
    for rel in [*written.files, "card.json", "CARD.md"]:
        assert (again / rel).read_bytes() == (version / rel).read_bytes(), rel
    # a frame read is a whole shard, once each: the records come in bundle order
    assert 0 < written.shard_reads <= len({r["shard"] for r in index.to_pylist()})
    manifest = json.loads((version / "manifest.json").read_text())
    assert set(written.files) <= set(manifest["files"])
    # nothing of the Parquet files' metadata says when they were written
    meta = pq.ParquetFile(version / written.files[0]).metadata
    assert set(meta.metadata) == {b"ARROW:schema", b"huggingface"}


def worktape(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worktape.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_export_each_format_to_a_folder(state: Path, tmp_path: Path) -> None:
    import webdataset as wds

    version = latest(state)
    out = {f: tmp_path / f for f in ("hf", "wds", "agentnet")}
    for fmt, folder in out.items():
        r = worktape("export", "--format", fmt, "--out", str(folder))
        assert r.returncode == 0, r.stderr
        assert f"exported version {version.name} as {fmt}" in r.stdout

    # hf: the shards, the card as the README whose configs name the splits
    assert sorted(p.name for p in out["hf"].glob("*.parquet")) == sorted(
        p.name for p in (version / "hf").iterdir()
    )
    for p in out["hf"].glob("*.parquet"):
        assert p.read_bytes() == (version / "hf" / p.name).read_bytes()
    os.environ["HF_DATASETS_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"
    import datasets

    by_readme = datasets.load_dataset(str(out["hf"]), cache_dir=str(tmp_path / "cache"))
    assert set(by_readme) == set(split_names())
    assert sum(d.num_rows for d in by_readme.values()) == len(warehouse_steps(state))
    assert "## Splits" in (out["hf"] / "README.md").read_text()
    assert not list(out["hf"].glob(".*"))  # a plain folder: no storage metadata in it

    # wds: the tars, readable
    tars = sorted(str(p) for p in out["wds"].glob("*.tar"))
    assert len(tars) == len(list((version / "wds").iterdir()))
    n = sum(1 for _ in wds.WebDataset(tars, shardshuffle=False))
    assert n == len(warehouse_steps(state))
    assert (out["wds"] / "CARD.md").exists()

    # agentnet: the records, with every frame they name in a shard beside them, where
    # the exported index says (and only frames of the version's index)
    records = [json.loads(line) for line in (out["agentnet"] / "episodes.jsonl").open()]
    assert (out["agentnet"] / "episodes.jsonl").read_bytes() == (
        version / "dataset" / "episodes.jsonl"
    ).read_bytes()
    exported = frames_index(out["agentnet"])
    assert set(exported) == set(frames_index(version))
    for r in records:
        for step in r["traj"]:
            for ref in (step["image"], step["next_image"]):
                if ref:
                    shard, member = ref.split("#")
                    with tarfile.open(out["agentnet"] / shard) as tar:
                        f = tar.extractfile(member)
                        assert f is not None
                        data = f.read()
                    sid = member.removeprefix("screenshots/").removesuffix(".webp")
                    row = exported[sid]
                    with (out["agentnet"] / shard).open("rb") as f2:
                        f2.seek(row["offset"])
                        assert f2.read(row["bytes"]) == data
                    assert hashlib.sha256(data).hexdigest() == row["sha256"]

    # a version by name; errors are one clear line
    r = worktape(
        "export", "--format", "wds", "--out", str(tmp_path / "v"), "--version", version.name
    )
    assert r.returncode == 0, r.stderr
    for args, says in [
        (("--format", "hf", "--out", str(out["hf"])), "is not empty"),
        (("--format", "hf", "--out", str(tmp_path / "x"), "--version", "nope"), "no published"),
        (("--format", "csv", "--out", str(tmp_path / "y")), "invalid choice"),
    ]:
        r = worktape("export", *args)
        assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and says in lines[0], r.stderr


@pytest.mark.s3
def test_export_to_s3(state: Path, tmp_path: Path, moto_server: str, s3_bucket: str) -> None:
    from worktape.core.storage.s3 import S3Storage

    env = {"WORKTAPE_S3_ENDPOINT_URL": moto_server}
    for fmt in ("hf", "wds"):
        r = worktape("export", "--format", fmt, "--out", f"s3://{s3_bucket}/{fmt}", env=env)
        assert r.returncode == 0, r.stderr
    s3 = S3Storage(s3_bucket, endpoint_url=moto_server)
    version = latest(state)
    for fmt in ("hf", "wds"):
        keys = {i.key.removeprefix(f"{fmt}/") for i in s3.list(f"{fmt}/")}
        shards = {p.name for p in (version / fmt).iterdir()}
        assert shards < keys and "card.json" in keys
        for name in shards:
            assert s3.get_bytes(f"{fmt}/{name}") == (version / fmt / name).read_bytes()
    r = worktape("export", "--format", "hf", "--out", f"s3://{s3_bucket}/hf", env=env)
    assert r.returncode != 0 and "is not empty" in r.stderr and "Traceback" not in r.stderr


def test_export_writes_the_formats_of_a_version_published_before_them(
    state: Path, tmp_path: Path
) -> None:
    """A version from before the formats (no hf/, wds/, splits in its card) is exported
    all the same: the formats are written from its records on the way out, with the
    default splits."""
    version = latest(state)
    shutil.rmtree(version / "hf")
    shutil.rmtree(version / "wds")
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["files"] = {
        k: v for k, v in manifest["files"].items() if not k.startswith(("hf/", "wds/"))
    }
    (version / "manifest.json").write_text(json.dumps(manifest))
    card = json.loads((version / "card.json").read_text())
    for k in ("splits", "split_method", "formats"):
        card.pop(k)
    (version / "card.json").write_text(json.dumps(card))

    r = worktape("export", "--format", "hf", "--out", str(tmp_path / "old"))
    assert r.returncode == 0, r.stderr
    loaded = load_hf(tmp_path / "old", tmp_path / "cache", pattern="{split}-*.parquet")
    default = parse_splits("train=0.8,validation=0.1,test=0.1")
    for split, ds in loaded.items():
        assert {split_of(c, default) for c in ds["contributor_id"]} == {split}
    assert sum(d.num_rows for d in loaded.values()) == len(warehouse_steps(state))
    assert json.loads((tmp_path / "old" / "card.json").read_text())["splits"]


def test_an_erasure_removes_their_rows_and_images_from_hf_and_wds(
    state: Path, tmp_path: Path
) -> None:
    """Tiny simulated frames of two people can be the same bytes (the same screen), so
    an image is known by its frame id, and each embedded image must be the frame its id
    names in the rewritten frames index."""
    import pyarrow.parquet as pq

    from worktape.pipeline.tasks import forget_contributor

    version = latest(state)
    # someone in a split with another contributor, so that the split stays
    before = load_hf(version / "hf", tmp_path / "before")
    person = next(
        c
        for ds in before.values()
        if len(set(ds["contributor_id"])) > 1
        for c in ds["contributor_id"]
    )
    con = duckdb.connect(str(state / "warehouse.duckdb"), read_only=True)
    their_frames = {
        r[0]
        for r in con.execute(
            "SELECT screenshot_id FROM raw.screenshots JOIN raw.bundles USING (bundle_id) "
            "WHERE contributor_id = ?",
            [person],
        ).fetchall()
    }
    con.close()
    their_steps = {
        r["step_id"] for ds in before.values() for r in ds if r["contributor_id"] == person
    }
    old_files = {p.name for p in (version / "hf").iterdir()}
    assert their_steps and their_frames

    record = forget_contributor(person)
    assert version.name in record["versions_rewritten"]
    index = frames_index(version)
    assert index and not their_frames & set(index)

    # hf/: no row of theirs, no image of theirs; the others are all still there
    for p in (version / "hf").iterdir():
        t = pq.read_table(p).to_pylist()
        assert not {r["contributor_id"] for r in t} & {person}, p
        assert not {r["step_id"] for r in t} & their_steps, p
        for r in t:
            if r["image"]:
                sid = r["image"]["path"].removesuffix(".webp")
                assert sid not in their_frames, p
                assert hashlib.sha256(r["image"]["bytes"]).hexdigest() == index[sid]["sha256"]
    after = load_hf(version / "hf", tmp_path / "after")
    kept = sum(1 for ds in before.values() for c in ds["contributor_id"] if c != person)
    assert sum(d.num_rows for d in after.values()) == kept
    # wds/: no sample of theirs, no image of theirs
    for p in (version / "wds").iterdir():
        docs, images = {}, {}
        with tarfile.open(p) as tar:
            for m in tar.getmembers():
                f = tar.extractfile(m)
                assert f is not None
                key, ext = m.name.split(".", 1)
                (docs if ext == "json" else images)[key] = f.read()
        assert not set(docs) & their_steps and not set(images) & their_steps, p
        for key, doc in docs.items():
            row = json.loads(doc)
            assert row["contributor_id"] != person, p
            if key in images:
                sid = row["image_ref"].split("#screenshots/")[1].removesuffix(".webp")
                assert sid not in their_frames, p
                assert hashlib.sha256(images[key]).hexdigest() == index[sid]["sha256"]
    # no shard left over from before (one that held their rows, under an old count)
    manifest = json.loads((version / "manifest.json").read_text())
    on_disk = {str(p.relative_to(version)) for d in ("hf", "wds") for p in (version / d).iterdir()}
    assert on_disk == {k for k in manifest["files"] if k.startswith(("hf/", "wds/"))}
    for rel in on_disk:
        data = (version / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == manifest["files"][rel]["sha256"]
    assert old_files  # (there were shards to replace)
    # the card counts what is left
    card = json.loads((version / "card.json").read_text())
    for s in card["splits"]:
        assert s["steps"] == after[s["name"]].num_rows if s["name"] in after else s["steps"] == 0


def test_split_fractions_are_checked() -> None:
    assert parse_splits("train=0.8,validation=0.1,test=0.1") == (
        ("train", 0.8),
        ("validation", 0.1),
        ("test", 0.1),
    )
    for bad, says in [
        ("train=0.8,test=0.1", "add up to 0.9"),
        ("train=1.2,test=-0.2", "bad split"),
        ("train=0.5,train=0.5", "once each"),
        ("Train Set=1", "bad split"),
        ("train", "bad split"),
    ]:
        with pytest.raises(SplitError, match=says):
            parse_splits(bad)
    splits = parse_splits("a=0,b=1")
    assert {split_of(f"c{i}", splits) for i in range(50)} == {"b"}


def _tiny_version(tmp_path: Path, steps: list[dict[str, Any]]) -> tuple[Path, Any, Any]:
    """A version folder with one record of `steps` and a bucket with one frame shard of
    three frames, two of them in the frames index."""
    import pyarrow as pa
    from PIL import Image

    from worktape.core.storage import LocalStorage
    from worktape.publish import frames as F
    from worktape.publish.card import write_card

    bucket = LocalStorage(tmp_path / "bucket")
    buf, rows = io.BytesIO(), []
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i, color in enumerate(("red", "green", "blue")):
            img = io.BytesIO()
            Image.new("RGB", (8, 4), color).save(img, format="WEBP", lossless=True)
            data = img.getvalue()
            member = f"screenshots/b1-{i:06d}.webp"
            ti = tarfile.TarInfo(member)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
            offset = buf.tell() - (len(data) + 511) // 512 * 512
            sha = hashlib.sha256(data).hexdigest()
            rows.append((f"b1-{i:06d}", "b1", "frames/b1.tar", member, offset, len(data), sha))
    bucket.put("published/frames/b1.tar", buf.getvalue())
    index = pa.Table.from_pylist(
        [dict(zip(F.INDEX_SCHEMA.names, r, strict=True)) for r in rows[:2]], schema=F.INDEX_SCHEMA
    )
    version = tmp_path / "version"
    (version / "dataset").mkdir(parents=True)
    record = {
        "contributor_id": "c1",
        "duration_s": 1.5,
        "instruction": "Task: save",
        "is_recurring_workflow": False,
        "task_id": "b1-1",
        "traj": steps,
        "work_date": "2026-11-02",
        "workflow_id": None,
    }
    (version / "dataset" / "episodes.jsonl").write_text(json.dumps(record) + "\n")
    masking = ("windows_masked", "masking_off", "not_recorded", "text_masked")
    card = {
        "name": "t",
        "work_dates": ["2026-11-02"] * 2,
        "contributors": 1,
        "counts": {"steps": len(steps)},
        "consent_policy_versions": ["1"],
        "quality": {},
        "pixel_masking": dict.fromkeys(
            (*masking, "text_masking_off", "text_not_recorded", "own_names", "bundles"), 0
        ),
    }
    write_card(version, card)
    return version, bucket, index


def _step(i: int, image: int | None, **extra: Any) -> dict[str, Any]:
    ref = f"frames/b1.tar#screenshots/b1-{image:06d}.webp" if image is not None else None
    return {
        "action": "pyautogui.click(x=0.5, y=0.5)",
        "action_type": "click",
        "app": "gedit",
        "image": ref,
        "index": i,
        "next_image": None,
        "step_id": f"b1-{i + 1}",
        "time": "2026-11-02T08:00:00.000000Z",
        "window_title": "notes.txt",
        **extra,
    }


def test_the_element_acted_on_is_a_column_when_the_records_have_it(tmp_path: Path) -> None:
    """Records whose steps name the element acted on (bundle format 1.1) give the
    Parquet rows an `element` struct, null where a step names none; keys without a
    typed column come along as text; a step without a frame has a null image."""
    from worktape.publish.formats import FormatOptions, write_formats

    button = {"bounds": {"height": 32, "width": 96, "x": 1650, "y": 980}, "name": "Save"}
    steps = [
        _step(0, 0, element={**button, "role": "push button"}, thought="Save it", extra=None),
        _step(1, None, element=None, thought=None, extra={"b": 1, "a": [2]}),
        _step(2, 1, element={"bounds": None, "name": "", "role": "entry"}, thought="", extra=3),
    ]
    version, bucket, index = _tiny_version(tmp_path, steps)
    write_formats(version, bucket, index, FormatOptions.of(10**6, "train=1"))
    rows = list(load_hf(version / "hf", tmp_path / "cache")["train"])
    assert [r["element"] for r in rows] == [
        {**button, "role": "push button"},
        None,
        {"bounds": None, "name": "", "role": "entry"},
    ]
    # keys the records gain that have no typed column: text, JSON where not text
    assert [r["thought"] for r in rows] == ["Save it", None, ""]
    assert [r["extra"] for r in rows] == [None, '{"a": [2], "b": 1}', "3"]
    assert [r["image"].getpixel((0, 0)) if r["image"] else None for r in rows] == [
        (255, 0, 0),
        None,
        (0, 128, 0),
    ]


def test_a_frame_outside_the_frames_index_is_never_embedded(tmp_path: Path) -> None:
    """The third frame is in the shard but not in the version's index (not passed by
    the gate for this version): a record naming it stops the formats, rather than
    embedding it."""
    from worktape.publish.formats import FormatOptions, write_formats
    from worktape.publish.formats.records import FrameNotIndexed

    version, bucket, index = _tiny_version(tmp_path, [_step(0, 0), _step(1, 2)])
    with pytest.raises(FrameNotIndexed, match="b1-000002"):
        write_formats(version, bucket, index, FormatOptions.of(10**6, "train=1"))
