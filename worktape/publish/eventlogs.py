"""Process-mining exports of the published episodes, written by our own code (PM4Py is
AGPL): an XES log (IEEE 1849-2016) with one trace per episode, and an OCEL 2.0 JSON log
whose objects are episodes, workflows, apps and contributors. Both use the marts' ids.

DuckDB renders each trace and each event as text (a version holds millions of steps;
rendering them one by one in Python took minutes), and Python only writes the pieces
out in order. Both read `marts.episodes`, `marts.steps`, `marts.workflow_instances` and
`marts.workflows` on the connection they are given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import duckdb

from worktape.sqltime import iso_utc

BATCH = 2000  # rows fetched at a time: a night's log is written without holding it all
# steps rendered per query: aggregating every step of a 1,000 contributor-day history
# at once needs most of the warehouse's 4 GB, and twice that history more
CHUNK_STEPS = 500_000

XES_EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
)


def _ts(column: str) -> str:
    """A UTC timestamp as the logs spell it: ISO 8601, microseconds, Z."""
    return iso_utc(column)


def _attr(expr: str) -> str:
    """An XML attribute value, quoted: escaped as xml.sax.saxutils.quoteattr does, with
    double quotes always."""
    out = f"coalesce({expr}, '')"
    for char, entity in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("\n", "&#10;"),
        ("\r", "&#13;"),
        ("\t", "&#9;"),
    ):
        out = f"replace({out}, '{char}', '{entity}')"
    return f"('\"' || {out} || '\"')"


def _write_rows(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    out: TextIO,
    sep: str = "",
    params: list[Any] | None = None,
) -> int:
    cur = con.execute(sql, params)
    n = 0
    while rows := cur.fetchmany(BATCH):
        for (text,) in rows:
            if n and sep:
                out.write(sep)
            out.write(text)
            n += 1
    return n


def episode_chunks(
    con: duckdb.DuckDBPyConnection, chunk_steps: int = CHUNK_STEPS
) -> list[tuple[Any, ...]]:
    """(work_date, first episode_id, last episode_id): ranges of at most `chunk_steps`
    steps within one work date (an episode longer than that is a range of its own), in
    work date and episode id order, which is the order the exports write."""
    return con.execute(
        """
        WITH sized AS (
            SELECT e.work_date, e.episode_id, coalesce(n.steps, 0) AS steps
            FROM marts.episodes AS e
            LEFT JOIN (SELECT episode_id, count(*) AS steps FROM marts.steps GROUP BY 1) AS n
                USING (episode_id)
        ),
        numbered AS (
            SELECT *, sum(steps) OVER (PARTITION BY work_date ORDER BY episode_id
                                       ROWS UNBOUNDED PRECEDING) - steps AS before
            FROM sized
        )
        SELECT work_date, min(episode_id), max(episode_id)
        FROM numbered
        GROUP BY work_date, before // ?
        ORDER BY 1, 2
        """,
        [chunk_steps],
    ).fetchall()


def write_xes(con: duckdb.DuckDBPyConnection, path: Path, chunk_steps: int = CHUNK_STEPS) -> int:
    """One trace per episode (concept:name = episode_id, with its workflow), one event per
    step (concept:name = the action type in its app, time:timestamp, org:resource = the
    contributor), traces in work date and episode id order, `chunk_steps` steps per
    query. Returns how many events."""
    con.execute("SET TimeZone = 'UTC'")
    event = (
        "'    <event>\n      <string key=\"concept:name\" value=' || "
        + _attr("s.action_type || ' in ' || coalesce(s.app, 'unknown')")
        + ' || \'/>\n      <date key="time:timestamp" value="\' || '
        + _ts("s.started_at")
        + ' || \'"/>\n      <string key="org:resource" value=\' || '
        + _attr("s.contributor_id")
        + ' || \'/>\n      <string key="lifecycle:transition" value="complete"/>\n'
        '      <string key="step_id" value=\' || ' + _attr("s.step_id") + " || '/>\n    </event>\n'"
    )
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
        # a trace's events are sorted after aggregating: an ordered string_agg was the
        # slowest part, and a list sorts on its first field, the step index
        sql = f"""
            WITH ev AS (
                SELECT s.episode_id,
                       array_to_string(list_transform(
                           list_sort(list({{'i': s.step_index, 'text': {event}}})),
                           sorted_item -> sorted_item.text), '') AS events
                FROM marts.steps AS s
                WHERE s.work_date = $1 AND s.episode_id BETWEEN $2 AND $3
                GROUP BY 1
            )
            SELECT '  <trace>\n    <string key="concept:name" value=' || {_attr("e.episode_id")}
                   || '/>\n    <string key="workflow_id" value=' || {_attr("i.workflow_id")}
                   || '/>\n    <string key="workflow_name" value=' || {_attr("w.workflow_name")}
                   || '/>\n' || coalesce(ev.events, '') || '  </trace>\n'
            FROM marts.episodes AS e
            LEFT JOIN marts.workflow_instances AS i USING (episode_id)
            LEFT JOIN marts.workflows AS w USING (workflow_id)
            LEFT JOIN ev USING (episode_id)
            WHERE e.work_date = $1 AND e.episode_id BETWEEN $2 AND $3
            ORDER BY e.episode_id
            """
        for chunk in episode_chunks(con, chunk_steps):
            _write_rows(con, sql, f, params=list(chunk))
        f.write("</log>\n")
    (steps,) = con.execute("SELECT count(*) FROM marts.steps").fetchone() or (0,)
    return int(steps)


def write_ocel(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """An OCEL 2.0 log (JSON format): each step is an event related to its episode, its
    app and its contributor; each episode object is related to its workflow. Keys are
    sorted and there is no whitespace, as `json.dumps(sort_keys=True)` would write."""
    con.execute("SET TimeZone = 'UTC'")
    event_types = [
        {"attributes": [{"name": "action_code", "type": "string"}], "name": t}
        for (t,) in con.execute(
            "SELECT DISTINCT action_type FROM marts.steps ORDER BY 1"
        ).fetchall()
    ]
    object_types = [
        {
            "attributes": [
                {"name": "name", "type": "string"},
                {"name": "instance_count", "type": "integer"},
            ],
            "name": "workflow",
        },
        {"attributes": [{"name": "duration_s", "type": "float"}], "name": "episode"},
        {"attributes": [], "name": "app"},
        {"attributes": [], "name": "contributor"},
    ]

    def dumps(value: object) -> str:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    with path.open("w", encoding="utf-8") as f:
        f.write('{"eventTypes":' + dumps(event_types) + ',"events":[')
        _write_rows(
            con,
            f"""
            SELECT to_json({{
                'attributes': [{{'name': 'action_code', 'value': coalesce(action_code, '')}}],
                'id': 'step:' || step_id,
                'relationships': [
                    {{'objectId': 'episode:' || episode_id, 'qualifier': 'step of'}},
                    {{'objectId': 'app:' || coalesce(app, 'unknown'), 'qualifier': 'in app'}},
                    {{'objectId': 'contributor:' || contributor_id, 'qualifier': 'by'}}],
                'time': {_ts("started_at")},
                'type': action_type}})::VARCHAR
            FROM marts.steps ORDER BY episode_id, step_index
            """,
            f,
            sep=",",
        )
        f.write('],"objectTypes":' + dumps(object_types) + ',"objects":[')
        _write_rows(
            con,
            f"""
            SELECT text FROM (
                SELECT 1 AS part, workflow_id AS k, to_json({{
                    'attributes': [
                        {{'name': 'name', 'time': {_ts("first_seen_at")},
                          'value': to_json(workflow_name)}},
                        {{'name': 'instance_count', 'time': {_ts("first_seen_at")},
                          'value': to_json(instance_count)}}],
                    'id': 'workflow:' || workflow_id,
                    'type': 'workflow'}})::VARCHAR AS text
                FROM marts.workflows
                UNION ALL
                SELECT 2, e.episode_id, to_json({{
                    'attributes': [{{'name': 'duration_s', 'time': {_ts("e.started_at")},
                                     'value': e.duration_s::DOUBLE}}],
                    'id': 'episode:' || e.episode_id,
                    'relationships': list_concat(
                        [{{'objectId': 'contributor:' || e.contributor_id,
                           'qualifier': 'performed by'}}],
                        CASE WHEN i.workflow_id IS NOT NULL
                             THEN [{{'objectId': 'workflow:' || i.workflow_id,
                                     'qualifier': 'instance of'}}] ELSE [] END),
                    'type': 'episode'}})::VARCHAR
                FROM marts.episodes AS e
                LEFT JOIN marts.workflow_instances AS i USING (episode_id)
                UNION ALL
                SELECT DISTINCT 3, coalesce(app, 'unknown'), to_json({{
                    'attributes': [], 'id': 'app:' || coalesce(app, 'unknown'),
                    'type': 'app'}})::VARCHAR
                FROM marts.steps
                UNION ALL
                SELECT DISTINCT 4, contributor_id, to_json({{
                    'attributes': [], 'id': 'contributor:' || contributor_id,
                    'type': 'contributor'}})::VARCHAR
                FROM marts.episodes
            ) ORDER BY part, k
            """,
            f,
            sep=",",
        )
        f.write("]}")
