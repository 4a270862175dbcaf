"""The steps each corpus workflow's driver scripts (bench/corpus/tasks.py), as procedure
unit keys (worktape.procedures: what was done to what, by the name the page gives the
control). A leading "?" marks a step the script takes only sometimes: it should read as
optional. "click:" is a click on something whose name is the instance's data (a message
in the inbox). Keys typed by name are pynput's ("enter"). Interruptions, abandoned
tasks and tab switches are not steps of the procedure."""

from __future__ import annotations

SCRIPTS: dict[str, list[str]] = {
    "submit_expense": [
        "click:new expense",
        "fill:merchant",
        "fill:amount",
        "choose:category",
        "?fill:note",
        "click:submit",
        "click:submit",  # the dialog's "Submit"
    ],
    "approve_expense": [
        "click:approvals",
        "click:report #",
        "?fill:comment",
        "click:approve",
        "click:approve",  # the dialog's "Approve"
        "click:expenses",
    ],
    "log_crm_call": [
        "fill:search accounts",
        "press:enter",
        "click:log a call",
        "fill:subject",
        "fill:notes",
        "choose:outcome",
        "click:save",
        "click:home",
    ],
    "create_lead": [
        "click:new lead",
        "fill:name",
        "fill:company",
        "?fill:e-mail",
        "?fill:phone",
        "click:save",
        "click:back to home",
    ],
    "answer_ticket": ["click:#", "fill:reply", "?choose:status", "click:send"],
    "reply_mail": [
        "click:",
        "click:reply",
        "fill:message",
        "?press:enter",
        "?fill:message",
        "click:send",
    ],
    "write_doc": ["click:new document", "fill:title", "fill:text", "click:save and close"],
    "write_notes": [
        "press:ctrl+end",
        "press:enter",
        "fill:",
        "?press:enter",
        "?fill:",
        "press:ctrl+s",
    ],
    "reply_chat": ["fill:message #", "press:enter"],
}

# plain words someone looking for the procedure would type, none of them its title's
QUERIES: dict[str, str] = {
    "submit_expense": "merchant amount category",
    "approve_expense": "approve a report",
    "log_crm_call": "log a call outcome",
    "create_lead": "new lead company",
    "answer_ticket": "reply to a ticket status",
    "reply_mail": "reply to a mail message",
    "write_doc": "new document title text",
    "write_notes": "append a line to the text file and save",
    "reply_chat": "team chat message",
}
