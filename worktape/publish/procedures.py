"""Procedure documents: how each recurring workflow is done, in every published version.

    published/<version>/procedures/<procedure_id>.md      for people (Markdown)
    published/<version>/procedures/<procedure_id>.html    the same, one static page
    published/<version>/procedures/<procedure_id>.json    for machines: every field
    published/<version>/procedures/<procedure_id>/step-NN.webp  where step NN acts
    published/<version>/procedures/index.{html,md,json}   every procedure

From the marts `procedures` (one row per recurring workflow: its usual path's timing,
variants and freshness) and `procedure_steps` (the usual path's steps). A document says
what the procedure is for, how many people do it and how often (counts only: no name and
no contributor id), how long it takes (median, p25-p75) and where the time goes, each
step with its app, page, share of instances and time, the variants and their shares,
and when it was first and last seen (with a note when its usual path changed).

A step's picture is its example frame (the screen before the action) cropped around the
point acted on (CROP_SHARE of the frame's width, clamped to the frame) with a ring drawn
there; without a point, the whole frame scaled down; without a frame, none. Frames come
only from the version's frames index (those that passed the gate), and the pixels of
every picture drawn are read again with the gate's recogniser and rules
(`frame_check.scan_image`), at the frame's own scale: the crop's region before the ring
is drawn, the whole frame a thumbnail is scaled from. The Markdown is checked with the
text rules (`privacy.policy.finding`). Any finding raises
ProcedureLeak: nothing is published. The recogniser missing raises too (fail closed).

Deterministic: the same marts and frames give the same bytes (the version's name is the
digest of its files): no time of the run, keys sorted, floats rounded, WebP encoded
lossless with fixed settings. A procedure whose fingerprint (the marts' hash of its row
and steps), frames and renderer are those of the previous version is copied from it,
checked against that version's manifest, not drawn again (index.json keeps the keys).

Without the marts (a warehouse from before them, an old version rewritten) nothing is
written.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import math
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pyarrow as pa

from worktape.core.layout import PUBLISHED
from worktape.core.privacy.policy import finding, mask
from worktape.core.storage import ObjectMissing, Storage
from worktape.publish.viewer import HALO, MARK, duration_text, read_frames

log = logging.getLogger(__name__)

PROCEDURES = "procedures"  # the folder of a version that holds the documents
INDEX = "index"
# bump when what a document holds or how it looks changes: documents of an older
# renderer are drawn again instead of copied
RENDERER = 1
CROP_SHARE = 0.4  # of the frame's width, centred on the point acted on
CROP_ASPECT = 0.625  # the crop's height to its width (16:10), at most the frame's
THUMB_WIDTH = 640  # a frame without a point, scaled down to this width at most
WEBP: dict[str, Any] = {"format": "WEBP", "lossless": True, "quality": 80, "method": 4}
DIGITS = 4  # floats in the JSON
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class ProcedureLeak(RuntimeError):
    """A procedure document would show a secret: nothing was published."""


@dataclass
class ProcedureDocs:
    """What a night did: documents drawn and copied from the previous version."""

    documents: int = 0
    rendered: int = 0
    reused: int = 0
    crops_checked: int = 0
    procedure_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k != "procedure_ids"}


# -- the marts --------------------------------------------------------------------------
def has_procedures(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(DISTINCT table_name) FROM information_schema.tables "
        "WHERE table_schema = 'marts' "
        "AND table_name IN ('procedures', 'procedure_steps')"
    ).fetchone()
    return bool(row and row[0] == 2)


def _iso(column: str) -> str:
    return f"strftime(make_timestamp(epoch_us({column})), '%Y-%m-%dT%H:%M:%SZ')"


def load_procedures(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every procedure with its steps (`steps`, by step_index), as plain values."""
    procs = con.execute(
        f"""
        SELECT * REPLACE ({_iso("first_seen_at")} AS first_seen_at,
                          {_iso("last_seen_at")} AS last_seen_at)
        FROM marts.procedures ORDER BY procedure_id
        """
    ).to_arrow_table()
    steps = con.execute(
        "SELECT * FROM marts.procedure_steps ORDER BY procedure_id, step_index"
    ).to_arrow_table()
    by_proc: dict[str, list[dict[str, Any]]] = {}
    for s in steps.to_pylist():
        by_proc.setdefault(s["procedure_id"], []).append(_plain(s))
    return [{**_plain(p), "steps": by_proc.get(p["procedure_id"], [])} for p in procs.to_pylist()]


def _plain(value: Any) -> Any:
    """JSON values that print the same every time: floats rounded, no NaN."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, DIGITS) + 0.0
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def file_stem(procedure_id: str) -> str:
    """The procedure's file name: its id, or a digest of it if it is not a plain name."""
    if _SAFE_ID.fullmatch(procedure_id) and procedure_id not in (INDEX,):
        return procedure_id
    return "p" + hashlib.sha256(procedure_id.encode()).hexdigest()[:16]


def _crop_name(step_index: int) -> str:
    return f"step-{step_index:02d}.webp"


# -- texts ------------------------------------------------------------------------------
def _share(share: float | None) -> str:
    if share is None:
        return "an unknown share of"
    pct = share * 100
    if 0 < pct < 1:
        return "under 1% of"
    return f"{pct:.0f}% of"


def _time(seconds: float | None) -> str:
    return "unknown" if seconds is None else duration_text(float(seconds))


def _spread(p25: float | None, p75: float | None) -> str:
    if p25 is None or p75 is None:
        return ""
    return f"{_time(p25)} – {_time(p75)}"


def _plural(n: int | None, word: str) -> str:
    n = int(n or 0)
    return f"{n:,} {word}{'' if n == 1 else 's'}"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!])")


def _md(text: str | None) -> str:
    """A text as Markdown shows it: its marks escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join((text or "").split()))


@dataclass(frozen=True)
class _Doc:
    """What the three documents of one procedure say, in one place."""

    p: dict[str, Any]
    crops: dict[int, tuple[str, int, int]]  # step_index -> (path from procedures/, w, h)

    @property
    def stem(self) -> str:
        return file_stem(self.p["procedure_id"])

    @property
    def title(self) -> str:
        return str(self.p.get("title") or self.p.get("procedure_id") or "Procedure")

    def who(self) -> str:
        return (
            f"{_plural(self.p.get('contributor_count'), 'contributor')}, "
            f"{_plural(self.p.get('instance_count'), 'instance')}"
        )

    def timing(self) -> str:
        text = f"median {_time(self.p.get('median_duration_s'))}"
        spread = _spread(self.p.get("p25_duration_s"), self.p.get("p75_duration_s"))
        return text + (f", half of the instances take {spread}" if spread else "")

    def slowest(self) -> dict[str, Any] | None:
        k = self.p.get("slowest_step_index")
        return next((s for s in self.p["steps"] if s["step_index"] == k), None)

    def where(self) -> str:
        app, site = self.p.get("app"), self.p.get("site")
        return ", ".join(x for x in (app, site) if x) or "unknown"

    def seen(self) -> str:
        first = (self.p.get("first_seen_at") or "")[:10] or "unknown"
        last = (self.p.get("last_seen_at") or "")[:10] or "unknown"
        return f"first {first}, last {last}"

    def changed_note(self) -> str | None:
        if not self.p.get("has_path_changed"):
            return None
        return (
            "The usual path of this procedure changed over the time it was seen: "
            "earlier instances may follow other steps than the ones below."
        )

    def step_facts(self, s: dict[str, Any]) -> list[str]:
        facts = [f"in {s['app']}" if s.get("app") else "app unknown"]
        if s.get("page"):
            facts.append(f"page “{s['page']}”")
        facts.append(f"in {_share(s.get('instance_share'))} instances")
        t = f"median {_time(s.get('median_duration_s'))}"
        spread = _spread(s.get("p25_duration_s"), s.get("p75_duration_s"))
        facts.append(t + (f" ({spread})" if spread else ""))
        return facts

    def variants(self) -> list[tuple[str, str]]:
        out = []
        for v in self.p.get("variants") or []:
            label = str(v.get("variant") or "variant")
            text = f"{_share(v.get('instance_share'))} instances"
            if v.get("median_duration_s") is not None:
                text += f", median {_time(v['median_duration_s'])}"
            out.append((label, text))
        return out


def render_markdown(doc: _Doc) -> str:
    p, lines = doc.p, [f"# {_md(doc.title)}", ""]
    if p.get("purpose"):
        lines += [_md(p["purpose"]), ""]
    lines += [
        f"- **Who:** {doc.who()}",
        f"- **Where:** {_md(doc.where())}",
        f"- **Time:** {doc.timing()}",
    ]
    if (slow := doc.slowest()) is not None:
        lines.append(
            f"- **Where the time goes:** step {slow['step_index']}, "
            f"{_md(slow.get('step_text'))} (median {_time(slow.get('median_duration_s'))})"
        )
    lines.append(f"- **Seen:** {doc.seen()}")
    if note := doc.changed_note():
        lines += ["", f"> **Note:** {note}"]
    lines += ["", "## Steps", ""]
    for s in p["steps"]:
        optional = " (optional)" if s.get("is_optional") else ""
        lines.append(f"{s['step_index']}. **{_md(s.get('step_text'))}**{optional}  ")
        lines.append(f"   {_md(' · '.join(doc.step_facts(s)))}")
        if (crop := doc.crops.get(s["step_index"])) is not None:
            lines += ["", f"   ![Step {s['step_index']}]({quote(crop[0])})"]
        lines.append("")
    if variants := doc.variants():
        lines += ["## Variants", ""]
        lines += [f"- **{_md(label)}**: {text}" for label, text in variants]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


_CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 52em; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: .2em; } .purpose { font-size: 110%; color: #444; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; }
.note { border-left: 4px solid #e0a000; background: #fff7e0; padding: .5em 1em; }
ol.steps { padding-left: 1.5em; } ol.steps > li { margin: 1.2em 0; }
.step-text { font-weight: bold; } .optional { color: #a05a00; font-weight: normal; }
.facts-line { color: #555; font-size: 92%; }
figure { margin: .5em 0; } figure img { max-width: 100%; height: auto;
         border: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 4px 8px;
        border-bottom: 1px solid #ddd; text-align: left; }
small { color: #666; }
""".strip()


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def render_html(doc: _Doc) -> str:
    e, p = html.escape, doc.p
    facts = [
        ("Who", e(doc.who())),
        ("Where", e(doc.where())),
        ("Time", e(doc.timing())),
    ]
    if (slow := doc.slowest()) is not None:
        facts.append(
            (
                "Where the time goes",
                f'<a href="#step-{slow["step_index"]}">step {slow["step_index"]}</a>, '
                f"{e(slow.get('step_text') or '')} "
                f"(median {e(_time(slow.get('median_duration_s')))})",
            )
        )
    facts.append(("Seen", e(doc.seen())))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    note = doc.changed_note()
    items = []
    for s in p["steps"]:
        k = s["step_index"]
        optional = ' <span class="optional">(optional)</span>' if s.get("is_optional") else ""
        figure = ""
        if (crop := doc.crops.get(k)) is not None:
            figure = (
                f'<figure><img src="{e(quote(crop[0]))}" width="{crop[1]}" height="{crop[2]}" '
                f'alt="{e(f"the screen at step {k}")}"></figure>'
            )
        items.append(
            f'<li id="step-{k}" class="step{" is-optional" if optional else ""}">'
            f'<div class="step-text">{e(s.get("step_text") or "")}{optional}</div>'
            f'<div class="facts-line">{e(" · ".join(doc.step_facts(s)))}</div>{figure}</li>'
        )
    variants = doc.variants()
    vrows = "".join(f"<tr><td>{e(label)}</td><td>{e(text)}</td></tr>" for label, text in variants)
    body = (
        f"<h1>{e(doc.title)}</h1>"
        + (f'<p class="purpose">{e(p["purpose"])}</p>' if p.get("purpose") else "")
        + f'<dl class="facts">{dl}</dl>'
        + (f'<p class="note">{e(note)}</p>' if note else "")
        + f'<h2>Steps</h2><ol class="steps">{"".join(items)}</ol>'
        + (f'<h2>Variants</h2><table class="variants">{vrows}</table>' if variants else "")
        + '<p><small><a href="index.html">All procedures</a></small></p>'
    )
    return _page(f"{doc.title} · worktape procedure", body)


def render_json(doc: _Doc) -> str:
    steps = [
        {**s, "crop": doc.crops[s["step_index"]][0] if s["step_index"] in doc.crops else None}
        for s in doc.p["steps"]
    ]
    return (
        json.dumps({**doc.p, "steps": steps}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def render_index(entries: Sequence[dict[str, Any]]) -> tuple[str, str, str]:
    """index.md, index.html and index.json: the procedures, most instances first."""
    e = html.escape
    md = ["# Procedures", "", "How the recurring workflows of this version are done.", ""]
    rows = []
    for x in entries:
        md.append(
            f"- [{_md(x['title'])}]({quote(x['markdown'])}): "
            f"{_plural(x['instance_count'], 'instance')}, {_plural(x['step_count'], 'step')}, "
            f"median {_time(x['median_duration_s'])}"
        )
        rows.append(
            f'<tr data-procedure="{e(x["procedure_id"])}">'
            f'<td><a class="procedure" href="{e(quote(x["html"]))}">{e(x["title"])}</a></td>'
            f"<td>{x['instance_count']:,}</td><td>{x['step_count']:,}</td>"
            f"<td>{e(_time(x['median_duration_s']))}</td></tr>"
        )
    if not entries:
        md.append("No recurring workflow in this version.")
    body = (
        "<h1>Procedures</h1><p>How the recurring workflows of this version are done: "
        "a document each, step by step.</p>"
        '<table id="procedures"><tr><th>procedure</th><th>instances</th><th>steps</th>'
        f"<th>median time</th></tr>{''.join(rows)}</table>"
    )
    index = {"renderer": RENDERER, "procedures": list(entries)}
    return (
        "\n".join(md) + "\n",
        _page("worktape procedures", body),
        json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
    )


# -- crops ------------------------------------------------------------------------------
def crop_box(width: int, height: int, x: float, y: float) -> tuple[int, int, int, int]:
    """The region around (x, y) (0-1 of the frame): CROP_SHARE of the frame's width,
    centred on the point, moved inside the frame where it would cross an edge."""
    cw = max(1, min(width, round(width * CROP_SHARE)))
    ch = max(1, min(height, round(cw * CROP_ASPECT)))
    cx, cy = min(1.0, max(0.0, x)) * width, min(1.0, max(0.0, y)) * height
    left = min(max(0, round(cx - cw / 2)), width - cw)
    top = min(max(0, round(cy - ch / 2)), height - ch)
    return left, top, left + cw, top + ch


def ring_radius(crop_width: int) -> tuple[int, int]:
    """The marker's radius and line width on a crop `crop_width` pixels wide."""
    r = max(6, round(crop_width * 0.045))
    return r, max(2, r // 4)


def _has_point(x: float | None, y: float | None) -> bool:
    return x is not None and y is not None and math.isfinite(x) and math.isfinite(y)


def picture_source(data: bytes, x: float | None, y: float | None) -> bytes:
    """The frame's pixels a step's picture shows, at the frame's own scale: the crop's
    region before the ring is drawn, or the whole frame a thumbnail is scaled from (PNG).
    What the gate reads: a picture cannot show what its source does not, and text
    scaled down to a thumbnail is misread (a URL's host and port read as a phone)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as src:
        img = src.convert("RGB")
    if _has_point(x, y):
        assert x is not None and y is not None
        img = img.crop(crop_box(img.width, img.height, x, y))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def draw_crop(data: bytes, x: float | None, y: float | None) -> tuple[bytes, int, int]:
    """The WebP of a step's picture: the frame cropped around the point with a ring on
    it, or without a point the whole frame scaled down. Returns (bytes, width, height)."""
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(data)) as src:
        img = src.convert("RGB")
    w, h = img.size
    if _has_point(x, y):
        assert x is not None and y is not None
        box = crop_box(w, h, x, y)
        img = img.crop(box)
        px = min(1.0, max(0.0, x)) * w - box[0]
        py = min(1.0, max(0.0, y)) * h - box[1]
        r, lw = ring_radius(img.width)
        draw = ImageDraw.Draw(img)
        halo = [px - r - lw, py - r - lw, px + r + lw, py + r + lw]
        draw.ellipse(halo, outline=HALO, width=3 * lw)
        draw.ellipse([px - r, py - r, px + r, py + r], outline=MARK, width=lw)
    elif w > THUMB_WIDTH:
        img = img.resize(
            (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), Image.Resampling.LANCZOS
        )
    buf = io.BytesIO()
    img.save(buf, **WEBP)
    return buf.getvalue(), img.width, img.height


# -- the previous version's documents ---------------------------------------------------
@dataclass
class Previous:
    """Documents a version already holds, to copy where nothing changed: index.json's
    entries by procedure id, and how to read one of its files (None: not there, or not
    the bytes its manifest names)."""

    entries: dict[str, dict[str, Any]]
    read: Callable[[str], bytes | None]

    @staticmethod
    def none() -> Previous:
        return Previous({}, lambda rel: None)

    @staticmethod
    def _entries(index: bytes) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(index)
        except ValueError:
            return {}
        if not isinstance(data, dict) or data.get("renderer") != RENDERER:
            return {}  # drawn otherwise: draw again
        return {x["procedure_id"]: x for x in data.get("procedures", [])}

    @classmethod
    def published(cls, storage: Storage, version: str | None) -> Previous:
        """A published version's documents (read from storage, checked against its
        manifest)."""
        if not version:
            return cls.none()
        prefix = f"{PUBLISHED}{version}/"
        try:
            index = storage.get_bytes(f"{prefix}{PROCEDURES}/{INDEX}.json")
            files = json.loads(storage.get_bytes(prefix + "manifest.json"))["files"]
        except (ObjectMissing, ValueError, KeyError):
            return cls.none()

        def read(rel: str) -> bytes | None:
            meta = files.get(f"{PROCEDURES}/{rel}")
            if meta is None:
                return None
            try:
                data = storage.get_bytes(f"{prefix}{PROCEDURES}/{rel}")
            except ObjectMissing:
                return None
            return data if hashlib.sha256(data).hexdigest() == meta["sha256"] else None

        return cls(cls._entries(index), read)

    @classmethod
    def local(cls, folder: Path) -> Previous:
        """Documents in a folder (a version being rewritten), read before it is emptied."""
        path = folder / f"{INDEX}.json"
        if not path.exists():
            return cls.none()
        saved = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()
        }
        return cls(cls._entries(saved.get(f"{INDEX}.json", b"")), saved.get)


# -- writing ----------------------------------------------------------------------------
def render_key(p: dict[str, Any], frames: Iterable[str]) -> str:
    """What a procedure's documents depend on: its fingerprint (its row and steps), the
    frames it may show and the renderer."""
    text = json.dumps([RENDERER, p.get("fingerprint"), sorted(frames)])
    return hashlib.sha256(text.encode()).hexdigest()


def _check_markdown(procedure_id: str, text: str) -> None:
    for n, line in enumerate(text.splitlines(), 1):
        if rule := finding(line):
            raise ProcedureLeak(
                f"procedure {procedure_id}: its Markdown breaks the {rule} rule on line {n} "
                f"({mask(line)}); nothing was published"
            )


def _check_crops(crops: Sequence[tuple[str, int, bytes]]) -> None:
    """The gate's reading of the pixels of every picture drawn (`picture_source`): any
    secret fails the night."""
    from worktape.publish.frame_check import THREADS, masked, scan_image

    if not crops:
        return
    with ThreadPoolExecutor(THREADS, thread_name_prefix="procedure-check") as pool:
        found = list(pool.map(lambda c: scan_image(c[2]), crops))
    for (pid, k, _), hit in zip(crops, found, strict=True):
        if hit is not None:
            raise ProcedureLeak(
                f"procedure {pid}, step {k}: its picture shows text breaking the {hit[0]} rule "
                f"({masked(hit[1])}); nothing was published"
            )


def write_procedures(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    index: pa.Table,
    storage: Storage,
    *,
    previous: Previous | None = None,
) -> ProcedureDocs | None:
    """The documents of every procedure in `con`'s marts under `out` (a version's
    procedures/, emptied first), copying from `previous` those that did not change.
    `index` is the version's frames index: the only frames a crop is cut from. Returns
    None (writing nothing) when the marts have no procedures. Raises ProcedureLeak when
    a crop or a text shows a secret."""
    previous = previous or Previous.none()
    if out.exists():
        shutil.rmtree(out)
    if not has_procedures(con):
        return None
    procs = load_procedures(con)
    indexed = set(index.column("screenshot_id").to_pylist()) if index.num_rows else set()
    docs = ProcedureDocs()
    out.mkdir(parents=True)
    entries, drawn = [], []
    for p in procs:
        pid, stem = p["procedure_id"], file_stem(p["procedure_id"])
        frames = {s["example_frame_id"] for s in p["steps"]} & indexed
        key = render_key(p, frames)
        before = previous.entries.get(pid)
        files = _reuse(out, before, key, previous) if before else None
        if files is None:
            files, crops = _render(out, p, frames, storage, index)
            drawn += [(pid, k, data) for k, data in crops]
            docs.rendered += 1
        else:
            docs.reused += 1
        _check_markdown(pid, (out / f"{stem}.md").read_text(encoding="utf-8"))
        entries.append(
            {
                "procedure_id": pid,
                "title": p.get("title"),
                "instance_count": p.get("instance_count"),
                "contributor_count": p.get("contributor_count"),
                "step_count": p.get("step_count"),
                "median_duration_s": p.get("median_duration_s"),
                "fingerprint": p.get("fingerprint"),
                "render_key": key,
                "markdown": f"{stem}.md",
                "html": f"{stem}.html",
                "json": f"{stem}.json",
                "files": files,
            }
        )
    _check_crops(drawn)
    docs.crops_checked = len(drawn)
    entries.sort(key=lambda x: (-(x["instance_count"] or 0), x["procedure_id"]))
    md, page, data = render_index(entries)
    (out / f"{INDEX}.md").write_text(md, encoding="utf-8")
    (out / f"{INDEX}.html").write_text(page, encoding="utf-8")
    (out / f"{INDEX}.json").write_text(data, encoding="utf-8")
    docs.documents = len(entries)
    docs.procedure_ids = [x["procedure_id"] for x in entries]
    log.info(
        "procedure documents: %d rendered, %d reused, %d crops read",
        docs.rendered,
        docs.reused,
        docs.crops_checked,
    )
    return docs


def _reuse(out: Path, before: dict[str, Any], key: str, previous: Previous) -> list[str] | None:
    """Copy a procedure's files from the previous documents if they were drawn from the
    same inputs; None if not (or a file is missing or not the one its manifest names)."""
    if before.get("render_key") != key:
        return None
    files: list[str] = list(before.get("files") or [])
    got = {rel: previous.read(rel) for rel in files}
    if not files or any(v is None for v in got.values()):
        return None
    for rel, data in got.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data or b"")
    return files


def _render(
    out: Path, p: dict[str, Any], frames: set[str], storage: Storage, index: pa.Table
) -> tuple[list[str], list[tuple[int, bytes]]]:
    """Draw one procedure's documents and crops. Returns its files (relative to `out`)
    and the crops drawn by step."""
    stem = file_stem(p["procedure_id"])
    images = read_frames(storage, index, frames)
    crops: dict[int, tuple[str, int, int]] = {}
    drawn: list[tuple[int, bytes]] = []
    files: list[str] = []
    for s in p["steps"]:
        frame = images.get(s.get("example_frame_id") or "")
        if frame is None:
            continue
        k = int(s["step_index"])
        x, y = s.get("example_x_norm"), s.get("example_y_norm")
        data, w, h = draw_crop(frame.data, x, y)
        rel = f"{stem}/{_crop_name(k)}"
        (out / stem).mkdir(exist_ok=True)
        (out / rel).write_bytes(data)
        crops[k] = (rel, w, h)
        drawn.append((k, picture_source(frame.data, x, y)))
        files.append(rel)
    doc = _Doc(p, crops)
    for ext, text in (
        ("md", render_markdown(doc)),
        ("html", render_html(doc)),
        ("json", render_json(doc)),
    ):
        (out / f"{stem}.{ext}").write_text(text, encoding="utf-8")
        files.append(f"{stem}.{ext}")
    return sorted(files), drawn


def rewrite_procedures(
    con: duckdb.DuckDBPyConnection, out: Path, index: pa.Table, storage: Storage
) -> ProcedureDocs | None:
    """After an erasure: the documents again from the rewritten marts and frames index
    (those whose inputs did not change are kept as they were); none if the marts have no
    procedures."""
    return write_procedures(con, out, index, storage, previous=Previous.local(out))
