"""Loaded by every Python process of a test run (PYTHONPATH): records network attempts.

Each socket.connect / socket.getaddrinfo / socket.sendto audit event of this process (and of every
child that inherits PYTHONPATH) is appended to the file in ADVISOR_AUDIT_LOG.
"""

import os
import sys

_LOG = os.environ.get("ADVISOR_AUDIT_LOG")
_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.sendto", "socket.sendmsg",
           "urllib.Request", "http.client.connect"}


def _hook(event, args):
    if event in _EVENTS and _LOG:
        try:
            with open(_LOG, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} {event} {args!r}\n")
        except OSError:
            pass


if _LOG:
    sys.addaudithook(_hook)
