"""The episode viewer: a static HTML page per sampled episode, in each published version.

    published/<version>/viewer/index.html           the sampled episodes, by workflow
    published/<version>/viewer/<episode_id>.html    one episode, step by step

A page shows each step's frame (the screen before the action) with the action drawn on
it: the click point (a ring; two for a double click, dashed for a right click), the drag
path, the scroll direction, the typed text or the keys pressed. Beside it: the episode's
instruction (the training record's `instruction`, read back from the version's
`dataset/episodes.jsonl`, so the page says what the record says) and every step's text,
with previous and next step by button, by the arrow keys and by `#step-<n>` in the
address.

What is sampled: the report's workflows (the most instances first, as the nightly report
ranks them), a few instances each, the newest first so that a night's pages show the
night's work (`ViewerSample`, from WORKTAPE_VIEWER_WORKFLOWS and
WORKTAPE_VIEWER_INSTANCES). Not every episode: a page embeds its frames.

Frames are embedded in the page as data URIs, each distinct frame once (steps without a
change on screen share one), not written as files beside it: a page is then one object
that works however it is opened (from a synced folder, as an attachment, or through a
presigned URL, which would not sign the relative URL of an image beside it), and an
erasure that drops a page drops its frames with it. Only frames in the version's frames
index are shown (those passed the privacy gate); they are read from their shards.

Pages hold nothing of the run (no time, no version name: the version is named by the
digest of its files), so publishing the same data twice gives the same bytes. Every text
(titles, typed text, instruction, step texts) is escaped.

An erasure (`worktape.publish.erasure.versions`) calls `rewrite_viewer`: the pages of
the erased contributor's episodes go, the others are written again from the rewritten
tables and records (a workflow's name can change when its instances do).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

import duckdb
import pyarrow as pa

from worktape.core.layout import PUBLISHED
from worktape.core.storage import Storage
from worktape.publish import frames as F

VIEWER = "viewer"  # the folder of a version that holds the pages
INDEX_PAGE = "index.html"
TEMPLATE = Path(__file__).with_name("templates") / "viewer.html"
MARK = "#ff1f8f"  # the colour actions are drawn in (the page's --mark)
HALO = "#ffffff"
NO_FRAME = (1600, 900)  # the drawing area of a step without a published frame
_MIME = {"webp": "image/webp", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
_THREADS = 8  # frame reads are ranged reads of the shards: latency-bound


@dataclass(frozen=True)
class ViewerSample:
    """How many pages a night writes: `instances` episodes of each of the report's top
    `workflows`. Either 0 writes none."""

    workflows: int = 5
    instances: int = 3


@dataclass(frozen=True)
class Step:
    index: int  # from 1
    step_id: str
    action_type: str
    action_code: str
    text: str  # the step's text: its step_text column if the tables have one, or derived
    app: str
    window_title: str
    time: str  # UTC, ISO 8601
    offset_s: float  # from the episode's start
    frame_id: str | None  # the frame before the action
    x: float | None = None  # normalised 0-1 on the frame (the monitor acted on)
    y: float | None = None
    end_x: float | None = None
    end_y: float | None = None
    scroll_dx: int | None = None
    scroll_dy: int | None = None  # negative: down
    typed_text: str | None = None
    keys: str | None = None
    is_redacted: bool = False
    element: str | None = None  # the element acted on, "role “name”", if the steps name one


@dataclass(frozen=True)
class Episode:
    episode_id: str
    instruction: str
    workflow_id: str | None
    workflow_name: str
    work_date: str
    duration_s: float
    steps: tuple[Step, ...] = field(default=())


@dataclass(frozen=True)
class Frame:
    data: bytes
    mime: str
    width: int
    height: int

    def uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


# -- what is shown ------------------------------------------------------------------------
_SAMPLE_SQL = """
WITH top AS (
    -- the report's workflows, in its order (worktape.publish.night_report)
    SELECT workflow_id FROM marts.workflows
    ORDER BY instance_count DESC, workflow_id LIMIT $1
),
ranked AS (
    SELECT i.workflow_id, i.episode_id,
           row_number() OVER (PARTITION BY i.workflow_id
                              ORDER BY i.started_at DESC, i.episode_id) AS k
    FROM marts.workflow_instances AS i SEMI JOIN top USING (workflow_id)
)
SELECT episode_id FROM ranked WHERE k <= $2 ORDER BY episode_id
"""


def sample_episodes(con: duckdb.DuckDBPyConnection, sample: ViewerSample) -> list[str]:
    """The episodes a night writes pages for (the tables in `con`'s schema `marts`)."""
    if sample.workflows <= 0 or sample.instances <= 0:
        return []
    rows = con.execute(_SAMPLE_SQL, [sample.workflows, sample.instances]).fetchall()
    return [r[0] for r in rows]


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_schema = 'marts' AND table_name = ? AND column_name = ?",
        [table, column],
    ).fetchone()
    return bool(row and row[0])


def load_episodes(
    con: duckdb.DuckDBPyConnection, episode_ids: Sequence[str], records: Path
) -> list[Episode]:
    """The episodes, their steps and instructions: the steps and actions tables in
    `con`'s schema `marts`, the instruction from the training records at `records`."""
    if not episode_ids:
        return []
    wanted = pa.table({"episode_id": pa.array(sorted(set(episode_ids)), pa.string())})
    con.register("viewer_wanted", wanted)
    try:
        instructions = dict(
            con.execute(
                "SELECT task_id, instruction FROM read_json(?, format = 'newline_delimited', "
                "columns = {task_id: 'VARCHAR', instruction: 'VARCHAR'}) "
                "SEMI JOIN viewer_wanted ON task_id = episode_id",
                [str(records)],
            ).fetchall()
        )
        # a step text written by the pipeline wins over the one derived here, once the
        # steps table has one
        step_text = "s.step_text" if _has_column(con, "steps", "step_text") else "NULL::VARCHAR"
        # the element acted on (steps of format 1.1 bundles; older versions have no column)
        element = (
            "nullif(concat_ws(' ', nullif(s.element_role, ''), "
            "'“' || nullif(s.element_name, '') || '”'), '')"
            if _has_column(con, "steps", "element_role")
            and _has_column(con, "steps", "element_name")
            else "NULL::VARCHAR"
        )
        steps: dict[str, list[Step]] = {}
        for r in con.execute(
            f"""
            SELECT s.episode_id, s.step_index, s.step_id, s.action_type, s.action_code,
                   {step_text}, coalesce(s.app, ''), coalesce(s.window_title, ''),
                   strftime(make_timestamp(epoch_us(s.started_at)), '%Y-%m-%dT%H:%M:%S.%fZ'),
                   (epoch_us(s.started_at) - epoch_us(e.started_at)) / 1e6,
                   s.frame_before_id,
                   a.x_norm, a.y_norm, a.end_x_norm, a.end_y_norm,
                   a.scroll_dx::BIGINT, a.scroll_dy::BIGINT, a.typed_text, a.keys,
                   coalesce(s.is_redacted, false), {element}
            FROM marts.steps AS s
            SEMI JOIN viewer_wanted USING (episode_id)
            JOIN marts.episodes AS e USING (episode_id)
            LEFT JOIN marts.actions AS a ON a.action_id = s.step_id
            ORDER BY s.episode_id, s.step_index
            """
        ).fetchall():
            step = Step(
                index=int(r[1]),
                step_id=r[2],
                action_type=r[3] or "",
                action_code=r[4] or "",
                text="",
                app=r[6],
                window_title=r[7],
                time=r[8],
                offset_s=float(r[9]),
                frame_id=r[10],
                x=r[11],
                y=r[12],
                end_x=r[13],
                end_y=r[14],
                scroll_dx=r[15],
                scroll_dy=r[16],
                typed_text=r[17],
                keys=r[18],
                is_redacted=bool(r[19]),
                element=r[20],
            )
            text = r[5] if r[5] else describe(step)
            steps.setdefault(r[0], []).append(replace(step, text=text))
        episodes = con.execute(
            """
            SELECT e.episode_id, i.workflow_id, coalesce(w.workflow_name, ''),
                   strftime(e.work_date, '%Y-%m-%d'), e.duration_s
            FROM marts.episodes AS e
            SEMI JOIN viewer_wanted USING (episode_id)
            LEFT JOIN marts.workflow_instances AS i USING (episode_id)
            LEFT JOIN marts.workflows AS w USING (workflow_id)
            ORDER BY e.episode_id
            """
        ).fetchall()
    finally:
        con.unregister("viewer_wanted")
    return [
        Episode(
            episode_id=eid,
            instruction=instructions.get(eid, ""),
            workflow_id=wid,
            workflow_name=name,
            work_date=work_date,
            duration_s=float(duration or 0),
            steps=tuple(steps.get(eid, ())),
        )
        for eid, wid, name, work_date, duration in episodes
    ]


def _point(x: float | None, y: float | None) -> str:
    return f"x={x:.2f}, y={y:.2f}" if x is not None and y is not None else "an unknown point"


def describe(step: Step) -> str:
    """A short text for a step, from its action (until the tables carry a step text)."""
    kind = step.action_type
    if kind in ("click", "double_click", "right_click"):
        verb = {"click": "Click", "double_click": "Double-click", "right_click": "Right-click"}
        return f"{verb[kind]} at {_point(step.x, step.y)}"
    if kind == "drag":
        return f"Drag from {_point(step.x, step.y)} to {_point(step.end_x, step.end_y)}"
    if kind == "scroll":
        parts = []
        dy, dx = step.scroll_dy or 0, step.scroll_dx or 0
        if dy:
            parts.append(f"{'down' if dy < 0 else 'up'} {abs(dy)}")
        if dx:
            parts.append(f"{'left' if dx < 0 else 'right'} {abs(dx)}")
        return "Scroll " + (", ".join(parts) or "0")
    if kind == "type":
        typed = step.typed_text or ""
        short = typed if len(typed) <= 60 else typed[:59] + "…"
        return f"Type “{short}”" + (" (partly redacted)" if step.is_redacted else "")
    if kind == "hotkey":
        return f"Press {step.keys or '?'}"
    return step.action_code or kind


# -- drawing ------------------------------------------------------------------------------
def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _arrow(x0: float, y0: float, x1: float, y1: float, width: float, cls: str) -> str:
    """A line from (x0, y0) to (x1, y1) with a head at its end, in the mark's colour on a
    white halo."""
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    head = width * 4
    bx, by = x1 - ux * head, y1 - uy * head  # the head's base
    px, py = -uy * head * 0.6, ux * head * 0.6
    points = " ".join(
        f"{_num(a)},{_num(b)}" for a, b in ((x1, y1), (bx + px, by + py), (bx - px, by - py))
    )
    line = f'x1="{_num(x0)}" y1="{_num(y0)}" x2="{_num(bx)}" y2="{_num(by)}"'
    return (
        f'<g class="{cls}">'
        f'<line {line} stroke="{HALO}" stroke-width="{_num(width * 2)}" stroke-linecap="round"/>'
        f'<polygon points="{points}" fill="{MARK}" stroke="{HALO}" '
        f'stroke-width="{_num(width * 0.6)}" stroke-linejoin="round"/>'
        f'<line {line} stroke="{MARK}" stroke-width="{_num(width)}" stroke-linecap="round"/>'
        "</g>"
    )


def _ring(cx: float, cy: float, r: float, width: float, *, dashed: bool = False) -> str:
    dash = f' stroke-dasharray="{_num(r * 0.5)} {_num(r * 0.35)}"' if dashed else ""
    c = f'cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(r)}" fill="none"'
    return (
        f'<circle {c} stroke="{HALO}" stroke-width="{_num(width * 2)}"/>'
        f'<circle {c} stroke="{MARK}" stroke-width="{_num(width)}"{dash}/>'
    )


def _dot(cx: float, cy: float, r: float) -> str:
    return (
        f'<circle class="point" cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(r)}" fill="{MARK}" '
        f'stroke="{HALO}" stroke-width="{_num(r * 0.4)}"/>'
    )


def _clamp(v: float) -> float:
    return min(1.0, max(0.0, v))


def overlay(step: Step, width: int, height: int) -> str:
    """The action, as SVG drawn over a frame of `width` x `height` pixels (its viewBox):
    the normalised coordinates of the action are the frame's, since the agent takes the
    frame of the monitor acted on."""
    unit = max(width, height) / 100  # sizes scale with the frame
    r, w = unit * 2.2, unit * 0.45
    has_point = step.x is not None and step.y is not None
    cx = _clamp(step.x or 0.0) * width if has_point else width / 2
    cy = _clamp(step.y or 0.0) * height if has_point else height / 2
    parts: list[str] = []
    kind = step.action_type
    if kind in ("click", "double_click", "right_click") and has_point:
        parts.append(_ring(cx, cy, r, w, dashed=kind == "right_click"))
        if kind == "double_click":
            parts.append(_ring(cx, cy, r * 1.6, w))
        parts.append(_dot(cx, cy, unit * 0.5))
        mark = "click"
    elif kind == "drag" and has_point and step.end_x is not None and step.end_y is not None:
        ex, ey = _clamp(step.end_x) * width, _clamp(step.end_y) * height
        parts.append(_dot(cx, cy, unit * 0.6))
        parts.append(_arrow(cx, cy, ex, ey, w * 1.5, "path"))
        mark = "drag"
    elif kind == "scroll":
        dy, dx = step.scroll_dy or 0, step.scroll_dx or 0
        # the arrow shows which way the page was asked to move: negative dy is down
        vx = (1 if dx > 0 else -1 if dx < 0 else 0) * unit * 9
        vy = (1 if dy < 0 else -1 if dy > 0 else 0) * unit * 9
        if vx or vy:
            parts.append(_arrow(cx, cy, cx + vx, cy + vy, w * 2, "direction"))
        if has_point:  # where the pointer was, over the arrow's tail
            parts.append(_dot(cx, cy, unit * 0.8))
        mark = "scroll"
    else:
        mark = kind or "none"  # typed text and keys are shown as text on the frame
    x = f' data-x="{step.x:.4f}" data-y="{step.y:.4f}"' if has_point else ""
    return (
        f'<svg class="overlay" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'xmlns="http://www.w3.org/2000/svg" aria-hidden="true">'
        f'<g class="mark {mark}"{x}>{"".join(parts)}</g></svg>'
    )


def _keys_box(step: Step) -> str:
    e = html.escape
    if step.action_type == "type":
        note = " <small>(partly redacted)</small>" if step.is_redacted else ""
        return f'<div class="keys typed">⌨ {e(step.typed_text or "")}{note}</div>'
    if step.action_type == "hotkey":
        keys = "+".join(f"<kbd>{e(k)}</kbd>" for k in (step.keys or "?").split("+"))
        return f'<div class="keys hotkey">{keys}</div>'
    return ""


# -- pages --------------------------------------------------------------------------------
def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def render_page(episode: Episode, frames: dict[str, Frame]) -> str:
    """One episode's page. `frames`: the published frames it may show, by id."""
    e = html.escape
    shown: dict[str, str] = {}
    sections, items = [], []
    n = len(episode.steps)
    for step in episode.steps:
        frame = frames.get(step.frame_id or "")
        if frame is not None and step.frame_id:
            shown[step.frame_id] = frame.uri()
            size = (frame.width, frame.height)
            alt = f"the screen before step {step.index}"
            image = (
                f'<img data-frame="{e(step.frame_id)}" width="{frame.width}" '
                f'height="{frame.height}" alt="{e(alt)}">'
            )
        else:
            size = NO_FRAME
            image = (
                f'<div class="noframe" style="aspect-ratio: {size[0]} / {size[1]}">'
                "no frame published for this step</div>"
            )
        title = step.window_title or step.app
        facts = [
            ("window", e(title) if title else "<i>unknown</i>"),
            ("app", e(step.app) if step.app else "<i>unknown</i>"),
            *([("element", e(step.element))] if step.element else []),
            ("time", f"{e(step.time)} (+{step.offset_s:.1f} s)"),
            ("action", f"<code>{e(step.action_code)}</code>"),
            ("frame", e(step.frame_id) if step.frame_id in shown else "<i>none</i>"),
        ]
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        sections.append(
            f'<section class="step" id="step-{step.index}" data-action="{e(step.action_type)}">'
            f"<h2>Step {step.index} of {n}: {e(step.text)}</h2>"
            f'<figure class="shot">{image}{overlay(step, *size)}{_keys_box(step)}</figure>'
            f'<dl class="facts">{dl}</dl></section>'
        )
        items.append(f'<li><a href="#step-{step.index}">{e(step.text)}</a></li>')
    meta = (
        f"{e(episode.work_date)} · {n} step{'s' if n != 1 else ''} · "
        f"{duration_text(episode.duration_s)} · episode {e(episode.episode_id)}"
    )
    frames_json = json.dumps(shown, sort_keys=True, separators=(",", ":"))
    return Template(TEMPLATE.read_text()).substitute(
        title=e(f"{episode.instruction or episode.episode_id} · worktape episode"),
        workflow=e(episode.workflow_name or "no workflow"),
        instruction=e(episode.instruction or episode.episode_id),
        meta=meta,
        count=n,
        sections="\n".join(sections),
        items="".join(items),
        # nothing in it can close the script element: ids and base64
        frames=frames_json.replace("<", "\\u003c"),
    )


def render_index(episodes: Sequence[Episode]) -> str:
    """The version's list of pages, by workflow."""
    e = html.escape
    groups: dict[tuple[str, str], list[Episode]] = {}
    for ep in episodes:
        groups.setdefault((ep.workflow_name, ep.workflow_id or ""), []).append(ep)
    body = []
    for (name, wid), eps in sorted(groups.items()):
        rows = "".join(
            f'<li><a href="{quote(ep.episode_id)}.html">{e(ep.instruction or ep.episode_id)}</a>'
            f" <small>{e(ep.work_date)}, {len(ep.steps)} steps, "
            f"{duration_text(ep.duration_s)}</small></li>"
            for ep in sorted(eps, key=lambda x: (x.work_date, x.episode_id), reverse=True)
        )
        body.append(
            f'<section class="workflow" data-workflow="{e(wid)}">'
            f"<h2>{e(name or 'no workflow')}</h2><ul>{rows}</ul></section>"
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>worktape episode viewer</title><style>"
        "body { font-family: sans-serif; margin: 2em; max-width: 60em; }"
        "li { margin: .3em 0; } small { color: #666; }</style></head><body>"
        "<h1>Episode viewer</h1><p>A sample of the episodes of this version: a few "
        "instances of each of the night's top workflows. Open one and step through it "
        "with ← and →.</p>" + "".join(body) + "</body></html>\n"
    )


# -- frames -------------------------------------------------------------------------------
def read_frames(storage: Storage, index: pa.Table, ids: Iterable[str]) -> dict[str, Frame]:
    """The frames among `ids` that the version's frames index holds, read from their
    shards (ranged reads, each checked against its sha256). A frame that does not decode
    is left out: the page shows the step without it."""
    import pyarrow.compute as pc
    from PIL import Image

    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = index.filter(pc.is_in(index["screenshot_id"], pa.array(wanted, pa.string())))
    found = rows.to_pylist()

    def read(row: dict[str, Any]) -> tuple[str, Frame | None]:
        data = F.read_frame(storage, row)
        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
        except Exception:  # not an image: nothing to show
            return row["screenshot_id"], None
        ext = str(row["member"]).rsplit(".", 1)[-1].lower()
        return row["screenshot_id"], Frame(data, _MIME.get(ext, "image/webp"), width, height)

    with ThreadPoolExecutor(_THREADS, thread_name_prefix="viewer") as pool:
        return {sid: f for sid, f in pool.map(read, found) if f is not None}


def write_pages(
    out: Path, episodes: Sequence[Episode], storage: Storage, index: pa.Table
) -> list[str]:
    """The pages of `episodes` and their index under `out` (a version's viewer/), which
    is emptied first. Returns the episode ids written."""
    if out.exists():
        for old in out.glob("*.html"):
            old.unlink()
    if not episodes:
        return []
    out.mkdir(parents=True, exist_ok=True)
    for ep in episodes:
        frames = read_frames(storage, index, (s.frame_id for s in ep.steps if s.frame_id))
        (out / f"{ep.episode_id}.html").write_text(render_page(ep, frames), encoding="utf-8")
    (out / INDEX_PAGE).write_text(render_index(episodes), encoding="utf-8")
    return [ep.episode_id for ep in episodes]


def write_viewer(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    index: pa.Table,
    storage: Storage,
    *,
    records: Path,
    sample: ViewerSample | None = None,
) -> list[str]:
    """A night's pages: the sample's episodes (`con` holds the tables in schema `marts`,
    `records` is the version's dataset/episodes.jsonl, `index` its frames index)."""
    ids = sample_episodes(con, sample or ViewerSample())
    return write_pages(out, load_episodes(con, ids, records), storage, index)


def rewrite_viewer(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    index: pa.Table,
    storage: Storage,
    *,
    records: Path,
) -> list[str]:
    """After an erasure: the version's pages again, for the episodes that remain of those
    it had (no new ones are sampled); the others' pages go."""
    had = sorted(p.stem for p in out.glob("*.html") if p.name != INDEX_PAGE)
    return write_pages(out, load_episodes(con, had, records), storage, index)


# -- links, for the nightly report --------------------------------------------------------
@dataclass
class ViewerLinks:
    index: str | None = None  # the viewer's index page
    pages: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # workflow -> pages
    # the procedure documents (worktape.publish.procedures): their index, and each
    # workflow's page (a procedure is named by its workflow's id)
    procedures_index: str | None = None
    procedures: dict[str, str] = field(default_factory=dict)

    def count(self) -> int:
        return sum(len(v) for v in self.pages.values())

    def row(self, workflow_id: str) -> str:
        """A workflow's pages and its procedure document, for its row in the report."""
        out = ""
        if doc := self.procedures.get(workflow_id):
            out += (
                f'<div class="steps procedure"><a class="procedure-doc" '
                f'href="{html.escape(doc)}">How it is done</a>, step by step</div>'
            )
        pages = self.pages.get(workflow_id, [])
        if not pages:
            return out
        links = " ".join(
            f'<a class="viewer-page" href="{html.escape(href)}" '
            f'title="episode {html.escape(eid)}">{i}</a>'
            for i, (eid, href) in enumerate(pages, 1)
        )
        return out + f'<div class="steps viewer">Step through an instance: {links}</div>'

    def paragraph(self) -> str:
        """The report's pointer to the viewer's index and the procedures' index."""
        if self.index is None:
            text = "<p>No episode viewer pages in the published version.</p>"
        else:
            text = (
                f'<p>Episode viewer: <a id="episode-viewer" href="{html.escape(self.index)}">'
                f"{self.count()} sampled episodes</a>, a page each, in the published version.</p>"
            )
        if self.procedures_index is not None:
            text += (
                f'<p>Procedures: <a id="procedure-docs" '
                f'href="{html.escape(self.procedures_index)}">{len(self.procedures)} '
                "documents</a>, how each recurring workflow is done, in the published "
                "version.</p>"
            )
        return text


def _href(storage: Storage, key: str) -> str:
    return storage.url.rstrip("/") + "/" + quote(key)


def report_links(analyst: Path, storage: Storage | None) -> ViewerLinks:
    """Where the pages of the version in the analyst file lie, by workflow (the
    episodes' workflows as that version has them)."""
    from worktape.warehouse import open_db

    if storage is None or not analyst.exists():
        return ViewerLinks()
    con = open_db(analyst, read_only=True)
    try:
        row = con.execute("SELECT max(version) FROM dataset_version").fetchone()
        version = row[0] if row else None
        if not version:
            return ViewerLinks()
        prefix = f"{PUBLISHED}{version}/{VIEWER}/"
        keys = sorted(i.key for i in storage.list(prefix) if i.key.endswith(".html"))
        pages = {k[len(prefix) : -len(".html")]: k for k in keys}
        index_key = pages.pop(INDEX_PAGE[: -len(".html")], None)
        links = ViewerLinks(_href(storage, index_key) if index_key else None)
        # the procedure documents' pages (a folder of its own: not the crops in it)
        docs = f"{PUBLISHED}{version}/procedures/"
        for i in storage.list(docs):
            name = i.key[len(docs) :]
            if "/" in name or not name.endswith(".html"):
                continue
            if name == INDEX_PAGE:
                links.procedures_index = _href(storage, i.key)
            else:
                links.procedures[name[: -len(".html")]] = _href(storage, i.key)
        if pages:
            con.register("viewer_pages", pa.table({"episode_id": sorted(pages)}))
            for wid, eid in con.execute(
                "SELECT workflow_id, episode_id FROM workflow_instances "
                "SEMI JOIN viewer_pages USING (episode_id) ORDER BY 1, 2"
            ).fetchall():
                links.pages.setdefault(wid, []).append((eid, _href(storage, pages[eid])))
        return links
    finally:
        con.close()
