"""The episode viewer (worktape.publish.viewer): a page drawn in headless Chromium puts
each action where it happened and steps with the arrow keys; a published night holds
the sampled pages, the nightly report links them, and an erasure takes its contributor's
pages out of every version."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import pytest

from tests.nightkit import DAY
from tests.test_publish import latest, night, state  # noqa: F401  (fixtures)
from worktape.publish.viewer import MARK, Episode, Frame, Step, render_page

FRAME_SIZE = (400, 225)
BACKGROUND = (40, 90, 160)
HOSTILE = '</script><img src=x onerror="document.title=1">&amp; "quoted"'

# appended to a copy of the page: measures the drawn click against its frame, then
# steps with the keyboard, and leaves what it saw in the DOM for --dump-dom (kept out
# of the layout, so a screenshot of the same copy shows the page as measured)
HARNESS = """
<script>
window.addEventListener("load", function () {
  function rect(el) {
    var r = el.getBoundingClientRect();
    return {x: r.left, y: r.top, w: r.width, h: r.height};
  }
  function shown() {
    return Array.prototype.filter.call(document.querySelectorAll("section.step"),
                                       function (s) { return !s.hidden; });
  }
  function key(k) {
    document.dispatchEvent(new KeyboardEvent("keydown", {key: k, bubbles: true}));
    var visible = shown();
    return [document.body.getAttribute("data-step"), visible.length, visible[0].id,
            document.getElementById("position").textContent];
  }
  var out = {start: document.body.getAttribute("data-step"), sections: shown().length};
  var first = shown()[0];
  var img = first.querySelector("img");
  out.loaded = img.complete && img.naturalWidth;
  out.img = rect(img);
  out.point = rect(first.querySelector(".mark.click .point"));
  out.keys = [key("ArrowRight")];
  var drag = shown()[0];
  out.drag_start = rect(drag.querySelector(".mark.drag .point"));
  out.drag_head = rect(drag.querySelector(".mark.drag polygon"));
  out.drag_img = rect(drag.querySelector("img"));
  out.keys = out.keys.concat([key("ArrowRight")]);
  var scroll = shown()[0];
  out.scroll_point = rect(scroll.querySelector(".mark.scroll .point"));
  out.scroll_head = rect(scroll.querySelector(".mark.scroll polygon"));
  out.keys = out.keys.concat([key("ArrowRight"), key("ArrowRight"), key("ArrowRight"),
                              key("ArrowLeft"), key("Home"), key("ArrowLeft")]);
  out.typed = document.querySelector("#step-4 .keys").textContent;
  out.images = document.querySelectorAll("img").length;
  out.title = document.title;
  var pre = document.createElement("pre");
  pre.id = "harness";
  pre.style.cssText = "position:fixed;left:0;top:0;width:1px;height:1px;overflow:hidden;opacity:0";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: make sysdeps installs it"
    return chromium


def _flags(tmp_path: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        "--window-size=1000,900",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]


def _frame() -> Frame:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", FRAME_SIZE, BACKGROUND).save(buf, format="WEBP", lossless=True)
    return Frame(buf.getvalue(), "image/webp", *FRAME_SIZE)


def _step(index: int, kind: str, code: str, **kw: object) -> Step:
    base: dict[str, object] = {
        "index": index,
        "step_id": f"a{index}",
        "action_type": kind,
        "action_code": code,
        "text": "",
        "app": "chrome",
        "window_title": f"Window {index}",
        "time": f"2026-11-02T09:00:0{index}.000000Z",
        "offset_s": float(index),
        "frame_id": "f1",
    }
    base.update(kw)
    step = Step(**base)  # type: ignore[arg-type]
    from worktape.publish.viewer import describe

    return Step(**{**base, "text": describe(step)})  # type: ignore[arg-type]


def _episode() -> Episode:
    steps = (
        _step(
            1,
            "click",
            "pyautogui.click(x=0.25, y=0.6)",
            x=0.25,
            y=0.6,
            element="push button “Save & <close>”",
        ),
        _step(
            2,
            "drag",
            "pyautogui.moveTo(x=0.1, y=0.2); pyautogui.dragTo(x=0.8, y=0.5)",
            x=0.1,
            y=0.2,
            end_x=0.8,
            end_y=0.5,
        ),
        _step(3, "scroll", "pyautogui.scroll(-3)", x=0.5, y=0.4, scroll_dy=-3),
        _step(
            4, "type", "pyautogui.write('...')", typed_text=HOSTILE, window_title=f"<b>{HOSTILE}"
        ),
        _step(5, "hotkey", "pyautogui.hotkey('ctrl', 's')", keys="ctrl+s", frame_id="missing"),
    )
    return Episode(
        episode_id="e1",
        instruction=f"Expenses <i>{HOSTILE}</i>",
        workflow_id="w1",
        workflow_name="Expenses — chrome",
        work_date="2026-11-02",
        duration_s=5.0,
        steps=steps,
    )


def test_a_page_draws_each_action_where_it_happened_and_steps_by_keyboard(
    tmp_path: Path,
) -> None:
    from PIL import Image

    page = render_page(_episode(), {"f1": _frame()})
    # every text is escaped: nothing of it can open an element or close the script
    assert HOSTILE not in page and "<b>" not in page and "<i>Expenses" not in page
    assert "<dt>element</dt><dd>push button “Save &amp; &lt;close&gt;”</dd>" in page
    assert page.count("data:image/webp;base64,") == 1  # a frame shared by steps, once
    probe = tmp_path / "page.html"
    probe.write_text(page + HARNESS)

    chromium, flags = _chromium(), _flags(tmp_path)
    dom = subprocess.run(
        [chromium, *flags, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.search(r'<pre id="harness"[^>]*>(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    seen = json.loads(html.unescape(found.group(1)))
    assert seen["start"] == "1" and seen["sections"] == 1 and seen["loaded"]

    def centre(r: dict[str, float]) -> tuple[float, float]:
        return r["x"] + r["w"] / 2, r["y"] + r["h"] / 2

    # the click's point sits at (0.25, 0.6) of the frame as displayed
    img = seen["img"]
    assert img["w"] > FRAME_SIZE[0]  # scaled to the column: the overlay scales with it
    x, y = centre(seen["point"])
    assert abs(x - (img["x"] + 0.25 * img["w"])) < 1.5
    assert abs(y - (img["y"] + 0.6 * img["h"])) < 1.5
    # the drag starts at (0.1, 0.2) and its arrow's head ends at (0.8, 0.5)
    d = seen["drag_img"]
    x, y = centre(seen["drag_start"])
    assert abs(x - (d["x"] + 0.1 * d["w"])) < 1.5 and abs(y - (d["y"] + 0.2 * d["h"])) < 1.5
    head = seen["drag_head"]
    tip_x, tip_y = d["x"] + 0.8 * d["w"], d["y"] + 0.5 * d["h"]
    assert head["x"] <= tip_x + 1 <= head["x"] + head["w"] + 2
    assert head["y"] - 1 <= tip_y <= head["y"] + head["h"] + 1
    # a scroll down: the arrow points down from the pointer
    x, y = centre(seen["scroll_point"])
    hx, hy = centre(seen["scroll_head"])
    assert abs(hx - x) < 1.5 and hy > y + 20
    # the typed text is shown as typed, not as markup
    assert HOSTILE in seen["typed"] and seen["title"] != "1"
    # a frame not given (not in the version's index) is not shown
    assert seen["images"] == 4

    # next, next, (drag) next, next, next, then past the end, back, Home, and not before 1
    steps = [k[0] for k in seen["keys"]]
    assert steps == ["2", "3", "4", "5", "5", "4", "1", "1"]
    assert all(k[1] == 1 and k[2] == f"step-{k[0]}" for k in seen["keys"])
    assert seen["keys"][1][3] == "Step 3 of 5"

    # on screen: the click's point is drawn in the mark's colour, the frame around it not
    png = tmp_path / "page.png"
    subprocess.run(
        [chromium, *flags, "--virtual-time-budget=5000", f"--screenshot={png}", probe.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    shot = Image.open(png).convert("RGB")
    mark = tuple(int(MARK[i : i + 2], 16) for i in (1, 3, 5))

    def near(p: tuple[int, ...], q: tuple[int, ...]) -> bool:
        return all(abs(a - b) <= 24 for a, b in zip(p, q, strict=True))

    px, py = img["x"] + 0.25 * img["w"], img["y"] + 0.6 * img["h"]
    assert near(shot.getpixel((round(px), round(py))), mark)
    assert near(shot.getpixel((round(px + 0.2 * img["w"]), round(py))), BACKGROUND)
    assert near(shot.getpixel((round(img["x"] + 5), round(img["y"] + 5))), BACKGROUND)


def _pages(version: Path) -> dict[str, str]:
    return {
        p.stem: p.read_text() for p in (version / "viewer").glob("*.html") if p.name != "index.html"
    }


def _embedded(page: str) -> dict[str, bytes]:
    found = re.search(r'<script type="application/json" id="frames">(.*?)</script>', page, re.S)
    assert found
    uris = json.loads(found.group(1))
    return {sid: base64.b64decode(uri.split(",", 1)[1]) for sid, uri in uris.items()}


def _in_version(href: str, version: Path) -> Path:
    """The file a report's link names, in this copy of the bucket (the report was
    written in the night's own state folder, which the test copied)."""
    path = unquote(urlparse(href).path)
    assert href.startswith("file://") and f"/published/{version.name}/viewer/" in path, href
    return version / "viewer" / path.rsplit("/", 1)[1]


@pytest.mark.slow
def test_the_version_holds_the_sampled_pages_and_the_report_links_them(state: Path) -> None:  # noqa: F811
    version = latest(state)
    manifest = json.loads((version / "manifest.json").read_text())
    assert "viewer/index.html" in manifest["files"]
    pages = _pages(version)
    assert {f"viewer/{e}.html" for e in pages} <= set(manifest["files"])

    # the sample: the report's top five workflows, the three newest instances of each
    q = duckdb.connect()
    t = f"{version}/tables"
    expected = {
        r[0]
        for r in q.execute(
            f"""
            WITH top AS (SELECT workflow_id FROM '{t}/workflows.parquet'
                         ORDER BY instance_count DESC, workflow_id LIMIT 5)
            SELECT episode_id FROM '{t}/workflow_instances.parquet' SEMI JOIN top
                USING (workflow_id)
            QUALIFY row_number() OVER (PARTITION BY workflow_id
                                       ORDER BY started_at DESC, episode_id) <= 3
            """
        ).fetchall()
    }
    assert len(expected) > 5 and set(pages) == expected

    # each page says what its training record says, and shows only indexed frames
    records = {
        r["task_id"]: r for r in map(json.loads, (version / "dataset/episodes.jsonl").open())
    }
    index = {
        r["screenshot_id"]: r
        for r in q.execute(f"SELECT * FROM '{version}/frames.parquet'").to_arrow_table().to_pylist()
    }
    shown = 0
    for episode, page in pages.items():
        record = records[episode]
        assert f'<h1 id="instruction">{html.escape(record["instruction"])}</h1>' in page
        assert page.count('<section class="step"') == len(record["traj"])
        for sid, data in _embedded(page).items():
            assert hashlib.sha256(data).hexdigest() == index[sid]["sha256"]
            shown += 1
    assert shown > len(pages)
    # the simulator names the elements acted on: pages show them
    assert any("<dt>element</dt>" in page for page in pages.values())

    # the report links the index and each top workflow's pages, and the links resolve
    report = (state / "home" / "reports" / f"night-{DAY.isoformat()}.html").read_text()
    hrefs = re.findall(r'<a class="viewer-page" href="([^"]+)"', report)
    (index_href,) = re.findall(r'<a id="episode-viewer" href="([^"]+)"', report)
    linked = {_in_version(h, version) for h in hrefs}
    assert linked == {version / "viewer" / f"{e}.html" for e in pages}
    assert all(p.exists() for p in linked)
    assert _in_version(index_href, version) == version / "viewer" / "index.html"
    listing = (version / "viewer" / "index.html").read_text()
    assert all(f'href="{e}.html"' in listing for e in pages)


@pytest.mark.slow
def test_an_erasure_takes_their_pages_out_of_every_version(state: Path) -> None:  # noqa: F811
    from worktape.pipeline.tasks import forget_contributor

    version = latest(state)
    q = duckdb.connect()
    owner = dict(
        q.execute(
            f"SELECT episode_id, contributor_id FROM '{version}/tables/episodes.parquet'"
        ).fetchall()
    )
    pages = _pages(version)
    by_person: dict[str, set[str]] = {}
    for episode in pages:
        by_person.setdefault(owner[episode], set()).add(episode)
    assert len(by_person) == 2  # pages of both contributors
    person = min(by_person, key=lambda p: (-len(by_person[p]), p))
    theirs = by_person[person]
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

    record = forget_contributor(person)
    assert version.name in record["versions_rewritten"]

    for manifest_path in (state / "bucket").glob("published/*/manifest.json"):
        root = manifest_path.parent
        manifest = json.loads(manifest_path.read_text())
        left = _pages(root)
        # their pages are gone, from the folder and from the manifest
        assert not theirs & set(left), root
        assert not [f for f in manifest["files"] if any(e in f for e in theirs)]
        for rel, meta in manifest["files"].items():
            assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == meta["sha256"]
        on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        assert on_disk - {"manifest.json"} == set(manifest["files"]), root
        listing = (root / "viewer" / "index.html").read_text()
        assert not any(e in listing for e in theirs)
        for page in left.values():
            assert person not in page and not any(e in page for e in theirs)
            assert not their_frames & set(_embedded(page))
    # the other contributor's pages stay
    assert set(_pages(version)) == set(pages) - theirs
