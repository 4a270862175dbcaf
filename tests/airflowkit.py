"""An embedded Airflow for tests: SQLite metadata under a temp dir, this repo's DAGs."""

from __future__ import annotations

import os
from pathlib import Path

from worktape.pipeline.runner import airflow_env, prepare_airflow


def start_airflow(home: Path) -> dict[str, str]:
    env = airflow_env(home)
    env["AIRFLOW_HOME"] = str(home)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).parents[1] / "dags")
    env = prepare_airflow(env)
    os.environ.update(env)
    os.environ["WORKTAPE_TASK_RETRIES"] = "0"
    return env


def s3_connection(endpoint_url: str) -> str:
    """The `worktape_s3` Airflow connection for a moto server, as the
    AIRFLOW_CONN_WORKTAPE_S3 environment value (how a deployment hands S3 to the DAGs)."""
    import json

    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
        }
    )
