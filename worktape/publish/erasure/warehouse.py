"""What an erasure removes from the warehouse: the contributor's raw rows, then a full
`dbt build`, so sessions, episodes and workflows are computed again without them
(workflows are clustered across people)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from worktape.warehouse import WarehouseSettings, one

if TYPE_CHECKING:
    from worktape.settings import Settings


def devices_and_bundles(
    con: duckdb.DuckDBPyConnection, contributor_id: str
) -> tuple[set[str], list[str]]:
    devices = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT device_id FROM raw.bundles WHERE contributor_id = ?",
            [contributor_id],
        ).fetchall()
    }
    bundles = [
        r[0]
        for r in con.execute(
            "SELECT bundle_id FROM raw.bundles WHERE contributor_id = ?", [contributor_id]
        ).fetchall()
    ]
    return devices, bundles


def erase_warehouse(con: duckdb.DuckDBPyConnection, contributor_id: str, bundles: list[str]) -> int:
    """Delete their raw rows (the marts follow from a full build). Returns rows deleted."""
    n = 0
    con.execute("BEGIN")
    con.execute("CREATE OR REPLACE TEMP TABLE erased_bundles (bundle_id VARCHAR)")
    con.executemany("INSERT INTO erased_bundles VALUES (?)", [(b,) for b in bundles])
    for table in (
        "events",
        "screenshots",
        "bundle_profiles",
        "ledger",
        "duplicate_keys",
        "quarantine",
        "bundles",
    ):
        n += one(
            con.execute(
                f"DELETE FROM raw.{table} WHERE bundle_id IN (SELECT bundle_id FROM erased_bundles)"
            )
        )[0]
    con.execute("COMMIT")
    return n


def rebuild_warehouse(db: WarehouseSettings, settings: Settings) -> None:
    """A full `dbt build` of the warehouse at `db` (not the one the environment names)."""
    # looked up when called: worktape.transform.dbt.build is the one to run
    from worktape.transform.dbt import build

    build(
        None,
        warehouse=db,
        project=settings.dbt_project_dir,
        full_refresh=True,
        max_events=settings.dbt_batch_events,
        max_days=settings.dbt_chunk_days,
    )
