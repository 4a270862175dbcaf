"""The analysts' DuckDB file: the published tables, in a file of their own.

Analysts never open the live warehouse (DuckDB allows one writer, and a reader blocks
dbt). The file is built beside the old one and moved into place in one rename, so a
session that has it open keeps reading the old version while the next night works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from worktape.warehouse import WarehouseSettings, open_db


def write_analyst_db(
    tables_dir: Path, version: str, path: Path, settings: WarehouseSettings | None = None
) -> Path:
    """One table per published Parquet file, plus `dataset_version`, at `path` (the
    settings' `analyst_db`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    con = open_db(tmp, settings=settings)
    try:
        for f in sorted(tables_dir.glob("*.parquet")):
            con.execute(f"CREATE TABLE {f.stem} AS SELECT * FROM read_parquet('{f}')")
        con.execute("CREATE TABLE dataset_version AS SELECT ? AS version", [version])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, path)
    return path


def query(
    sql: str, path: Path, settings: WarehouseSettings | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run SQL on the analyst file at `path`, read-only."""
    con = open_db(path, read_only=True, settings=settings)
    try:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()
    finally:
        con.close()
