"""Process-mining exports of the published episodes, written by our own code (PM4Py is
AGPL): an XES log (IEEE 1849-2016) with one trace per episode, and an OCEL 2.0 JSON log
whose objects are episodes, workflows, apps and contributors. Both use the marts' ids."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


XES_EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
)


def write_xes(
    path: Path, episodes: Iterable[dict[str, Any]], steps: Iterable[dict[str, Any]]
) -> int:
    """One trace per episode (concept:name = episode_id, with its workflow), one event per
    step (concept:name = the action type in its app, time:timestamp, org:resource = the
    contributor). Steps must come grouped by episode, in order."""
    by_episode: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        by_episode.setdefault(s["episode_id"], []).append(s)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write(
            '<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">\n'
        )
        for name, prefix, uri in XES_EXTENSIONS:
            f.write(f'  <extension name="{name}" prefix="{prefix}" uri="{uri}"/>\n')
        f.write(
            '  <global scope="trace"><string key="concept:name" value="__INVALID__"/></global>\n'
        )
        f.write(
            '  <global scope="event"><string key="concept:name" value="__INVALID__"/>'
            '<date key="time:timestamp" value="1970-01-01T00:00:00.000Z"/></global>\n'
        )
        f.write('  <classifier name="Activity" keys="concept:name"/>\n')
        f.write('  <string key="concept:name" value="worktape episodes"/>\n')
        for e in episodes:
            f.write("  <trace>\n")
            f.write(f'    <string key="concept:name" value={quoteattr(e["episode_id"])}/>\n')
            f.write(f'    <string key="workflow_id" value={quoteattr(e["workflow_id"] or "")}/>\n')
            f.write(
                f'    <string key="workflow_name" value={quoteattr(e["workflow_name"] or "")}/>\n'
            )
            for s in by_episode.get(e["episode_id"], []):
                activity = f"{s['action_type']} in {s['app'] or 'unknown'}"
                f.write("    <event>\n")
                f.write(f'      <string key="concept:name" value={quoteattr(activity)}/>\n')
                f.write(f'      <date key="time:timestamp" value="{_ts(s["started_at"])}"/>\n')
                f.write(
                    f'      <string key="org:resource" value={quoteattr(s["contributor_id"])}/>\n'
                )
                f.write('      <string key="lifecycle:transition" value="complete"/>\n')
                f.write(f'      <string key="step_id" value={quoteattr(s["step_id"])}/>\n')
                f.write("    </event>\n")
                n += 1
            f.write("  </trace>\n")
        f.write("</log>\n")
    return n


def ocel(
    episodes: list[dict[str, Any]], workflows: list[dict[str, Any]], steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """An OCEL 2.0 log (JSON format): each step is an event related to its episode, its
    app and its contributor; each episode object is related to its workflow."""
    apps = sorted({s["app"] or "unknown" for s in steps})
    people = sorted({e["contributor_id"] for e in episodes})
    objects: list[dict[str, Any]] = []
    for w in workflows:
        objects.append(
            {
                "id": f"workflow:{w['workflow_id']}",
                "type": "workflow",
                "attributes": [
                    {"name": "name", "value": w["workflow_name"], "time": _ts(w["first_seen_at"])},
                    {
                        "name": "instance_count",
                        "value": int(w["instance_count"]),
                        "time": _ts(w["first_seen_at"]),
                    },
                ],
            }
        )
    for e in episodes:
        rel = [{"objectId": f"contributor:{e['contributor_id']}", "qualifier": "performed by"}]
        if e.get("workflow_id"):
            rel.append({"objectId": f"workflow:{e['workflow_id']}", "qualifier": "instance of"})
        objects.append(
            {
                "id": f"episode:{e['episode_id']}",
                "type": "episode",
                "attributes": [
                    {
                        "name": "duration_s",
                        "value": float(e["duration_s"]),
                        "time": _ts(e["started_at"]),
                    }
                ],
                "relationships": rel,
            }
        )
    objects += [{"id": f"app:{a}", "type": "app", "attributes": []} for a in apps]
    objects += [{"id": f"contributor:{p}", "type": "contributor", "attributes": []} for p in people]
    events = [
        {
            "id": f"step:{s['step_id']}",
            "type": s["action_type"],
            "time": _ts(s["started_at"]),
            "attributes": [{"name": "action_code", "value": s["action_code"] or ""}],
            "relationships": [
                {"objectId": f"episode:{s['episode_id']}", "qualifier": "step of"},
                {"objectId": f"app:{s['app'] or 'unknown'}", "qualifier": "in app"},
                {"objectId": f"contributor:{s['contributor_id']}", "qualifier": "by"},
            ],
        }
        for s in steps
    ]
    return {
        "objectTypes": [
            {
                "name": "workflow",
                "attributes": [
                    {"name": "name", "type": "string"},
                    {"name": "instance_count", "type": "integer"},
                ],
            },
            {"name": "episode", "attributes": [{"name": "duration_s", "type": "float"}]},
            {"name": "app", "attributes": []},
            {"name": "contributor", "attributes": []},
        ],
        "eventTypes": [
            {"name": t, "attributes": [{"name": "action_code", "type": "string"}]}
            for t in sorted({s["action_type"] for s in steps})
        ],
        "objects": objects,
        "events": events,
    }


def write_ocel(path: Path, log: dict[str, Any]) -> None:
    path.write_text(json.dumps(log, separators=(",", ":"), sort_keys=True), encoding="utf-8")
