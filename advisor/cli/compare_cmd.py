"""`advisor compare PROBE.json...`: machines side by side."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from advisor.cli.app import app


class CompareFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


@app.command("compare")
def compare_command(
    probes: Annotated[list[str], typer.Argument(metavar="PROBE.json...", help="Probe files written by `advisor probe`, one per machine.")],
    format_: Annotated[CompareFormat, typer.Option("--format", "-f", help="Output format.")] = CompareFormat.table,
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="FILE", help="Write the comparison to FILE (atomically).")] = None,
) -> None:
    """Compare probe files (machines) side by side.

    Hardware, frameworks, throughput per workload with its spread, and the fastest framework
    on each machine.
    """
    from advisor.cli.env import current, render_text
    from advisor.infra import atomic
    from advisor.render import compare_report
    from advisor.service import compare as compare_mod

    env = current()
    cmp = compare_mod.compare(probes)
    if format_ is CompareFormat.table:
        if out:
            atomic.write_text(out, render_text(lambda c: compare_report.render_table(cmp, c)))
            env.err_console().print(f"wrote table comparison to {out}", markup=False)
        else:
            env.show(lambda c: compare_report.render_table(cmp, c))
        return
    render = {CompareFormat.json: compare_report.render_json,
              CompareFormat.markdown: compare_report.render_markdown,
              CompareFormat.html: compare_report.render_html}[format_]
    text = render(cmp)
    if out:
        atomic.write_text(out, text)
        env.err_console().print(f"wrote {format_.value} comparison to {out}", markup=False)
    else:
        env.write(text)
