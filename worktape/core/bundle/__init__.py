"""The capture-bundle contract, format 1: writer, reader/verifier, schemas, reasons.

The reader and writer need pyarrow; they load on first use, so that the capture agent,
which imports only `contract` and `journal` from here, never pays for Arrow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from worktape.core.bundle.errors import BundleError, Reason

if TYPE_CHECKING:
    from worktape.core.bundle.reader import Bundle, Limits, read_bundle
    from worktape.core.bundle.writer import BundleWriter, SealedBundle

_LAZY = {
    "Bundle": "reader",
    "Limits": "reader",
    "read_bundle": "reader",
    "BundleWriter": "writer",
    "SealedBundle": "writer",
}

__all__ = [
    "Bundle",
    "BundleError",
    "BundleWriter",
    "Limits",
    "Reason",
    "SealedBundle",
    "read_bundle",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"worktape.core.bundle.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'worktape.core.bundle' has no attribute {name!r}")
