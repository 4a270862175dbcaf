from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bundlekit import write_small


@pytest.fixture(scope="session", autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never write into the developer's (or the demo's) state directory."""
    saved = os.environ.get("WORKTAPE_HOME")
    os.environ["WORKTAPE_HOME"] = str(tmp_path_factory.mktemp("worktape-home"))
    yield
    if saved is None:
        os.environ.pop("WORKTAPE_HOME", None)
    else:
        os.environ["WORKTAPE_HOME"] = saved


@pytest.fixture
def small_bundle(tmp_path: Path) -> Path:
    return write_small(tmp_path / "small.tar").path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real S3 API over HTTP on loopback (moto's ThreadedMotoServer)."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    old = {
        k: os.environ.get(k)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3_bucket(moto_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh bucket on the moto server; yields its name."""
    import boto3

    name = "wt-" + request.node.name.lower().replace("_", "-").replace("[", "-")[:40].strip("-]")
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)
    client = boto3.client("s3", endpoint_url=moto_server)
    client.create_bucket(Bucket=name)
    yield name


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A migrated Airflow (once per session) with the duckdb_writer pool. Its metadata DB
    is a private PostgreSQL cluster, as in a deployment; WORKTAPE_TEST_AIRFLOW_DB=sqlite
    (or no PostgreSQL on the machine) falls back to SQLite, the embedded default."""
    from tests.airflowkit import start_airflow
    from tests.pgkit import pg_bin, start_cluster

    cluster = None
    if os.environ.get("WORKTAPE_TEST_AIRFLOW_DB", "postgres") == "postgres" and pg_bin():
        # not under pytest's temp dir: as root the cluster runs as `postgres`, which
        # cannot enter root's private temp folders
        cluster = start_cluster(Path(tempfile.mkdtemp(prefix="worktape-pg-")))
        os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = cluster.url
    try:
        yield start_airflow(tmp_path_factory.mktemp("airflow"))
    finally:
        if cluster is not None:
            import sys

            # close Airflow's pooled connections before the server goes away
            if "airflow.settings" in sys.modules:
                sys.modules["airflow.settings"].dispose_orm()
            cluster.stop()
            shutil.rmtree(cluster.data.parent, ignore_errors=True)
            os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
