"""Every server-side setting of worktape, in one object read from the environment.

Each field is the environment variable `WORKTAPE_<FIELD>` (docs/configuration.md has
the table). The entry points (the `worktape` commands, the DAG tasks, the demo) build a
`Settings()` when they start and pass it, or the values in it, down: library functions
take explicit arguments and never read the environment themselves. Nothing is cached at
import time, so a changed environment applies to the next `Settings()`.

The laptop agent has its own TOML config (capture_agent/config.py, docs/agent.md) and
never imports this module: it has no pydantic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# the source checkout this package sits in, if it does (pip install -e, or PYTHONPATH)
CHECKOUT = Path(__file__).resolve().parents[1]


def _default_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "worktape"


def _in_checkout(name: str) -> Path | None:
    path = CHECKOUT / name
    return path if path.is_dir() else None


@dataclass(frozen=True)
class WarehouseSettings:
    """A DuckDB file and its limits, set explicitly, never left to DuckDB's defaults: a
    night must not take the whole machine, and spills must land on a disk we chose.
    `Settings.warehouse_settings()` makes them (worktape.warehouse opens them)."""

    path: Path
    memory_limit: str = "4GB"
    threads: int = 2
    temp_directory: Path | None = None

    @property
    def temp_dir(self) -> Path:
        return self.temp_directory or self.path.parent / "duckdb_tmp"


class Settings(BaseSettings):
    """The server side's settings. Empty variables count as unset, as they always did."""

    model_config = SettingsConfigDict(env_prefix="WORKTAPE_", env_ignore_empty=True, extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="the state dir: warehouse, bucket folder, Airflow home, logs, reports",
    )
    storage_url: str = Field(
        default="",
        description="the bucket: a folder or `s3://bucket/prefix` (default: `$home/bucket`)",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="an S3-compatible server instead of AWS (also `AWS_ENDPOINT_URL`)"
    )
    warehouse: Path = Field(
        default=Path(),
        description="the DuckDB warehouse file (default: `$home/warehouse/worktape.duckdb`)",
    )
    analyst_db: Path = Field(
        default=Path(), description="the analysts' DuckDB file (default: `$home/published.duckdb`)"
    )
    duckdb_memory_limit: str = Field(default="4GB", description="DuckDB `memory_limit`")
    duckdb_threads: int = Field(default=2, description="DuckDB `threads`")
    lookback_days: int = Field(
        default=7, description="days before the interval to look for late bundles"
    )
    verify_frames: bool = Field(
        default=True,
        description="`0` trusts upload checksums and skips reading frames while loading",
    )
    dbt_project: Path | None = Field(
        default=None, description="the dbt project (default: `dbt_project/` of the source checkout)"
    )
    dbt_batch_events: int = Field(
        default=20_000_000, description="most raw events in one dbt batch"
    )
    dbt_chunk_days: int = Field(default=14, description="most days in one dbt batch")
    gate_frame_sample: int | None = Field(
        default=None,
        description="frames the gate re-reads (default: enough to catch a 1% leak at 99%)",
    )
    viewer_workflows: int = Field(
        default=5, description="workflows a night writes episode viewer pages for (0: none)"
    )
    viewer_instances: int = Field(
        default=3, description="episodes of each of those workflows that get a viewer page"
    )
    dataset_shard_bytes: int = Field(
        default=500_000_000,
        description="about how large a shard of the published Parquet and WebDataset formats is",
    )
    dataset_splits: str = Field(
        default="train=0.8,validation=0.1,test=0.1",
        description="the published splits and their shares of the contributors, in order",
    )
    dags_folder: Path | None = Field(
        default=None, description="the DAG files (default: `dags/` of the source checkout)"
    )
    llm_base_url: str = Field(
        default="",
        description="an OpenAI-compatible chat endpoint (`http://host:8000/v1`) that writes "
        "instructions and step annotations; unset: templates only",
    )
    llm_model: str = Field(default="", description="the model the endpoint serves")
    llm_api_key: str = Field(default="", description="the endpoint's key, if it wants one")
    llm_send_frames: bool = Field(
        default=False, description="`1` lets frames go to the endpoint (never by default)"
    )
    llm_timeout_s: float = Field(default=60.0, description="seconds to wait for one answer")
    llm_max_episodes: int = Field(
        default=200,
        description="most episodes a night asks the endpoint about (cached ones are free)",
    )
    task_retries: int = Field(default=2, description="Airflow task retries")
    airflow_log_level: str = Field(
        default="WARNING", description="the embedded Airflow's log level"
    )
    debug: bool = Field(
        default=False,
        description="set (e.g. `1`): a failing `worktape` command shows its traceback",
    )

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        # an explicit WORKTAPE_HOME is taken as given: relative to where it was set
        if "home" in self.model_fields_set:
            self.home = self.home.expanduser().resolve()
        if not self.storage_url:
            self.storage_url = str(self.home / "bucket")
        if self.warehouse == Path():
            self.warehouse = self.home / "warehouse" / "worktape.duckdb"
        if self.analyst_db == Path():
            self.analyst_db = self.home / "published.duckdb"
        return self

    @field_validator("debug", mode="before")
    @classmethod
    def _any_value_is_set(cls, v: object) -> object:
        return bool(v) if isinstance(v, str) else v  # as before: any value, even "0"

    @field_validator("llm_send_frames", mode="before")
    @classmethod
    def _only_one_is_on(cls, v: object) -> object:
        return v in ("1", "true", "yes") if isinstance(v, str) else v

    @field_validator("verify_frames", mode="before")
    @classmethod
    def _only_zero_is_off(cls, v: object) -> object:
        return v != "0" if isinstance(v, str) else v

    @property
    def dbt_project_dir(self) -> Path:
        """WORKTAPE_DBT_PROJECT, else the source checkout's dbt_project/."""
        if path := self.dbt_project or _in_checkout("dbt_project"):
            return path
        raise RuntimeError(
            f"no dbt project next to the package ({CHECKOUT}): set WORKTAPE_DBT_PROJECT"
        )

    @property
    def dags_dir(self) -> Path:
        """WORKTAPE_DAGS_FOLDER, else the source checkout's dags/."""
        if path := self.dags_folder or _in_checkout("dags"):
            return path
        raise RuntimeError(
            f"no dags/ folder next to the package ({CHECKOUT}): set WORKTAPE_DAGS_FOLDER"
        )

    def warehouse_settings(self, path: Path | None = None) -> WarehouseSettings:
        """The DuckDB settings of the warehouse (or of another file at `path`)."""
        return WarehouseSettings(
            path=path or self.warehouse,
            memory_limit=self.duckdb_memory_limit,
            threads=self.duckdb_threads,
        )


def get_settings() -> Settings:
    """The settings as the environment has them now (for entry points)."""
    return Settings()
