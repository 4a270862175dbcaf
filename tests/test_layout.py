from datetime import UTC, date, datetime

from worktape.core.layout import parse_raw_key, quarantine_key, raw_key


def test_raw_key_round_trip() -> None:
    k = raw_key("dev1", datetime(2026, 11, 2, 23, 59, tzinfo=UTC), "b123")
    assert k == "raw/v1/device=dev1/date=2026-11-02/hour=23/b123.tar"
    rk = parse_raw_key(k)
    assert rk is not None and (rk.device_id, rk.date, rk.hour, rk.bundle_id) == (
        "dev1",
        date(2026, 11, 2),
        23,
        "b123",
    )
    assert str(rk) == k
    assert parse_raw_key("raw/v1/device=d/date=2026-11-02/b.tar") is None
    assert quarantine_key(k) == "quarantine/" + k
