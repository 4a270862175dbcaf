"""The bucket's key layout (design.md, "Bucket layout"), in one place.

    raw/v1/device=<device_id>/date=<YYYY-MM-DD>/hour=<HH>/<bundle_id>.tar
    quarantine/<raw key>  +  quarantine/<raw key>.reason.json
    published/<dataset_version>/...  +  published/LATEST
    truth/v1/device=<device_id>/date=<YYYY-MM-DD>/episodes.parquet   (simulator only)
    tombstones/<contributor_id>.json   (one per erased contributor: no personal data)

Date and hour are the UTC date and hour of the bundle's started_at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

RAW = "raw/v1/"
QUARANTINE = "quarantine/"
PUBLISHED = "published/"
TRUTH = "truth/v1/"
TOMBSTONES = "tombstones/"

_RAW_RE = re.compile(
    r"^raw/v1/device=(?P<device>[^/]+)/date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/"
    r"(?P<bundle>[^/]+)\.tar$"
)


@dataclass(frozen=True)
class RawKey:
    device_id: str
    date: date
    hour: int
    bundle_id: str

    def __str__(self) -> str:
        return (
            f"{RAW}device={self.device_id}/date={self.date.isoformat()}/"
            f"hour={self.hour:02d}/{self.bundle_id}.tar"
        )


def raw_key(device_id: str, started_at: datetime, bundle_id: str) -> str:
    ts = started_at.astimezone(UTC)
    return str(RawKey(device_id, ts.date(), ts.hour, bundle_id))


def parse_raw_key(key: str) -> RawKey | None:
    m = _RAW_RE.match(key)
    if not m:
        return None
    return RawKey(m["device"], date.fromisoformat(m["date"]), int(m["hour"]), m["bundle"])


def quarantine_key(key: str) -> str:
    return QUARANTINE + key


def truth_key(device_id: str, day: date) -> str:
    return f"{TRUTH}device={device_id}/date={day.isoformat()}/episodes.parquet"


def tombstone_key(contributor_id: str) -> str:
    return f"{TOMBSTONES}{contributor_id}.json"
