"""Markdown view of an Assessment, shaped like an architecture decision record.

The report view-model (advisor.render.view) rendered through ``templates/report.md.j2``. Every
``{{ value }}`` in that template is escaped as literal Markdown (``md``) by the environment's
``finalize``; only what the ``code``, ``link``, ``num`` and ``raw`` filters build is kept as is.
"""

from __future__ import annotations

from typing import Any

from advisor.decision.assessment import Assessment
from advisor.render import view
from advisor.render.text import md, md_code, md_link


class _Markdown(str):
    """Text that is Markdown already (a code span, a link): not escaped again."""


def _finalize(value: Any) -> str:
    if isinstance(value, _Markdown) or value == "-":  # "-": the placeholder for no value
        return str(value)
    return md("" if value is None else value)


def environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("advisor.render", "templates"),
        autoescape=False,  # Markdown, not HTML: _finalize escapes every value instead
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["code"] = lambda v: _Markdown(md_code(v))
    env.filters["link"] = lambda title, url: _Markdown(md_link(title, url))
    env.filters["num"] = lambda v, fmt: _Markdown("-" if v is None else format(v, fmt))
    env.filters["raw"] = _Markdown
    env.filters["join_pairs"] = lambda pairs: ", ".join(f"{k}={v}" for k, v in pairs)
    return env


def render(a: Assessment) -> str:
    return environment().get_template("report.md.j2").render(**view.build(a).fields())
