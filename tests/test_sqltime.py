"""worktape.sqltime against DuckDB's own ICU arithmetic on timestamptz (the SQL it
replaces), on random instants."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from worktape.sqltime import iso_utc

instants = st.datetimes(
    min_value=datetime(1969, 12, 30), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


@settings(max_examples=60, deadline=None)
@given(a=instants)
def test_iso_matches_icu(a: datetime) -> None:
    ours, icu = (
        _con()
        .execute(f"SELECT {iso_utc('$1')}, strftime($1, '%Y-%m-%dT%H:%M:%S.%fZ')", [a])
        .fetchone()
    )
    assert ours == icu
