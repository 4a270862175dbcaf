"""After an erasure, the analysts' file again, from LATEST's rewritten tables."""

from __future__ import annotations

from pathlib import Path

from worktape.core.layout import PUBLISHED
from worktape.core.storage import Storage
from worktape.publish.analyst import write_analyst_db
from worktape.publish.stage import LATER_TABLES, TABLES
from worktape.publish.viewer import INDEX_PAGE, VIEWER
from worktape.warehouse import WarehouseSettings


def rewrite_analyst_file(
    storage: Storage,
    latest: str,
    work: Path,
    path: Path,
    duckdb_settings: WarehouseSettings | None = None,
) -> None:
    """The analyst file at `path`, from the tables of the published version `latest`."""
    tables = work / "latest"
    tables.mkdir()
    for t in TABLES:
        key = f"{PUBLISHED}{latest}/tables/{t}.parquet"
        if t in LATER_TABLES and not storage.exists(key):
            continue
        (tables / f"{t}.parquet").write_bytes(storage.get_bytes(key))
    # the episodes that still have a viewer page (the version's rewrite dropped theirs),
    # for the search index's links
    pages = f"{PUBLISHED}{latest}/{VIEWER}/"
    viewer_pages = [
        i.key[len(pages) : -len(".html")]
        for i in storage.list(pages)
        if i.key.endswith(".html") and i.key != pages + INDEX_PAGE
    ]
    write_analyst_db(tables, latest, path, duckdb_settings, viewer_pages=viewer_pages)
