"""`advisor rules audit`: the knowledge base's behaviour over random consistent projects."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from advisor.cli.commands import RulesOpt, rules_app


class AuditFormat(str, Enum):
    table = "table"
    json = "json"


@rules_app.command("audit")
def rules_audit(
    rules: RulesOpt = None,
    samples: Annotated[int, typer.Option("--samples", "-n", min=1, max=100000, help="Random consistent answer sets to score.")] = 500,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (the same seed gives the same audit).")] = 0,
    format_: Annotated[AuditFormat, typer.Option("--format", "-f", help="Output format.")] = AuditFormat.table,
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="FILE", help="Write the audit to FILE (atomically).")] = None,
) -> None:
    """Audit a knowledge base over random consistent answer sets.

    Winner shares, each question's influence (how often changing it flips the winner), cap
    saturation, the margin with no answers, and stack loyalty per framework.
    """
    from advisor.decision import audit
    from advisor.infra import atomic
    from advisor.service.recommend import load_kb

    kb = load_kb(rules)
    report = audit.run(kb, samples=samples, seed=seed)
    if format_ is AuditFormat.json:
        import json

        text = json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"
    else:
        text = audit.render_table(report, kb)
    if out:
        atomic.write_text(out, text)
    else:
        sys.stdout.write(text)
