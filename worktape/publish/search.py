"""Full-text search in the analyst file: which procedure does what I describe, and which
episodes show it (`worktape search`, docs/publishing.md).

`write_analyst_db` adds a `search_documents` table to the file, one document per
procedure and per episode, and DuckDB's full-text index over it (the fts extension, from
its PyPI wheel: the servers cannot download extensions):

    document_id   'procedure:<procedure_id>' or 'episode:<episode_id>'
    kind          'procedure' or 'episode'
    procedure_id  the procedure (an episode's: its workflow's, if it has one)
    workflow_id
    episode_id    episodes only
    title         the procedure's title; the episode's instruction
    body          a procedure's purpose, step texts and pages; an episode's step texts
                  and distinct window titles
    link          the page inside the version: procedures/<id>.html, viewer/<id>.html
                  for an episode the viewer sampled, else NULL
    detail        a short line: a procedure's counts, an episode's day and steps

Documents are built in SQL (string_agg per procedure and per episode), never row by row
in Python. A version without procedures (published before them) indexes its episodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import duckdb
import pyarrow as pa

from worktape.core.layout import PUBLISHED
from worktape.publish.viewer import VIEWER
from worktape.warehouse import WarehouseSettings, extension_file, open_db

TABLE = "search_documents"
MATCH = f"fts_main_{TABLE}.match_bm25"
PROCEDURES_DIR = "procedures"  # where a version's procedure documents lie
TOP_PROCEDURES = 3


class SearchUnavailable(RuntimeError):
    """The analyst file has no search index, or the extension is not installed."""


def fts_extension() -> str:
    """The fts extension's file, from the duckdb-extension-fts wheel."""
    try:
        import duckdb_extension_fts
    except ImportError as e:
        raise SearchUnavailable(
            "the DuckDB fts extension is not installed (pip install duckdb-extension-fts)"
        ) from e
    return extension_file(duckdb_extension_fts)


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    path = fts_extension().replace("'", "''")
    con.execute(f"LOAD '{path}'")


# -- the index ----------------------------------------------------------------------------
def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database()"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def _col(cols: dict[str, set[str]], table: str, column: str, alias: str, cast: str) -> str:
    """`alias.column`, or a typed NULL where the version's table lacks the column."""
    return f"{alias}.{column}" if column in cols.get(table, set()) else f"NULL::{cast}"


def _procedure_documents(cols: dict[str, set[str]]) -> str:
    def p(column: str, cast: str = "VARCHAR") -> str:
        return _col(cols, "procedures", column, "p", cast)

    if "procedure_steps" in cols and {"procedure_id", "step_index"} <= cols["procedure_steps"]:
        text = _col(cols, "procedure_steps", "step_text", "s", "VARCHAR")
        page = _col(cols, "procedure_steps", "page", "s", "VARCHAR")
        steps = f"""
            SELECT s.procedure_id,
                   string_agg({text}, ' ' ORDER BY s.step_index) AS step_texts,
                   string_agg(DISTINCT {page}, ' ' ORDER BY {page}) AS pages
            FROM procedure_steps AS s GROUP BY s.procedure_id
        """
    else:
        steps = (
            "SELECT NULL::VARCHAR AS procedure_id, NULL::VARCHAR AS step_texts, "
            "NULL::VARCHAR AS pages WHERE false"
        )
    instances, contributors = p("instance_count", "BIGINT"), p("contributor_count", "BIGINT")
    return f"""
        WITH ps AS ({steps})
        SELECT 'procedure:' || p.procedure_id AS document_id,
               'procedure' AS kind,
               p.procedure_id,
               {p("workflow_id")} AS workflow_id,
               NULL::VARCHAR AS episode_id,
               coalesce(nullif(trim({p("title")}), ''), p.procedure_id) AS title,
               concat_ws(' ', {p("purpose")}, ps.step_texts, ps.pages) AS body,
               '{PROCEDURES_DIR}/' || p.procedure_id || '.html' AS link,
               nullif(concat_ws(', ',
                   {instances} || ' instance' || CASE WHEN {instances} = 1 THEN '' ELSE 's' END,
                   {contributors} || ' contributor'
                       || CASE WHEN {contributors} = 1 THEN '' ELSE 's' END
               ), '') AS detail
        FROM procedures AS p
        LEFT JOIN ps USING (procedure_id)
    """


def _episode_documents(cols: dict[str, set[str]], with_procedures: bool) -> str:
    def e(column: str, cast: str = "VARCHAR") -> str:
        return _col(cols, "episodes", column, "e", cast)

    if "steps" in cols and {"episode_id", "step_index"} <= cols["steps"]:
        text = _col(cols, "steps", "step_text", "s", "VARCHAR")
        window = _col(cols, "steps", "window_title", "s", "VARCHAR")
        steps = f"""
            SELECT s.episode_id,
                   string_agg({text}, ' ' ORDER BY s.step_index) AS step_texts,
                   string_agg(DISTINCT {window}, ' ' ORDER BY {window}) AS windows,
                   count(*) AS step_count
            FROM steps AS s GROUP BY s.episode_id
        """
    else:
        steps = (
            "SELECT NULL::VARCHAR AS episode_id, NULL::VARCHAR AS step_texts, "
            "NULL::VARCHAR AS windows, NULL::BIGINT AS step_count WHERE false"
        )
    if "workflow_instances" in cols and "workflow_id" in cols["workflow_instances"]:
        # one workflow an episode (the key of workflow_instances is the episode)
        workflows = (
            "SELECT episode_id, min(workflow_id) AS workflow_id FROM workflow_instances "
            "GROUP BY episode_id"
        )
    else:
        workflows = "SELECT NULL::VARCHAR AS episode_id, NULL::VARCHAR AS workflow_id WHERE false"
    if with_procedures and "workflow_id" in cols["procedures"]:
        procedure = "pr.procedure_id"
        join_procedure = (
            "LEFT JOIN (SELECT workflow_id, min(procedure_id) AS procedure_id FROM procedures "
            "GROUP BY workflow_id) AS pr ON pr.workflow_id = w.workflow_id"
        )
    else:
        procedure, join_procedure = "NULL::VARCHAR", ""
    work_date = e("work_date", "DATE")
    return f"""
        WITH st AS ({steps}), w AS ({workflows})
        SELECT 'episode:' || e.episode_id AS document_id,
               'episode' AS kind,
               {procedure} AS procedure_id,
               w.workflow_id,
               e.episode_id,
               coalesce(nullif(trim({e("instruction")}), ''),
                        nullif(trim({e("first_window_title")}), ''), e.episode_id) AS title,
               concat_ws(' ', st.step_texts, st.windows) AS body,
               CASE WHEN v.episode_id IS NOT NULL
                    THEN '{VIEWER}/' || e.episode_id || '.html' END AS link,
               nullif(concat_ws(' · ', strftime({work_date}, '%Y-%m-%d'),
                   st.step_count || ' step' || CASE WHEN st.step_count = 1 THEN '' ELSE 's' END
               ), '') AS detail
        FROM episodes AS e
        LEFT JOIN st USING (episode_id)
        LEFT JOIN w USING (episode_id)
        {join_procedure}
        LEFT JOIN search_viewer_pages AS v USING (episode_id)
    """


_EMPTY = """
    SELECT NULL::VARCHAR AS document_id, NULL::VARCHAR AS kind, NULL::VARCHAR AS procedure_id,
           NULL::VARCHAR AS workflow_id, NULL::VARCHAR AS episode_id, NULL::VARCHAR AS title,
           NULL::VARCHAR AS body, NULL::VARCHAR AS link, NULL::VARCHAR AS detail
    WHERE false
"""


def build_search_index(con: duckdb.DuckDBPyConnection, viewer_pages: Iterable[str]) -> int:
    """`search_documents` and its full-text index, from the tables in `con` (the analyst
    file being written). `viewer_pages`: the episodes the version has a viewer page for.
    Returns the number of documents."""
    cols = _columns(con)
    with_procedures = "procedures" in cols and "procedure_id" in cols["procedures"]
    parts = []
    if with_procedures:
        parts.append(_procedure_documents(cols))
    if "episodes" in cols and "episode_id" in cols["episodes"]:
        parts.append(_episode_documents(cols, with_procedures))
    pages = pa.table({"episode_id": pa.array(sorted(set(viewer_pages)), pa.string())})
    con.register("search_viewer_pages", pages)
    try:
        union = " UNION ALL ".join(f"({q})" for q in parts) if parts else _EMPTY
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS {union} ORDER BY document_id")
    finally:
        con.unregister("search_viewer_pages")
    load_fts(con)
    # the index takes seconds at scale (about 11 s for 20,000 episodes of 25 steps):
    # DuckDB would draw a progress bar into the night's log
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"PRAGMA create_fts_index('{TABLE}', 'document_id', 'title', 'body', "
        "stemmer = 'porter', stopwords = 'english', overwrite = 1)"
    )
    con.execute("RESET enable_progress_bar")
    row = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0]) if row else 0


# -- searching ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    kind: str  # 'procedure' or 'episode'
    document_id: str
    title: str
    # BM25, higher is better; None: an episode of the top procedure's workflow that the
    # words do not match themselves (shown as an example of that procedure)
    score: float | None
    link: str | None  # inside the version: procedures/<id>.html, viewer/<id>.html
    href: str | None  # the link as a URI in storage, when its base is known; else `link`
    procedure_id: str | None = None
    workflow_id: str | None = None
    episode_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class SearchResult:
    query: str
    version: str | None
    procedures: list[Hit] = field(default_factory=list)
    episodes: list[Hit] = field(default_factory=list)

    @property
    def hits(self) -> list[Hit]:
        """The procedures first, then the episodes."""
        return [*self.procedures, *self.episodes]


def version_href(base_url: str, version: str, link: str) -> str:
    """A file of a published version as a URI: the storage's URL and the object's key (as
    the nightly report links the viewer's pages, worktape.publish.viewer.report_links)."""
    return base_url.rstrip("/") + "/" + quote(f"{PUBLISHED}{version}/{link}")


_FIELDS = "kind, document_id, title, score, link, procedure_id, workflow_id, episode_id, detail"


def search(
    path: Path,
    text: str,
    *,
    limit: int = 5,
    procedures: int = TOP_PROCEDURES,
    base_url: str | None = None,
    settings: WarehouseSettings | None = None,
) -> SearchResult:
    """The procedures that best match `text` (BM25, up to `procedures`), then up to `limit`
    episodes: those of the top procedure's workflow first, each group by score. Links are
    made URIs under `base_url` (the storage's URL) when it is given."""
    con = open_db(path, read_only=True, settings=settings)
    try:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [f"fts_main_{TABLE}", "docs"],
        ).fetchone()
        if not found or not found[0]:
            raise SearchUnavailable(
                f"the analyst file at {path} has no search index (it was written before "
                "worktape search existed): the next published night adds one"
            )
        load_fts(con)
        row = con.execute("SELECT max(version) FROM dataset_version").fetchone()
        version = str(row[0]) if row and row[0] is not None else None
        scored = f"""
            SELECT *, {MATCH}(document_id, $q) AS score FROM {TABLE}
        """
        procs = con.execute(
            f"""
            SELECT {_FIELDS} FROM ({scored})
            WHERE kind = 'procedure' AND score IS NOT NULL
            ORDER BY score DESC, document_id LIMIT $n
            """,
            {"q": text, "n": max(procedures, 0)},
        ).fetchall()
        top = procs[0][6] if procs else None  # the best procedure's workflow
        episodes = con.execute(
            f"""
            SELECT {_FIELDS} FROM ({scored})
            WHERE kind = 'episode' AND (score IS NOT NULL OR workflow_id = $top)
            ORDER BY coalesce(workflow_id = $top, false) DESC,
                     -- an example one can open beats a slightly better-worded one
                     link IS NULL, score DESC NULLS LAST, document_id
            LIMIT $n
            """,
            {"q": text, "top": top, "n": max(limit, 0)},
        ).fetchall()
    finally:
        con.close()

    def hit(r: tuple[object, ...]) -> Hit:
        link = r[4] if isinstance(r[4], str) else None
        href = version_href(base_url, version, link) if link and base_url and version else link
        return Hit(
            kind=str(r[0]),
            document_id=str(r[1]),
            title=str(r[2]),
            score=float(r[3]) if isinstance(r[3], int | float) else None,
            link=link,
            href=href,
            procedure_id=r[5] if isinstance(r[5], str) else None,
            workflow_id=r[6] if isinstance(r[6], str) else None,
            episode_id=r[7] if isinstance(r[7], str) else None,
            detail=r[8] if isinstance(r[8], str) else None,
        )

    return SearchResult(text, version, [hit(r) for r in procs], [hit(r) for r in episodes])
