"""`advisor run`: the main job in one command (answers, probe, recommendation, reports)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from advisor.cli.app import app
from advisor.cli.commands import AnswersOpt, RulesOpt, SetOpt


def _answers(kb, preset, *, no_input: bool, defaults: bool, err):
    """Fill missing answers: --defaults, or the questionnaire when there is a terminal."""
    from advisor.questionnaire import answers as answers_mod
    from advisor.questionnaire import flow as questionnaire
    from advisor.infra.errors import Interrupted, MissingAnswers, NoTerminal

    if defaults:
        answers_mod.fill_defaults(kb, preset)
    missing = answers_mod.missing(kb, preset.values)
    if not missing:
        return preset
    if no_input:
        raise MissingAnswers(
            "missing answers (--no-input): " + ", ".join(q.id for q in missing)
            + "; give them with --answers/--set, or add --defaults"
        )
    if not sys.stdin.isatty():
        raise NoTerminal(
            "standard input is not a terminal, so advisor cannot ask; "
            "use --answers FILE and --set id=value, or --no-input --defaults"
        )
    err.print(f"[bold]advisor questionnaire[/] - press Enter to accept the default. "
              f"({len(missing)} to answer, knowledge base {kb.meta.kb_version})")
    try:
        return questionnaire.run(
            kb, preset, ask=lambda prompt: err.input(prompt),
            say=lambda text: err.print(text, markup=False, highlight=False),
        )
    except (KeyboardInterrupt, EOFError):
        err.print()
        raise Interrupted("interrupted; nothing was written") from None


@app.command("run")
def run_command(
    answers: AnswersOpt = None,
    set_: SetOpt = None,
    probe: Annotated[Optional[str], typer.Option("--probe", "-p", metavar="FILE", help="Reuse a probe file instead of probing this machine.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Probe as `advisor probe --quick` does: mlp-digits only and Keras on one backend (about 10 s instead of 30 s).")] = False,
    no_probe: Annotated[bool, typer.Option("--no-probe", help="Recommend without measuring anything.")] = False,
    out: Annotated[str, typer.Option("--out", "-o", metavar="DIR", help="Folder for report.html, report.md, recommendation.json, answers.yaml, probe.json.")] = "advisor-report",
    rules: RulesOpt = None,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt: fail listing missing answers (or use defaults with --defaults).")] = False,
    defaults: Annotated[bool, typer.Option("--defaults", help="Accept the default for every missing answer.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Write the reports into an --out folder that also holds other files (they are kept; by default such a folder is refused).")] = False,
) -> None:
    """Ask, probe, recommend and write all reports.

    The main job in one command: the questionnaire (or --answers), a probe of this machine (or
    --probe FILE), the recommendation, and report.html, report.md, recommendation.json,
    answers.yaml and probe.json written to --out DIR.
    """
    from rich.console import Console
    from rich.markup import escape

    from advisor.service import recommend as core
    from advisor.service import run as run_mod
    from advisor.infra.errors import BadInput
    from advisor.render.text import clean

    if sum(bool(x) for x in (probe, quick, no_probe)) > 1:
        raise BadInput("choose one of --probe FILE, --quick and --no-probe")
    err = Console(stderr=True, highlight=False)
    kb = core.load_kb(rules)
    preset = core.gather(kb, answers, set_ or [])
    answer_set = _answers(kb, preset, no_input=no_input, defaults=defaults, err=err)
    if not probe and not no_probe:
        from advisor.cli.probe_view import ProbeView
        from advisor.probe.runner import kill_all_children

        err.print("[bold]probing this machine[/] (each framework in its own process)"
                  + (" - quick" if quick else ""))
        view = ProbeView()
        try:
            with view:
                result = run_mod.run(kb, answer_set, out_dir=out, quick=quick,
                                     progress=view.update, force=force)
        except KeyboardInterrupt:
            kill_all_children()
            raise
    else:
        result = run_mod.run(kb, answer_set, out_dir=out, probe_file=probe, skip_probe=no_probe,
                             force=force)
    a = result.assessment
    con = Console(highlight=False)

    def e(value: object) -> str:
        return escape(clean(str(value)))

    names = {r.candidate: r.name for r in a.ranking}
    rob = a.robustness
    if a.winner:
        margin = (f"{rob.margin:.2f} points ahead of {names.get(rob.runner_up or '', rob.runner_up)}"
                  if rob.margin is not None else "no rival left")
        con.print(f"[bold green]{e(names[a.winner])}[/] - {rob.label} ({e(margin)})")
    else:
        con.print("[red]no recommendation: every candidate was vetoed[/]")
    for m in a.measurements:
        if m.rating:
            con.print(f"  measured: {e(names.get(m.candidate, m.candidate))} {m.value:.2f}x the fastest "
                      f"on {e(m.workload)} -> performance {m.rating:+.2f} ({m.points:+.2f} points)")
    for note in a.measurement_notes:
        con.print(f"  [dim]{e(note)}[/]")
    if rob.flips:
        con.print(f"  {len(rob.flips)} single changed answer(s) would change the winner (see the report)")
    con.print(f"probe: {e(result.probe_source)}")
    for name, path in result.files.items():
        con.print(f"  {name:<20} {e(path)}")
