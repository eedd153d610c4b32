""""Did you mean": one short line for a mistyped name, instead of the whole list of names.

Used wherever a user types a name advisor must know (question ids, answer values, condition names,
candidates). The closest known name comes from :mod:`difflib`; with none close enough, a short list
of what is allowed is shown (all of it when short, a sample with the count when long).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SHOW_ALL = 12  # lists up to this long are shown whole
SAMPLE = 6


def normalise(text: str) -> str:
    """The spelling-insensitive form of a name: case, spaces and hyphens do not matter
    (``multi-gpu``, ``Multi GPU`` and ``multi_gpu`` are one name)."""
    return re.sub(r"[\s\-_]+", "_", str(text).strip().lower()).strip("_")


def closest(word: str, names: Iterable[str]) -> str | None:
    """The known name closest to ``word`` (ignoring case, spaces and hyphens), or None."""
    names = list(names)
    by_form: dict[str, str] = {}
    for name in names:
        by_form.setdefault(normalise(name), name)
    form = normalise(word)
    if form in by_form:
        return by_form[form]
    import difflib  # only when a name is mistyped

    match = difflib.get_close_matches(form, list(by_form), n=1, cutoff=0.6)
    return by_form[match[0]] if match else None


def allowed(names: Iterable[str]) -> str:
    names = list(names)
    if len(names) <= SHOW_ALL:
        return "allowed: " + ", ".join(names)
    return f"allowed: {', '.join(names[:SAMPLE])}, ... ({len(names)} in all)"


def unknown(what: str, word: object, names: Iterable[str]) -> str:
    """``unknown question id 'modalty'; did you mean 'modality'?`` - one short line."""
    names = list(names)
    shown = repr(word) if len(repr(word)) <= 60 else repr(word)[:57] + "..."
    guess = closest(str(word), names) if isinstance(word, str) else None
    if guess is not None:
        return f"unknown {what} {shown}; did you mean {guess!r}?"
    return f"unknown {what} {shown}; {allowed(names)}"
