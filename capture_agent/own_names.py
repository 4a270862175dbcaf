"""The contributor's own names on this laptop: their login, the machine's host name and
their home directory.

The bundle calls the contributor and the device by salted hashes, but window titles
name them outright: a terminal's "ana@laptop: ~/src", an editor's
"/home/ana/notes/todo.txt". So titles and element names have the home directory
written as "~" and "login@host" as "<user>@<host>", and the text reader paints both out
of frames (a shell prompt, a file dialog's path).
"""

from __future__ import annotations

import getpass
import platform
import re
from dataclasses import dataclass
from pathlib import Path

USER_AT_HOST = "<user>@<host>"


@dataclass(frozen=True)
class OwnNames:
    login: str
    host: str
    home: str

    @classmethod
    def here(cls) -> OwnNames:
        try:
            login = getpass.getuser()
        except (OSError, KeyError):  # no user name from the environment or the system
            login = ""
        try:
            home = str(Path.home())
        except RuntimeError:
            home = ""
        return cls(login, platform.node(), home)

    def _home_rx(self) -> str | None:
        # a home of "/" or "C:\" would take every path with it
        if len(self.home.strip("/\\")) < 2:
            return None
        # the directory itself, not a longer name it starts ("/home/ana" in "/home/anabel")
        return re.escape(self.home.rstrip("/\\")) + r"(?![\w.-])"

    def _user_rx(self, *, exact: bool = True) -> str | None:
        if not self.login or not self.host:
            return None
        # on screen, whatever follows the host name: the recogniser reads a prompt's
        # "vm:~$" as "vmt*$" too
        after = r"(?![\w-])" if exact else ""
        return rf"(?<![\w.-]){re.escape(self.login)}@{re.escape(self.host)}{after}"

    @property
    def complete(self) -> bool:
        """Whether both names can be hidden: a bundle says so (rule `own_names`) only
        then, so that the dataset card never claims what was not done."""
        return self._user_rx() is not None and self._home_rx() is not None

    def patterns(self) -> list[str]:
        """Regular expressions for the text reader: what frames must not show."""
        return [rx for rx in (self._user_rx(exact=False), self._home_rx()) if rx]

    def hide(self, text: str | None) -> str | None:
        """`text` (a title, an element's name) without the contributor's names."""
        if not text:
            return text
        if rx := self._user_rx():
            text = re.sub(rx, USER_AT_HOST, text)
        if rx := self._home_rx():
            text = re.sub(rx, "~", text)
        return text
