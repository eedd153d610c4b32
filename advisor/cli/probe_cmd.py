"""`advisor probe`: options in, ``run_probe`` called, progress and a summary on stderr.

Imports only typer and the standard library at module level; the core and rich are imported
when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.app import app


@app.command("probe")
def probe(
    frameworks: Annotated[str | None, typer.Option(
        "--frameworks", help="Comma-separated rows: pytorch, tensorflow, keras/tensorflow, "
        "keras/torch, keras/jax, jax, sklearn (default: all).")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Hard limit per row and run, in seconds.")] = 120.0,
    repeat: Annotated[int, typer.Option(
        "--repeat", min=1, help="Run each row in N fresh processes and pool the epochs.")] = 1,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Only the mlp-digits workload (no cnn-digits): a faster, "
        "narrower probe.")] = False,
    out: Annotated[Path, typer.Option(
        "--out", help="Where to write the probe JSON (written atomically).")] = Path("probe.json"),
    include_hostname: Annotated[bool, typer.Option(
        "--include-hostname", help="Record this machine's host name (off by default).")] = False,
) -> None:
    """Detect hardware and run the same short training in every installed framework."""
    from advisor.atomic import write_text
    from advisor.cli.probe_view import ProbeView, render_summary
    from advisor.errors import ProbeFailed
    from advisor.probe.core import ProbeOptions, parse_frameworks, run_probe
    from advisor.probe.runner import kill_all_children

    options = ProbeOptions(frameworks=parse_frameworks(frameworks), timeout_s=timeout,
                           repeat=repeat, quick=quick, include_hostname=include_hostname)
    options.validate()
    view = ProbeView()
    try:
        with view:
            report = run_probe(options, view.update)
    except KeyboardInterrupt:
        kill_all_children()
        raise
    render_summary(view.console, report)
    if not any(row.status == "ok" for row in report.frameworks):
        raise ProbeFailed("no framework row could run; see the table above (nothing written)")
    write_text(out, report.to_json())
    view.console.print(f"wrote {out}")
