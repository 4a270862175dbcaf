"""The corpus workflows, as a person does them in the corpus apps.

Each task is one ground-truth episode. It begins with the first input meant for it
(often the switch to its tab) and ends with the input that finishes it; the pause before
the next task belongs to neither. Optional steps vary between instances; a task may be
interrupted by chat (`User.checkpoint`) and may be given up halfway."""

from __future__ import annotations

from collections.abc import Callable

from bench.corpus.user import EDITOR, User

MERCHANTS = ["Uber", "Hilton", "Amtrak", "Staples", "Pret", "Delta", "Marriott", "Lyft"]
CATEGORIES = ["Travel", "Meals", "Lodging", "Office"]
COMPANIES = ["globex", "initech", "hooli", "umbrella", "soylent", "stark", "wayne", "acme"]
FIRST = ["Maria", "Tom", "Aisha", "Ken", "Priya", "Lars", "Nadia", "Joe"]
LAST = ["Lopez", "Berg", "Khan", "Sato", "Nair", "Olsen", "Ivanova", "Park"]
WORDS = [
    "thanks",
    "for",
    "the",
    "update",
    "we",
    "will",
    "follow",
    "up",
    "next",
    "week",
    "the",
    "numbers",
    "look",
    "right",
    "please",
    "send",
    "the",
    "signed",
    "copy",
    "before",
    "friday",
    "happy",
    "to",
    "help",
    "with",
    "the",
    "next",
    "steps",
    "as",
    "agreed",
]


def _words(u: User, lo: int, hi: int) -> str:
    n = u.rng.randint(lo, hi)
    start = u.rng.randrange(len(WORDS) - n)
    return " ".join(WORDS[start : start + n]).capitalize()


def submit_expense(u: User) -> str:
    u.plan(5)
    u.show("ledgerly")
    seq = u.click("ledgerly", "list", "new")
    u.arrive("ledgerly", "new", seq)
    u.fill("ledgerly", "new", "merchant", u.rng.choice(MERCHANTS))
    if u.checkpoint():
        u.click("ledgerly", "new", "cancel")
        return "abandoned"
    u.fill(
        "ledgerly", "new", "amount", f"{u.rng.randint(8, 420)}.{u.rng.randint(0, 99):02d}", tab=True
    )
    u.checkpoint()
    u.choose("ledgerly", "new", "category", u.rng.choice(CATEGORIES), tab=True)
    variant = "plain"
    if u.rng.random() < 0.5:
        u.fill("ledgerly", "new", "note", _words(u, 2, 5), tab=True)
        variant = "note"
    if u.checkpoint():
        u.click("ledgerly", "new", "cancel")
        return "abandoned"
    u.click("ledgerly", "new", "submit")
    u.think()
    seq = u.click("ledgerly", "new+dialog", "confirm")
    u.browser.layout("ledgerly", "list", after=seq)
    return variant


def approve_expense(u: User) -> str:
    u.plan(4)
    u.show("ledgerly")
    seq = u.click("ledgerly", "list", "nav-approvals")
    u.arrive("ledgerly", "approvals", seq)
    seq = u.click("ledgerly", "approvals", f"report-{u.rng.randrange(3)}")
    u.arrive("ledgerly", "report", seq)
    if u.checkpoint():
        seq = u.click("ledgerly", "report", "reject")
        u.browser.layout("ledgerly", "approvals", after=seq)
        seq = u.click("ledgerly", "approvals", "nav-expenses")
        return "abandoned"
    variant = "plain"
    if u.rng.random() < 0.4:
        u.fill("ledgerly", "report", "comment", _words(u, 2, 4))
        variant = "comment"
    u.checkpoint()
    u.click("ledgerly", "report", "approve")
    u.think()
    seq = u.click("ledgerly", "report+dialog", "confirm")
    u.arrive("ledgerly", "approvals", seq)
    seq = u.click("ledgerly", "approvals", "nav-expenses")
    u.browser.layout("ledgerly", "list", after=seq)
    return variant


def log_crm_call(u: User) -> str:
    u.plan(4)
    u.show("orbit")
    company = u.rng.choice(COMPANIES)
    u.fill("orbit", "home", "search", company)
    u.key("Return")
    u.arrive("orbit", "account", 0)
    seq = u.click("orbit", "account", "log-call")
    u.arrive("orbit", "call", seq)
    u.fill("orbit", "call", "subject", _words(u, 2, 3))
    if u.checkpoint():
        seq = u.click("orbit", "call", "cancel")
        u.browser.layout("orbit", "account", after=seq)
        u.click("orbit", "account", "nav-home")
        return "abandoned"
    u.fill("orbit", "call", "notes", _words(u, 4, 9), tab=True)
    u.checkpoint()
    u.choose(
        "orbit",
        "call",
        "outcome",
        u.rng.choice(["Connected", "Left voicemail", "No answer"]),
        tab=True,
    )
    seq = u.click("orbit", "call", "save")
    u.arrive("orbit", "account", seq)
    seq = u.click("orbit", "account", "nav-home")
    u.browser.layout("orbit", "home", after=seq)
    return "plain"


def create_lead(u: User) -> str:
    u.plan(4)
    u.show("orbit")
    seq = u.click("orbit", "home", "new-lead")
    u.arrive("orbit", "lead", seq)
    first, last = u.rng.choice(FIRST), u.rng.choice(LAST)
    u.fill("orbit", "lead", "name", f"{first} {last}")
    u.fill("orbit", "lead", "company", u.rng.choice(COMPANIES).capitalize(), tab=True)
    if u.checkpoint():
        u.click("orbit", "lead", "cancel")
        return "abandoned"
    variant = "plain"
    if u.rng.random() < 0.6:
        u.fill("orbit", "lead", "email", f"{first.lower()}.{last.lower()}@example.com", tab=True)
        variant = "email"
    u.checkpoint()
    if u.rng.random() < 0.4:
        # Tab from Company lands in E-mail: a skipped e-mail means clicking the phone
        u.fill("orbit", "lead", "phone", f"555 01{u.rng.randint(10, 99)}", tab=variant == "email")
        variant += "+phone"
    seq = u.click("orbit", "lead", "save")
    u.arrive("orbit", "saved", seq)
    seq = u.click("orbit", "saved", "done")
    u.browser.layout("orbit", "home", after=seq)
    return variant


def answer_ticket(u: User) -> str:
    u.plan(3)
    u.show("helpdesk")
    seq = u.click("helpdesk", "queue", f"ticket-{u.rng.randrange(4)}")
    u.arrive("helpdesk", "ticket", seq)
    u.pause(u.habits.read_s * 2)  # reading the customer's message
    u.fill("helpdesk", "ticket", "reply", _words(u, 6, 14))
    u.checkpoint()
    variant = "pending"
    if u.rng.random() < 0.6:
        u.choose("helpdesk", "ticket", "status", "Solved", tab=True)
        variant = "solved"
    u.checkpoint()
    seq = u.click("helpdesk", "ticket", "send")
    u.browser.layout("helpdesk", "queue", after=seq)
    return variant


def reply_mail(u: User) -> str:
    u.plan(3)
    u.show("postbox")
    seq = u.click("postbox", "inbox", f"msg-{u.rng.randrange(3)}")
    u.arrive("postbox", "message", seq)
    u.pause(u.habits.read_s * 1.5)
    seq = u.click("postbox", "message", "reply")
    u.arrive("postbox", "reply", seq)
    u.fill("postbox", "reply", "body", _words(u, 5, 12))
    if u.checkpoint():
        seq = u.click("postbox", "reply", "discard")
        u.browser.layout("postbox", "inbox", after=seq)
        return "abandoned"
    if u.rng.random() < 0.3:
        u.key("Return")
        u.type("Best, " + u.habits.name.capitalize())
    u.checkpoint()
    seq = u.click("postbox", "reply", "send")
    u.browser.layout("postbox", "inbox", after=seq)
    return "plain"


def write_doc(u: User) -> str:
    u.plan(3)
    u.show("quill")
    seq = u.click("quill", "home", "new-doc")
    u.arrive("quill", "doc", seq)
    u.fill(
        "quill",
        "doc",
        "doc-title",
        f"{u.rng.choice(['Plan', 'Notes', 'Brief', 'Summary'])} {u.rng.randint(2, 40)}",
    )
    u.checkpoint()
    u.fill("quill", "doc", "doc-body", _words(u, 8, 16), tab=True)
    u.checkpoint()
    seq = u.click("quill", "doc", "done")
    u.browser.layout("quill", "home", after=seq)
    return "plain"


def write_notes(u: User) -> str:
    """In Mousepad: the running to-do list gets a few lines at its end and is saved."""
    u.plan(3)
    u.show(EDITOR)
    u.key("ctrl+End")
    u.think()
    u.key("Return")
    u.type(f"{u.rng.choice(['call', 'email', 'visit', 'ask'])} {u.rng.choice(COMPANIES)}")
    u.checkpoint()
    variant = "one"
    if u.rng.random() < 0.5:
        u.key("Return")
        u.type("- " + _words(u, 3, 7).lower())
        variant = "two"
    u.checkpoint()
    u.think()
    u.key("ctrl+s")
    u.editor.saved()
    return variant


def reply_chat(u: User) -> str:
    """A colleague pings: answer in the team chat."""
    ep = u.begin("reply_chat", "Reply in chat", distraction=True)
    u.show("banter")
    u.click("banter", "channel", "message")
    u.type(u.rng.choice(["on it", "sure, give me 5 min", "yes", "done", "will check"]))
    u.key("Return")
    u.end(ep, "plain")
    return "plain"


WORKFLOWS: dict[str, tuple[str, Callable[[User], str]]] = {
    "submit_expense": ("Submit an expense", submit_expense),
    "approve_expense": ("Approve an expense report", approve_expense),
    "log_crm_call": ("Log a call on a CRM account", log_crm_call),
    "create_lead": ("Create a CRM lead", create_lead),
    "answer_ticket": ("Answer a support ticket", answer_ticket),
    "reply_mail": ("Reply to an e-mail", reply_mail),
    "write_doc": ("Write a document", write_doc),
    "write_notes": ("Write notes in the editor", write_notes),
}
