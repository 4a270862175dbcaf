"""UTC timestamps as the bundle contract spells them: ISO 8601, microseconds, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def to_iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("naive datetime: worktape timestamps are always UTC-aware")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    if not text.endswith("Z"):
        raise ValueError(f"not a UTC timestamp ending in Z: {text!r}")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
