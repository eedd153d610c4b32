"""`advisor run`: the main job in one command (answers, probe, recommendation, reports)."""

from __future__ import annotations

from typing import Annotated

import typer

from advisor.cli.app import app
from advisor.cli.commands import AnswersOpt, DefaultsOpt, NoInputOpt, RulesOpt, SetOpt


@app.command("run")
def run_command(
    answers: AnswersOpt = None,
    set_: SetOpt = None,
    probe: Annotated[str | None, typer.Option("--probe", "-p", metavar="FILE", help="Reuse a probe file instead of probing this machine.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Probe mlp-digits only, the cheapest workload, whatever the project needs (which frameworks run here and see the GPU, about 25 s on 2 cores; its speed moves a score only for projects mlp-digits represents). Without it `run` measures the workloads its project needs. Either way: one process per row and Keras on its configured backend.")] = False,
    no_probe: Annotated[bool, typer.Option("--no-probe", help="Recommend without measuring anything.")] = False,
    deploy: Annotated[bool, typer.Option("--deploy", help="Also measure the deployment paths (export, runtime, latency, parity) to the targets the project answered, as `advisor probe --deploy` does.")] = False,
    out: Annotated[str, typer.Option("--out", "-o", metavar="DIR", help="Folder for report.html, report.md, recommendation.json, answers.yaml, probe.json.")] = "advisor-report",
    rules: RulesOpt = None,
    no_input: NoInputOpt = False,
    defaults: DefaultsOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Write the reports into an --out folder that also holds other files (they are kept; by default such a folder is refused).")] = False,
) -> None:
    """Ask, probe, recommend and write all reports.

    The main job in one command: the questionnaire (or --answers), a probe of this machine (or
    --probe FILE), the recommendation, and report.html, report.md, recommendation.json,
    answers.yaml and probe.json written to --out DIR.
    """
    from pathlib import Path

    from advisor.cli.collect import collect, interrupted_message
    from advisor.cli.env import current
    from advisor.infra.errors import BadInput, Interrupted
    from advisor.questionnaire import answers as answers_mod
    from advisor.service import recommend as core
    from advisor.service import run as run_mod

    if sum(bool(x) for x in (probe, quick, no_probe)) > 1:
        raise BadInput("choose one of --probe FILE, --quick and --no-probe")
    if deploy and (probe or no_probe):
        raise BadInput("--deploy measures this machine: it cannot go with --probe FILE or "
                       "--no-probe")
    env = current()
    err = env.err_console()
    kb = core.load_kb(rules)
    preset = core.gather(kb, answers, set_ or [])
    # Answers are kept beside the report folder, never in it: the folder is written as one unit
    # at the end, and an interrupted run must not leave a new answers file among old reports.
    folder = Path(out)
    kept = str(folder.parent / f"{folder.name or 'advisor-report'}.answers.yaml")
    resume = " ".join(["advisor run --answers", kept, "--out", out]
                      + (["--probe", probe] if probe else []) + (["--quick"] if quick else [])
                      + (["--no-probe"] if no_probe else []) + (["--deploy"] if deploy else [])
                      + (["--rules", rules] if rules else []))
    answer_set = collect(kb, preset, env, no_input=no_input, defaults=defaults,
                         keep=kept if answers_mod.missing(kb, preset.values) else None,
                         resume=resume)
    if not probe and not no_probe:
        from advisor.probe.runner import kill_all_children
        from advisor.render.probe_view import ProbeView

        # The answers are kept before a probe that may be interrupted: nothing typed is lost.
        answers_mod.write(kb, kept, answer_set.values)
        err.print("[bold]probing this machine[/] (each framework in its own process)"
                  + (" - quick" if quick else ""))
        view = ProbeView(err)
        try:
            with view:
                result = run_mod.run(kb, answer_set, out_dir=out, quick=quick, deploy=deploy,
                                     progress=view.update, force=force)
        except KeyboardInterrupt:
            kill_all_children()
            raise Interrupted(interrupted_message(len(answer_set.values), kept, resume)) from None
    else:
        result = run_mod.run(kb, answer_set, out_dir=out, probe_file=probe, skip_probe=no_probe,
                             force=force)
    if answers != kept:  # the folder's answers.yaml holds them now
        Path(kept).unlink(missing_ok=True)
    env.show(lambda con: _summary(con, result))


def _summary(con, result) -> None:
    """The run's outcome in a few lines: the winner, what was measured, where the files are."""
    from rich.markup import escape

    from advisor.render.text import clean

    a = result.assessment

    def e(value: object) -> str:
        return escape(clean(str(value)))

    names = {r.candidate: r.name for r in a.ranking}
    rob = a.robustness
    if a.winner:
        from advisor.render.robust_text import robustness_text

        words = robustness_text(a)
        con.print(f"[bold green]{e(words.headline)}[/]")
        if words.probability:
            con.print(f"  {e(words.probability)}")
    else:
        con.print("[red]no recommendation: every candidate was vetoed[/]")
    for m in a.measurements:
        if m.rating:
            con.print(f"  measured: {e(names.get(m.candidate, m.candidate))} {e(m.criterion)} "
                      f"{m.rating:+.2f} ({m.points:+.2f} points): {e(m.detail)}")
    for note in a.measurement_notes:
        con.print(f"  [dim]{e(note)}[/]")
    if rob.flips:
        con.print(f"  {len(rob.flips)} single changed answer(s) would change the winner (see the report)")
    con.print(f"probe: {e(result.probe_source)}")
    for name, path in result.files.items():
        con.print(f"  {name:<20} {e(path)}")
