"""A private PostgreSQL cluster for Airflow's metadata DB in tests: initdb and pg_ctl on
a spare port, under a temp dir, stopped at the end. PostgreSQL refuses to run as root,
so as root the cluster runs as the `postgres` user."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("initdb")
    return Path(exe).parent if exe else None


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    data: Path
    port: int
    bin: Path
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "stop", "-m", "fast"],
            capture_output=True,
        )


def start_cluster(root: Path) -> Cluster:
    binary = pg_bin()
    if binary is None:
        raise RuntimeError("PostgreSQL is not installed (initdb not found)")
    as_user: list[str] = []
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data, port = root / "data", _port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)

    run(str(binary / "initdb"), "-D", str(data), "-A", "trust", "-U", "airflow")
    run(
        str(binary / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
        "-l",
        str(root / "postgres.log"),
        "-w",
        "start",
    )
    run(str(binary / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow")
    return Cluster(data, port, binary, as_user)
