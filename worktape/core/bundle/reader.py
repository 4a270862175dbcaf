"""Reference reader and verifier of format-1 bundles, used by the pipeline: the entry
(`read_bundle`, `Bundle`, `Limits`).

It streams the tar once, from a file or any object with `read(n)` (an S3 body), holding
only the manifest and the two parquet tables in memory. Every rule of the contract that
fails raises `BundleError` with a stable `Reason`. It never extracts with tarfile and
never follows a link: frames, when asked for, are written under `extract_to` with names
it builds itself from validated ids.

The rules live by what they judge: `manifest` (the manifest), `members` (the tar's
members), `tables` (the two parquet tables); `tar_scan` holds the two scans that apply
them, the tarfile one and a fast path for seekable bundles of up to 256 MB.
"""

from __future__ import annotations

import os
import tarfile
from typing import BinaryIO

from worktape.core.bundle.errors import BundleError, Reason
from worktape.core.bundle.manifest import manifest_schema
from worktape.core.bundle.members import Source
from worktape.core.bundle.tar_scan import FAST_MAX, Defer, fast_read, scan_tar, size_if_seekable
from worktape.core.bundle.verified import Bundle, FramesMode, Limits

__all__ = ["Bundle", "FramesMode", "Limits", "manifest_schema", "read_bundle"]
_LIMITS = Limits()  # frozen: one default for every call


def read_bundle(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    frames: FramesMode = "verify",
    extract_to: str | os.PathLike[str] | None = None,
    limits: Limits = _LIMITS,
    dictionary: bool = False,
) -> Bundle:
    """Verify a bundle against the format-1 contract and return its tables.

    frames="verify" reads every frame and checks its sha256 (and the whole object's
    hash is returned); "skip" stops at the first frame, which is what a loader that only
    needs the tables wants; "extract" also writes frames under `extract_to`.
    dictionary=True returns low-cardinality string columns dictionary-encoded (cheaper to
    decode and to hand to DuckDB); their values are the same.
    """
    if frames == "extract" and extract_to is None:
        raise ValueError("frames='extract' needs extract_to")
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return read_bundle(
                f, frames=frames, extract_to=extract_to, limits=limits, dictionary=dictionary
            )

    if frames != "skip" and (size := size_if_seekable(source)) is not None:
        start = source.tell()
        if size - start <= FAST_MAX:
            try:
                return fast_read(source, frames, extract_to, limits, dictionary)
            except Defer:
                source.seek(start)  # the tarfile scan, from the start, says what is wrong

    src = Source(source, limits.max_bytes)
    try:
        tar = tarfile.open(fileobj=src, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
    except tarfile.ReadError as e:
        if src.count == 0:
            raise BundleError(Reason.TRUNCATED, "object is empty") from e
        raise BundleError(Reason.NOT_A_TAR, f"not a tar archive: {e}") from e
    try:
        return scan_tar(tar, src, frames, extract_to, limits, dictionary)
    except (tarfile.ReadError, EOFError) as e:
        raise BundleError(Reason.TRUNCATED, f"archive ends inside a member: {e}") from e
    except tarfile.TarError as e:
        raise BundleError(Reason.NOT_A_TAR, f"archive is corrupt: {e}") from e
