"""docker/, checked statically: no Docker engine runs on these machines. The compose file
is parsed (anchors and merges resolved) and held to what the deployment needs; the
Dockerfile's instructions are parsed and their sources checked against the repo; the
init script passes `sh -n`; the S3 identities and the bucket policy let agents write
their own prefix and read nothing."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
DOCKER = ROOT / "docker"
AIRFLOW_SERVICES = {"api-server", "scheduler", "dag-processor", "triggerer"}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_runs_airflow_3_on_postgres_with_an_s3_server() -> None:
    c = compose()
    services = c["services"]
    assert set(services) == AIRFLOW_SERVICES | {"postgres", "s3", "init"}
    for name in AIRFLOW_SERVICES | {"init"}:
        s = services[name]
        assert s["image"] == "worktape:0.1.0" and s["build"]["dockerfile"] == "docker/Dockerfile"
        env = s["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["WORKTAPE_STORAGE_URL"].startswith("s3://")
        assert "worktape-state" in " ".join(s["volumes"])
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["init"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"
    commands = {n: services[n]["command"][:2] for n in AIRFLOW_SERVICES}
    assert commands == {
        "api-server": ["airflow", "api-server"],
        "scheduler": ["airflow", "scheduler"],
        "dag-processor": ["airflow", "dag-processor"],
        "triggerer": ["airflow", "triggerer"],
    }
    assert services["init"]["command"] == ["worktape-init"]
    for name, s in services.items():
        image = s["image"]
        assert "minio" not in image.lower(), name
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image"
        assert "healthcheck" in s or name in AIRFLOW_SERVICES - {"api-server"} or name == "init"
    declared = set(c["volumes"])
    for s in services.values():
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                assert (DOCKER / src).exists(), src
            else:
                assert src in declared, src


def test_dockerfile_builds_from_the_repo_with_the_pins() -> None:
    lines = []
    for raw in (DOCKER / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        raw = raw.strip()
        if raw and not raw.startswith("#"):
            lines.append(raw)
    instructions = [(ln.split()[0].upper(), ln.split(None, 1)[1]) for ln in lines]
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm")
    for op, arg in instructions:
        if op == "COPY":
            *sources, _ = arg.split()
            for src in sources:
                assert (ROOT / src).exists(), f"COPY {src}: not in the repo"
                # the pipeline image ships no laptop code
                assert not src.startswith("capture_agent"), f"COPY {src}: laptop code"
    runs = " ".join(arg for op, arg in instructions if op == "RUN")
    assert "-c constraints.txt" in runs and "pip check" in runs
    extras = re.search(r'"\.\[([a-z,]+)\]"', runs)
    assert extras
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(extras.group(1).split(",")) <= set(declared)
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(op == "ENTRYPOINT" and "tini" in arg for op, arg in instructions)


def test_init_script_creates_what_the_dags_expect() -> None:
    from worktape.pipeline.runner import WRITER_POOL

    script = DOCKER / "init" / "init.sh"
    subprocess.run(["sh", "-n", str(script)], check=True)
    text = script.read_text()
    assert "airflow db migrate" in text
    assert f"airflow pools set {WRITER_POOL} 1" in text
    resources = (ROOT / "worktape" / "pipeline" / "resources.py").read_text()
    conn_id = re.search(r'"(worktape_s3)"', resources)
    assert conn_id and f"connections add {conn_id.group(1)}" in text


def test_agents_write_their_own_prefix_and_read_nothing() -> None:
    identities = json.loads((DOCKER / "seaweedfs" / "s3.json").read_text())["identities"]
    agents = [i for i in identities if i["name"].startswith("agent-")]
    assert agents
    for a in agents:
        device = a["name"][len("agent-") :]
        assert a["actions"] == [f"Write:worktape/raw/v1/device={device}/*"], a["name"]
    policy = json.loads((DOCKER / "policies" / "agent-write-own-prefix.json").read_text())
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert all(set(s["Action"]) <= {"s3:PutObject", "s3:AbortMultipartUpload"} for s in allow)
    assert all(s["Resource"].endswith("raw/v1/device=${aws:username}/*") for s in allow)
    assert deny and {"s3:GetObject", "s3:ListBucket"} <= set(deny[0]["Action"])
