"""Which windows are off limits and which texts break the privacy rules.

`Privacy` is the agent's `[privacy]` settings: its denylist and what it paints out of
frames. The pipeline holds data to the same rules again. The loader refuses a bundle
whose window titles or apps break them (a laptop that did not redact), and the gate
scans every publishable text with them. Both use these functions, so a bundle the loader
accepts cannot fail the gate on the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from worktape.core.privacy.rules import secret_spans

# a screen region in virtual-desktop pixels: left, top, right, bottom (exclusive)
Rect = tuple[int, int, int, int]

DEFAULT_DENY_APPS = [
    "1password",
    "keepassxc",
    "keepass2",
    "bitwarden",
    "lastpass",
    "dashlane",
    "enpass",
    "seahorse",
    "gnome-keyring",
    "kwalletmanager",
    "pinentry",
]
DEFAULT_DENY_TITLES = [
    "private browsing",
    "incognito",
    "inprivate",
    "online banking",
    "bank",
    "paypal",
    "password",
    "1password",
    "keepass",
    "bitwarden",
]


@dataclass
class Privacy:
    deny_apps: list[str] = field(default_factory=lambda: list(DEFAULT_DENY_APPS))
    deny_titles: list[str] = field(default_factory=lambda: list(DEFAULT_DENY_TITLES))
    excluded: list[str] = field(default_factory=list)  # added with `worktape agent exclude`
    pause_hotkey: str = "<ctrl>+<alt>+p"
    # denylisted windows are painted out of every frame; turning that off takes this
    # explicit setting, and every bundle it touches says so (manifest and dataset card)
    mask_windows: bool = True
    # fixed screen rectangles painted out of every frame: [left, top, width, height] in
    # virtual-desktop pixels (a second monitor's chat, a notification corner)
    mask_regions: list[list[int]] = field(default_factory=list)
    # text on screen is read (OCR) and e-mails, card numbers, phone numbers, tokens and
    # these patterns (Python regular expressions) are painted out of every frame;
    # turning it off takes this explicit setting, which every bundle and the card report
    mask_text: bool = True
    mask_patterns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for p in self.mask_patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(
                    f"privacy.mask_patterns: {p!r} is not a regular expression ({e})"
                ) from None

    def denies(self, app: str | None, title: str | None) -> bool:
        """Whether a window is off limits (the agent records a gap; the pipeline's privacy
        gate refuses to publish one)."""
        app_l, title_l = (app or "").lower(), (title or "").lower()
        if any(a and a.lower() in app_l for a in self.deny_apps):
            return True
        if any(t and t.lower() in title_l for t in self.deny_titles):
            return True
        return any(x and (x.lower() in app_l or x.lower() in title_l) for x in self.excluded)


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
