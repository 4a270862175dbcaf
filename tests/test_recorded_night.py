"""A recorded end-to-end night. On a virtual X desktop, xdotool plays a short workday
into real windows: two workflows, each done three times with variations, with an
interruption in one instance and a password manager visited in between. The real agent
captures it and uploads to the moto S3 server; the nightly DAGs (on PostgreSQL) load,
build, gate and publish it. Both workflows run in windows of one browser (the class the
agent reports), one task after the other within seconds, as people work. Both come out
with three instances each, and the password manager leaves no trace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.agentkit import RunningAgent, cli, configure
from tests.airflowkit import s3_connection
from tests.xkit import Desk, missing_tools, virtual_desktop
from worktape.core.storage import open_storage

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing_tools()), reason=f"needs {missing_tools()}"),
]
SECRET = "hunter2-in-the-vault"
GAP = 2.0  # between tasks: people go on within seconds (the episode gap is 12 s)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with virtual_desktop() as disp:
        yield disp


class Day:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.expenses = desk.terminal(
            "Expenses · Expensify - Chromium", "80x20+40+40", app="chromium"
        )
        self.crm = desk.terminal("Home | Salesforce - Chromium", "80x20+700+60", app="chromium")
        self.chat = desk.terminal("Slack | #team | Acme", "60x15+400+500", app="slack")
        self.vault = desk.terminal("Passwords.kdbx - KeePassXC", "60x15+900+500", app="keepassxc")

    def click(self, wid: str, dx: int, dy: int) -> None:
        self.desk.xdo("mousemove", "--window", wid, str(dx), str(dy))
        time.sleep(0.3)
        self.desk.xdo("click", "1")
        time.sleep(0.9)

    def type(self, text: str) -> None:
        self.desk.xdo("type", "--delay", "50", text)
        time.sleep(0.9)

    def key(self, combo: str) -> None:
        self.desk.xdo("key", combo)
        time.sleep(0.9)

    def expense(self, n: int, merchant: str, amount: str, *, extra: bool, interrupt: bool) -> None:
        d, w = self.desk, self.expenses
        d.focus(w)
        d.xdo("set_window", "--name", f"New expense {n} · Expensify - Chromium", w)
        self.click(w, 60, 40)
        self.type(merchant)
        self.click(w, 60, 80)
        if interrupt:  # a colleague pings; back to the expense after
            d.focus(self.chat)
            self.click(self.chat, 80, 120)
            self.type("on it")
            self.key("Return")
            d.focus(w)
        self.type(amount)
        if extra:
            self.click(w, 60, 120)
            self.type("client visit")
        self.key("ctrl+s")
        d.xdo("set_window", "--name", "Expenses · Expensify - Chromium", w)

    def crm_update(self, company: str, note: str, *, extra: bool) -> None:
        d, w = self.desk, self.crm
        d.focus(w)
        self.click(w, 200, 30)
        self.type(company)
        self.key("Return")
        d.xdo("set_window", "--name", f"{company} | Account | Salesforce - Chromium", w)
        self.click(w, 100, 160)
        self.type(note)
        if extra:
            self.key("Tab")
            self.type("renewal")
        self.key("ctrl+s")
        d.xdo("set_window", "--name", "Home | Salesforce - Chromium", w)

    def vault_visit(self) -> None:
        self.desk.focus(self.vault)
        self.click(self.vault, 100, 60)
        self.type(SECRET)
        self.key("Return")


def test_a_recorded_workday_becomes_two_workflows_of_three(
    display: str,
    tmp_path: Path,
    moto_server: str,
    s3_bucket: str,
    airflow_home: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worktape.pipeline.runner import run_night

    url = f"s3://{s3_bucket}/team"
    env = {
        **configure(tmp_path, storage_url=url, endpoint_url=moto_server),
        "DISPLAY": display,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    desk = Desk(display)
    try:
        day = Day(desk)
        desk.focus(day.expenses)
        agent = RunningAgent(env)
        steps = [
            lambda: day.expense(1, "Uber", "23.40", extra=False, interrupt=False),
            lambda: day.crm_update("Globex", "sent the quote", extra=False),
            lambda: day.expense(2, "Hilton", "189.00", extra=True, interrupt=True),
            day.vault_visit,
            lambda: day.crm_update("Initech", "renewal call done", extra=True),
            lambda: day.expense(3, "Amtrak", "64.10", extra=False, interrupt=False),
            lambda: day.crm_update("Hooli", "asked for a demo", extra=False),
        ]
        for i, step in enumerate(steps):
            if i:
                time.sleep(GAP)
            step()
        time.sleep(1.5)
        flushed = cli("flush", env=env)
        assert flushed.returncode == 0, flushed.stderr
        agent.stop()
    finally:
        desk.close()

    # the night, as the deployment runs it: S3 settings from the Airflow connection
    monkeypatch.setenv("AIRFLOW_CONN_WORKTAPE_S3", s3_connection(moto_server))
    monkeypatch.setenv("WORKTAPE_STORAGE_URL", url)
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WORKTAPE_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("WORKTAPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WORKTAPE_ANALYST_DB", str(tmp_path / "home" / "published.duckdb"))
    results = run_night(datetime.now(UTC).date(), airflow_home)
    assert [r.dag_id for r in results] == ["worktape_ingest", "worktape_build", "worktape_publish"]
    assert all(r.ok for r in results), results

    con = duckdb.connect(str(warehouse), read_only=True)
    found = dict(
        con.execute(
            "SELECT CASE WHEN workflow_name ILIKE '%expensify%' THEN 'expensify' "
            "WHEN workflow_name ILIKE '%salesforce%' THEN 'salesforce' "
            "ELSE workflow_name END, instance_count FROM marts.workflows WHERE is_recurring"
        ).fetchall()
    )
    interrupted = con.execute(
        "SELECT count(*) FROM marts.episodes WHERE first_window_title ILIKE '%expensify%' "
        "AND is_interrupted"
    ).fetchone()[0]
    sites = {r[0] for r in con.execute("SELECT DISTINCT site FROM marts.steps").fetchall()}
    con.close()
    assert {"Expensify", "Salesforce"} <= sites, sites
    assert found.get("expensify") == 3 and found.get("salesforce") == 3, found
    assert interrupted == 1

    # the password manager left no trace: not in the bucket, the warehouse or the dataset
    storage = open_storage(url, endpoint_url=moto_server)
    for info in storage.list(""):
        if info.key.endswith((".tar", ".jsonl", ".xes", ".json", ".parquet", "LATEST")):
            body = storage.get_bytes(info.key)
            assert SECRET.encode() not in body, info.key
            assert b"KeePassXC" not in body and b"keepassxc" not in body, info.key
    con = duckdb.connect(str(warehouse), read_only=True)
    for table in ("raw.events", "marts.actions", "marts.steps"):
        cols = "app, window_title" + (", typed_text" if table == "marts.actions" else "")
        hits = con.execute(
            f"SELECT count(*) FROM {table} WHERE concat_ws(' ', {cols}) ILIKE '%keepass%'"
            f" OR concat_ws(' ', {cols}) LIKE '%{SECRET}%'"
        ).fetchone()[0]
        assert hits == 0, table
    con.close()
