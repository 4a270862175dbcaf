"""The `worktape` command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.bundlekit import write_small
from worktape.core.storage.s3 import S3Storage


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worktape.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_verify_ok_and_failures(tmp_path: Path) -> None:
    good = write_small(tmp_path / "good.tar").path
    bad = tmp_path / "bad.tar"
    bad.write_bytes(good.read_bytes()[:3000])
    r = run("bundle", "verify", str(good))
    assert r.returncode == 0 and r.stdout.strip().endswith("ok (9 events, 2 frames)")
    r = run("bundle", "verify", str(good), str(bad))
    assert r.returncode == 1
    assert f"{bad}: truncated:" in r.stdout
    assert "1 ok, 1 failed" in r.stdout
    assert "Traceback" not in r.stderr
    r = run("bundle", "verify", str(tmp_path))  # a folder: every .tar below it
    assert r.returncode == 1 and r.stdout.count("\n") == 3


def test_verify_over_s3(tmp_path: Path, moto_server: str, s3_bucket: str) -> None:
    good = write_small(tmp_path / "good.tar").path
    S3Storage(s3_bucket, endpoint_url=moto_server).put("raw/v1/x/good.tar", good)
    r = run(
        "bundle", "verify", f"s3://{s3_bucket}/raw/", env={"WORKTAPE_S3_ENDPOINT_URL": moto_server}
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"s3://{s3_bucket}/raw/v1/x/good.tar: ok" in r.stdout


def test_show_prints_manifest_and_counts(tmp_path: Path) -> None:
    good = write_small(tmp_path / "good.tar").path
    r = run("bundle", "show", str(good))
    assert r.returncode == 0
    manifest = json.loads(r.stdout.split("\n\nevents:")[0])
    assert manifest["bundle_id"] == "btest0001"
    assert "mouse_down" in r.stdout and "screenshots: 2" in r.stdout


def test_simulate_command(tmp_path: Path) -> None:
    out = tmp_path / "bucket"
    r = run(
        "simulate",
        "--contributors",
        "1",
        "--days",
        "1",
        "--seed",
        "2",
        "--frames",
        "none",
        "--out",
        str(out),
        "--jobs",
        "1",
        "--hours",
        "2",
    )
    assert r.returncode == 0, r.stderr
    assert "bundles" in r.stdout and "contributor-days" in r.stderr
    assert run("bundle", "verify", "-q", str(out)).returncode == 0


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    r = run("simulate", "--out", "ftp://nowhere/x", "--contributors", "1")
    assert r.returncode == 2 and "unsupported storage URL" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("bundle", "verify", str(tmp_path / "missing.tar"))
    assert r.returncode == 1 and "unreadable" in r.stdout


def one_clear_line(r: subprocess.CompletedProcess[str]) -> str:
    """A failure a person can read: non-zero exit, no traceback, one line on stderr."""
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("worktape"), lines[0]
    return lines[0]


def test_every_user_facing_failure_is_one_clear_line(
    tmp_path: Path, moto_server: str, airflow_home: dict[str, str]
) -> None:
    from worktape.warehouse import open_db

    home = {"WORKTAPE_HOME": str(tmp_path / "home")}
    analyst = tmp_path / "published.duckdb"
    con = open_db(analyst)
    con.execute("CREATE TABLE workflows AS SELECT 'expense report' AS workflow_name")
    con.close()

    # a write statement in worktape query: the analyst file is read-only
    line = one_clear_line(run("query", "drop table workflows", "--db", str(analyst)))
    assert "read-only" in line
    line = one_clear_line(run("query", "SELEC nonsense", "--db", str(analyst)))
    assert "query failed" in line
    # no analyst file yet
    line = one_clear_line(run("query", "SELECT 1", "--db", str(tmp_path / "none.duckdb")))
    assert "no analyst file" in line

    # a missing warehouse, and a corrupt one
    missing = {**home, "WORKTAPE_WAREHOUSE": str(tmp_path / "nowhere" / "w.duckdb")}
    line = one_clear_line(run("evaluate", "--truth", str(tmp_path), env=missing))
    assert "no warehouse" in line
    corrupt = tmp_path / "corrupt.duckdb"
    corrupt.write_bytes(b"this was a warehouse once" * 1000)
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    env = {**home, "WORKTAPE_WAREHOUSE": str(corrupt), "WORKTAPE_STORAGE_URL": str(bucket)}
    line = one_clear_line(run("pipeline", "run", "--date", "2026-11-02", env=env))
    assert "cannot be opened" in line and str(corrupt) in line

    # an unreachable S3 endpoint (a port nothing listens on)
    dead = "http://127.0.0.1:9"
    s3 = {**home, "WORKTAPE_STORAGE_URL": "s3://team/x", "WORKTAPE_S3_ENDPOINT_URL": dead}
    line = one_clear_line(run("pipeline", "run", "--date", "2026-11-02", env=s3))
    assert "cannot reach the bucket" in line
    line = one_clear_line(run("bundle", "verify", "s3://team/raw/", env=s3))
    assert "cannot reach the bucket" in line

    # a day with no bundles at all: nothing to do, and said so
    env = {
        **home,
        "WORKTAPE_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "WORKTAPE_STORAGE_URL": str(bucket),
    }
    line = one_clear_line(run("pipeline", "run", "--date", "2026-11-02", env=env))
    assert "no bundles for 2026-11-02" in line

    # bad arguments
    line = one_clear_line(run("pipeline", "run", "--date", "yesterday-ish"))
    assert "--date" in line and "--help" in line
    line = one_clear_line(run("pipeline", "run", "--date", "2026-11-03", "--to", "2026-11-01"))
    assert "--to is before --date" in line
    line = one_clear_line(run("forget"))
    assert "CONTRIBUTOR_ID" in line
    line = one_clear_line(run("nonsense"))
    assert "invalid choice" in line


def test_a_failed_nights_summary_names_what_this_run_raised(tmp_path: Path) -> None:
    """Reruns append to one log per night: the summary reads this run's part and names
    the first exception in it (the cause), not the watcher's that followed it."""
    from worktape.pipeline.summary import failure_reason

    log = tmp_path / "worktape_publish-2026-12-03.log"
    log.write_text(
        "Traceback (most recent call last):\n"
        '  File "worktape/pipeline/tasks.py", line 92, in publish_night\n'
        "ValueError: last night's cause\n"
    )
    offset = log.stat().st_size
    with log.open("a") as f:
        f.write(
            "UserWarning: a warning printed before the failure is not it\n"
            "2026-12-03T12:35:23Z [error    ] Task failed with exception [task]\n"
            "Traceback (most recent call last):\n"
            '  File "worktape/publish/publisher.py", line 392, in publish\n'
            "worktape.publish.procedures.ProcedureLeak: procedure w1, step 3: its crop "
            "shows text breaking the phone rule (xxx-xxxx); nothing was published\n"
            "Traceback (most recent call last):\n"
            "RuntimeError: the night failed: see the gate_and_publish task and the report\n"
        )
    assert failure_reason(log, offset) == (
        "ProcedureLeak: procedure w1, step 3: its crop shows text breaking the phone rule "
        "(xxx-xxxx); nothing was published"
    )
    assert failure_reason(log) == "ValueError: last night's cause"
    assert failure_reason(tmp_path / "missing.log") is None
