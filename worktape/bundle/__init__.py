"""The capture-bundle contract, format 1: writer, reader/verifier, schemas, reasons."""

from worktape.bundle.errors import BundleError, Reason
from worktape.bundle.reader import Bundle, Limits, read_bundle
from worktape.bundle.writer import BundleWriter, SealedBundle

__all__ = [
    "Bundle",
    "BundleError",
    "BundleWriter",
    "Limits",
    "Reason",
    "SealedBundle",
    "read_bundle",
]
