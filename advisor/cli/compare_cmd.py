"""`advisor compare PROBE.json...`: machines side by side."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from advisor.cli.app import app


class CompareFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    html = "html"


@app.command("compare")
def compare_command(
    probes: Annotated[list[str], typer.Argument(metavar="PROBE.json...", help="Probe files written by `advisor probe`, one per machine.")],
    format_: Annotated[CompareFormat, typer.Option("--format", "-f", help="Output format.")] = CompareFormat.table,
    out: Annotated[Optional[str], typer.Option("--out", "-o", metavar="FILE", help="Write the comparison to FILE (atomically).")] = None,
) -> None:
    """Compare probe files (machines) side by side.

    Hardware, frameworks, throughput per workload with its spread, and the fastest framework
    on each machine.
    """
    from advisor.infra import atomic
    from advisor.service import compare as compare_mod
    from advisor.render import compare_report

    cmp = compare_mod.compare(probes)
    if format_ is CompareFormat.table:
        from io import StringIO

        from rich.console import Console

        if out:
            buf = StringIO()
            compare_report.render_table(cmp, Console(file=buf, width=140, no_color=True))
            atomic.write_text(out, buf.getvalue())
        else:
            compare_report.render_table(cmp, Console(highlight=False))
        return
    text = (compare_report.render_markdown(cmp) if format_ is CompareFormat.markdown
            else compare_report.render_html(cmp))
    if out:
        atomic.write_text(out, text)
        sys.stderr.write(f"wrote {format_.value} comparison to {out}\n")
    else:
        sys.stdout.write(text)
