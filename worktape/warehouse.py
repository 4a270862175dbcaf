"""The DuckDB warehouse: one file, one writer process at a time.

DuckDB lets a single process open a database file for writing, and while it does, no
other process can open it at all, not even read-only. So every task that touches this
file runs in Airflow's `duckdb_writer` pool (1 slot), and analysts never open it: they get
the published, read-only `published.duckdb` and Parquet instead (see docs/warehouse.md).
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

# the DuckDB settings live with the others (worktape.settings, the layer below)
from worktape.settings import WarehouseSettings as WarehouseSettings


def open_db(
    path: Path | str | None = None,
    *,
    read_only: bool = False,
    settings: WarehouseSettings | None = None,
) -> duckdb.DuckDBPyConnection:
    """Every DuckDB connection worktape opens goes through here: the warehouse, the
    analyst file, scratch files and in-memory databases (path None). Each gets UTC, the
    memory limit, the threads and a spill directory, so that no query runs on DuckDB's
    defaults (80% of RAM: a read-only publish at 1,000 contributor-days reached 11 GB)
    or in the host's time zone. Without `settings`, the default limits, spilling to the
    system's temporary folder."""
    s = settings or WarehouseSettings(Path(tempfile.gettempdir()) / "worktape" / "scratch")
    con = duckdb.connect(
        ":memory:" if path is None else str(path),
        read_only=read_only,
        config={
            "memory_limit": s.memory_limit,
            "threads": s.threads,
            "temp_directory": str(s.temp_dir),
        },
    )
    con.execute("SET TimeZone = 'UTC'")
    return con


def extension_file(module: ModuleType) -> str:
    """The extension file a DuckDB extension's PyPI wheel (duckdb-extension-<name>, the
    module duckdb_extension_<name>) holds, for `LOAD '<file>'`: DuckDB would otherwise
    download the extension at run time, and the servers have no internet."""
    base = os.path.dirname(module.__file__ or "")
    found = sorted(glob.glob(os.path.join(base, "**", "*.duckdb_extension"), recursive=True))
    if not found:
        raise RuntimeError(f"no extension file in {base}")
    return found[0]


def warehouse_at(warehouse: Path | WarehouseSettings) -> WarehouseSettings:
    """A warehouse given by its settings, or by its path alone (the default limits)."""
    if isinstance(warehouse, WarehouseSettings):
        return warehouse
    return WarehouseSettings(path=Path(warehouse))


def connect(settings: WarehouseSettings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, with the raw schema in place, or read-only. Only
    tasks in the `duckdb_writer` pool (and the local runner between DAG runs) call this:
    any other process holding the file, even read-only, makes the night's writers fail."""
    s = settings
    if read_only and not s.path.exists():
        raise RuntimeError(f"no warehouse at {s.path}: has a night been loaded?")
    s.path.parent.mkdir(parents=True, exist_ok=True)
    s.temp_dir.mkdir(parents=True, exist_ok=True)
    con = open_db(s.path, read_only=read_only, settings=s)
    if not read_only:
        ensure_raw_schema(con)
    return con


RAW_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;

-- one row per loaded bundle: its manifest, flattened
CREATE TABLE IF NOT EXISTS raw.bundles (
    bundle_id               VARCHAR PRIMARY KEY,
    object_key              VARCHAR NOT NULL,
    sha256                  VARCHAR NOT NULL,
    bytes                   BIGINT,
    device_id               VARCHAR NOT NULL,
    contributor_id          VARCHAR NOT NULL,
    agent_version           VARCHAR,
    format_version          VARCHAR NOT NULL,
    started_at              TIMESTAMPTZ NOT NULL,
    ended_at                TIMESTAMPTZ NOT NULL,
    utc_offset_minutes      INTEGER,
    screens                 JSON,
    frame_format            VARCHAR,
    consent_policy_version  VARCHAR,
    consent_granted_at      TIMESTAMPTZ,
    redaction               JSON,
    event_count             BIGINT NOT NULL,
    screenshot_count        BIGINT NOT NULL,
    is_simulated            BOOLEAN NOT NULL,
    manifest                JSON NOT NULL,
    loaded_at               TIMESTAMPTZ NOT NULL,
    load_run_id             VARCHAR
);

-- events.parquet of every bundle; (bundle_id, seq) is the key
CREATE TABLE IF NOT EXISTS raw.events (
    bundle_id      VARCHAR NOT NULL,
    seq            BIGINT NOT NULL,
    ts             TIMESTAMPTZ NOT NULL,
    kind           VARCHAR NOT NULL,
    x              INTEGER,
    y              INTEGER,
    monitor        SMALLINT,
    button         VARCHAR,
    dx             INTEGER,
    dy             INTEGER,
    key            VARCHAR,
    modifiers      VARCHAR,
    app            VARCHAR,
    window_title   VARCHAR,
    screenshot_id  VARCHAR,
    redacted       BOOLEAN NOT NULL,
    detail         VARCHAR,
    element_role   VARCHAR,       -- format 1.1: the element acted on (AT-SPI)
    element_name   VARCHAR,
    element_x      INTEGER,
    element_y      INTEGER,
    element_width  INTEGER,
    element_height INTEGER
);
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS element_role VARCHAR;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS element_name VARCHAR;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS element_x INTEGER;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS element_y INTEGER;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS element_width INTEGER;
ALTER TABLE raw.events ADD COLUMN IF NOT EXISTS element_height INTEGER;

-- screenshots.parquet of every bundle; frames stay in the bucket
CREATE TABLE IF NOT EXISTS raw.screenshots (
    bundle_id      VARCHAR NOT NULL,
    screenshot_id  VARCHAR NOT NULL,
    ts             TIMESTAMPTZ NOT NULL,
    monitor        SMALLINT NOT NULL,
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    trigger        VARCHAR NOT NULL,
    sha256         VARCHAR NOT NULL,
    bytes          BIGINT NOT NULL,
    phash          VARCHAR,
    data_offset    BIGINT         -- where the frame's bytes start in the bundle object
);
ALTER TABLE raw.screenshots ADD COLUMN IF NOT EXISTS data_offset BIGINT;

-- what the raw quality suite judges, measured by the loader (worktape/loader/profile.py)
CREATE TABLE IF NOT EXISTS raw.bundle_profiles (
    bundle_id             VARCHAR PRIMARY KEY,
    events                BIGINT NOT NULL,
    duplicate_event_ids   BIGINT NOT NULL,
    unknown_kinds         BIGINT NOT NULL,
    null_ts               BIGINT NOT NULL,
    min_x_on_screen       DOUBLE,
    max_x_on_screen       DOUBLE,
    min_y_on_screen       DOUBLE,
    max_y_on_screen       DOUBLE,
    min_ts_step_s         DOUBLE NOT NULL,
    first_at              TIMESTAMPTZ,
    last_at               TIMESTAMPTZ,
    unknown_kind_example  VARCHAR,
    off_screen_example    VARCHAR,
    backwards_example     VARCHAR
);

-- the commit record: a bundle is loaded iff it is here (written in the same
-- transaction as its rows)
CREATE TABLE IF NOT EXISTS raw.ledger (
    bundle_id         VARCHAR PRIMARY KEY,
    object_key        VARCHAR NOT NULL,
    sha256            VARCHAR NOT NULL,
    event_count       BIGINT NOT NULL,
    screenshot_count  BIGINT NOT NULL,
    loaded_at         TIMESTAMPTZ NOT NULL,
    load_run_id       VARCHAR
);

-- keys holding a bundle already loaded from another key (same id, same sha256): no-ops,
-- remembered so discovery does not fetch them again
CREATE TABLE IF NOT EXISTS raw.duplicate_keys (
    object_key  VARCHAR PRIMARY KEY,
    bundle_id   VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    seen_at     TIMESTAMPTZ NOT NULL,
    run_id      VARCHAR
);

-- bundles that failed verification, copied to quarantine/ with a reason
CREATE TABLE IF NOT EXISTS raw.quarantine (
    object_key      VARCHAR PRIMARY KEY,
    bundle_id       VARCHAR,
    sha256          VARCHAR,
    reason          VARCHAR NOT NULL,
    message         VARCHAR NOT NULL,
    member          VARCHAR,
    quarantined_at  TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR
);
"""


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_DDL)


def one(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The one row an aggregate query returns (DuckDB's fetchone says None for no row,
    which an aggregate never gives: a missing row is a bug, said as one)."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row
