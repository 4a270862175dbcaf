"""Object storage: one interface, an S3 backend and a local-folder backend.

`open_storage(url)` picks the backend from a URL: `s3://bucket/prefix` or a local path /
`file://` URL. Both use the same key layout (see `worktape.core.layout`).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from worktape.core.storage.base import (
    AccessDenied,
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    Storage,
    StorageError,
)
from worktape.core.storage.local import LocalStorage

__all__ = [
    "AccessDenied",
    "LocalStorage",
    "ObjectExists",
    "ObjectInfo",
    "ObjectMissing",
    "Storage",
    "StorageError",
    "open_storage",
]


def open_storage(url: str | os.PathLike[str], **s3_options: object) -> Storage:
    text = os.fspath(url)
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        from worktape.core.storage.s3 import S3Storage

        if not parsed.netloc:
            raise ValueError(f"S3 URL without a bucket: {text!r}")
        return S3Storage(parsed.netloc, parsed.path, **s3_options)  # type: ignore[arg-type]  # S3Storage checks the option names
    if parsed.scheme == "file":
        return LocalStorage(Path(parsed.path))
    if parsed.scheme in ("",) or (len(parsed.scheme) == 1 and os.name == "nt"):
        return LocalStorage(Path(text).expanduser())
    raise ValueError(f"unsupported storage URL {text!r}: use s3://bucket/prefix or a path")
