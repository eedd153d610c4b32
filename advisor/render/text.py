"""Text hygiene shared by every renderer: strings from input files are data, never markup."""

from __future__ import annotations

import re

from advisor.infra.clean import clean  # noqa: F401  (the one cleaner; renderers import it here)


# Characters that can start markup anywhere in a line; with [ and ] escaped no link can form, so
# ( ) ! need no escape. List markers are markup only at the start of a line (- + 1.) and are
# escaped there (list markers need a space after them), so version numbers and names like
# scikit-learn stay readable in the source.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~#])")
_MD_LEADING = re.compile(r"^(\s*)([-+])(?=\s|$)")
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])(?=\s|$)")


def md(text: object) -> str:
    """Escape a string for Markdown so it renders as the literal text (no links, HTML, tables)."""
    value = clean(str(text)).replace("\r", " ").replace("\n", " ")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    value = _MD_LEADING.sub(r"\1\\\2", value)
    return _MD_ORDERED.sub(r"\1\\\2", value)


def md_link(title: object, url: str) -> str:
    """A Markdown link whose URL cannot break out (only http/https; risky characters encoded)."""
    from urllib.parse import quote

    if not re.match(r"^https?://[^\s]+$", url or ""):
        return f"{md(title)} ({md(url)})"
    safe = quote(clean(url), safe=":/?#@!$&'*+,;=%-._~")
    return f"[{md(title)}]({safe})"


def md_code(text: object) -> str:
    """A Markdown code span showing the literal text (backslash escapes do not work inside one)."""
    value = clean(str(text)).replace("\r", " ").replace("\n", " ").replace("`", "'")
    return "`" + value.replace("|", "\\|") + "`"


def answer_text(value: object) -> str:
    """An answer as people read it: lists comma-separated, booleans as yes/no."""
    if isinstance(value, list):
        return ", ".join(str(x) for x in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
