"""worktape.sqltime against DuckDB's own ICU arithmetic on timestamptz (the SQL it
replaces), on random instants and random sets of days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from worktape.sqltime import day_runs, in_utc_days, iso_utc, seconds_between

instants = st.datetimes(
    min_value=datetime(1969, 12, 30), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
days = st.lists(st.dates(date(2026, 10, 28), date(2026, 11, 8)), max_size=8)


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


@settings(max_examples=60, deadline=None)
@given(a=instants, b=instants)
def test_seconds_between_and_iso_match_icu(a: datetime, b: datetime) -> None:
    con = _con()
    ours, icu, ours_iso, icu_iso = con.execute(
        f"SELECT {seconds_between('$1', '$2')}, epoch($2 - $1), "
        f"{iso_utc('$1')}, strftime($1, '%Y-%m-%dT%H:%M:%S.%fZ')",
        [a, b],
    ).fetchone()
    assert abs(ours - icu) < 1e-5
    assert ours == (b - a) / timedelta(seconds=1)
    assert ours_iso == icu_iso


@settings(max_examples=60, deadline=None)
@given(chosen=days, probe=st.datetimes(datetime(2026, 10, 27), datetime(2026, 11, 10)))
def test_in_utc_days_is_the_date_test(chosen: list[date], probe: datetime) -> None:
    at = probe.replace(tzinfo=UTC)
    ours, icu = (
        _con()
        .execute(f"SELECT {in_utc_days('$1', chosen)}, CAST($1 AS DATE) = ANY($2)", [at, chosen])
        .fetchone()
    )
    assert ours == (icu if chosen else True)


def test_day_runs_join_consecutive_days() -> None:
    d = date(2026, 11, 2)
    picked = [d + timedelta(days=k) for k in (4, 0, 1, 1, 2, 6)]
    assert day_runs(picked) == [
        (d, d + timedelta(days=3)),
        (d + timedelta(days=4), d + timedelta(days=5)),
        (d + timedelta(days=6), d + timedelta(days=7)),
    ]
