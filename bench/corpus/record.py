"""Recording one contributor: a virtual desktop with the corpus apps, the real capture
agent started through its CLI (`worktape agent start`, shipped defaults), and a scripted
user working through their job for a set time. The bundles go to the corpus bucket as
the agent uploads them; the ground truth goes next to them, in the simulator's schema,
so that `worktape evaluate` reads both sources alike."""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.corpus.desk import Browser, Editor, profile_dir
from bench.corpus.tasks import WORKFLOWS, reply_chat
from bench.corpus.user import Episode, Habits, User
from bench.corpus.webapps import WebApps
from capture_agent import config as C
from tests.agentkit import RunningAgent, cli, configure
from tests.xkit import Desk, accessibility_bus, virtual_desktop
from worktape.core.layout import truth_key
from worktape.core.storage import open_storage
from worktape.simulate.workday import TRUTH_SCHEMA

CONTRIBUTORS: dict[str, Habits] = {
    h.name: h
    for h in (
        Habits(
            "ana",
            cps=7.5,
            typo_rate=0.02,
            read_s=0.9,
            act_s=0.45,
            keyboard=True,
            interrupt_p=0.12,
            abandon_p=0.05,
            workflows=(
                "submit_expense",
                "approve_expense",
                "log_crm_call",
                "create_lead",
                "reply_mail",
                "write_notes",
            ),
        ),
        Habits(
            "ben",
            cps=3.2,
            typo_rate=0.06,
            read_s=2.2,
            act_s=1.1,
            keyboard=False,
            interrupt_p=0.15,
            abandon_p=0.08,
            workflows=("answer_ticket", "reply_mail", "write_doc", "write_notes", "submit_expense"),
        ),
        Habits(
            "chloe",
            cps=5.0,
            typo_rate=0.04,
            read_s=1.4,
            act_s=0.8,
            keyboard=False,
            interrupt_p=0.25,
            abandon_p=0.06,
            workflows=(
                "log_crm_call",
                "create_lead",
                "answer_ticket",
                "write_doc",
                "approve_expense",
                "submit_expense",
            ),
        ),
    )
}
IDLE_S = (70.0, 95.0)  # once a session: away from the desk, longer than the agent's idle


@dataclass
class Recording:
    contributor: str
    device_id: str
    minutes: float
    active_minutes: float
    episodes: int
    tasks: int
    started: str
    ended: str
    digest: str


def work(user: User, seconds: float) -> float:
    """Works through tasks back to back until `seconds` have passed; returns the
    seconds spent away (idle)."""
    rng, habits = user.rng, user.habits
    start = time.monotonic()
    last: str | None = None
    idle = 0.0
    while time.monotonic() - start < seconds:
        if rng.random() < 0.07:
            reply_chat(user)
            time.sleep(rng.uniform(0.5, 4.0))
        if last and rng.random() < 0.35:
            name = last  # people batch: three approvals in a row
        else:
            name = rng.choice([w for w in habits.workflows if w != last])
        label, task = WORKFLOWS[name]
        ep = user.begin(name, label)
        user.end(ep, task(user))
        last = name
        if not idle and time.monotonic() - start > seconds / 2:
            idle = rng.uniform(*IDLE_S)
            time.sleep(idle)
        elif rng.random() < 0.1:
            time.sleep(rng.uniform(6.0, 20.0))  # a coffee sip, a glance at the phone
        else:
            time.sleep(rng.uniform(0.5, 5.0))  # straight on to the next task
    return idle


def _truth_table(truth: list[Episode], device_id: str, contributor_id: str) -> pa.Table:
    rows = [
        {**asdict(e), "device_id": device_id, "contributor_id": contributor_id}
        for e in truth
        if e.ended_at is not None
    ]
    return pa.Table.from_pylist(rows, schema=TRUTH_SCHEMA)


def record(name: str, minutes: float, home: Path, bucket: str, seed: int, digest: str) -> Recording:
    """Records `name` for `minutes` into `bucket`; `home` keeps the agent's config and
    the editor's files."""
    habits = CONTRIBUTORS[name]
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = configure(home, storage_url=bucket, fast=False)
    identity = C.load(Path(env["WORKTAPE_AGENT_CONFIG"])).identity
    profile = profile_dir()
    started = time.time()
    with virtual_desktop() as display, WebApps() as web:
        desk = Desk(display)
        # a session bus with the accessibility bus on it, as a desktop has: the apps
        # expose their trees, and the agent records the element each action acted on
        stack = contextlib.ExitStack()
        stack.enter_context(accessibility_bus(desk.env, home / "runtime"))
        browser = editor = None
        try:
            browser = Browser(desk, web, profile)
            editor = Editor(desk, home / "files")
            desk.focus(browser.window)
            agent = RunningAgent({**desk.env, **env})
            user = User(habits, desk, browser, editor, random.Random(seed), interruption=reply_chat)
            try:
                idle = work(user, minutes * 60)
                time.sleep(1.0)
            finally:
                flushed = cli("flush", env={**desk.env, **env})
                if flushed.returncode != 0:
                    raise RuntimeError(f"agent flush failed: {flushed.stderr.strip()}")
                agent.stop()
        finally:
            for app in (editor, browser):
                if app:
                    app.close()
            desk.close()
            stack.close()
            shutil.rmtree(profile, ignore_errors=True)
    ended = time.time()
    table = _truth_table(user.truth, identity.device_id, identity.contributor_id)
    storage = open_storage(bucket)
    days = sorted({t.date() for t in table.column("started_at").to_pylist()})
    for day in days:
        part = table.filter(pc.equal(pc.cast(table["started_at"], pa.date32()), day))
        buf = io.BytesIO()
        pq.write_table(part, buf, compression="zstd")
        storage.put(truth_key(identity.device_id, day), buf.getvalue(), overwrite=True)
    return Recording(
        contributor=name,
        device_id=identity.device_id,
        minutes=round((ended - started) / 60, 2),
        active_minutes=round((ended - started - idle) / 60, 2),
        episodes=table.num_rows,
        tasks=sum(not d for d in table.column("is_distraction").to_pylist()),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        ended=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ended)),
        digest=digest,
    )


def recorded_days(rec: Recording) -> list[date]:
    first, last = date.fromisoformat(rec.started[:10]), date.fromisoformat(rec.ended[:10])
    return sorted({first, last})


def save(rec: Recording, path: Path) -> None:
    path.write_text(json.dumps(asdict(rec), indent=2) + "\n")


def load(path: Path) -> Recording | None:
    try:
        return Recording(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
