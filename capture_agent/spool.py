"""The local spool and the uploader: a sealed bundle leaves the laptop exactly once.

`<spool>/outbox/<bundle_id>.tar` + `.json` (its bucket key, sha256 and size) wait here
until an upload is proven:
1. a no-overwrite put (If-None-Match: *) carrying the sha256, which the server checks
   and confirms (S3's ChecksumSHA256): a confirmed put is the proof;
2. where the server confirms no checksum, a HEAD must show the expected size and sha256
   (if the credentials may not read, the put's own check is all the proof there is);
3. "already exists" with the same sha256 counts as done (a crash after the put and
   before the local delete); with another sha256 the bundle is set aside as `.conflict`
   and reported, never overwritten and never deleted. Agent credentials that may only
   write (docker/: no agent can read the bucket) cannot HEAD: then "already exists" is
   this laptop's own earlier put, because the key is under its own device prefix, which
   only it may write, and names a random bundle id that only this sealed file has;
4. only then is the local copy removed.
The courier process runs this (`capture_agent/courier.py`) and the agent retries it with
backoff. Nothing is ever deleted to make room: a full spool pauses capture instead.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from worktape.core.storage import AccessDenied, ObjectExists, Storage, open_storage

log = logging.getLogger(__name__)


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def spool_bytes(spool: Path, live: Path | None = None, live_bytes: int = 0) -> int:
    """What the spool holds on disk. The open bundle's work dir (`live`, thousands of
    frames by the end of an hour) is counted by its journal (`live_bytes`), not walked;
    the outbox and any other work dir are few files."""
    if not spool.exists():
        return 0
    total = live_bytes
    for top in ("outbox", "open"):
        d = spool / top
        if not d.is_dir():
            continue
        with os.scandir(d) as entries:
            for e in entries:
                if e.is_file(follow_symlinks=False):
                    total += e.stat().st_size
                elif e.is_dir(follow_symlinks=False) and Path(e.path) != live:
                    total += _tree_bytes(Path(e.path))
    return total


def pending(spool: Path) -> list[Path]:
    outbox = spool / "outbox"
    if not outbox.exists():
        return []
    return sorted(
        (p for p in outbox.glob("*.tar") if p.with_suffix(".json").exists()),
        key=lambda p: p.stat().st_mtime,
    )


@dataclass
class UploadState:
    last_upload_at: str | None = None
    last_error: str | None = None
    failures: int = 0
    uploaded: int = 0
    conflicts: int = 0


class Uploader:
    def __init__(self, spool: Path, storage_url: str, *, endpoint_url: str | None = None) -> None:
        self.spool = spool
        self.storage_url = storage_url
        self.endpoint_url = endpoint_url or None
        self.state = UploadState()
        self._storage: Storage | None = None

    def storage(self) -> Storage:
        if self._storage is None:
            opts = (
                {"endpoint_url": self.endpoint_url} if self.storage_url.startswith("s3://") else {}
            )
            self._storage = open_storage(self.storage_url, **opts)
        return self._storage

    def upload_one(self, path: Path) -> bool:
        """Upload one bundle and prove it; True if the local copy could be removed."""
        side = json.loads(path.with_suffix(".json").read_text())
        key, sha = side["key"], side["sha256"]
        storage = self.storage()
        try:
            put = storage.put(key, path, sha256=sha)
        except ObjectExists:
            try:
                info = storage.head(key)
            except AccessDenied:
                # write-only credentials: the key is this laptop's own (see above)
                log.info("%s is already in the bucket: uploaded before a restart", key)
                return self._done(path)
            if info is None:
                raise OSError(f"{key} exists and does not: try again") from None
            if info.sha256 != sha:
                path.rename(path.with_suffix(".tar.conflict"))
                self.state.conflicts += 1
                log.error("%s already holds another bundle; kept locally as .conflict", key)
                return False
            return self._done(path)
        if not put.verified:  # the server confirmed no checksum: read back what it holds
            try:
                info = storage.head(key)
            except AccessDenied:
                # write-only credentials: the put carried the sha256 for the server to
                # check (a mismatch fails the put), which is all the proof there is
                log.info("%s uploaded; this laptop may not read it back", key)
                return self._done(path)
            if info is None or info.size != side["bytes"] or (info.sha256 and info.sha256 != sha):
                raise OSError(f"upload of {key} could not be verified (HEAD: {info})")
        return self._done(path)

    def _done(self, path: Path) -> bool:
        path.unlink()
        path.with_suffix(".json").unlink()
        self.state.uploaded += 1
        self.state.last_upload_at = datetime.now(UTC).isoformat(timespec="seconds")
        return True

    def run_once(self) -> int:
        """Upload what is pending, oldest first; stop at the first failure (the agent
        tries again after a backoff)."""
        done = 0
        for path in pending(self.spool):
            try:
                if self.upload_one(path):
                    done += 1
            except Exception as e:  # network, credentials, server: retry later
                self.state.failures += 1
                self.state.last_error = f"{type(e).__name__}: {e}"[:300]
                log.warning("upload failed: %s", e)
                return done
        self.state.failures = 0
        self.state.last_error = None
        return done
