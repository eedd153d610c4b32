"""`advisor run`: answers + probe + recommendation + every report, written to one folder.

No terminal here: the CLI gathers the answers (prompting if it must) and shows the summary. The
probe is reached through :func:`probe_machine` only, the one seam to `advisor.probe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from advisor.questionnaire import answers as answers_mod
from advisor.infra import atomic
from advisor.service import recommend as core
from advisor.decision import engine
from advisor.decision.assessment import Assessment
from advisor.infra.errors import BadInput, FileProblem
from advisor.kb.model import KnowledgeBase

if TYPE_CHECKING:
    from advisor.probe.model import ProbeDocument

REPORT_FILES = ("report.html", "report.md", "recommendation.json", "answers.yaml", "probe.json")


def probe_machine(*, quick: bool, progress: Callable[[Any], None] | None = None,
                  deploy_targets: tuple[str, ...] = ()) -> ProbeDocument:
    """Probe this machine with `advisor.probe` and return the probe document.

    ``progress`` receives the probe's progress events (the CLI shows them live). With
    ``deploy_targets`` the deployment paths to those targets are measured too. Raises
    ProbeFailed when no framework row could run at all.
    """
    try:
        from advisor.probe.core import ProbeOptions, run_probe
    except ImportError as exc:  # pragma: no cover - a stripped install
        raise BadInput(
            "this advisor was installed without its probe; give --probe FILE "
            "(written by `advisor probe --out FILE` on the machine that will train)"
        ) from exc
    from advisor.infra.errors import ProbeFailed

    deploy = None
    if deploy_targets:
        from advisor.probe.deploy import DeployOptions

        deploy = DeployOptions(deploy_targets)
    report = run_probe(ProbeOptions(quick=quick, deploy=deploy), progress)
    if not any(row.status == "ok" for row in report.frameworks):
        raise ProbeFailed("the probe could not run any framework here; install one "
                          "(see `advisor probe`), or use --probe FILE or --no-probe")
    return report


@dataclass(frozen=True)
class RunResult:
    assessment: Assessment
    files: dict[str, Path]
    probe_source: str  # "measured now" or the --probe path


def recommend_with(
    kb: KnowledgeBase, answer_set: answers_mod.AnswerSet, probe: ProbeDocument | None,
    probe_label: str | None,
) -> Assessment:
    return engine.assess(kb, core.build_inputs(kb, answer_set, probe, probe_label))


def render_all(kb: KnowledgeBase, a: Assessment, answer_values: dict[str, Any],
               probe: ProbeDocument | None) -> dict[str, str]:
    """Every report as text, keyed by file name (rendered before anything is written)."""
    from advisor.render import html, json_report, markdown

    texts = {
        "report.html": html.render(a),
        "report.md": markdown.render(a),
        "recommendation.json": json_report.render(a),
        "answers.yaml": answers_mod.dump(kb, answer_values),
    }
    if probe is not None:
        texts["probe.json"] = probe.to_json()
    return texts


def write_folder(out_dir: str, texts: dict[str, str]) -> dict[str, Path]:
    """Write each report atomically into out_dir (created if needed)."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise FileProblem("exists and is not a folder; --out takes a folder", path=out_dir)
    written: dict[str, Path] = {}
    for name, text in texts.items():
        written[name] = atomic.write_text(folder / name, text)  # mode follows the umask
    return written


def run(
    kb: KnowledgeBase,
    answer_set: answers_mod.AnswerSet,
    *,
    out_dir: str,
    probe_file: str | None = None,
    quick: bool = False,
    skip_probe: bool = False,
    deploy: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """``deploy``: also measure the deployment paths, to the targets the project answered only."""
    if probe_file:
        probe: ProbeDocument | None = core.read_probe(probe_file)
        label: str | None = probe_file
    elif skip_probe:
        probe, label = None, None
    else:
        targets: tuple[str, ...] = ()
        if deploy:
            from advisor.probe.deploy import targets_from_answers

            targets = targets_from_answers(answer_set.values.get("deploy_targets"))
        probe = probe_machine(quick=quick, progress=progress, deploy_targets=targets)
        label = str(Path(out_dir) / "probe.json")
    a = recommend_with(kb, answer_set, probe, label)
    files = write_folder(out_dir, render_all(kb, a, dict(answer_set.values), probe))
    return RunResult(a, files, probe_file or ("not probed" if skip_probe else "measured now"))
