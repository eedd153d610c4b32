"""Text hygiene shared by every renderer: strings from input files are data, never markup."""

from __future__ import annotations

import re

from advisor.infra.clean import clean

# Characters that can start markup anywhere in a line; with [ and ] escaped no link can form, so
# ( ) ! need no escape. List markers are markup only at the start of a line (- + 1.) and are
# escaped there (list markers need a space after them), so version numbers and names like
# scikit-learn stay readable in the source.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~#])")
_MD_LEADING = re.compile(r"^(\s*)([-+])(?=\s|$)")
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])(?=\s|$)")


_CODE_SPAN = re.compile(r"`([^`]+)`")
# What GitHub-flavoured Markdown viewers turn into a link without any markup: a scheme (http://,
# javascript:... only with //), www., an e-mail address. Shown as code spans, they stay text.
_BARE_LINK = re.compile(r"(?i)(?<![a-z0-9+.-])(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>`]*"
                        r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def md(text: object) -> str:
    """Escape a string for Markdown so it renders as the literal text (no links, HTML, tables,
    and no bare URL a viewer would auto-link).

    Text between a pair of backticks (``pip install torch`` in a rule's rationale) stays a code
    span, as its author meant, instead of showing escaped backticks."""
    value = clean(str(text)).replace("\r", " ").replace("\n", " ")
    parts = _CODE_SPAN.split(value)  # text, code, text, code, ..., text
    return "".join(md_code(part) if i % 2 else _md_text(part, first=(i == 0))
                   for i, part in enumerate(parts))


def _md_text(value: str, *, first: bool) -> str:
    """Plain text, with bare links shown as code spans."""
    parts, last = [], 0
    for match in _BARE_LINK.finditer(value):
        parts.append(_md_plain(value[last:match.start()], first=first and last == 0))
        parts.append(md_code(match.group()))
        last = match.end()
    parts.append(_md_plain(value[last:], first=first and last == 0))
    return "".join(parts)


def _md_plain(value: str, *, first: bool) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    if not first:  # list markers matter only at the start of the line
        return value
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
