"""Procedure documents (worktape.publish.procedures): from the procedures marts and the
version's frames, a Markdown, HTML and JSON document per procedure with a marked crop
per step, the same bytes every time, copied from the previous version where nothing
changed, refused when a crop or a text shows a secret, and drawn in Chromium with its
steps and pictures."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.test_viewer import _chromium, _flags
from worktape.core.layout import PUBLISHED
from worktape.core.storage import LocalStorage, Storage
from worktape.publish import frames as F
from worktape.publish.procedures import (
    PROCEDURES,
    Previous,
    ProcedureDocs,
    ProcedureLeak,
    crop_box,
    rewrite_procedures,
    ring_radius,
    write_procedures,
)
from worktape.publish.publisher import _manifest
from worktape.publish.viewer import MARK

FRAME = (800, 450)
BACKGROUND = (235, 240, 245)
# on no page: what must never reach a document for people
NAMES = ("Alice Example", "c-alice", "c-bob")

PROCEDURES_DDL = """
CREATE TABLE marts.procedures (
    procedure_id VARCHAR, workflow_id VARCHAR, title VARCHAR, purpose VARCHAR, app VARCHAR,
    site VARCHAR, instance_count BIGINT, contributor_count BIGINT, step_count BIGINT,
    optional_step_count BIGINT, median_duration_s DOUBLE, p25_duration_s DOUBLE,
    p75_duration_s DOUBLE, slowest_step_index BIGINT,
    variants STRUCT(variant VARCHAR, instance_share DOUBLE, median_duration_s DOUBLE)[],
    first_seen_at TIMESTAMPTZ, last_seen_at TIMESTAMPTZ, has_path_changed BOOLEAN,
    fingerprint VARCHAR
)
"""
STEPS_DDL = """
CREATE TABLE marts.procedure_steps (
    procedure_step_id VARCHAR, procedure_id VARCHAR, step_index BIGINT, step_key VARCHAR,
    step_text VARCHAR, action_type VARCHAR, element_role VARCHAR, element_name VARCHAR,
    app VARCHAR, page VARCHAR, instance_share DOUBLE, is_optional BOOLEAN,
    median_duration_s DOUBLE, p25_duration_s DOUBLE, p75_duration_s DOUBLE,
    example_step_id VARCHAR, example_frame_id VARCHAR, example_x_norm DOUBLE,
    example_y_norm DOUBLE
)
"""
PROCS = [
    # procedure, title, purpose, app, site, instances, contributors, steps, optional,
    # median, p25, p75, slowest, variants, first, last, changed, fingerprint
    (
        "wexpense0000001",
        "Submit an expense",
        "Record a receipt as an expense report.",
        "chromium",
        "expenses.example.test",
        42,
        3,
        4,
        1,
        95.5,
        70.25,
        130.0,
        2,
        [
            {"variant": "usual path", "instance_share": 0.8, "median_duration_s": 90.0},
            {"variant": "with 'Note'", "instance_share": 0.2, "median_duration_s": 140.0},
        ],
        "2026-10-01 09:00:00+00",
        "2026-11-02 17:30:00+00",
        True,
        "fp-expense-1",
    ),
    (
        "winvoice000002",
        "Approve an invoice",
        "Check an invoice against its order and approve it.",
        "mousepad",
        None,
        7,
        1,
        2,
        0,
        30.0,
        20.0,
        41.123456789,
        None,
        [{"variant": "usual path", "instance_share": 1.0, "median_duration_s": 30.0}],
        "2026-10-20 08:00:00+00",
        "2026-11-01 12:00:00+00",
        False,
        "fp-invoice-1",
    ),
]
STEPS = [
    # procedure, index, text, action, role, name, page, share, optional, median, p25,
    # p75, frame, x, y
    ("wexpense0000001", 1, "Click 'New expense'", "click", "push button", "New expense",
     "Expenses – Northwind", 1.0, False, 3.2, 2.0, 4.5, "f1", 0.95, 0.05),
    ("wexpense0000001", 2, "Fill in 'Merchant'", "type", "entry", "Merchant",
     "New expense #### – Northwind", 0.95, False, 40.0, 30.0, 55.0, "f2", 0.5, 0.42),
    ("wexpense0000001", 3, "Fill in 'Note'", "type", "entry", "Note",
     "New expense #### – Northwind", 0.2, True, 12.0, 8.0, 20.0, None, None, None),
    ("wexpense0000001", 4, "Press Ctrl+S", "hotkey", None, None,
     "New expense #### – Northwind", 0.9, False, 1.0, 0.5, 1.5, "f3", None, None),
    ("winvoice000002", 1, "Choose 'Approve'", "click", "menu item", "Approve",
     "invoice-####.txt", 1.0, False, 25.0, 15.0, 35.0, "f-not-published", 0.3, 0.3),
    ("winvoice000002", 2, "Press Ctrl+S", "hotkey", None, None,
     "invoice-####.txt", 0.85714, False, 2.0, 1.0, 3.0, "f1", 0.2, 0.8),
]  # fmt: skip


def _image(text: str | None = None, at: tuple[int, int] = (290, 220)) -> bytes:
    """A frame: a plain window with a few bars, and `text` drawn at a readable size."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", FRAME, BACKGROUND)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, FRAME[0], 40], fill=(60, 70, 90))
    draw.rectangle([40, 100, 300, 130], fill=(255, 255, 255), outline=(120, 120, 120))
    if text:
        draw.text(at, text, font=ImageFont.truetype("DejaVuSans.ttf", 20), fill="black")
    buf = io.BytesIO()
    img.save(buf, format="WEBP", lossless=True)
    return buf.getvalue()


def _shard(storage: Storage, bundle_id: str, frames: dict[str, bytes]) -> pa.Table:
    """A shard in the bucket holding `frames`, and the frames index naming them."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for sid, data in sorted(frames.items()):
            ti = tarfile.TarInfo(f"screenshots/{sid}.webp")
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    storage.put(F.shard_key(bundle_id), buf.getvalue())
    rows = []
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        for ti in tar:
            sid = ti.name[len("screenshots/") : -len(".webp")]
            rows.append(
                {
                    "screenshot_id": sid,
                    "bundle_id": bundle_id,
                    "shard": f"frames/{bundle_id}.tar",
                    "member": ti.name,
                    "offset": ti.offset_data,
                    "bytes": ti.size,
                    "sha256": hashlib.sha256(frames[sid]).hexdigest(),
                }
            )
    return pa.Table.from_pylist(rows, schema=F.INDEX_SCHEMA)


def _marts(path: Path, steps: list[tuple[object, ...]] = STEPS) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(PROCEDURES_DDL)
    con.execute(STEPS_DDL)
    for p in PROCS:
        con.execute(
            "INSERT INTO marts.procedures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, ?)",
            [p[0], p[0], *p[1:]],
        )
    for s in steps:
        pid, k, text, action, role, name, page = s[:7]
        con.execute(
            "INSERT INTO marts.procedure_steps VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                f"ps-{pid}-{k}",
                pid,
                k,
                f"{action}:{name}",
                text,
                action,
                role,
                name,
                "chromium" if str(pid).startswith("wexp") else "mousepad",
                page,
                *s[7:12],
                f"step-{pid}-{k}",
                *s[12:],
            ],
        )
    return con


@pytest.fixture
def world(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, LocalStorage, pa.Table]:
    storage = LocalStorage(tmp_path / "bucket")
    index = _shard(storage, "b1", {"f1": _image(), "f2": _image("Merchant"), "f3": _image()})
    return _marts(tmp_path / "warehouse.duckdb"), storage, index


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _publish(storage: Storage, version: str, root: Path) -> None:
    """`root` as the published version `version` (its files, a manifest, LATEST)."""
    files = _manifest(root)
    for rel in files:
        storage.put(f"{PUBLISHED}{version}/{rel}", root / rel)
    manifest = json.dumps({"version": version, "files": files}).encode()
    storage.put(f"{PUBLISHED}{version}/manifest.json", manifest)
    storage.put(PUBLISHED + "LATEST", version.encode() + b"\n", overwrite=True)


def _write(con: duckdb.DuckDBPyConnection, storage: Storage, index: pa.Table, version: Path,
           previous: Previous | None = None) -> ProcedureDocs:  # fmt: skip
    docs = write_procedures(con, version / PROCEDURES, index, storage, previous=previous)
    assert docs is not None
    return docs


def test_documents_say_what_the_marts_say_and_are_the_same_bytes_every_time(
    world: tuple[duckdb.DuckDBPyConnection, LocalStorage, pa.Table], tmp_path: Path
) -> None:
    con, storage, index = world
    first = _write(con, storage, index, tmp_path / "v1")
    assert (first.documents, first.rendered, first.reused) == (2, 2, 0)
    assert first.crops_checked == 4  # f1, f2, f3 for the expense; f1 for the invoice
    again = _write(con, storage, index, tmp_path / "v2")
    a, b = _files(tmp_path / "v1" / PROCEDURES), _files(tmp_path / "v2" / PROCEDURES)
    assert a == b
    for stem in ("wexpense0000001", "winvoice000002"):
        assert {f"{stem}.md", f"{stem}.html", f"{stem}.json"} <= set(a)
    assert {"index.md", "index.html", "index.json"} <= set(a)
    # a crop for each step with a published frame; none for the frame not in the index
    assert sorted(k for k in a if k.endswith(".webp")) == [
        "wexpense0000001/step-01.webp",
        "wexpense0000001/step-02.webp",
        "wexpense0000001/step-04.webp",
        "winvoice000002/step-02.webp",
    ]
    assert again.rendered == 2

    md = a["wexpense0000001.md"].decode()
    assert md.startswith("# Submit an expense\n\nRecord a receipt as an expense report.\n")
    assert "**Who:** 3 contributors, 42 instances" in md
    assert "median 1 min 36 s, half of the instances take 1 min 10 s – 2 min 10 s" in md
    assert "step 2, Fill in 'Merchant' (median 40.0 s)" in md  # where the time goes
    assert (
        "first 2026-10-01, last 2026-11-02" in md and "usual path of this procedure changed" in md
    )
    assert "3. **Fill in 'Note'** (optional)" in md
    assert "1. **Click 'New expense'**  \n" in md  # not optional
    assert "in 95% of instances" in md and "page “New expense \\#\\#\\#\\# – Northwind”" in md
    assert "![Step 2](wexpense0000001/step-02.webp)" in md
    assert "- **usual path**: 80% of instances, median 1 min 30 s" in md
    assert "- **with 'Note'**: 20% of instances" in md
    invoice = a["winvoice000002.md"].decode()
    assert "changed" not in invoice and "in 86% of instances" in invoice
    assert "Where the time goes" not in invoice  # no slowest step given

    page = a["wexpense0000001.html"].decode()
    assert page.count('<li id="step-') == 4 and page.count('class="optional"') == 1
    assert '<img src="wexpense0000001/step-02.webp"' in page and "<script" not in page
    assert "Click &#x27;New expense&#x27;" in page

    doc = json.loads(a["wexpense0000001.json"])
    assert list(doc) == sorted(doc) and doc["fingerprint"] == "fp-expense-1"
    assert doc["first_seen_at"] == "2026-10-01T09:00:00Z"
    assert [s["step_index"] for s in doc["steps"]] == [1, 2, 3, 4]
    assert doc["steps"][2]["crop"] is None and doc["steps"][1]["example_frame_id"] == "f2"
    assert doc["variants"][1] == {
        "instance_share": 0.2,
        "median_duration_s": 140.0,
        "variant": "with 'Note'",
    }
    assert json.loads(a["winvoice000002.json"])["p75_duration_s"] == 41.1235  # rounded

    listing = json.loads(a["index.json"])
    assert [x["procedure_id"] for x in listing["procedures"]] == [
        "wexpense0000001",
        "winvoice000002",
    ]  # most instances first
    assert listing["procedures"][0]["fingerprint"] == "fp-expense-1"
    assert '<a class="procedure" href="winvoice000002.html">Approve an invoice</a>' in (
        a["index.html"].decode()
    )
    assert "[Submit an expense](wexpense0000001.md): 42 instances" in a["index.md"].decode()

    # nothing of a person, and no row id, on a page for people
    for name, data in a.items():
        if name.endswith((".md", ".html")):
            text = data.decode()
            assert not any(n in text for n in NAMES), name
            assert "step-wexp" not in text and "ps-wexp" not in text and "fp-" not in text
            assert "f-not-published" not in text and "example_frame_id" not in text


def test_a_crop_is_cut_around_the_point_with_a_ring_drawn_there(
    world: tuple[duckdb.DuckDBPyConnection, LocalStorage, pa.Table], tmp_path: Path
) -> None:
    from PIL import Image

    con, storage, index = world
    _write(con, storage, index, tmp_path / "v1")
    out = tmp_path / "v1" / PROCEDURES
    mark = tuple(int(MARK[i : i + 2], 16) for i in (1, 3, 5))
    for rel, (x, y) in {
        "wexpense0000001/step-01.webp": (0.95, 0.05),  # at a corner: clamped to the frame
        "wexpense0000001/step-02.webp": (0.5, 0.42),
        "winvoice000002/step-02.webp": (0.2, 0.8),
    }.items():
        with Image.open(out / rel) as img:
            crop = img.convert("RGB")
        box = crop_box(*FRAME, x, y)
        assert crop.size == (box[2] - box[0], box[3] - box[1]) == (320, 200)
        assert box[0] >= 0 and box[1] >= 0 and box[2] <= FRAME[0] and box[3] <= FRAME[1]
        px, py = x * FRAME[0] - box[0], y * FRAME[1] - box[1]
        r, lw = ring_radius(crop.width)
        on_ring = (round(px - r + lw / 2), round(py))
        assert crop.getpixel(on_ring) == mark, rel
        # the point itself is left as it was, inside the ring
        assert crop.getpixel((round(px), round(py))) != mark
    # without a point: the whole frame scaled down, unmarked
    with Image.open(out / "wexpense0000001/step-04.webp") as img:
        whole = img.convert("RGB")
    assert whole.size == (640, 360)
    assert mark not in {c for _, c in whole.getcolors(1 << 16) or []}


def test_unchanged_procedures_are_copied_from_the_previous_version(
    world: tuple[duckdb.DuckDBPyConnection, LocalStorage, pa.Table], tmp_path: Path
) -> None:
    con, storage, index = world
    _write(con, storage, index, tmp_path / "v1")
    _publish(storage, "v1", tmp_path / "v1")
    same = _write(con, storage, index, tmp_path / "v2", Previous.published(storage, "v1"))
    assert (same.rendered, same.reused, same.crops_checked) == (0, 2, 0)
    assert _files(tmp_path / "v1" / PROCEDURES) == _files(tmp_path / "v2" / PROCEDURES)

    # one procedure changed (its fingerprint with it): only it is drawn again
    con.execute(
        "UPDATE marts.procedures SET title = 'Submit an expense claim', "
        "fingerprint = 'fp-expense-2' WHERE procedure_id = 'wexpense0000001'"
    )
    one = _write(con, storage, index, tmp_path / "v3", Previous.published(storage, "v1"))
    assert (one.rendered, one.reused, one.crops_checked) == (1, 1, 3)
    v3 = _files(tmp_path / "v3" / PROCEDURES)
    assert v3["wexpense0000001.md"].startswith(b"# Submit an expense claim\n")
    assert v3["winvoice000002.md"] == _files(tmp_path / "v1" / PROCEDURES)["winvoice000002.md"]

    # a file of the previous version that is not what its manifest says: drawn again
    storage.put(f"{PUBLISHED}v1/{PROCEDURES}/winvoice000002.html", b"tampered", overwrite=True)
    fresh = _write(con, storage, index, tmp_path / "v4", Previous.published(storage, "v1"))
    assert (fresh.rendered, fresh.reused) == (2, 0)
    assert _files(tmp_path / "v4" / PROCEDURES) == v3
    # a frame no longer in the index: the procedure showing it is drawn again, without it
    fewer = index.filter(pc.not_equal(index["screenshot_id"], "f3"))
    _publish(storage, "v4", tmp_path / "v4")
    less = _write(con, storage, fewer, tmp_path / "v5", Previous.published(storage, "v4"))
    assert (less.rendered, less.reused) == (1, 1)
    assert not (tmp_path / "v5" / PROCEDURES / "wexpense0000001/step-04.webp").exists()


def test_an_erasure_draws_them_again_from_what_remains(
    world: tuple[duckdb.DuckDBPyConnection, LocalStorage, pa.Table], tmp_path: Path
) -> None:
    con, storage, index = world
    out = tmp_path / "v1" / PROCEDURES
    _write(con, storage, index, tmp_path / "v1")
    kept = index.filter(pc.not_equal(index["screenshot_id"], "f2"))
    docs = rewrite_procedures(con, out, kept, storage)
    assert docs is not None and (docs.rendered, docs.reused) == (1, 1)
    assert not (out / "wexpense0000001/step-02.webp").exists()
    assert "step-02" not in (out / "wexpense0000001.md").read_text()
    # the marts of an older version hold no procedures: no documents
    old = duckdb.connect()
    old.execute("CREATE SCHEMA marts")
    assert rewrite_procedures(old, out, kept, storage) is None
    assert not out.exists()


def test_no_procedures_marts_write_nothing(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    out = tmp_path / PROCEDURES
    storage = LocalStorage(tmp_path / "bucket")
    assert write_procedures(con, out, F.INDEX_SCHEMA.empty_table(), storage) is None
    assert not out.exists()


def test_a_secret_in_a_text_fails_closed(
    world: tuple[duckdb.DuckDBPyConnection, LocalStorage, pa.Table], tmp_path: Path
) -> None:
    con, storage, index = world
    con.execute(
        "UPDATE marts.procedure_steps SET step_text = 'Send it to jane.doe@example.com' "
        "WHERE procedure_id = 'winvoice000002' AND step_index = 2"
    )
    with pytest.raises(ProcedureLeak, match=r"winvoice000002.*email") as e:
        _write(con, storage, index, tmp_path / "v1")
    assert "jane.doe" not in str(e.value)


def test_a_crop_showing_an_email_fails_closed(tmp_path: Path) -> None:
    """A frame in the index whose text around the point is an e-mail address (as an agent
    without text masking would store it): the crop is read like the gate reads frames,
    and nothing is written for publishing."""
    storage = LocalStorage(tmp_path / "bucket")
    leak = _image("jane.doe@example.com", at=(290, 220))
    index = _shard(storage, "b1", {"f1": _image(), "f2": leak, "f3": _image()})
    con = _marts(tmp_path / "warehouse.duckdb")
    with pytest.raises(ProcedureLeak, match=r"wexpense0000001, step 2.*email") as e:
        _write(con, storage, index, tmp_path / "v1")
    assert "jane.doe" not in str(e.value)


HARNESS = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll("img"));
  var out = {
    steps: document.querySelectorAll("ol.steps > li").length,
    optional: document.querySelectorAll("li.is-optional").length,
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    widths: imgs.map(function (i) { return i.getBoundingClientRect().width; }),
    title: document.querySelector("h1").textContent
  };
  var pre = document.createElement("pre");
  pre.id = "harness";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def test_a_document_renders_in_chromium_with_its_steps_and_pictures(
    world: tuple[duckdb.DuckDBPyConnection, LocalStorage, pa.Table], tmp_path: Path
) -> None:
    con, storage, index = world
    _write(con, storage, index, tmp_path / "v1")
    out = tmp_path / "v1" / PROCEDURES
    # a copy beside the page: its pictures are named relative to it
    probe = out / "probe.html"
    probe.write_text((out / "wexpense0000001.html").read_text() + HARNESS)
    dom = subprocess.run(
        [_chromium(), *_flags(tmp_path), "--virtual-time-budget=5000", "--dump-dom",
         probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout  # fmt: skip
    found = re.search(r'<pre id="harness">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    seen = json.loads(html.unescape(found.group(1)))
    assert seen["title"] == "Submit an expense"
    assert (seen["steps"], seen["optional"]) == (4, 1)
    assert seen["images"] == seen["loaded"] == 3
    assert all(w > 100 for w in seen["widths"])


def test_the_report_links_the_procedures_of_the_published_version(
    world: tuple[duckdb.DuckDBPyConnection, LocalStorage, pa.Table], tmp_path: Path
) -> None:
    from worktape.publish.viewer import report_links

    con, storage, index = world
    _write(con, storage, index, tmp_path / "v1")
    _publish(storage, "v1", tmp_path / "v1")
    analyst = tmp_path / "analyst.duckdb"
    a = duckdb.connect(str(analyst))
    a.execute("CREATE TABLE dataset_version AS SELECT 'v1' AS version")
    a.execute("CREATE TABLE workflow_instances (workflow_id VARCHAR, episode_id VARCHAR)")
    a.close()
    links = report_links(analyst, storage)
    root = storage.url + f"/{PUBLISHED}v1/{PROCEDURES}/"
    assert links.procedures_index == root + "index.html"
    assert links.procedures == {w: f"{root}{w}.html" for w in ("wexpense0000001", "winvoice000002")}
    assert f'<a id="procedure-docs" href="{root}index.html">2 documents</a>' in links.paragraph()
    row = links.row("winvoice000002")
    assert f'<a class="procedure-doc" href="{root}winvoice000002.html">' in row
    assert links.row("wother") == ""


def test_a_pictures_pixels_are_read_at_the_frames_own_scale() -> None:
    """A recorded corpus frame (Chromium on a local app, `127.0.0.1:39251/banter/` in the
    address bar): scaled down to a thumbnail, the recogniser read the host and port as a
    phone number and the night failed. The gate reads what a picture is drawn from, at
    the frame's own scale: the whole frame for a thumbnail, the crop's region (no ring)
    for a crop."""
    from PIL import Image

    from worktape.publish.frame_check import scan_image
    from worktape.publish.procedures import crop_box, draw_crop, picture_source

    frame = (Path(__file__).parent / "data" / "address_bar_frame.webp").read_bytes()
    thumb, w, _ = draw_crop(frame, None, None)
    assert w == 640 and scan_image(thumb) == ("phone", "127.881-39251")  # the misreading
    source = Image.open(io.BytesIO(picture_source(frame, None, None)))
    assert source.size == (960, 540)
    assert scan_image(picture_source(frame, None, None)) is None
    region = Image.open(io.BytesIO(picture_source(frame, 0.12, 0.2))).convert("RGB")
    box = crop_box(960, 540, 0.12, 0.2)
    whole = Image.open(io.BytesIO(frame)).convert("RGB")
    assert region.tobytes() == whole.crop(box).tobytes()  # the region as it is, no ring
