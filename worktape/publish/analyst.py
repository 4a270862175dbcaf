"""The analysts' DuckDB file: the published tables, in a file of their own.

Analysts never open the live warehouse (DuckDB allows one writer, and a reader blocks
dbt). The file is built beside the old one and moved into place in one rename, so a
session that has it open keeps reading the old version while the next night works.
"""

from __future__ import annotations

import os
from pathlib import Path

from worktape.config import state_dir
from worktape.warehouse import open_db


def analyst_path() -> Path:
    """WORKTAPE_ANALYST_DB, else $WORKTAPE_HOME/published.duckdb."""
    return Path(os.environ.get("WORKTAPE_ANALYST_DB") or state_dir() / "published.duckdb")


def write_analyst_db(tables_dir: Path, version: str, path: Path | None = None) -> Path:
    """One table per published Parquet file, plus `dataset_version`."""
    path = path or analyst_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    con = open_db(tmp)
    try:
        for f in sorted(tables_dir.glob("*.parquet")):
            con.execute(f"CREATE TABLE {f.stem} AS SELECT * FROM read_parquet('{f}')")
        con.execute("CREATE TABLE dataset_version AS SELECT ? AS version", [version])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, path)
    return path


def query(sql: str, path: Path | None = None) -> tuple[list[str], list[tuple]]:
    """Run SQL on the analyst file, read-only."""
    con = open_db(path or analyst_path(), read_only=True)
    try:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()
    finally:
        con.close()
