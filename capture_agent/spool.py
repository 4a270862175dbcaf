"""The local spool and the uploader: a sealed bundle leaves the laptop exactly once.

`<spool>/outbox/<bundle_id>.tar` + `.json` (its bucket key, sha256 and size) wait here
until an upload is proven:
1. a no-overwrite put (If-None-Match: *) with the sha256 for the server to check;
2. "already exists" with the same sha256 counts as done (a crash after the put and
   before the local delete); with another sha256 the bundle is set aside as `.conflict`
   and reported, never overwritten and never deleted;
3. a HEAD must show the expected size and checksum;
4. only then is the local copy removed.
Failures back off exponentially with jitter. Nothing is ever deleted to make room: a
full spool pauses capture instead (see agent.py).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from worktape.storage import ObjectExists, Storage, open_storage

log = logging.getLogger(__name__)


def spool_bytes(spool: Path) -> int:
    return sum(p.stat().st_size for p in spool.rglob("*") if p.is_file()) if spool.exists() else 0


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


class Uploader(threading.Thread):
    def __init__(
        self,
        spool: Path,
        storage_url: str,
        *,
        endpoint_url: str | None = None,
        retry_base: float = 2.0,
        retry_max: float = 300.0,
    ) -> None:
        super().__init__(name="uploader", daemon=True)
        self.spool = spool
        self.storage_url = storage_url
        self.endpoint_url = endpoint_url or None
        self.retry_base, self.retry_max = retry_base, retry_max
        self.state = UploadState()
        self._storage: Storage | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._next_try = 0.0

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
            storage.put(key, path, sha256=sha)
        except ObjectExists:
            info = storage.head(key)
            if info is None or info.sha256 != sha:
                path.rename(path.with_suffix(".tar.conflict"))
                self.state.conflicts += 1
                log.error("%s already holds another bundle; kept locally as .conflict", key)
                return False
        info = storage.head(key)
        if info is None or info.size != side["bytes"] or (info.sha256 and info.sha256 != sha):
            raise OSError(f"upload of {key} could not be verified (HEAD: {info})")
        path.unlink()
        path.with_suffix(".json").unlink()
        self.state.uploaded += 1
        self.state.last_upload_at = datetime.now(UTC).isoformat(timespec="seconds")
        return True

    def run_once(self) -> int:
        """Upload what is pending, oldest first; stop at the first failure."""
        done = 0
        for path in pending(self.spool):
            try:
                if self.upload_one(path):
                    done += 1
            except Exception as e:  # network, credentials, server: retry later
                self.state.failures += 1
                self.state.last_error = f"{type(e).__name__}: {e}"[:300]
                delay = min(self.retry_max, self.retry_base * 2 ** min(self.state.failures, 16))
                self._next_try = time.monotonic() + delay * random.uniform(0.5, 1.5)
                log.warning("upload failed (%s); retrying in about %.0f s", e, delay)
                return done
        self.state.failures = 0
        self.state.last_error = None
        self._next_try = float("inf")  # all done: sleep until the next wake()
        return done

    def wake(self) -> None:
        """Try now (a new bundle, or `worktape agent flush`), backoff or not."""
        self._next_try = 0.0
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            if time.monotonic() >= self._next_try:
                self.run_once()
            # woken by a new bundle or a flush; otherwise only to see if a retry is due
            self._wake.wait(timeout=max(0.0, min(5.0, self._next_try - time.monotonic())))
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
