"""The analysts' DuckDB file: the published tables, in a file of their own.

Analysts never open the live warehouse (DuckDB allows one writer, and a reader blocks
dbt). The file is built beside the old one and moved into place in one rename, so a
session that has it open keeps reading the old version while the next night works.

It also holds `search_documents` and its full-text index (worktape.publish.search):
`worktape search`, or `fts_main_search_documents.match_bm25` in SQL.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from worktape.publish.search import SearchUnavailable, build_search_index, load_fts
from worktape.publish.viewer import INDEX_PAGE, VIEWER
from worktape.warehouse import WarehouseSettings, open_db


def viewer_pages_in(version_dir: Path) -> list[str]:
    """The episodes a staged version has a viewer page for (its viewer/ folder)."""
    return sorted(p.stem for p in (version_dir / VIEWER).glob("*.html") if p.name != INDEX_PAGE)


def write_analyst_db(
    tables_dir: Path,
    version: str,
    path: Path,
    settings: WarehouseSettings | None = None,
    *,
    viewer_pages: Iterable[str] | None = None,
) -> Path:
    """One table per published Parquet file, plus `dataset_version` and the search
    index, at `path` (the settings' `analyst_db`). `viewer_pages`: the episodes the
    version has a viewer page for (default: those in the viewer/ folder beside
    `tables_dir`, where the publisher stages a version), which search links to."""
    if viewer_pages is None:
        viewer_pages = viewer_pages_in(tables_dir.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    con = open_db(tmp, settings=settings)
    try:
        for f in sorted(tables_dir.glob("*.parquet")):
            con.execute(f"CREATE TABLE {f.stem} AS SELECT * FROM read_parquet('{f}')")
        con.execute("CREATE TABLE dataset_version AS SELECT ? AS version", [version])
        build_search_index(con, viewer_pages)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, path)
    return path


def query(
    sql: str, path: Path, settings: WarehouseSettings | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run SQL on the analyst file at `path`, read-only, with the fts extension loaded
    (for `fts_main_search_documents.match_bm25`) when it is installed."""
    con = open_db(path, read_only=True, settings=settings)
    try:
        with contextlib.suppress(SearchUnavailable):
            load_fts(con)
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()
    finally:
        con.close()
