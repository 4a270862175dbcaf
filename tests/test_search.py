"""Full-text search in the analyst file (worktape.publish.search, `worktape search`): a
real DuckDB file written by write_analyst_db from Parquet tables, the real fts extension
from its wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from worktape.publish.analyst import query, write_analyst_db
from worktape.publish.search import SearchUnavailable, search
from worktape.warehouse import open_db

VERSION = "2026-11-06-abcdef123456"
EXPENSES = "Expenses · Ledgerly - Chromium — chromium"

# the procedures and their steps, as the procedures tables have them
PROCEDURES = [
    ("wf_exp", EXPENSES, "File an expense claim for a purchase", "chromium", 6, 3),
    ("wf_mail", "Inbox · Mailbox — thunderbird", "Answer a customer", "thunderbird", 4, 2),
]
PROCEDURE_STEPS = [
    ("wf_exp", 1, "Click 'New expense'", "New expense", "Ledgerly / Expenses"),
    ("wf_exp", 2, "Fill in 'Merchant'", "Merchant", "Ledgerly / New expense"),
    ("wf_exp", 3, "Fill in 'Amount'", "Amount", "Ledgerly / New expense"),
    ("wf_exp", 4, "Click 'Attach receipt'", "Attach receipt", "Ledgerly / New expense"),
    ("wf_exp", 5, "Click 'Submit'", "Submit", "Ledgerly / New expense"),
    ("wf_mail", 1, "Click 'Reply'", "Reply", "Mailbox / Inbox"),
    ("wf_mail", 2, "Type the answer", None, "Mailbox / Inbox"),
    ("wf_mail", 3, "Click 'Send'", "Send", "Mailbox / Inbox"),
]
# episode -> (workflow, instruction, [(step text, window title)])
EPISODES: dict[str, tuple[str | None, str, list[tuple[str, str]]]] = {
    "ep1": (
        "wf_exp",
        "Claim the taxi to the airport",
        [
            ("Click 'New expense'", "Expenses · Ledgerly"),
            ("Fill in 'Merchant' with 'City Cabs'", "New expense · Ledgerly"),
            ("Fill in 'Amount'", "New expense · Ledgerly"),
            ("Click 'Attach receipt'", "New expense · Ledgerly"),
        ],
    ),
    "ep2": (
        "wf_exp",
        "Claim the team lunch",
        [
            ("Click 'New expense'", "Expenses · Ledgerly"),
            ("Fill in 'Merchant'", "New expense · Ledgerly"),
            ("Click 'Submit'", "New expense · Ledgerly"),
        ],
    ),
    # the top procedure's workflow, without the words: an example all the same
    "ep3": ("wf_exp", "Check last month's claims", [("Scroll down 3", "Expenses · Ledgerly")]),
    "ep4": (
        "wf_mail",
        "Answer the supplier",
        [("Click 'Reply'", "Inbox · Mailbox"), ("Type 'the receipt is attached'", "Inbox")],
    ),
    "ep5": (None, "Write notes", [("Type 'weekly plan'", "notes.txt - Mousepad")]),
}


def _sql_str(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, int | float):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _values(rows: list[tuple[object, ...]]) -> str:
    return ", ".join("(" + ", ".join(_sql_str(v) for v in r) + ")" for r in rows)


def write_tables(root: Path, *, procedures: bool = True, step_text: bool = True) -> Path:
    """A staged version's tables/*.parquet (and viewer/ beside them: a page for ep1)."""
    tables = root / "tables"
    tables.mkdir(parents=True)
    con = open_db()
    episodes = [
        (eid, f"c{i % 2}", "2026-11-0" + str(2 + i % 3), instr, steps[0][1])
        for i, (eid, (_, instr, steps)) in enumerate(EPISODES.items())
    ]
    steps = [
        (f"{eid}-{k}", eid, k, text, window, "chromium")
        for eid, (_, _, ss) in EPISODES.items()
        for k, (text, window) in enumerate(ss, 1)
    ]
    instances = [(eid, wid, "c0") for eid, (wid, _, _) in EPISODES.items() if wid]
    step_cols = "step_id, episode_id, step_index, step_text, window_title, app"
    queries = {
        "episodes": f"SELECT episode_id, contributor_id, work_date::DATE AS work_date, "
        f"instruction, first_window_title, 12.5 AS duration_s FROM (VALUES {_values(episodes)}) "
        "t(episode_id, contributor_id, work_date, instruction, first_window_title)",
        "steps": f"SELECT {step_cols if step_text else step_cols.replace('step_text, ', '')} "
        f"FROM (VALUES {_values(steps)}) t({step_cols})",
        "workflow_instances": f"SELECT * FROM (VALUES {_values(instances)}) "
        "t(episode_id, workflow_id, contributor_id)",
        "workflows": "SELECT * FROM (VALUES ('wf_exp', 'Expenses', 3), ('wf_mail', 'Inbox', 1)) "
        "t(workflow_id, workflow_name, instance_count)",
    }
    if procedures:
        queries["procedures"] = (
            "SELECT procedure_id, procedure_id AS workflow_id, title, purpose, app, "
            "NULL::VARCHAR AS site, instance_count::BIGINT AS instance_count, "
            "contributor_count::BIGINT AS contributor_count, 30.0 AS median_duration_s "
            f"FROM (VALUES {_values(PROCEDURES)}) "
            "t(procedure_id, title, purpose, app, instance_count, contributor_count)"
        )
        queries["procedure_steps"] = (
            "SELECT procedure_id || '-' || step_index AS procedure_step_id, procedure_id, "
            "step_index::BIGINT AS step_index, step_text, element_name, 'chromium' AS app, "
            "page, 0.9 AS instance_share, false AS is_optional "
            f"FROM (VALUES {_values(PROCEDURE_STEPS)}) "
            "t(procedure_id, step_index, step_text, element_name, page)"
        )
    for name, sql in queries.items():
        con.execute(f"COPY ({sql}) TO '{tables / name}.parquet' (FORMAT parquet)")
    con.close()
    viewer = root / "viewer"
    viewer.mkdir()
    (viewer / "index.html").write_text("<html></html>")
    (viewer / "ep1.html").write_text("<html></html>")
    return tables


@pytest.fixture
def analyst(tmp_path: Path) -> Path:
    tables = write_tables(tmp_path / "version")
    return write_analyst_db(tables, VERSION, tmp_path / "published.duckdb")


def test_words_of_the_steps_find_the_procedure_then_its_episodes(analyst: Path) -> None:
    # none of these words is in the procedure's title: they are its steps' words, and
    # "receipts" meets "receipt" through the stemmer
    r = search(analyst, "merchant amount receipts", base_url="file:///bucket")
    assert r.version == VERSION
    assert [h.procedure_id for h in r.procedures] == ["wf_exp"]  # the mail one lacks them
    top = r.procedures[0]
    assert top.kind == "procedure" and top.title == EXPENSES
    assert top.score is not None and top.score > 0
    assert top.link == "procedures/wf_exp.html"
    assert top.href == f"file:///bucket/published/{VERSION}/procedures/wf_exp.html"
    assert top.detail == "6 instances, 3 contributors"
    # the top procedure's episodes first, by score (ep1 has all three words), then the
    # one without the words; then other matches (ep4 has "receipt")
    assert [h.episode_id for h in r.episodes] == ["ep1", "ep2", "ep3", "ep4"]
    ep1, ep2, ep3, ep4 = r.episodes
    assert ep1.title == "Claim the taxi to the airport" and ep1.procedure_id == "wf_exp"
    assert ep1.score is not None and ep2.score is not None and ep1.score > ep2.score
    assert ep3.score is None and ep4.score is not None
    # only ep1 has a viewer page in the version
    assert ep1.link == "viewer/ep1.html"
    assert ep1.href == f"file:///bucket/published/{VERSION}/viewer/ep1.html"
    assert ep2.link is None and ep2.href is None
    assert r.hits == [*r.procedures, *r.episodes]
    # --limit: on one word the shorter ep2 scores higher, but ep1 has a viewer page: an
    # example one can open comes first among the top procedure's episodes
    assert [h.episode_id for h in search(analyst, "merchant", limit=2).episodes] == ["ep1", "ep2"]
    # without a base URL the links stay relative to the version
    assert search(analyst, "merchant").procedures[0].href == "procedures/wf_exp.html"


def test_other_words_other_procedure_and_no_hits(analyst: Path) -> None:
    r = search(analyst, "reply send")
    assert [h.procedure_id for h in r.procedures] == ["wf_mail"]
    assert [h.episode_id for h in r.episodes] == ["ep4"]
    # words found nowhere, and stop words alone
    for text in ("quantum chromodynamics", "the and of"):
        r = search(analyst, text)
        assert r.hits == []


def test_sql_can_search_too(analyst: Path) -> None:
    cols, rows = query(
        "SELECT document_id FROM search_documents "
        "WHERE fts_main_search_documents.match_bm25(document_id, 'merchant') IS NOT NULL "
        "ORDER BY fts_main_search_documents.match_bm25(document_id, 'merchant') DESC",
        analyst,
    )
    assert cols == ["document_id"]
    assert {r[0] for r in rows} == {"procedure:wf_exp", "episode:ep1", "episode:ep2"}


def test_a_version_without_procedures_indexes_its_episodes(tmp_path: Path) -> None:
    # an older version: no procedures, and steps without a step text (window titles only)
    tables = write_tables(tmp_path / "version", procedures=False, step_text=False)
    path = write_analyst_db(tables, VERSION, tmp_path / "published.duckdb", viewer_pages=[])
    _, kinds = query("SELECT DISTINCT kind FROM search_documents", path)
    assert kinds == [("episode",)]
    r = search(path, "ledgerly taxi")
    assert r.procedures == []
    assert [h.episode_id for h in r.episodes][:1] == ["ep1"]
    assert {h.episode_id for h in r.episodes} == {"ep1", "ep2", "ep3"}
    assert all(h.link is None for h in r.episodes)  # no viewer pages given


def test_a_file_without_an_index_says_so(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = open_db(path)
    con.execute("CREATE TABLE dataset_version AS SELECT 'v1' AS version")
    con.close()
    with pytest.raises(SearchUnavailable, match="no search index"):
        search(path, "merchant")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worktape.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_cli_prints_hits_and_fails_in_one_line(analyst: Path, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    env = {
        "WORKTAPE_HOME": str(tmp_path / "home"),
        "WORKTAPE_STORAGE_URL": str(bucket),
        "WORKTAPE_ANALYST_DB": str(analyst),
    }
    r = run("search", "merchant amount receipt", env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.index("procedures:") < out.index(EXPENSES) < out.index("episodes:")
    assert out.index("episodes:") < out.index("Claim the taxi to the airport")
    page = f"{bucket.resolve().as_uri()}/published/{VERSION}/viewer/ep1.html"
    assert page in out
    assert f"{bucket.resolve().as_uri()}/published/{VERSION}/procedures/wf_exp.html" in out
    assert "no viewer page (episode ep2)" in out

    r = run("search", "merchant", "--limit", "1", "--json", "--db", str(analyst), env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["version"] == VERSION
    assert [(h["kind"], h["document_id"]) for h in doc["hits"]] == [
        ("procedure", "procedure:wf_exp"),
        ("episode", "episode:ep1"),  # the one with a viewer page
    ]

    r = run("search", "quantum chromodynamics", env=env)
    assert r.returncode == 0 and r.stdout.strip().splitlines() == [
        f"no hits for 'quantum chromodynamics' in version {VERSION}"
    ]

    # no analyst file, and one from before search: one line each, no traceback
    old = tmp_path / "old.duckdb"
    con = open_db(old)
    con.execute("CREATE TABLE dataset_version AS SELECT 'v1' AS version")
    con.close()
    for db, says in ((tmp_path / "none.duckdb", "no analyst file"), (old, "no search index")):
        r = run("search", "merchant", "--db", str(db), env=env)
        assert r.returncode != 0 and r.stdout == ""
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("worktape: error:"), r.stderr
        assert says in lines[0] and "Traceback" not in r.stderr
