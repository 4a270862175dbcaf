"""The raw layer in a DuckLake (docs/scaling.md): a catalog in PostgreSQL, Parquet under a
data path (S3 in a deployment), several loaders writing at once.

Experimental: the nightly DAGs still write one DuckDB file. This is the path past it,
proven by tests/test_ducklake.py: two loaders write different days at the same time
through a PostgreSQL catalog, and dbt builds the marts from the lake.
"""

from __future__ import annotations

import re

import duckdb

from worktape.warehouse import RAW_DDL, WarehouseSettings, extension_file, open_db


def extension_paths() -> list[str]:
    """The postgres_scanner and ducklake extensions, from their PyPI wheels (DuckDB would
    otherwise download them at run time)."""
    import duckdb_extension_ducklake
    import duckdb_extension_postgres_scanner

    return [
        extension_file(m) for m in (duckdb_extension_postgres_scanner, duckdb_extension_ducklake)
    ]


def attach_sql(catalog: str, data_path: str, alias: str = "lake") -> list[str]:
    """Statements that load the extensions and attach the lake."""
    loads = [f"LOAD '{p}'" for p in extension_paths()]
    return [
        *loads,
        f"ATTACH IF NOT EXISTS 'ducklake:postgres:{catalog}' AS {alias} "
        f"(DATA_PATH '{data_path.rstrip('/')}/')",
    ]


def connect_lake(
    catalog: str, data_path: str, settings: WarehouseSettings | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection whose default catalog is the lake, with the raw schema in place: the
    loader (worktape.loader) writes through it unchanged."""
    con = open_db(settings=settings)
    for sql in attach_sql(catalog, data_path):
        con.execute(sql)
    con.execute("USE lake")
    con.execute("SET TimeZone = 'UTC'")
    # a lake has no primary keys: the ledger check inside each load transaction is what
    # keeps loading exactly-once
    con.execute(re.sub(r"\bPRIMARY KEY\b", "", RAW_DDL))
    return con
