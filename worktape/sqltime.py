"""SQL for the warehouse's UTC timestamps that stays off ICU's calendar, for the queries
that run outside dbt (the publisher's exports).

DuckDB hands strftime of a timestamptz to ICU: about 0.3 us a row. Every timestamp here
is UTC, so the instant itself (`epoch_us`) says the same at the cost of integer
arithmetic. The dbt models use `dbt_project/macros/time.sql` for their own arithmetic.
"""

from __future__ import annotations


def iso_utc(column: str) -> str:
    """ISO 8601 with microseconds and Z: what strftime(column, '...%fZ') gives in UTC."""
    return f"strftime(make_timestamp(epoch_us({column})), '%Y-%m-%dT%H:%M:%S.%fZ')"
