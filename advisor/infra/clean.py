"""The one cleaner for text that came from input and is shown to a person (issue 15, item 5).

Removes what can change how a terminal, an editor or a viewer shows the rest: C0/C1 control
characters (ESC starts terminal escape sequences, BEL, backspace, carriage return), bidi
embeddings, overrides, isolates and marks (text that reads other than it is stored), invisible
and format characters (zero-width spaces and joiners, word joiner, soft hyphen, BOM, tag
characters, Hangul fillers, interlinear annotation) and lone surrogates. Tab and newline stay;
error messages additionally fold all whitespace to single spaces (one line).
"""

from __future__ import annotations

import re

_INVISIBLE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (not tab, newline) and C1 controls, DEL
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "\ud800-\udfff"  # lone surrogates (from a JSON "\\ud800" escape)
)
_CLEAN = re.compile(f"[{_INVISIBLE}]")


def clean(text: str) -> str:
    """``text`` without control, bidi, invisible or format characters (tab and newline kept)."""
    return _CLEAN.sub("", text)


def one_line(text: str) -> str:
    """``clean`` and all whitespace folded to single spaces: for one-line messages."""
    return " ".join(clean(text).split())
