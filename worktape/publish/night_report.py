"""The nightly report: one static HTML page per night, with its plots drawn as inline SVG
(no plotting library, no script, nothing fetched): activity by hour, episodes per
workflow, the top workflows with their step sequence, a thumbnail and links to their
episode viewer pages (worktape.publish.viewer), the quality results with a link to Data
Docs, and what was quarantined and why."""

from __future__ import annotations

import base64
import html
import json
from datetime import date
from pathlib import Path
from typing import Any

from worktape.core.storage import Storage
from worktape.publish.viewer import report_links
from worktape.warehouse import one


def bar_chart(title: str, bars: list[tuple[str, float]], *, chart_id: str, width: int = 640) -> str:
    """A horizontal bar chart as SVG (one <rect class="bar"> per bar)."""
    row, label_w = 22, 230
    height = 30 + row * max(1, len(bars))
    top = max((v for _, v in bars), default=0) or 1
    parts = [
        f'<svg id="{chart_id}" class="chart" role="img" aria-label="{html.escape(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = 26 + i * row
        w = (width - label_w - 60) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{html.escape(label[:34])}</text>"
        )
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y}" width="{max(w, 1):.1f}" height="{row - 6}" '
            'fill="#4a7bd0"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" font-size="12">{value:,.0f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(title: str, values: list[float], *, chart_id: str, labels: list[str]) -> str:
    """Vertical bars (activity by hour)."""
    width, height, base = 640, 200, 170
    top = max(values, default=0) or 1
    step = (width - 40) / max(1, len(values))
    parts = [
        f'<svg id="{chart_id}" class="chart" role="img" aria-label="{html.escape(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i, v in enumerate(values):
        h = (base - 30) * v / top
        x = 30 + i * step
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{base - h:.1f}" width="{step * 0.8:.1f}" '
            f'height="{max(h, 0.5):.1f}" fill="#4a7bd0"><title>{labels[i]}: {v:,.0f}</title></rect>'
        )
        if i % 3 == 0:
            parts.append(f'<text x="{x:.1f}" y="{base + 14}" font-size="11">{labels[i]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _published_frames(storage: Storage | None, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Where the newest published version keeps these frames."""
    if storage is None or not ids:
        return {}
    import pyarrow as pa
    import pyarrow.compute as pc

    from worktape.publish.publisher import previous_index

    index = previous_index(storage)
    if index is None:
        return {}
    index = index.filter(pc.is_in(index["screenshot_id"], pa.array(sorted(ids))))
    return {r["screenshot_id"]: r for r in index.to_pylist()}


def _thumbnail(storage: Storage | None, frame: dict[str, Any] | None, wanted: bool) -> str:
    if storage is None or not wanted:
        return '<span class="nothumb">no frame</span>'
    from worktape.publish.frames import read_frame

    try:
        if frame is None:
            raise LookupError
        data = read_frame(storage, frame)
    except Exception:  # not published (the gate failed) or erased
        return '<span class="nothumb">frame not published</span>'
    b64 = base64.b64encode(data).decode()
    return f'<img class="thumb" alt="first screen" src="data:image/webp;base64,{b64}">'


def _published_night(
    analyst: Path, night: date
) -> tuple[dict[int, int], list[Any], dict[str, Any], tuple[Any, ...]]:
    """What the report shows of the data, from the analyst file: the published tables
    (the report never opens the warehouse, which belongs to the night's one writer).
    Nothing yet when no night has been published."""
    from worktape.warehouse import open_db

    if not analyst.exists():
        return {}, [], {}, (0, 0, 0)
    con = open_db(analyst, read_only=True)
    try:
        hours = dict(
            con.execute(
                "SELECT hour(started_at), count(*) FROM actions WHERE action_date = ? GROUP BY 1",
                [night],
            ).fetchall()
        )
        # the main variant's action types as the data names them: the steps of one of
        # its instances, in order
        workflows = con.execute(
            """
            SELECT w.workflow_id, w.workflow_name, w.instance_count, w.contributor_count,
                   w.median_duration_s,
                   (SELECT list(s.action_type ORDER BY s.step_index) FROM steps AS s
                    WHERE s.episode_id = (
                        SELECT min(i.episode_id) FROM workflow_instances AS i
                        WHERE i.workflow_id = w.workflow_id
                          AND i.variant = w.main_variants[1].variant))
            FROM workflows AS w
            ORDER BY w.instance_count DESC, w.workflow_id LIMIT 10
            """
        ).fetchall()
        firsts = dict(
            con.execute(
                """
                SELECT i.workflow_id, arg_min(s.frame_before_id, s.started_at)
                FROM workflow_instances AS i
                JOIN steps AS s ON s.episode_id = i.episode_id AND s.step_index = 1
                GROUP BY 1
                """
            ).fetchall()
        )
        totals = one(
            con.execute(
                "SELECT (SELECT count(*) FROM episodes), (SELECT count(*) FROM steps), "
                "(SELECT count(DISTINCT contributor_id) FROM episodes)"
            )
        )
    finally:
        con.close()
    return hours, workflows, firsts, totals


def _quarantined(storage: Storage | None, night: date) -> list[tuple[str, int]]:
    """Bundles quarantined from the night's window (its day and the lookback before it),
    by reason, from the reason records in the bucket."""
    from collections import Counter
    from datetime import timedelta

    from worktape.loader import DEFAULT_LOOKBACK_DAYS
    from worktape.loader.quarantine import quarantine_reasons

    if storage is None:
        return []
    dates = [night - timedelta(days=i) for i in range(DEFAULT_LOOKBACK_DAYS + 1)]
    counts = Counter(r.get("reason", "?") for r in quarantine_reasons(storage, dates))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def render(
    analyst: Path,
    night: date,
    *,
    gate: dict[str, Any] | None,
    storage: Storage | None,
    run_id: str | None = None,
) -> str:
    hours, workflows, firsts, totals = _published_night(analyst, night)
    quarantine = _quarantined(storage, night)
    viewer = report_links(analyst, storage)

    activity = column_chart(
        f"Actions by hour (UTC), {night}",
        [hours.get(h, 0) for h in range(24)],
        chart_id="activity-by-hour",
        labels=[f"{h:02d}" for h in range(24)],
    )
    per_workflow = bar_chart(
        "Episodes per workflow",
        [(w[1], w[2]) for w in workflows],
        chart_id="episodes-per-workflow",
    )
    rows = []
    shown = {firsts[w[0]] for w in workflows[:5] if firsts.get(w[0])}
    published = _published_frames(storage, shown)
    for wid, name, n, people, median, actions in workflows[:5]:
        steps = " → ".join(a.replace("_", " ") for a in (actions or []))
        first = firsts.get(wid)
        thumb = _thumbnail(storage, published.get(first or ""), bool(first))
        rows.append(
            f"<tr><td>{thumb}</td><td><b>{html.escape(name)}</b>"
            f"<br>{n:,} instances, {people} contributor(s), median {median:.0f} s"
            f'<div class="steps">{html.escape(steps)}</div>{viewer.row(wid)}</td></tr>'
        )
    if gate is None:
        quality = "<p>The gate did not run.</p>"
    else:
        status = "passed" if gate["success"] else "FAILED: nothing was published"
        suites = "".join(
            f"<tr><td>{html.escape(s)}</td><td>{p}/{n}</td></tr>"
            for s, (p, n) in gate.get("per_suite", {}).items()
        )
        docs = gate.get("data_docs")
        link = f'<a id="data-docs" href="{Path(docs).as_uri()}">Data Docs</a>' if docs else ""
        detail = "" if gate["success"] else f"<pre>{html.escape(gate['message'])}</pre>"
        frames = ""
        if recheck := gate.get("frame_recheck"):
            from worktape.publish.frame_check import FrameSample

            frames = f"<p>Text in frames: {html.escape(FrameSample(**recheck).sentence())}.</p>"
        quality = (
            f'<p class="gate">Quality gate {status}. {link}</p><table>{suites}</table>'
            f"{frames}{detail}"
        )
    q_rows = "".join(f"<tr><td>{html.escape(r)}</td><td>{n}</td></tr>" for r, n in quarantine)
    quarantined = (
        f"<table><tr><th>reason</th><th>bundles</th></tr>{q_rows}</table>"
        if quarantine
        else "<p>No bundle was quarantined.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>worktape night {night}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 60em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 4px 8px; border-bottom: 1px solid #ddd; }}
.thumb {{ width: 160px; border: 1px solid #ccc; }} .steps {{ color: #555; font-size: 90%; }}
</style></head><body>
<h1>worktape, night of {night}</h1>
<p>{totals[0]:,} episodes, {totals[1]:,} steps, {totals[2]} contributor(s) in the published dataset.
Run {html.escape(run_id or "")}.</p>
<h2>Activity</h2>{activity}
<h2>Workflows</h2>{per_workflow}
<h3>Top workflows</h3><table id="top-workflows">{"".join(rows)}</table>
{viewer.paragraph()}
<h2>Quality</h2>{quality}
<h2>Quarantine</h2>{quarantined}
</body></html>
"""


def write_report(
    analyst: Path,
    night: date,
    out_dir: Path,
    *,
    gate_json: Path | None,
    storage: Storage | None,
    run_id: str | None = None,
) -> Path:
    gate = json.loads(gate_json.read_text()) if gate_json and gate_json.exists() else None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"night-{night.isoformat()}.html"
    path.write_text(render(analyst, night, gate=gate, storage=storage, run_id=run_id))
    return path
