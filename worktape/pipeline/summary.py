"""What a night did, in words, read back from the warehouse after the run."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from worktape.pipeline.runner import NightResult
from worktape.settings import Settings
from worktape.warehouse import WarehouseSettings, connect

# the last line of a Python traceback: "package.module.SomeError: what went wrong"
_RAISED = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Z]\w*): (.+)$")


def failure_reason(log: Path, offset: int = 0) -> str | None:
    """What the failed task raised, from the night's log after `offset`: the first
    exception's name and message (what failed after it, like the watcher that fails the
    run, followed from it), the line a person at 2 a.m. needs before opening the file."""
    try:
        with log.open("rb") as f:
            f.seek(offset)
            text = f.read(16_000_000).decode("utf-8", "replace")
    except OSError:
        return None
    before = ""
    for line in text.splitlines():
        # a traceback's last line follows its indented frames (a warning's does not)
        if before.startswith(" ") and (m := _RAISED.match(line.strip())):
            return f"{m[1]}: {m[2]}"[:500]
        before = line
    return None


def night_counts(run_id: str, settings: WarehouseSettings) -> dict[str, object]:

    s = settings
    if not s.path.exists():
        return {}
    con = connect(s, read_only=True)
    try:
        loaded, events, shots = con.execute(
            "SELECT count(*), coalesce(sum(event_count), 0), coalesce(sum(screenshot_count), 0) "
            "FROM raw.ledger WHERE load_run_id = ?",
            [run_id],
        ).fetchone()
        reasons = dict(
            con.execute(
                "SELECT reason, count(*) FROM raw.quarantine WHERE run_id = ? "
                "GROUP BY 1 ORDER BY 1",
                [run_id],
            ).fetchall()
        )
        dupes = con.execute(
            "SELECT count(*) FROM raw.duplicate_keys WHERE run_id = ?", [run_id]
        ).fetchone()[0]
        total = con.execute(
            "SELECT count(*), coalesce(sum(event_count), 0) FROM raw.ledger"
        ).fetchone()
    finally:
        con.close()
    return {
        "loaded": loaded,
        "events": events,
        "screenshots": shots,
        "quarantined": reasons,
        "duplicates": dupes,
        "warehouse_bundles": total[0],
        "warehouse_events": total[1],
    }


def action_counts(settings: WarehouseSettings) -> list[tuple[str, int]]:
    import duckdb

    s = settings
    con = connect(s, read_only=True)
    try:
        return con.execute(
            "SELECT action_type, count(*) FROM marts.actions GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def mart_counts(settings: WarehouseSettings) -> dict[str, int]:
    import duckdb

    s = settings
    con = connect(s, read_only=True)
    out = {}
    try:
        for table in ("sessions", "episodes", "workflows"):
            with contextlib.suppress(duckdb.CatalogException):
                out[table] = con.execute(f"SELECT count(*) FROM marts.{table}").fetchone()[0]
        return out
    finally:
        con.close()


def top_workflows(settings: WarehouseSettings, limit: int = 5) -> list[tuple]:
    """The most frequent recurring workflows: name, instances, contributors, median
    seconds, main variant."""
    import duckdb

    s = settings
    con = connect(s, read_only=True)
    try:
        return con.execute(
            "SELECT workflow_name, instance_count, contributor_count, median_duration_s, "
            "main_variants[1].variant FROM marts.workflows WHERE is_recurring "
            "ORDER BY instance_count DESC, workflow_id LIMIT ?",
            [limit],
        ).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def print_workflows(settings: Settings, limit: int = 5) -> None:
    rows = top_workflows(settings.warehouse_settings(), limit)
    if not rows:
        return
    print("top workflows found (marts.workflows):")
    for name, n, people, median, variant in rows:
        print(f"  {n:5,} x  {name}")
        print(f"           {people} contributor(s), median {median:.0f} s, main variant {variant}")


def print_night(r: NightResult, settings: Settings) -> None:
    print(f"{r.dag_id}, night of {r.day.isoformat()}: {r.state} (run {r.run_id})")
    if not r.ok and r.log is not None:
        if reason := failure_reason(r.log, r.log_offset):
            print(f"  it raised: {reason}")
        print(f"  what Airflow said: {r.log}")
    if r.dag_id == "worktape_publish":
        print_publish(r, settings)
        return
    if r.dag_id == "worktape_build":
        if r.ok:
            counts = action_counts(settings.warehouse_settings())
            total = sum(n for _, n in counts)
            print(
                f"  marts.actions holds {total:,} actions: "
                + ", ".join(f"{n:,} {t}" for t, n in counts)
            )
            m = mart_counts(settings.warehouse_settings())
            if m:
                print("  " + ", ".join(f"{n:,} {t}" for t, n in m.items()))
        return
    c = night_counts(r.run_id, settings.warehouse_settings())
    if not c:
        return
    print(
        f"  loaded {c['loaded']} bundle(s), {c['events']:,} events, {c['screenshots']:,} "
        f"frames indexed; {c['duplicates']} duplicate(s) skipped"
    )
    for reason, n in c["quarantined"].items():  # type: ignore[union-attr]
        print(f"  quarantined {n}: {reason}")
    print(
        f"  warehouse now holds {c['warehouse_bundles']:,} bundles, "
        f"{c['warehouse_events']:,} events"
    )


def print_publish(r: NightResult, settings: Settings) -> None:
    import json

    from worktape.pipeline import resources
    from worktape.publish.publisher import latest_version

    gate = settings.home / "publish" / "work" / "gate.json"
    if gate.exists():
        g = json.loads(gate.read_text())
        print("  " + g["message"].replace("\n", "\n  "))
    storage = resources.storage(settings)
    if r.ok:
        print(f"  dataset           {storage.url.rstrip('/')}/published/{latest_version(storage)}/")
        print(f'  analyst file      {settings.analyst_db}  (worktape query "SQL")')
    reports = sorted((settings.home / "reports").glob("night-*.html"))
    mine = [p for p in reports if r.day.isoformat() in p.name]
    for p in mine[-1:]:
        print(f"  nightly report    {p}")
