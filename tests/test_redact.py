from __future__ import annotations

import re

import pytest

from worktape.core.privacy.rules import count_changes, luhn_ok, redact_run, scrub


@pytest.mark.parametrize(
    "text,rule",
    [
        ("mail jane.doe+x@mail.example.co.uk now", "email"),
        ("4111 1111 1111 1111", "card"),
        ("5500-0000-0000-0004", "card"),
        ("call +1 415-555-0132 today", "phone"),
        ("(020) 7946 0958", "phone"),
        ("Tél. 01.23.45.67.89", "phone"),  # dotted like a date or an address, but neither
        ("fax 415.555.0134", "phone"),
        ("AKIAIOSFODNN7EXAMPLE", "token"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token"),
        ("sk-proj-abcdefghijklmnopqrstuvwx", "token"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "token",
        ),
    ],
)
def test_secrets_are_found(text: str, rule: str) -> None:
    clean, counts = scrub(text)
    assert counts[rule] == 1, (clean, counts)
    assert f"<{rule}>" in clean


@pytest.mark.parametrize(
    "text",
    [
        "Ticket #48213: refund not received",
        "Invoice 2026-11-02",
        "amount 123.45",
        "Pull Request #1234 · acme/billing-api",
        "4111 1111 1111 1112",
        "make release VERSION=1.2.3",
        "invoice_4821.ods - LibreOffice Calc",
        # a date and its hour, or an IPv4 address, have a phone number's digits
        "2026-12-03 22:48:24 INFO nightly run started",
        "backup of 03.12.2026 22:15 done",
        "http://192.168.100.200:8080/tickets - Firefox",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub(text) == (text, {})


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_redact_run_marks_exactly_the_secret_characters() -> None:
    text = "write to bob@example.com ok"
    hidden = redact_run(text)
    assert "".join(text[i] for i in sorted(hidden)) == "bob@example.com"
    assert set(hidden.values()) == {"email"}


def test_count_changes() -> None:
    changed = count_changes(
        ["key_down", "key_up", "pause", "focus_change", "key_down"],
        ["email", "email", "denylist", None, None],
        [None, None, None, "Re: <email> and <phone>", None],
        [True, True, False, False, False],
    )
    assert changed == {"denylist_gaps": 1, "keys_email": 2, "title_email": 1, "title_phone": 1}


def test_the_contributors_patterns_are_a_rule_in_typed_text_and_titles() -> None:
    """`privacy.mask_patterns` hides what it names from keys and titles, not only from
    frames; where a built-in rule matches the same characters, the built-in names it."""
    emp = [re.compile(r"EMP-[0-9]{6}"), re.compile(r"acme-corp\.net")]
    text = "ticket for EMP-204417 ok"
    hidden = redact_run(text, emp)
    assert "".join(text[i] for i in sorted(hidden)) == "EMP-204417"
    assert set(hidden.values()) == {"pattern"}
    assert redact_run(text) == {}  # without the pattern: an ordinary word
    title, counts = scrub("EMP-204417 - bob@acme-corp.net - CRM", emp)
    assert title == "<pattern> - <email> - CRM"
    assert counts == {"pattern": 1, "email": 1}
    changed = count_changes(["focus_change"], [None], [title], [False])
    assert changed == {"title_email": 1, "title_pattern": 1}
    # a pattern that runs over a built-in rule's match is hidden whole
    text = "Client bob@example.com ref 2291 end"
    hidden = redact_run(text, [re.compile(r"Client \S+ ref \d+")])
    assert "".join(text[i] for i in sorted(hidden)) == "Client bob@example.com ref 2291"
    assert {hidden[text.index("b")], hidden[0], hidden[text.index("2291")]} == {
        "email",
        "pattern",
    }
