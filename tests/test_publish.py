"""The second half of the night through the real DAGs: the Great Expectations gate, the
versioned dataset (Parquet, AgentNet records, frames, XES, OCEL 2.0, card, manifest),
the analyst file, the nightly report in headless Chromium, and erasure.

One simulated night is loaded, built and published once per module; each test works on
its own copy of that state (bucket, warehouse, published files)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.nightkit import DAY, worktape_env
from worktape.simulate import simulate

pytestmark = pytest.mark.slow
XES = "{http://www.xes-standard.org/}"


@pytest.fixture(scope="module")
def night(airflow_home: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from worktape.pipeline.runner import run_night

    root = tmp_path_factory.mktemp("night")
    simulate(
        str(root / "bucket"),
        contributors=2,
        days=1,
        seed=5,
        frames="tiny",
        start=DAY,
        jobs=1,
        hours=1.5,
    )
    with worktape_env(root):
        for d in (DAY, DAY + timedelta(days=1)):
            results = run_night(d, airflow_home)
            assert all(r.ok for r in results), results
    assert (root / "bucket" / "published" / "LATEST").exists()
    return root


@pytest.fixture
def state(night: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "state"
    shutil.copytree(night, root)
    with worktape_env(root):
        yield root


def latest(root: Path) -> Path:
    version = (root / "bucket" / "published" / "LATEST").read_text().strip()
    return root / "bucket" / "published" / version


def test_a_clean_night_publishes_a_complete_version(state: Path) -> None:
    version = latest(state)
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["version"] == version.name
    for rel, meta in manifest["files"].items():
        data = (version / rel).read_bytes()
        assert len(data) == meta["bytes"] and hashlib.sha256(data).hexdigest() == meta["sha256"]
    assert {"tables/episodes.parquet", "dataset/episodes.jsonl", "card.json", "CARD.md"} <= set(
        manifest["files"]
    )

    con = duckdb.connect()
    episodes = con.execute(
        f"SELECT count(*) FROM read_parquet('{version}/tables/episodes.parquet')"
    ).fetchone()[0]
    records = [json.loads(line) for line in (version / "dataset/episodes.jsonl").open()]
    assert len(records) == episodes > 20
    # every image a record names is in its shard, where the version's index says
    from worktape.core.storage import LocalStorage
    from worktape.publish.frames import read_frame

    rows = con.execute(f"SELECT * FROM read_parquet('{version}/frames.parquet')").to_arrow_table()
    index = {r["screenshot_id"]: r for r in rows.to_pylist()}
    storage = LocalStorage(state / "bucket")
    images = 0
    elements: list[dict] = []
    for r in records:
        assert r["task_id"] and r["traj"]
        # the instruction is language, from templates: where, then what was done
        assert r["instruction"].startswith("In ") and r["instruction"].endswith("."), r
        assert " → " not in r["instruction"]
        for step in r["traj"]:
            assert step["code"].startswith("pyautogui.")
            assert step["action"].split(" ")[0] in {
                "Click",
                "Double-click",
                "Right-click",
                "Drag",
                "Scroll",
                "Type",
                "Press",
            }, step
            # no model wrote anything
            assert step["observation"] is step["thought"] is step["reflection"] is None
            if step["element"] is not None:
                elements.append({"action_type": step["action_type"], **step["element"]})
            if step["image"]:
                shard, member = step["image"].split("#")
                sid = member.removeprefix("screenshots/").removesuffix(".webp")
                assert index[sid]["shard"] == shard and index[sid]["member"] == member
                if images < 50:
                    data = read_frame(storage, index[sid])  # a ranged read, checked
                    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
                images += 1
    assert images > 50
    # the simulator names the element of its clicks and typed runs: the records carry it
    # (role, name, bounds), as the steps table does; scrolls and hotkeys name none
    assert len(elements) > 20
    assert {e["action_type"] for e in elements} <= {"click", "double_click", "drag", "type"}
    assert {"push button", "entry"} <= {e["role"] for e in elements}
    assert all(e["name"] and e["bounds"]["width"] > 0 for e in elements)
    named = con.execute(
        f"SELECT count(element_role) FROM read_parquet('{version}/tables/steps.parquet')"
    ).fetchone()[0]
    assert named == len(elements)
    card = json.loads((version / "card.json").read_text())
    assert card["counts"]["episodes"] == episodes and card["consent_policy_versions"]
    assert all(q["passed"] == q["expectations"] for q in card["quality"].values())
    # simulated bundles say nothing of pixel masking, and the card says so
    assert card["pixel_masking"]["not_recorded"] > 0 and card["pixel_masking"]["masking_off"] == 0
    assert "do not say" in (version / "CARD.md").read_text()
    # nor of the contributors' own names: the card says their titles may show them
    assert card["pixel_masking"]["own_names"] == 0 < card["pixel_masking"]["bundles"]
    assert "may show the contributor's `login@host`" in (version / "CARD.md").read_text()
    steps = {c["name"]: c for c in card["schema"]["steps"]}
    assert steps["element_role"]["type"] == "VARCHAR" and steps["element_role"]["description"]
    assert "`element`" in (version / "CARD.md").read_text()


def test_event_logs_read_back(state: Path) -> None:
    import jsonschema

    version = latest(state)
    root = ET.parse(version / "eventlogs" / "episodes.xes").getroot()
    assert root.tag == f"{XES}log" and root.get("xes.version") == "1849-2016"
    prefixes = {e.get("prefix") for e in root.findall(f"{XES}extension")}
    assert {"concept", "time", "org", "lifecycle"} <= prefixes
    traces = root.findall(f"{XES}trace")
    assert traces
    for trace in traces:
        keys = {s.get("key") for s in trace.findall(f"{XES}string")}
        assert "concept:name" in keys
        for event in trace.findall(f"{XES}event"):
            assert {s.get("key") for s in event.findall(f"{XES}string")} >= {
                "concept:name",
                "org:resource",
            }
            (stamp,) = [d for d in event.findall(f"{XES}date") if d.get("key") == "time:timestamp"]
            assert stamp.get("value", "").endswith("Z")

    schema = json.loads((Path(__file__).parent / "schemas" / "ocel20.schema.json").read_text())
    log = json.loads((version / "eventlogs" / "worktape.ocel.json").read_text())
    jsonschema.validate(log, schema, format_checker=jsonschema.FormatChecker())
    ids = {o["id"] for o in log["objects"]}
    for e in log["events"]:
        assert all(r["objectId"] in ids for r in e["relationships"])
    assert len(traces) == sum(1 for o in log["objects"] if o["type"] == "episode")


def test_publishing_the_same_input_twice_gives_the_same_bytes(
    state: Path, airflow_home: dict[str, str]
) -> None:
    from worktape.pipeline.runner import run_dag

    before = latest(state)
    digest = json.loads((before / "manifest.json").read_text())["digest"]
    again = run_dag("worktape_publish", DAY, airflow_home, conf={"days": [DAY.isoformat()]})
    assert again.ok
    assert latest(state) == before
    assert json.loads((before / "manifest.json").read_text())["digest"] == digest


def test_exports_written_in_small_chunks_match_one_chunk(state: Path, tmp_path: Path) -> None:
    """The records and the XES log are written a chunk of episodes at a time (memory);
    where the chunks fall must not change a byte. 40 steps a chunk splits the night into
    many chunks and an episode longer than that into its own."""
    from worktape.publish.eventlogs import episode_chunks, write_xes
    from worktape.publish.publisher import build_dataset
    from worktape.settings import Settings
    from worktape.warehouse import connect

    index = (
        duckdb.connect()
        .execute(f"SELECT * FROM read_parquet('{latest(state)}/frames.parquet')")
        .to_arrow_table()
    )
    con = connect(Settings().warehouse_settings(), read_only=True)
    assert len(episode_chunks(con, 40)) > 3 * len(episode_chunks(con))
    for size in (40, 10**9):
        out = tmp_path / str(size)
        build_dataset(con, out, index, chunk_steps=size)
        write_xes(con, out / "episodes.xes", chunk_steps=size)
    con.close()
    for name in ("episodes.jsonl", "episodes.xes"):
        small = (tmp_path / "40" / name).read_bytes()
        assert small == (tmp_path / str(10**9) / name).read_bytes()
    published = (latest(state) / "dataset" / "episodes.jsonl").read_bytes()
    assert published == (tmp_path / "40" / "episodes.jsonl").read_bytes()


def test_records_of_steps_without_elements_have_no_element_key(state: Path) -> None:
    """An erasure rewrites every published version with today's code, also one published
    before steps had element columns: its records and card stay as they were published."""
    from worktape.publish.card import read_card, render_markdown
    from worktape.publish.frames import INDEX_SCHEMA
    from worktape.publish.publisher import ELEMENT_COLUMNS, build_dataset

    con = duckdb.connect(str(state / "warehouse.duckdb"))
    for column in ELEMENT_COLUMNS:
        con.execute(f"ALTER TABLE marts.steps DROP COLUMN {column}")
    build_dataset(con, state / "old", INDEX_SCHEMA.empty_table())
    con.close()
    records = [json.loads(line) for line in (state / "old" / "episodes.jsonl").open()]
    assert records and all("element" not in s for r in records for s in r["traj"])

    card = read_card(latest(state))
    card["schema"]["steps"] = [
        c for c in card["schema"]["steps"] if c["name"] not in ELEMENT_COLUMNS
    ]
    card.pop("texts")  # such a version also predates the step texts
    text = render_markdown(card)
    assert "`element`" not in text and "a pyautogui action code." in text


def _gate_message(state: Path) -> str:
    return json.loads((state / "home" / "publish" / "work" / "gate.json").read_text())["message"]


def test_a_leaked_email_blocks_publishing(state: Path, airflow_home: dict[str, str]) -> None:
    from worktape.pipeline.runner import run_dag

    before = latest(state).name
    con = duckdb.connect(str(state / "warehouse.duckdb"))
    episode = con.execute("SELECT min(episode_id) FROM marts.episodes").fetchone()[0]
    con.execute(
        "UPDATE marts.episodes SET first_window_title = 'Re: quote for bob.smith@example.com' "
        "WHERE episode_id = ?",
        [episode],
    )
    con.close()
    r = run_dag("worktape_publish", DAY, airflow_home, conf={"days": [DAY.isoformat()]})
    assert not r.ok
    message = _gate_message(state)
    assert "gate_texts" in message and "email" in message and episode in message
    assert "bob.smith@example.com" not in message  # the failure does not leak it again
    assert latest(state).name == before
    report = (state / "home" / "reports" / f"night-{DAY.isoformat()}.html").read_text()
    assert "FAILED" in report and "gate_texts" in report


def test_an_email_in_an_element_name_blocks_publishing(
    state: Path, airflow_home: dict[str, str]
) -> None:
    """An accessible name is text from the screen: the gate scans it like a title."""
    from worktape.pipeline.runner import run_dag

    before = latest(state).name
    con = duckdb.connect(str(state / "warehouse.duckdb"))
    step = con.execute("SELECT min(step_id) FROM marts.steps WHERE element_name IS NOT NULL")
    (step,) = step.fetchone()
    con.execute(
        "UPDATE marts.steps SET element_name = 'Reply to bob.smith@example.com' WHERE step_id = ?",
        [step],
    )
    con.close()
    r = run_dag("worktape_publish", DAY, airflow_home, conf={"days": [DAY.isoformat()]})
    assert not r.ok
    message = _gate_message(state)
    assert "gate_texts" in message and "email" in message and f"steps:{step}" in message
    assert "element_name" in message and "bob.smith@example.com" not in message
    assert latest(state).name == before


def test_a_future_frame_blocks_publishing(state: Path, airflow_home: dict[str, str]) -> None:
    from worktape.pipeline.runner import run_dag

    before = latest(state).name
    con = duckdb.connect(str(state / "warehouse.duckdb"))
    step, later = con.execute(
        """
        SELECT s.step_id, (SELECT f.screenshot_id FROM staging.stg_worktape__screenshots f
                           JOIN staging.stg_worktape__bundles b USING (bundle_id)
                           WHERE b.device_id = s.device_id AND f.taken_at > s.started_at
                           ORDER BY f.taken_at LIMIT 1)
        FROM marts.steps s WHERE s.step_index = 2 ORDER BY s.step_id LIMIT 1
        """
    ).fetchone()
    assert later
    con.execute("UPDATE marts.steps SET frame_before_id = ? WHERE step_id = ?", [later, step])
    con.close()
    r = run_dag("worktape_publish", DAY, airflow_home, conf={"days": [DAY.isoformat()]})
    assert not r.ok
    message = _gate_message(state)
    assert "frame_before_lead_s" in message and step in message
    assert latest(state).name == before


def _text_frames(lines: list[str]) -> list[bytes]:
    """Lossless WebP frames showing `lines` at a normal size, as the agent stores them."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("DejaVuSans.ttf", 20)
    out = []
    for line in lines:
        img = Image.new("RGB", (640, 120), "white")
        ImageDraw.Draw(img).text((20, 40), line, font=font, fill="black")
        buf = io.BytesIO()
        img.save(buf, format="WEBP", lossless=True)
        out.append(buf.getvalue())
    return out


def test_a_frame_showing_an_email_blocks_publishing(
    state: Path, airflow_home: dict[str, str], tmp_path: Path
) -> None:
    """A bundle whose frame shows an e-mail address (as an agent without text masking
    would store it) arrives the next day: the gate reads the frame, names it, and the
    night publishes nothing."""
    from tests.bundlekit import write_small
    from worktape.core.layout import raw_key
    from worktape.core.storage import LocalStorage
    from worktape.pipeline.runner import run_night

    day = DAY + timedelta(days=2)
    start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    images = _text_frames(
        ["Quarterly report: review pending", "Customer contact: jane.doe@example.com"]
    )
    sealed = write_small(
        tmp_path / "leak.tar",
        bundle_id="bleak0001",
        device_id="dleak",
        start=start,
        n_frames=2,
        images=images,
        image_size=(640, 120),
    )
    LocalStorage(state / "bucket").put(raw_key("dleak", start, "bleak0001"), sealed.path)
    before = latest(state).name
    results = run_night(day, airflow_home)
    assert not all(r.ok for r in results)
    message = _gate_message(state)
    assert "gate_frames" in message and "bleak0001-000001" in message
    assert "email" in message and "jane.doe" not in message
    assert latest(state).name == before


def test_the_analyst_file_stays_open_while_a_night_runs(
    state: Path, airflow_home: dict[str, str]
) -> None:
    from worktape.pipeline.runner import run_dag

    analyst = state / "home" / "published.duckdb"
    # an analyst's notebook, in a process of its own, holds the file open
    held = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(analyst)!r}, read_only=True)\n"
            "q = 'SELECT count(*) FROM episodes'\n"
            "print(con.execute(q).fetchone()[0], flush=True)\n"
            "sys.stdin.readline()\n"
            "print(con.execute(q).fetchone()[0], flush=True)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert held.stdout is not None and held.stdin is not None
    n = held.stdout.readline().strip()
    # the writers at work: dbt on the warehouse, then publishing a new analyst file
    conf = {"days": [DAY.isoformat()]}
    for dag_id in ("worktape_build", "worktape_publish"):
        assert run_dag(dag_id, DAY, airflow_home, conf=conf).ok
    out, _ = held.communicate("go\n", timeout=60)
    assert held.returncode == 0 and out.strip() == n

    out = subprocess.run(
        [
            str(Path(os.sys.executable).with_name("worktape")),
            "query",
            "SELECT workflow_name, instance_count FROM workflows ORDER BY 2 DESC LIMIT 3",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "workflow_name" in out.stdout and len(out.stdout.splitlines()) == 4


def test_the_report_names_each_top_workflows_steps_from_the_data(state: Path) -> None:
    """The step sequence shown for a workflow is its main variant's action types as the
    published steps name them, one per action of that variant."""
    import re

    report = (state / "home" / "reports" / f"night-{DAY.isoformat()}.html").read_text()
    shown = re.findall(r'<div class="steps">(.*?)</div>', report)
    a = duckdb.connect(str(state / "home" / "published.duckdb"), read_only=True)
    names = {
        r[0].replace("_", " ")
        for r in a.execute("SELECT DISTINCT action_type FROM steps").fetchall()
    }
    lengths = [
        r[0]
        for r in a.execute(
            "SELECT length(main_variants[1].variant) FROM workflows "
            "ORDER BY instance_count DESC, workflow_id LIMIT 5"
        ).fetchall()
    ]
    a.close()
    assert shown and len(shown) == len(lengths)
    for steps, n in zip(shown, lengths, strict=True):
        parts = steps.split(" → ")
        assert len(parts) == n and set(parts) <= names, steps


def test_the_report_renders_in_chromium(state: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: make sysdeps installs it"
    report = state / "home" / "reports" / f"night-{DAY.isoformat()}.html"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for chart in ("activity-by-hour", "episodes-per-workflow"):
        assert f'id="{chart}"' in dom
    assert dom.count('class="bar"') > 5
    assert 'id="top-workflows"' in dom and 'class="thumb"' in dom
    assert "Quality gate passed" in dom and 'id="data-docs"' in dom

    png = tmp_path / "report.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={png}", "--window-size=1000,1400", report.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    from PIL import Image

    colors = Image.open(png).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 20  # text, bars, thumbnails: not blank


def test_forget_leaves_nothing_of_the_contributor(state: Path) -> None:
    from worktape.pipeline.tasks import forget_contributor

    con = duckdb.connect(str(state / "warehouse.duckdb"), read_only=True)
    person, device = con.execute(
        "SELECT contributor_id, device_id FROM raw.bundles ORDER BY 1 LIMIT 1"
    ).fetchone()
    frames = {
        r[0]
        for r in con.execute(
            "SELECT screenshot_id FROM raw.screenshots JOIN raw.bundles USING (bundle_id) "
            "WHERE contributor_id = ?",
            [person],
        ).fetchall()
    }
    con.close()
    assert frames

    record = forget_contributor(person)
    assert record["bundles"] > 0 and record["versions_rewritten"]

    # the warehouse: no row in any table or view that names them
    con = duckdb.connect(str(state / "warehouse.duckdb"), read_only=True)
    columns = con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE column_name IN ('contributor_id', 'device_id')"
    ).fetchall()
    assert len(columns) > 10
    for schema, table, column in columns:
        n = con.execute(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE {column} IN (?, ?)', [person, device]
        ).fetchone()[0]
        assert n == 0, (schema, table, column)
    others = con.execute("SELECT count(*) FROM marts.episodes").fetchone()[0]
    con.close()
    assert others > 0  # the other contributor is still there

    # the bucket: no object of their device, no frame of theirs, no row in any version
    bucket = state / "bucket"
    keys = [p for p in bucket.rglob("*") if p.is_file()]
    assert not [k for k in keys if device in str(k)]
    # no frame of theirs in any shard, nor in any version's frames index
    import tarfile

    q = duckdb.connect()
    for shard in (bucket / "published" / "frames").iterdir():
        with tarfile.open(shard) as tar:
            names = {n.removeprefix("screenshots/").split(".")[0] for n in tar.getnames()}
        assert not frames & names, shard
    for index in bucket.glob("published/*/frames.parquet"):
        sql = f"SELECT screenshot_id FROM read_parquet('{index}')"
        ids = {r[0] for r in q.execute(sql).fetchall()}
        assert ids and not frames & ids
    for parquet in bucket.glob("published/*/tables/*.parquet"):
        cols = [
            r[0] for r in q.execute(f"DESCRIBE SELECT * FROM read_parquet('{parquet}')").fetchall()
        ]
        for column in {"contributor_id", "device_id"} & set(cols):
            n = q.execute(
                f"SELECT count(*) FROM read_parquet('{parquet}') WHERE {column} IN (?, ?)",
                [person, device],
            ).fetchone()[0]
            assert n == 0, parquet
    for text in [
        *bucket.glob("published/*/dataset/*.jsonl"),
        *bucket.glob("published/*/eventlogs/*"),
    ]:
        body = text.read_text()
        assert person not in body and device not in body, text
        assert not any(f in body for f in frames), text
    # every rewritten version's manifest is true to its files
    for manifest in bucket.glob("published/*/manifest.json"):
        m = json.loads(manifest.read_text())
        for rel, meta in m["files"].items():
            data = (manifest.parent / rel).read_bytes()
            assert hashlib.sha256(data).hexdigest() == meta["sha256"], rel
    # the analyst file, and the erasure log, which names nobody
    a = duckdb.connect(str(state / "home" / "published.duckdb"), read_only=True)
    assert (
        a.execute("SELECT count(*) FROM episodes WHERE contributor_id = ?", [person]).fetchone()[0]
        == 0
    )
    a.close()
    log = (bucket / "published" / "erasures.jsonl").read_text()
    assert person not in log and device not in log and record["erasure_id"] in log


def test_forget_rebuilds_the_warehouse_it_was_given(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuild after an erasure is a full `dbt build` of the warehouse `forget` was
    handed, not of the one the environment names: its marts no longer hold the person."""
    from worktape.core.storage import open_storage
    from worktape.publish.erasure import forget
    from worktape.settings import Settings
    from worktape.transform import dbt

    given = state / "moved" / "warehouse.duckdb"
    given.parent.mkdir()
    shutil.move(state / "warehouse.duckdb", given)
    elsewhere = state / "elsewhere" / "not-this.duckdb"
    monkeypatch.setenv("WORKTAPE_WAREHOUSE", str(elsewhere))
    con = duckdb.connect(str(given), read_only=True)
    (person,) = con.execute("SELECT min(contributor_id) FROM marts.episodes").fetchone()
    con.close()

    built: list[Path] = []
    real = dbt.build

    def spy(*args: object, **kw: object) -> dict[str, object]:
        built.append(kw["warehouse"].path)  # type: ignore[union-attr]
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(dbt, "build", spy)
    forget(person, warehouse=given, storage=open_storage(state / "bucket"), settings=Settings())

    assert built == [given] and not elsewhere.exists()
    con = duckdb.connect(str(given), read_only=True)
    left = con.execute(
        "SELECT count(*) FROM marts.episodes WHERE contributor_id = ?", [person]
    ).fetchone()[0]
    others = con.execute("SELECT count(*) FROM marts.episodes").fetchone()[0]
    con.close()
    assert left == 0 and others > 0


def test_the_report_runs_while_a_load_holds_the_writer_lock(state: Path) -> None:
    """A load in its own process is inside its transaction, holding the warehouse's
    lock, when the report runs: the report reads the analyst file and the bucket, so
    neither waits for nor breaks the other."""
    from tests.bundlekit import write_small
    from worktape.core.layout import raw_key
    from worktape.core.storage import open_storage
    from worktape.pipeline.tasks import nightly_report
    from worktape.settings import Settings
    from worktape.warehouse import connect

    late = write_small(state / "late.tar", bundle_id="block0001", device_id="dlock")
    open_storage(state / "bucket").put(raw_key("dlock", late.started_at, "block0001"), late.path)
    code = (
        "import sys\n"
        "from datetime import UTC, datetime, timedelta, UTC\n"
        "import worktape.loader.load as L\n"
        "from worktape.pipeline.tasks import discover_new, load_keys\n"
        "commit = L._commit_ledger\n"
        "def held(con):\n"
        "    print('holding', flush=True)\n"
        "    sys.stdin.readline()\n"
        "    commit(con)\n"
        "L._commit_ledger = held\n"
        f"start = datetime({DAY.year}, {DAY.month}, {DAY.day}, tzinfo=UTC)\n"
        "keys = discover_new(start, start + timedelta(days=1))\n"
        "print(load_keys(keys, run_id='lock-test')['loaded'], flush=True)\n"
    )
    load = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert load.stdin is not None and load.stdout is not None
    try:
        assert load.stdout.readline().strip() == "holding"
        # the lock is held: anything that opened the warehouse now would fail
        with pytest.raises(duckdb.IOException, match="lock"):
            connect(Settings().warehouse_settings(), read_only=True)
        report = Path(nightly_report(DAY, run_id="report-under-lock"))
        body = report.read_text()
        assert "Quality gate passed" in body and 'id="top-workflows"' in body
        out, _ = load.communicate("go\n", timeout=120)
    finally:
        if load.poll() is None:
            load.kill()
    assert load.returncode == 0 and out.strip() == "1"
    con = connect(Settings().warehouse_settings(), read_only=True)
    assert con.execute(
        "SELECT count(*) FROM raw.ledger WHERE bundle_id = 'block0001'"
    ).fetchone() == (1,)
    con.close()


def test_an_erasure_holds_against_a_late_upload(
    state: Path, airflow_home: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forget a contributor, then a bundle still in their laptop's spool arrives: the
    night refuses it and keeps nothing of it, and publishing never shows them again."""
    import tarfile

    from tests.bundlekit import explode
    from worktape.core.layout import RAW, TOMBSTONES, raw_key
    from worktape.core.storage import open_storage
    from worktape.pipeline.runner import run_night
    from worktape.publish.erasure import forget
    from worktape.settings import Settings
    from worktape.warehouse import WarehouseSettings, connect

    storage = open_storage(state / "bucket")
    warehouse = state / "warehouse.duckdb"
    con = connect(WarehouseSettings(path=warehouse), read_only=True)
    person, device, key = con.execute(
        "SELECT contributor_id, device_id, object_key FROM raw.bundles ORDER BY 1, 3 LIMIT 1"
    ).fetchone()
    con.close()
    # a copy of one of their bundles, as if it were still in the spool (a new hour)
    spooled = state / "spooled.tar"
    spooled.write_bytes(storage.get_bytes(key))
    manifest, _ = explode(spooled)

    # forget, on the warehouse it is given: the environment names another one, which the
    # rebuild must not use
    monkeypatch.setenv("WORKTAPE_WAREHOUSE", str(state / "elsewhere" / "not-this.duckdb"))
    record = forget(person, warehouse=warehouse, storage=storage, settings=Settings())
    monkeypatch.setenv("WORKTAPE_WAREHOUSE", str(warehouse))
    assert record.bundles > 0 and record.versions_rewritten
    assert not (state / "elsewhere" / "not-this.duckdb").exists()
    stone = json.loads(storage.get_bytes(f"{TOMBSTONES}{person}.json"))
    assert set(stone) == {"contributor_id", "device_ids", "erased_at", "erasure_id"}
    assert stone["erasure_id"] == record.erasure_id

    # the spooled bundle arrives after the erasure, under its own key
    late_key = raw_key(
        device, datetime.fromisoformat(manifest["started_at"]), manifest["bundle_id"]
    )
    storage.put(late_key, spooled)
    results = run_night(DAY, airflow_home)
    assert all(r.ok for r in results), results

    # no object of theirs but the tombstone; nothing in quarantine
    keys = [
        p.relative_to(state / "bucket").as_posix()
        for p in (state / "bucket").rglob("*")
        if p.is_file()
    ]
    theirs = [
        k
        for k in keys
        if (device in k or person in k)
        and not k.removeprefix(".worktape-meta/").startswith(TOMBSTONES)
    ]
    assert theirs == []
    assert not any(k.startswith(f"quarantine/{RAW}device={device}") for k in keys)
    # no row in the warehouse; the refusal is recorded under an opaque key
    con = connect(WarehouseSettings(path=warehouse), read_only=True)
    for schema, table, column in con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE column_name IN ('contributor_id', 'device_id', 'object_key', 'bundle_id')"
    ).fetchall():
        n = con.execute(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE {column} IN (?, ?, ?, ?)',
            [person, device, late_key, manifest["bundle_id"]],
        ).fetchone()[0]
        assert n == 0, (schema, table, column)
    refused = con.execute(
        "SELECT object_key, message FROM raw.quarantine WHERE reason = 'erased_contributor'"
    ).fetchall()
    con.close()
    assert len(refused) == 1 and refused[0][0].startswith("erased:")
    assert device not in refused[0][0] + refused[0][1] and person not in refused[0][1]

    # no row, text or frame in any published version, nor in the analyst file
    q = duckdb.connect()
    for parquet in (state / "bucket").glob("published/*/tables/*.parquet"):
        cols = {r[0] for r in q.execute(f"DESCRIBE SELECT * FROM '{parquet}'").fetchall()}
        for column in {"contributor_id", "device_id"} & cols:
            n = q.execute(
                f"SELECT count(*) FROM '{parquet}' WHERE {column} IN (?, ?)", [person, device]
            ).fetchone()[0]
            assert n == 0, parquet
    for text in (state / "bucket").glob("published/*/dataset/*"):
        assert person not in text.read_text() and device not in text.read_text(), text
    sids = {f"{manifest['bundle_id']}-"}
    for shard in (state / "bucket" / "published" / "frames").iterdir():
        with tarfile.open(shard) as tar:
            assert not [n for n in tar.getnames() if any(s in n for s in sids)], shard
    a = duckdb.connect(str(state / "home" / "published.duckdb"), read_only=True)
    assert a.execute(
        "SELECT count(*) FROM episodes WHERE contributor_id = ?", [person]
    ).fetchone() == (0,)
    a.close()


def test_publishing_refuses_rows_of_an_erased_contributor(
    state: Path, airflow_home: dict[str, str]
) -> None:
    """An erasure that stopped after its tombstone (the warehouse still holds them):
    the privacy gate refuses to publish them again, naming the tables."""
    from worktape.core.storage import open_storage
    from worktape.pipeline.runner import run_dag
    from worktape.tombstones import Tombstone, write_tombstone

    before = latest(state).name
    con = duckdb.connect(str(state / "warehouse.duckdb"), read_only=True)
    person = con.execute("SELECT min(contributor_id) FROM marts.episodes").fetchone()[0]
    con.close()
    write_tombstone(
        open_storage(state / "bucket"), Tombstone(person, "2026-11-03T00:00:00Z", "e-half", ())
    )
    r = run_dag("worktape_publish", DAY, airflow_home, conf={"days": [DAY.isoformat()]})
    assert not r.ok
    message = _gate_message(state)
    assert "gate_erased" in message and "episodes" in message
    assert latest(state).name == before


def test_a_model_behind_a_fake_endpoint_writes_the_texts_the_gate_scans_them(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishing with WORKTAPE_LLM_* set: a fake OpenAI-compatible server (real HTTP)
    writes each episode's instruction and step annotations; the records and the card say
    so; a republish asks nothing (cached) and gives the same bytes; a model that writes a
    secret leaves that episode on its templates, and the night still publishes."""
    from tests.test_narration import FakeChatServer, _good_reply
    from worktape.pipeline.tasks import publish_night
    from worktape.settings import Settings

    fake = FakeChatServer()
    try:
        monkeypatch.setenv("WORKTAPE_LLM_BASE_URL", fake.url)
        monkeypatch.setenv("WORKTAPE_LLM_MODEL", "fake-model")
        first = publish_night([DAY.isoformat()], run_id=None, settings=Settings())
        asked = len(fake.requests)
        version = latest(state)
        records = [json.loads(line) for line in (version / "dataset/episodes.jsonl").open()]
        # episodes whose texts are alike ask once: the answer is cached by request
        assert 0 < asked <= len(records) and len(records) > 20
        assert {r["instruction"] for r in records} == {"File a taxi expense in Expenses."}
        step = records[0]["traj"][0]
        assert step["observation"] == "The screen before step 1." and step["thought"]
        card = json.loads((version / "card.json").read_text())
        texts = card["texts"]
        assert texts["source"] == "model"
        assert texts["by_model"] == texts["episodes"] == len(records)
        assert "A model, fake-model at" in (version / "CARD.md").read_text()
        gate = json.loads((state / "home" / "publish" / "work" / "gate.json").read_text())
        assert gate["success"]

        again = publish_night([DAY.isoformat()], run_id=None, settings=Settings())
        assert len(fake.requests) == asked  # every answer came from the cache
        assert again["version"] == first["version"]

        def leaky(body: dict) -> str:
            out = json.loads(_good_reply(body).strip("`").removeprefix("json\n"))
            out["instruction"] = "Send the receipt to jane.doe@example.com"
            return json.dumps(out)

        fake.reply = leaky
        shutil.rmtree(state / "home" / "narration-cache")
        publish_night([DAY.isoformat()], run_id=None, settings=Settings())
        version = latest(state)
        body = (version / "dataset/episodes.jsonl").read_text()
        assert "jane.doe" not in body
        card = json.loads((version / "card.json").read_text())
        assert card["texts"]["fell_back"] == {"privacy_rule": len(records)}
    finally:
        fake.close()


def test_the_card_says_which_bundles_had_the_contributors_names_taken_out() -> None:
    from worktape.publish.card import own_names_lines

    text = " ".join(own_names_lines({"own_names": 30, "bundles": 30}))
    assert "30 of 30 bundle(s)" in text and "may show" not in text
    text = " ".join(own_names_lines({"own_names": 30, "bundles": 42}))
    assert "30 of 42 bundle(s)" in text and "12 bundle(s)" in text and "may show" in text
