"""What simulated people do: workflow templates, distractions and roles.

A template is a named, recurring task: a start window and a list of steps. Each step is
one action a person takes (click, type, hotkey, scroll...) at a position relative to the
focused window. Instances vary by values, optional steps, speed and window placement.
The simulator's ground truth labels every episode with the template name.

Steps name the element they act on, as an application's accessibility tree would
(`element`: role and accessible name), so the bundles carry it as the agent records it
(format 1.1): a click's element is the one under the pointer; typing goes to the element
the last click focused, or to the one a type step names (after Tab, in a dialog). A
click that names none is one on an application that exposes nothing there.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

Vars = dict[str, str]


@dataclass(frozen=True)
class Step:
    action: str  # click | double_click | right_click | drag | scroll | type | hotkey | focus
    at: tuple[float, float] = (0.5, 0.5)  # position in the window, 0-1
    text: str = ""  # type: text template; hotkey: "ctrl+s"; focus: window title template
    app: str | None = None  # focus: the app that takes focus
    optional: float = 0.0  # probability of skipping the step
    group: str | None = None  # optional steps with one group are skipped together
    jitter: float = 0.015  # spread of the click point, in window fractions
    title: str | None = None  # the focused window's title after this step
    # the element acted on: (AT-SPI role, accessible name template); a type step names
    # one only where the keyboard focus is not the last click's, and gives its `at`
    element: tuple[str, str] | None = None


@dataclass(frozen=True)
class Template:
    name: str
    label: str
    app: str
    title: str
    steps: tuple[Step, ...]
    make_vars: Callable[[random.Random], Vars] = field(default=lambda r: {})
    is_distraction: bool = False


def click(x: float, y: float, **kw: object) -> Step:
    return Step("click", (x, y), **kw)  # type: ignore[arg-type]  # the keywords are Step fields


def dclick(x: float, y: float, **kw: object) -> Step:
    return Step("double_click", (x, y), **kw)  # type: ignore[arg-type]  # the keywords are Step fields


def rclick(x: float, y: float, **kw: object) -> Step:
    return Step("right_click", (x, y), **kw)  # type: ignore[arg-type]  # the keywords are Step fields


def type_(text: str, **kw: object) -> Step:
    return Step("type", text=text, **kw)  # type: ignore[arg-type]  # the keywords are Step fields


def hotkey(keys: str, **kw: object) -> Step:
    return Step("hotkey", text=keys, **kw)  # type: ignore[arg-type]  # the keywords are Step fields


def scroll(x: float, y: float, ticks: int = 5, **kw: object) -> Step:
    return Step("scroll", (x, y), text=str(ticks), **kw)  # type: ignore[arg-type]  # the keywords are Step fields


def drag(x: float, y: float, **kw: object) -> Step:
    return Step("drag", (x, y), **kw)  # type: ignore[arg-type]  # the keywords are Step fields


def focus(app: str, title: str, **kw: object) -> Step:
    return Step("focus", app=app, text=title, **kw)  # type: ignore[arg-type]  # the keywords are Step fields


_MERCHANTS = [
    "Uber",
    "Delta Air Lines",
    "Hilton Garden Inn",
    "Starbucks",
    "Office Depot",
    "Amtrak",
    "Marriott",
    "WeWork",
    "Staples",
    "Lyft",
]
_CATEGORIES = 6
_COMPANIES = [
    "Globex",
    "Initech",
    "Umbrella Corp",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Imports",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
]
_REPOS = ["billing-api", "web-frontend", "data-platform", "mobile-app", "auth-service"]
_SUBJECTS = [
    "Refund not received",
    "Cannot log in",
    "Invoice is wrong",
    "App crashes on start",
    "Change shipping address",
    "Cancel subscription",
    "Double charged",
]
_AGENTS = ["Priya", "Marco", "Sven", "Aiko", "Lena", "Tomás"]
_COMMENTS = [
    "nit: rename this",
    "can we add a test here?",
    "looks good to me",
    "this will break on empty input",
    "please extract a helper",
    "why the sleep?",
]
_SERVICES = ["billing", "search", "checkout", "notifications", "gateway"]


def _expense_vars(r: random.Random) -> Vars:
    return {
        "merchant": r.choice(_MERCHANTS),
        "amount": f"{r.uniform(4, 480):.2f}",
        "cat": str(r.randrange(_CATEGORIES)),
        "day": str(r.randint(1, 28)),
        "note": r.choice(["client visit", "team offsite", "conference", "travel"]),
    }


def _ticket_vars(r: random.Random) -> Vars:
    return {
        "id": str(r.randint(40000, 99999)),
        "subject": r.choice(_SUBJECTS),
        "agent": r.choice(_AGENTS),
        "note": r.choice(
            [
                "checked the logs",
                "asked for a screenshot",
                "escalating",
                "duplicate of an earlier ticket",
                "refund issued",
            ]
        ),
    }


def _pr_vars(r: random.Random) -> Vars:
    return {
        "n": str(r.randint(100, 4999)),
        "repo": r.choice(_REPOS),
        "comment": r.choice(_COMMENTS),
    }


def _crm_vars(r: random.Random) -> Vars:
    return {
        "company": r.choice(_COMPANIES),
        "phone": f"+1 {r.randint(201, 989)}-555-{r.randint(1000, 9999)}",
        "stage": str(r.randrange(5)),
        "note": r.choice(["renewal call done", "sent the quote", "asked for a demo"]),
    }


def _invoice_vars(r: random.Random) -> Vars:
    return {
        "n": str(r.randint(1000, 9999)),
        "client": r.choice(_COMPANIES),
        "qty": str(r.randint(1, 40)),
        "price": f"{r.uniform(10, 900):.2f}",
    }


def _deploy_vars(r: random.Random) -> Vars:
    return {
        "svc": r.choice(_SERVICES),
        "ver": f"{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 9)}",
    }


def _chat_vars(r: random.Random) -> Vars:
    peer = r.choice(_AGENTS)
    msg = r.choice(
        [
            "sure, give me 5 min",
            "lunch at 12:30?",
            "on it",
            f"my mail is {peer.lower()}.{r.choice(['ops', 'fin'])}@example.com",
            "thanks!",
            "can you review my PR?",
            "call me at +44 20 7946 0958",
        ]
    )
    return {"peer": peer, "msg": msg, "channel": r.choice(["general", "team", "random"])}


def _mail_vars(r: random.Random) -> Vars:
    return {
        "subject": r.choice(
            [
                "Q4 planning",
                "Offsite agenda",
                "Your invoice",
                "Re: contract renewal",
                "Weekly digest",
            ]
        ),
        "reply": r.choice(
            ["Thanks, noted.", "Will do.", "Sounds good to me.", "Let's discuss tomorrow."]
        ),
    }


TEMPLATES: tuple[Template, ...] = (
    Template(
        "file_expense_report",
        "File an expense report",
        "chrome",
        "Expenses · Expensify - Google Chrome",
        (
            click(
                0.09,
                0.16,
                element=("push button", "New expense"),
                title="New expense · Expensify - Google Chrome",
            ),
            click(0.35, 0.30, element=("entry", "Merchant")),
            type_("{merchant}"),
            click(0.35, 0.38, element=("entry", "Amount")),
            type_("{amount}"),
            click(0.35, 0.46, element=("combo box", "Category")),
            click(0.36, 0.52, title="New expense · Expensify - Google Chrome"),
            click(0.35, 0.60, optional=0.4, group="date", element=("entry", "Date")),
            type_("11/{day}", optional=0.4, group="date"),
            click(0.35, 0.68, optional=0.5, group="note", element=("entry", "Description")),
            type_("{note}", optional=0.5, group="note"),
            click(0.62, 0.74, element=("push button", "Attach receipt")),
            focus("xdg-desktop-portal-gtk", "Open File"),
            dclick(0.40, 0.35, jitter=0.05, element=("table cell", "receipt.pdf")),
            focus("chrome", "New expense · Expensify - Google Chrome"),
            click(
                0.86,
                0.90,
                element=("push button", "Save expense"),
                title="Expenses · Expensify - Google Chrome",
            ),
        ),
        _expense_vars,
    ),
    Template(
        "triage_support_ticket",
        "Triage a support ticket",
        "firefox",
        "Tickets · Zendesk — Mozilla Firefox",
        (
            click(
                0.30,
                0.22,
                element=("link", "{subject}"),
                title="Ticket #{id}: {subject} · Zendesk — Mozilla Firefox",
            ),
            scroll(0.55, 0.55, ticks=6),
            click(0.82, 0.25, element=("entry", "Assignee")),
            type_("{agent}"),
            hotkey("enter"),
            click(0.82, 0.33, element=("combo box", "Priority")),
            click(0.82, 0.40, element=("combo box", "Status")),
            scroll(0.55, 0.60, ticks=4, optional=0.5),
            click(0.50, 0.78, element=("entry", "Internal note")),
            type_("{note}"),
            click(
                0.80,
                0.92,
                element=("push button", "Submit as Open"),
                title="Tickets · Zendesk — Mozilla Firefox",
            ),
        ),
        _ticket_vars,
    ),
    Template(
        "review_pull_request",
        "Review a pull request",
        "chrome",
        "Pull requests · acme/{repo} - Google Chrome",
        (
            click(
                0.30,
                0.30,
                element=("link", "Pull Request #{n}"),
                title="Pull Request #{n} · acme/{repo} - Google Chrome",
            ),
            click(
                0.42,
                0.20,
                element=("page tab", "Files changed"),
                title="Files changed · Pull Request #{n} · acme/{repo} - Google Chrome",
            ),
            scroll(0.55, 0.55, ticks=10),
            scroll(0.55, 0.55, ticks=8, optional=0.4),
            click(
                0.30, 0.48, optional=0.3, group="comment", element=("push button", "Add a comment")
            ),
            type_(
                "{comment}",
                optional=0.3,
                group="comment",
                element=("entry", "Comment"),
                at=(0.45, 0.52),
            ),
            click(
                0.60, 0.56, optional=0.3, group="comment", element=("push button", "Add comment")
            ),
            click(0.86, 0.20, element=("push button", "Review changes")),
            click(0.74, 0.40, element=("radio button", "Approve")),
            click(
                0.78,
                0.55,
                element=("push button", "Submit review"),
                title="Pull Request #{n} · acme/{repo} - Google Chrome",
            ),
        ),
        _pr_vars,
    ),
    Template(
        "update_crm_record",
        "Update a CRM record",
        "chrome",
        "Home | Salesforce - Google Chrome",
        (
            click(0.50, 0.08, element=("entry", "Search Salesforce")),
            type_("{company}"),
            hotkey("enter"),
            click(
                0.25,
                0.30,
                element=("link", "{company}"),
                title="{company} | Account | Salesforce - Google Chrome",
            ),
            click(0.88, 0.18, element=("push button", "Edit")),
            click(0.40, 0.42, optional=0.4, group="phone", element=("entry", "Phone")),
            hotkey("ctrl+a", optional=0.4, group="phone"),
            type_("{phone}", optional=0.4, group="phone"),
            click(0.40, 0.52, element=("combo box", "Stage")),
            click(0.42, 0.58),
            click(0.40, 0.66, element=("entry", "Description")),
            type_("{note}"),
            click(0.55, 0.92, element=("push button", "Save")),
        ),
        _crm_vars,
    ),
    Template(
        "prepare_invoice",
        "Prepare an invoice",
        "libreoffice-calc",
        "invoice_template.ods - LibreOffice Calc",
        (
            click(0.20, 0.30, element=("table cell", "B4")),
            type_("{client}"),
            hotkey("tab"),
            type_("{qty}", element=("table cell", "C4"), at=(0.30, 0.30)),
            hotkey("tab"),
            type_("{price}", element=("table cell", "D4"), at=(0.40, 0.30)),
            hotkey("enter"),
            drag(0.35, 0.40, optional=0.5, element=("table cell", "C6")),
            hotkey("ctrl+shift+s"),
            focus("libreoffice-calc", "Save As"),
            type_("invoice_{n}", element=("text", "Name"), at=(0.50, 0.12)),
            hotkey("enter"),
            focus("libreoffice-calc", "invoice_{n}.ods - LibreOffice Calc"),
            hotkey("ctrl+p", optional=0.5, group="print"),
            click(0.70, 0.85, optional=0.5, group="print", element=("push button", "Print")),
        ),
        _invoice_vars,
    ),
    Template(
        "deploy_release",
        "Deploy a release",
        "gnome-terminal",
        "deploy@ci: ~/releases",
        (
            click(0.50, 0.50, element=("terminal", "Terminal")),
            type_("git pull"),
            hotkey("enter"),
            type_("make release SERVICE={svc} VERSION={ver}"),
            hotkey("enter"),
            type_("kubectl rollout status deploy/{svc}", optional=0.3),
            hotkey("enter", optional=0.3),
            scroll(0.50, 0.50, ticks=3, optional=0.5),
            type_("exit", optional=0.6),
        ),
        _deploy_vars,
    ),
)

DISTRACTIONS: tuple[Template, ...] = (
    Template(
        "reply_chat",
        "Reply in chat",
        "slack",
        "Slack | #{channel} | Acme",
        (
            click(0.15, 0.40, element=("list item", "{channel}")),
            scroll(0.60, 0.50, ticks=2, optional=0.5),
            click(0.60, 0.92, element=("entry", "Message #{channel}")),
            type_("{msg}"),
            hotkey("enter"),
        ),
        _chat_vars,
        is_distraction=True,
    ),
    Template(
        "read_email",
        "Read and answer e-mail",
        "thunderbird",
        "Inbox - Mozilla Thunderbird",
        (
            click(
                0.45,
                0.25,
                element=("table cell", "{subject}"),
                title="{subject} - Mozilla Thunderbird",
            ),
            scroll(0.60, 0.60, ticks=4),
            click(0.30, 0.12, optional=0.5, group="reply", element=("push button", "Reply")),
            type_(
                "{reply}",
                optional=0.5,
                group="reply",
                element=("text", "Message body"),
                at=(0.50, 0.60),
            ),
            hotkey("ctrl+enter", optional=0.5, group="reply"),
        ),
        _mail_vars,
        is_distraction=True,
    ),
)

# apps and titles the agent's default denylist covers; the simulator visits them
DENYLISTED = (
    ("1password", "1Password"),
    ("keepassxc", "Passwords.kdbx - KeePassXC"),
    ("firefox", "Private Browsing — Mozilla Firefox"),
    ("chrome", "Online Banking - Incognito - Google Chrome"),
)

# job roles: each person repeats mostly the workflows of their role
ROLES: dict[str, dict[str, float]] = {
    "finance": {"file_expense_report": 5, "prepare_invoice": 5, "update_crm_record": 1},
    "support": {"triage_support_ticket": 8, "update_crm_record": 3, "file_expense_report": 1},
    "engineer": {"review_pull_request": 6, "deploy_release": 4, "file_expense_report": 1},
    "sales": {"update_crm_record": 7, "prepare_invoice": 2, "file_expense_report": 2},
}

BY_NAME = {t.name: t for t in TEMPLATES + DISTRACTIONS}
