"""What advisor writes names no person: the one place for redaction (issue 15, item 10).

``redact`` takes GPU UUIDs, the home folder and the user name out of free text (a child's
error, an environment value); ``shown_path`` turns a path advisor prints or records into one
relative to the current folder, or under ``~``, or redacted, so reports, recommendation.json,
probe.json and compare output carry no absolute home path.
"""

from __future__ import annotations

import os
import re

_UUID = re.compile(r"\b(?:GPU|MIG)-[0-9a-fA-F-]{8,}\b|\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}"
                   r"[0-9a-fA-F]{12}\b")
_COMMON_USERS = ("root", "user", "runner", "ubuntu", "admin", "nobody")  # not personal


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name is fine
        return None


def redact(text: str, home: str | None = None, user: str | None = None) -> str:
    """Remove GPU UUIDs, the home folder and the user name from free text.

    The user name is matched between characters that are not letters or digits, so it goes
    next to ``_``, ``-``, ``.`` or ``/`` too (``/tmp/alice_build``, ``alice-laptop``)."""
    home = home if home is not None else os.path.expanduser("~")
    user = user if user is not None else _user()
    text = _UUID.sub("<uuid>", text)
    if home and home not in ("/", "~") and len(home) > 1:
        text = text.replace(home.rstrip("/"), "~")
    if user and len(user) >= 3 and user.lower() not in _COMMON_USERS:
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(user)}(?![A-Za-z0-9])", "<user>", text,
                      flags=re.IGNORECASE)
    return text


def shown_path(path: str | os.PathLike[str] | None) -> str | None:
    """``path`` as advisor shows and records it: relative to the current folder when inside
    it, else ``~/...`` under the home folder, else with the user name redacted."""
    if path is None:
        return None
    text = os.fspath(path)
    if not os.path.isabs(text):
        return redact(text)
    try:
        cwd = os.getcwd()
        if os.path.dirname(cwd) != cwd:  # not the root folder: everything is under that
            rel = os.path.relpath(text, cwd)
            if not rel.startswith(".."):
                return redact(rel)
    except (OSError, ValueError):
        pass
    return redact(text)  # the home folder becomes ~
