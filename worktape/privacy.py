"""The privacy rules the pipeline holds data to: the agent's own, applied again.

The loader refuses a bundle whose window titles or apps break them (a laptop that did
not redact), and the gate scans every publishable text with them. Both use these
functions, so a bundle the loader accepts cannot fail the gate on the same text.
"""

from __future__ import annotations

from functools import cache

from capture_agent.config import Privacy
from capture_agent.redact import secret_spans

# the agent redacts these in typed text and titles; a password-like word is not checked
# here: it cannot be told from an ordinary identifier once it is in a title
PRIVACY_RULES = ("email", "card", "phone", "token")


def finding(text: str | None) -> str | None:
    """The first privacy rule a text breaks, or None."""
    if not text:
        return None
    for _, _, rule in secret_spans(text):
        if rule in PRIVACY_RULES:
            return rule
    return None


def mask(text: str) -> str:
    """A text with its secrets replaced by the rule's name, to show in a failure."""
    out, last = [], 0
    for start, end, rule in secret_spans(text):
        if rule in PRIVACY_RULES:
            out += [text[last:start], f"<{rule}>"]
            last = end
    out.append(text[last:])
    return "".join(out)[:120]


@cache
def _default_privacy() -> Privacy:
    return Privacy()


def denylisted(app: str | None, title: str | None, privacy: Privacy | None = None) -> bool:
    """Whether a window is one the agent's default denylist covers."""
    return (privacy or _default_privacy()).denies(app, title)
