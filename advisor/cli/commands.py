"""Core commands: ask, recommend, rules check, rules schema.

Each command parses options, calls one core function and hands the result to a renderer. Heavy
modules are imported inside the commands, so `advisor --help` stays fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from advisor.cli.app import app

rules_app = typer.Typer(help="Lint the knowledge base or export its JSON Schema.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

RulesOpt = Annotated[
    Optional[str],
    typer.Option("--rules", metavar="PATH", help="Knowledge base file or folder (default: the bundled one)."),
]
AnswersOpt = Annotated[
    Optional[str], typer.Option("--answers", "-a", metavar="FILE", help="Answers file (YAML) to start from.")
]
SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", metavar="ID=VALUE", help="Set one answer; repeatable; overrides the answers file. Lists are comma-separated."),
]


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


def _stdout_console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@app.command()
def ask(
    rules: RulesOpt = None,
    answers: AnswersOpt = None,
    set_: SetOpt = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", metavar="FILE", help="Write the answers here (atomically); also keeps partial answers on Ctrl-C.")] = None,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt: fail listing missing answers (or use defaults with --defaults).")] = False,
    defaults: Annotated[bool, typer.Option("--defaults", help="With --no-input: accept the default for every missing answer.")] = False,
) -> None:
    """Answer the questionnaire and save the answers.

    Interactive in a terminal, or non-interactive from --answers/--set with --no-input.
    """
    from advisor.questionnaire import answers as answers_mod
    from advisor.service import recommend as core
    from advisor.probe import machine
    from advisor.questionnaire import flow as questionnaire
    from advisor.infra.errors import Interrupted, MissingAnswers, NoTerminal

    kb = core.load_kb(rules)
    preset = core.gather(kb, answers, set_ or [])
    err = _stderr_console()
    if no_input:
        if defaults:
            answers_mod.fill_defaults(kb, preset)
        missing = answers_mod.missing(kb, preset.values)
        if missing:
            raise MissingAnswers(
                "missing answers (--no-input): " + ", ".join(q.id for q in missing)
                + "; give them with --answers/--set, or add --defaults"
            )
        result = preset
    else:
        if answers_mod.missing(kb, preset.values) and not sys.stdin.isatty():
            raise NoTerminal(
                "standard input is not a terminal, so advisor cannot ask; "
                "use --answers FILE and --set id=value, or --no-input (with --defaults)"
            )
        saved: dict[str, object] = {}

        def keep(current: answers_mod.AnswerSet) -> None:
            saved.clear()
            saved.update(current.values)
            if out:
                answers_mod.write(kb, out, current.values, comment="partial answers (interrupted)")

        saved.update(preset.values)
        err.print(f"[bold]advisor questionnaire[/] - press Enter to accept the default. "
                  f"({len(kb.questions)} questions, knowledge base {kb.meta.kb_version})")
        try:
            result = questionnaire.run(
                kb, preset, ask=lambda prompt: err.input(prompt), say=lambda text: err.print(text, markup=False, highlight=False),
                on_answer=keep, machine=machine.local_facts(),
            )
        except (KeyboardInterrupt, EOFError):
            err.print()
            if out:
                answers_mod.write(kb, out, saved, comment="partial answers (interrupted)")
                raise Interrupted(
                    f"interrupted; kept {len(saved)} answers in {out}; resume with "
                    f"`advisor ask --answers {out} --out {out}`"
                ) from None
            raise Interrupted(f"interrupted; {len(saved)} answers were not saved (use --out FILE to keep them)") from None
    if out:
        answers_mod.write(kb, out, result.values)
        err.print(f"wrote {len(result.values)} answers to {out}")
    else:
        sys.stdout.write(answers_mod.dump(kb, result.values))


@app.command()
def recommend(
    answers: AnswersOpt = None,
    probe: Annotated[Optional[str], typer.Option("--probe", "-p", metavar="FILE", help="Probe file from `advisor probe` on the machine that will train.")] = None,
    rules: RulesOpt = None,
    set_: SetOpt = None,
    defaults: Annotated[bool, typer.Option("--defaults", help="Fill unanswered questions with their defaults (otherwise they are unknown).")] = False,
    format_: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    out: Annotated[Optional[str], typer.Option("--out", "-o", metavar="FILE", help="Write the report to FILE (atomically) instead of standard output.")] = None,
    explain: Annotated[Optional[str], typer.Option("--explain", metavar="CANDIDATE", help="Print the full trace for one candidate: every rule, whether it held, what it added.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Table format: show sources and every answer flip.")] = False,
) -> None:
    """Score the candidates and explain the result.

    Vetoes first, then a weighted sum traced to rules and measurements; robustness included.
    """
    from advisor.service import recommend as core
    from advisor.infra.errors import BadInput

    if answers is None and not set_ and not defaults:
        raise BadInput("nothing to recommend on: give --answers FILE, --set id=value, or --defaults")
    rec = core.recommend(rules=rules, answers_file=answers, sets=set_ or [], probe_file=probe,
                         use_defaults=defaults)
    a = rec.assessment
    if explain is not None:
        if explain not in rec.kb.candidate_ids:
            raise BadInput(f"--explain: unknown candidate {explain!r}; allowed: {', '.join(rec.kb.candidate_ids)}")
        from advisor.render import terminal

        terminal.render_explain(a, explain, _stdout_console())
        return
    _emit(a, format_, out, verbose)


def _emit(a, format_: "Format", out: Optional[str], verbose: bool = False) -> None:
    from advisor.infra import atomic

    if format_ is Format.table:
        if out:
            from io import StringIO

            from rich.console import Console

            buf = StringIO()
            from advisor.render import terminal

            terminal.render(a, Console(file=buf, width=120, no_color=True), verbose=True)
            atomic.write_text(out, buf.getvalue())
        else:
            from advisor.render import terminal

            terminal.render(a, _stdout_console(), verbose=verbose)
        return
    text = render_text(a, format_)
    if out:
        atomic.write_text(out, text)
        _stderr_console().print(f"wrote {format_.value} report to {out}")
    else:
        sys.stdout.write(text)


def render_text(a, format_: "Format") -> str:
    if format_ is Format.json:
        from advisor.render import json_report

        return json_report.render(a)
    if format_ is Format.markdown:
        from advisor.render import markdown

        return markdown.render(a)
    if format_ is Format.html:
        from advisor.render import html

        return html.render(a)
    raise AssertionError(format_)  # pragma: no cover


@rules_app.command("check")
def rules_check(
    path: Annotated[Optional[str], typer.Argument(metavar="[PATH]", help="Rules file or folder (default: the bundled knowledge base).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings (review dates, contract ids) as problems.")] = False,
) -> None:
    """Lint a knowledge base.

    Schema errors, unknown names and values, rules that never fire, duplicate or contradictory
    rules, unread questions, answers that veto everything, missing sources, review dates.
    """
    from advisor.infra.errors import ExitCode
    from advisor.kb import lint
    from advisor.render.text import clean
    from advisor.infra.resources import rules_dir

    target = path or str(rules_dir())
    problems = lint.check(target)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for p in errors + warnings:
        sys.stderr.write(clean(str(p)) + "\n")
    failing = errors + (warnings if strict else [])
    if failing:
        sys.stderr.write(f"{len(errors)} errors, {len(warnings)} warnings in {target}\n")
        raise typer.Exit(2)
    sys.stdout.write(f"ok: {target} - {len(errors)} errors, {len(warnings)} warnings\n")
    raise typer.Exit(ExitCode.OK)


@rules_app.command("schema")
def rules_schema(
    out: Annotated[Optional[str], typer.Option("--out", "-o", metavar="FILE", help="Write the schema to FILE.")] = None,
) -> None:
    """Print the JSON Schema of a rules file (for editors)."""
    from advisor.infra import atomic, jsonio
    from advisor.kb.schema import KBFile

    schema = KBFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "advisor rules file"
    text = jsonio.dumps(schema, indent=2, sort_keys=True) + "\n"
    if out:
        atomic.write_text(out, text)
    else:
        sys.stdout.write(text)
