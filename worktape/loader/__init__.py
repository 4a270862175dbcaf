"""The loader: discover new raw bundles, verify them, load them into DuckDB exactly once,
and quarantine what fails. The Airflow tasks in dags/ are thin calls into this package."""

from worktape.loader.discover import DEFAULT_LOOKBACK_DAYS, discover, interval_dates
from worktape.loader.load import LoadSummary, load_bundles
from worktape.loader.quarantine import Quarantined, quarantine

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "LoadSummary",
    "Quarantined",
    "discover",
    "interval_dates",
    "load_bundles",
    "quarantine",
]
