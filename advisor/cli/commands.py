"""Core commands: ask, recommend, rules check, rules schema.

Each command parses options, calls one core function and hands the result to a renderer. Heavy
modules are imported inside the commands, so `advisor --help` stays fast.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from advisor.cli.app import app

rules_app = typer.Typer(help="Lint, audit or export the JSON Schema of the knowledge base.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

RulesOpt = Annotated[
    str | None,
    typer.Option("--rules", metavar="PATH", help="Knowledge base file or folder (default: the bundled one)."),
]
AnswersOpt = Annotated[
    str | None, typer.Option("--answers", "-a", metavar="FILE", help="Answers file (YAML) to start from.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="ID=VALUE", help="Set one answer; repeatable; overrides the answers file. Lists are comma-separated."),
]


DefaultsOpt = Annotated[
    bool, typer.Option("--defaults", help="Accept the default for every missing answer.")
]
NoInputOpt = Annotated[
    bool, typer.Option("--no-input", help="Never prompt: fail listing missing answers (or use defaults with --defaults).")
]


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


class CheckFormat(str, Enum):
    text = "text"
    json = "json"


def _env():
    from advisor.cli.env import current

    return current()


@app.command()
def ask(
    rules: RulesOpt = None,
    answers: AnswersOpt = None,
    set_: SetOpt = None,
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="FILE", help="Write the answers here (atomically); also keeps partial answers on Ctrl-C.")] = None,
    no_input: NoInputOpt = False,
    defaults: DefaultsOpt = False,
) -> None:
    """Answer the questionnaire and save the answers.

    Interactive in a terminal, or non-interactive from --answers/--set with --no-input.
    """
    from advisor.cli.collect import collect
    from advisor.questionnaire import answers as answers_mod
    from advisor.service import recommend as core

    env = _env()
    kb = core.load_kb(rules)
    preset = core.gather(kb, answers, set_ or [])
    result = collect(kb, preset, env, no_input=no_input, defaults=defaults, keep=out,
                     resume=f"advisor ask --answers {out} --out {out}" if out else None)
    if out:
        answers_mod.write(kb, out, result.values)
        env.err_console().print(f"wrote {len(result.values)} answers to {out}", markup=False)
    else:
        env.write(answers_mod.dump(kb, result.values))


@app.command()
def recommend(
    answers: AnswersOpt = None,
    probe: Annotated[str | None, typer.Option("--probe", "-p", metavar="FILE", help="Probe file from `advisor probe` on the machine that will train.")] = None,
    rules: RulesOpt = None,
    set_: SetOpt = None,
    defaults: Annotated[bool, typer.Option("--defaults", help="Fill unanswered questions with their defaults (otherwise they are unknown).")] = False,
    format_: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="FILE", help="Write the report to FILE (atomically) instead of standard output.")] = None,
    explain: Annotated[str | None, typer.Option("--explain", metavar="CANDIDATE", help="Print the full trace for one candidate: every rule, whether it held, what it added.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Table format: show sources and every answer flip.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show what the --set answers change against the answers without them: winner, ranking, margin, rules that fire differently (table or json).")] = False,
) -> None:
    """Score the candidates and explain the result.

    Vetoes first, then a weighted sum traced to rules and measurements; robustness included.
    """
    from advisor.infra.errors import BadInput
    from advisor.service import recommend as core

    if answers is None and not set_ and not defaults:
        raise BadInput("nothing to recommend on: give --answers FILE, --set id=value, or --defaults")
    if diff:
        _diff(answers, probe, rules, set_ or [], defaults, format_, out)
        return
    rec = core.recommend(rules=rules, answers_file=answers, sets=set_ or [], probe_file=probe,
                         use_defaults=defaults)
    a = rec.assessment
    if explain is not None:
        from advisor.infra.suggest import unknown

        if explain not in rec.kb.candidate_ids:
            raise BadInput("--explain: " + unknown("candidate", explain, rec.kb.candidate_ids))
        from advisor.render import terminal

        _env().show(lambda console: terminal.render_explain(a, explain, console))
        return
    _emit(a, format_, out, verbose)


def _diff(answers, probe, rules, sets, defaults, format_: Format, out: str | None) -> None:
    import json

    from advisor.infra import atomic
    from advisor.infra.errors import BadInput
    from advisor.service import diff as diff_mod

    if not sets:
        raise BadInput("--diff compares against the --set answers: give at least one --set id=value")
    if format_ not in (Format.table, Format.json):
        raise BadInput("--diff shows a table or json (--format table or --format json)")
    d, after = diff_mod.diff(rules=rules, answers_file=answers, sets=sets, probe_file=probe,
                             use_defaults=defaults)
    env = _env()
    if format_ is Format.json:
        text = json.dumps(d.to_dict(), indent=2, allow_nan=False) + "\n"
    else:
        from advisor.cli.env import render_text as whole_lines
        from advisor.render import diff_view

        names = {r.candidate: r.name for r in after.ranking}
        if not out:
            env.show(lambda c: diff_view.render(d, names, c))
            return
        text = whole_lines(lambda c: diff_view.render(d, names, c))
    if out:
        atomic.write_text(out, text)
        env.err_console().print(f"wrote {format_.value} diff to {out}", markup=False)
    else:
        env.write(text)


def _emit(a, format_: Format, out: str | None, verbose: bool = False) -> None:
    from advisor.infra import atomic

    env = _env()
    if format_ is Format.table:
        from advisor.render import terminal

        if out:
            from advisor.cli.env import render_text as whole_lines

            atomic.write_text(out, whole_lines(lambda c: terminal.render(a, c, verbose=True)))
            env.err_console().print(f"wrote table report to {out}", markup=False)
        else:
            env.show(lambda c: terminal.render(a, c, verbose=verbose))
        return
    text = render_text(a, format_)
    if out:
        atomic.write_text(out, text)
        env.err_console().print(f"wrote {format_.value} report to {out}", markup=False)
    else:
        env.write(text)


def render_text(a, format_: Format) -> str:
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
    path: Annotated[str | None, typer.Argument(metavar="[PATH]", help="Rules file or folder (default: the bundled knowledge base).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings (review dates, contract ids) as problems.")] = False,
    format_: Annotated[CheckFormat, typer.Option("--format", "-f", help="text: one line per problem on stderr; json: every problem on stdout.")] = CheckFormat.text,
) -> None:
    """Lint a knowledge base; exit 1 when it has problems, 2 on bad usage.

    Schema errors, unknown names and values, rules that never fire, duplicate or contradictory
    rules, unread questions, answers that veto everything, missing sources, review dates.
    """
    import json

    from advisor.infra.errors import ExitCode
    from advisor.infra.resources import rules_dir
    from advisor.kb import lint
    from advisor.render.text import clean

    env = _env()
    target = path or str(rules_dir())
    problems = lint.check(target)
    problems += _check_next_steps(target)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    failing = errors + (warnings if strict else [])
    code = ExitCode.FAILURE if failing else ExitCode.OK
    if format_ is CheckFormat.json:
        doc = {"schema_version": 1, "path": target, "ok": not failing, "strict": strict,
               "errors": len(errors), "warnings": len(warnings),
               "problems": [{"path": p.path, "line": p.line, "severity": p.severity,
                             "message": clean(p.message)} for p in errors + warnings]}
        env.write(json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n")
        raise typer.Exit(code)
    for p in errors + warnings:
        env.stderr.write(clean(str(p)) + "\n")
    if failing:
        env.stderr.write(f"{len(errors)} errors, {len(warnings)} warnings in {target}\n")
        raise typer.Exit(code)
    env.write(f"ok: {target} - {len(errors)} errors, {len(warnings)} warnings\n")
    raise typer.Exit(code)


def _check_next_steps(target: str) -> list:
    """The next-steps data beside a knowledge base (rules/next_steps/), when it has one."""
    from pathlib import Path

    from advisor.decision import next_steps
    from advisor.infra.errors import AdvisorError
    from advisor.kb.loader import Problem

    file = Path(target) / next_steps.NEXT_STEPS_FILE
    if not file.is_file():
        return []
    try:
        next_steps.load.__wrapped__(str(file))
    except AdvisorError as exc:
        return [Problem(exc.path or str(file), exc.line, exc.message)]
    return []


@rules_app.command("schema")
def rules_schema(
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="FILE", help="Write the schema to FILE.")] = None,
) -> None:
    """Print the JSON Schema of a rules file (for editors)."""
    from advisor.infra import atomic, jsonio
    from advisor.kb.schema import json_schema

    text = jsonio.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if out:
        atomic.write_text(out, text)
    else:
        _env().write(text)
