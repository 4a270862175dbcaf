"""The privacy gate scans with the agent's rules only the texts a cheap pattern (RE2, in
DuckDB) picks out: that pattern must pick out every text the rules would flag."""

from __future__ import annotations

import re

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from worktape.publish.stage import CANDIDATE_RE, finding

SECRETS = [
    "jane.doe@example.com",
    "a@b.io",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111111111111111",
    "+1 (555) 123-4567",
    "555.123.4567",
    "(030) 1234 5678",
    "+44 20 7946 0958",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a1" * 12,
    "xoxb-1234567890-abcdef",
    "sk-" + "Ab3" * 8,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "0123456789abcdefABCDEF0123456789xyz",
]
candidate = re.compile(CANDIDATE_RE)


def test_every_known_secret_is_a_candidate_in_python_and_in_duckdb() -> None:
    con = duckdb.connect()
    for secret in SECRETS:
        text = f"Invoice for {secret} — thanks"
        assert finding(text), secret  # the rules flag it...
        assert candidate.search(text), secret  # ...and the pattern picks it out
        assert con.execute("SELECT regexp_matches(?, ?)", [text, CANDIDATE_RE]).fetchone()[0]


def test_ordinary_titles_are_not_candidates() -> None:
    for title in ("Expense report — Q3 travel", "Inbox (12) - Mail", "main.py - worktape"):
        assert not candidate.search(title)


texts = st.text(alphabet="0123456789 .()+-@_abcXYZ", max_size=40)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(texts, st.builds(lambda a, s, b: a + s + b, texts, st.sampled_from(SECRETS), texts))
)
def test_no_text_the_rules_flag_escapes_the_pattern(text: str) -> None:
    if finding(text):
        assert candidate.search(text), text
