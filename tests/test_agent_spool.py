"""Sealed bundles leave the laptop exactly once: the uploader against a real S3 API over
HTTP (moto) that goes away and comes back."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from capture_agent.courier import to_outbox
from capture_agent.spool import Uploader, pending
from tests.bundlekit import T0, write_small
from worktape.core.layout import raw_key
from worktape.core.storage.s3 import S3Storage


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sealed(spool: Path, n: int) -> list[str]:
    keys = []
    for i in range(n):
        b = write_small(
            spool / f"b{i}.tar", bundle_id=f"bspool{i:04d}", start=T0 + timedelta(hours=i)
        )
        to_outbox(spool, b)
        keys.append(raw_key(b.device_id, b.started_at, b.bundle_id))
    return keys


def test_bundles_wait_while_the_server_is_down_then_upload_once(
    tmp_path: Path, moto_server: str
) -> None:
    port = _port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="agent-up")
    server.stop()  # the network goes away

    spool = tmp_path / "spool"
    keys = sealed(spool, 3)
    up = Uploader(spool, "s3://agent-up/team", endpoint_url=endpoint)
    up.storage().client.meta.config.retries = {"max_attempts": 1}
    assert up.run_once() == 0
    assert len(pending(spool)) == 3 and up.state.last_error  # nothing lost
    assert up.state.failures == 1

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()  # it comes back (moto keeps its state in-process)
    try:
        assert up.run_once() == 3
        assert pending(spool) == [] and up.state.last_error is None
        s3 = S3Storage("agent-up", "team", endpoint_url=endpoint)
        listed = sorted(i.key for i in s3.list("raw/"))
        assert listed == sorted(keys)  # each exactly once
        for k in keys:
            info = s3.head(k)
            assert info is not None and info.sha256
        assert up.run_once() == 0  # nothing left, nothing duplicated
    finally:
        server.stop()


def test_crash_between_upload_and_local_delete_is_not_a_duplicate(
    tmp_path: Path, moto_server: str, s3_bucket: str
) -> None:
    spool = tmp_path / "spool"
    keys = sealed(spool, 1)
    path = pending(spool)[0]
    s3 = S3Storage(s3_bucket, endpoint_url=moto_server)
    s3.put(keys[0], path)  # uploaded, then the laptop died before deleting its copy
    up = Uploader(spool, f"s3://{s3_bucket}", endpoint_url=moto_server)
    assert up.run_once() == 1 and pending(spool) == []
    assert [i.key for i in s3.list("raw/")] == keys


def test_another_bundle_at_the_same_key_is_kept_not_overwritten(
    tmp_path: Path, moto_server: str, s3_bucket: str
) -> None:
    spool = tmp_path / "spool"
    keys = sealed(spool, 1)
    s3 = S3Storage(s3_bucket, endpoint_url=moto_server)
    s3.put(keys[0], b"someone else's bytes")
    up = Uploader(spool, f"s3://{s3_bucket}", endpoint_url=moto_server)
    assert up.run_once() == 0
    assert up.state.conflicts == 1
    assert list((spool / "outbox").glob("*.conflict"))  # kept locally, reported
    assert s3.get_bytes(keys[0]) == b"someone else's bytes"


@pytest.mark.parametrize("cut", ["after_frames", "mid_chunks"])
def test_writer_recovers_what_reached_the_disk(tmp_path: Path, cut: str) -> None:
    from tests.bundlekit import CONSENT, SCREENS
    from worktape.core.bundle import BundleWriter, read_bundle

    w = BundleWriter(
        tmp_path / "x.tar",
        bundle_id="bcrash01",
        device_id="d",
        contributor_id="c",
        started_at=T0,
        screens=SCREENS,
        consent=CONSENT,
    )
    t = T0
    sids = []
    for i in range(30):
        t += timedelta(seconds=1)
        if i % 10 == 0:
            sid = w.add_frame(
                ts=t, monitor=1, width=2, height=2, trigger="keyframe", data=f"f{i}".encode()
            )
            w.add_event(t, "screenshot", screenshot_id=sid)
            sids.append(sid)
        w.add_event(t, "key_down", key="a")
        if i in (9, 19):
            w.checkpoint()
    if cut == "mid_chunks":  # a checkpointed frame event whose frame never reached the disk
        (w.work_dir / "screenshots" / f"{sids[1]}.webp").unlink()
    # the process dies here: no seal, nothing in memory survives
    got = BundleWriter.recover(tmp_path / "x.tar.work")
    assert got is not None
    rw, last = got
    sealed_b = rw.seal(last)
    b = read_bundle(sealed_b.path)
    # the two checkpointed chunks survive (2 x 11 events); the last 10 s were in memory;
    # a screenshot event whose frame is lost goes with it
    n = 22 if cut == "after_frames" else 21
    assert b.events.num_rows == n
    assert b.events["seq"].to_pylist() == list(range(n))
    # frames reach the disk as soon as they are encoded: the last one too, unless its
    # write was cut short
    assert b.screenshots.num_rows == (3 if cut == "after_frames" else 2)


@pytest.fixture
def write_only_s3(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A moto S3 server (its own process) that enforces IAM: an agent key that may only
    put objects under its own device prefix, as docker/'s bucket policy allows, and an
    admin key to look with. Setup runs in moto's first unauthenticated requests."""
    import json
    import subprocess
    import sys
    import time

    port = _port()
    setup_requests = 7
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from moto.server import ThreadedMotoServer; "
            f"ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False).start(); "
            "time.sleep(3600)",
        ],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(setup_requests)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        kw = {"endpoint_url": url, "region_name": "us-east-1"}
        anon = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup", **kw}
        boto3.client("s3", **anon).create_bucket(Bucket="team")
        iam = boto3.client("iam", **anon)
        keys = {}
        for user, statement in (
            (
                "agent",
                {
                    "Action": ["s3:PutObject"],
                    "Resource": ["arn:aws:s3:::team/raw/v1/device=dtest/*"],
                },
            ),
            ("admin", {"Action": "*", "Resource": "*"}),
        ):
            iam.create_user(UserName=user)
            iam.put_user_policy(
                UserName=user,
                PolicyName=user,
                PolicyDocument=json.dumps(
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}
                ),
            )
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
        yield {
            "url": url,
            **{f"{u}_id": k["AccessKeyId"] for u, k in keys.items()},
            **{f"{u}_secret": k["SecretAccessKey"] for u, k in keys.items()},
        }
    finally:
        proc.terminate()
        proc.wait(10)


def test_write_only_agent_credentials_upload_without_reading(
    tmp_path: Path, write_only_s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from worktape.core.storage import AccessDenied

    c = write_only_s3
    # as in the courier, a process of its own: credentials come from this environment,
    # not from a boto3 session an earlier test resolved them in
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", c["agent_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", c["agent_secret"])
    spool = tmp_path / "spool"
    keys = sealed(spool, 3)
    agent = S3Storage("team", endpoint_url=c["url"])
    with pytest.raises(AccessDenied):
        agent.head(keys[0])  # the agent may not read, not even what it wrote
    agent.put(keys[0], pending(spool)[0])  # uploaded before a crash, still in the spool
    up = Uploader(spool, "s3://team", endpoint_url=c["url"])
    assert up.run_once() == 3 and pending(spool) == [] and up.state.conflicts == 0
    admin = boto3.client(
        "s3",
        endpoint_url=c["url"],
        region_name="us-east-1",
        aws_access_key_id=c["admin_id"],
        aws_secret_access_key=c["admin_secret"],
    )
    listed = [o["Key"] for o in admin.list_objects_v2(Bucket="team")["Contents"]]
    assert sorted(listed) == sorted(keys)  # each once
