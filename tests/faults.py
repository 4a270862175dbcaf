"""Faults injected from the test side: production code has no fault switches.

The loader commits a batch's ledger rows and COMMIT in `_commit_ledger`, after its data
rows went in inside the same transaction. The tests replace that boundary to crash the
loader right there: with an exception (in this process) or with SIGKILL (in a child).
"""

from __future__ import annotations

from typing import Any

import pytest

KILL_BEFORE_LEDGER = (
    "import os, signal; import worktape.loader.load as L; "
    "L._commit_ledger = lambda con: os.kill(os.getpid(), signal.SIGKILL); "
)


class LoaderCrash(RuntimeError):
    """Raised by a test between a batch's data rows and its ledger rows."""


def crash_before_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    import worktape.loader.load as loader

    def crash(con: Any) -> None:
        raise LoaderCrash("crashed between load and ledger (injected by a test)")

    monkeypatch.setattr(loader, "_commit_ledger", crash)
