"""`advisor run`: answers + probe + recommendation + every report, written to one folder.

No terminal here: the CLI gathers the answers (prompting if it must) and shows the summary. The
probe is reached through :func:`probe_machine` only, the one seam to `advisor.probe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.decision import engine
from advisor.decision.assessment import Assessment
from advisor.infra import atomic
from advisor.infra.errors import BadInput, FileProblem
from advisor.kb.model import KnowledgeBase
from advisor.questionnaire import answers as answers_mod
from advisor.service import recommend as core

if TYPE_CHECKING:
    from advisor.probe.model import ProbeDocument

#: Fresh processes per row when `advisor run` probes (see probe_machine).
RUN_PROCESSES = 1

REPORT_FILES = ("report.html", "report.md", "recommendation.json", "answers.yaml", "probe.json")


def probe_machine(*, quick: bool, progress: Callable[[Any], None] | None = None,
                  workloads: tuple[str, ...] | None = None,
                  deploy_targets: tuple[str, ...] = ()) -> ProbeDocument:
    """Probe this machine with `advisor.probe` and return the probe document.

    ``workloads``: only those (`advisor run` measures what can move its project's scores).
    ``deploy_targets``: also measure the deployment paths to those targets.

    ``progress`` receives the probe's progress events (the CLI shows them live). Raises
    ProbeFailed when no framework row could run at all.
    """
    try:
        from advisor.probe.core import run_probe
        from advisor.probe.plan import ProbeOptions
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
    # Everyday use (issue 12: at most 30 s on 2 idle cores): the project's workloads only, Keras
    # on the backend it is configured to use, and one fresh process per row. One process cannot
    # show the spread between processes, so the decision assumes a wide one (a speed difference
    # under 2x moves no score: probe.facts.ONE_PROCESS_SPREAD); `advisor probe` measures every
    # row in two processes for finer evidence, and `advisor run --probe FILE` uses it.
    report = run_probe(ProbeOptions(quick=quick, workloads=workloads, deploy=deploy,
                                    repeat=RUN_PROCESSES,
                                    # --deploy: every Keras backend (their export paths differ:
                                    # LiteRT from Keras on JAX fails where TensorFlow's works)
                                    one_keras_backend=deploy is None,
                                    purpose="advisor run"), progress)
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
        texts["probe.json"] = probe.to_json()  # strict JSON (jsonio) in ProbeDocument.to_json
    return texts


class ReportFolder:
    """The report folder of one run, written as one unit (issue 15, item 2).

    ``open()`` (before any probing) takes a lock beside the folder, so a second ``advisor run``
    into the same folder is refused at once, and refuses a folder that holds files advisor did
    not write unless ``force``. ``commit()`` writes every file into a new folder beside the
    target (``.NAME.new-*``) and swaps it in with renames: the folder never mixes two runs and
    never keeps a stale file of an earlier run (a probe.json after ``--no-probe``). A failure, a
    full disk, Ctrl-C or SIGTERM (which unwinds like Ctrl-C) removes the new folder and leaves
    the old one as it was; SIGKILL can leave only a ``.NAME.new-*`` folder beside it, never a
    mixed one. With ``force`` the files are replaced one by one among the others (the old
    advisor files that this run does not write are removed).
    """

    def __init__(self, out_dir: str, *, force: bool = False):
        self.where = out_dir
        self.folder = Path(out_dir)
        if self.folder.is_symlink():  # the link stays; the folder it points to is the unit
            import os

            self.folder = Path(os.path.realpath(self.folder))
        self.force = force
        self._lock_fd: int | None = None
        self._lock_path = self.folder.parent / f".{self.folder.name}.advisor-lock"
        self.foreign: list[str] = []

    def open(self) -> ReportFolder:
        import fcntl
        import os

        if self.folder.exists() and not self.folder.is_dir():
            raise FileProblem("exists and is not a folder; --out takes a folder", path=self.where)
        if not self.folder.name or self.folder.name in (".", ".."):
            raise FileProblem("name a folder for the reports, not . or ..", path=self.where)
        if self.folder.exists():
            try:
                names = sorted(p.name for p in self.folder.iterdir())
            except OSError as exc:
                raise FileProblem(f"cannot read the folder: {exc.strerror or exc}",
                                  path=self.where) from None
            self.foreign = [n for n in names if n not in REPORT_FILES]
            if self.foreign and not self.force:
                shown = ", ".join(self.foreign[:3]) + (
                    f" and {len(self.foreign) - 3} more" if len(self.foreign) > 3 else "")
                raise FileProblem(
                    f"holds files advisor did not write ({shown}); choose a new or empty --out "
                    "folder, or add --force to write the reports among them", path=self.where)
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise FileProblem(f"cannot write: {exc.strerror or exc}", path=self.where) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FileProblem("another advisor run is writing this folder; wait for it to "
                              "finish or choose another --out", path=self.where) from None
        self._lock_fd = fd
        return self

    def close(self) -> None:
        import os

        if self._lock_fd is None:
            return
        try:
            os.unlink(self._lock_path)  # still held: a waiting run re-checks on the next open
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None

    def __enter__(self) -> ReportFolder:
        return self.open() if self._lock_fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def commit(self, texts: dict[str, str]) -> dict[str, Path]:
        if self.force and self.foreign:
            return self._in_place(texts)
        import os
        import shutil
        import tempfile

        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.new-",
                                            dir=self.folder.parent))
        except OSError as exc:
            raise FileProblem(f"cannot write: {exc.strerror or exc}", path=self.where) from None
        old: Path | None = None
        try:
            mode = (self.folder.stat().st_mode & 0o7777 if self.folder.is_dir()
                    else 0o777 & ~_umask())  # the old folder's, or what mkdir gives (not 0700)
            os.chmod(staging, mode)
            for name, text in texts.items():
                atomic.write_text(staging / name, text)
            if self.folder.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.old-",
                                            dir=self.folder.parent))
                os.rename(self.folder, old / "previous")
            os.rename(staging, self.folder)
        except BaseException as exc:
            if old is not None and (old / "previous").exists() and not self.folder.exists():
                os.rename(old / "previous", self.folder)  # put the earlier run back
            shutil.rmtree(staging, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            if isinstance(exc, OSError):
                raise FileProblem(f"cannot write: {exc.strerror or exc}", path=self.where) \
                    from None
            if isinstance(exc, FileProblem):  # name the folder, not the one being built
                raise FileProblem(exc.message, path=self.where) from None
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return {name: self.folder / name for name in texts}

    def _in_place(self, texts: dict[str, str]) -> dict[str, Path]:
        written = {name: atomic.write_text(self.folder / name, text)
                   for name, text in texts.items()}
        for stale in REPORT_FILES:
            if stale not in texts:
                (self.folder / stale).unlink(missing_ok=True)
        return written


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_folder(out_dir: str, texts: dict[str, str], *, force: bool = False) -> dict[str, Path]:
    """Write the reports into out_dir as one unit (see ReportFolder)."""
    with ReportFolder(out_dir, force=force) as folder:
        return folder.commit(texts)


def run(
    kb: KnowledgeBase,
    answer_set: answers_mod.AnswerSet,
    *,
    out_dir: str,
    probe_file: str | None = None,
    quick: bool = False,
    skip_probe: bool = False,
    deploy: bool = False,
    progress: Callable[[Any], None] | None = None,
    force: bool = False,
) -> RunResult:
    """``deploy``: also measure the deployment paths, to the targets the project answered only."""
    # The folder is checked and locked before anything is measured: a refused --out costs
    # nothing, and a second run into the same folder is refused while this one works.
    with ReportFolder(out_dir, force=force) as folder:
        if probe_file:
            probe: ProbeDocument | None = core.read_probe(probe_file)
            label: str | None = probe_file
        elif skip_probe:
            probe, label = None, None
        else:
            from advisor.probe.facts import project_workloads

            targets: tuple[str, ...] = ()
            if deploy:  # only the targets the project answered
                from advisor.probe.deploy import targets_from_answers

                targets = targets_from_answers(answer_set.values.get("deploy_targets"))
            # --quick: mlp-digits only (the cheapest), whatever the project needs
            probe = probe_machine(quick=quick, progress=progress,
                                  workloads=None if quick else project_workloads(
                                      answer_set.values),
                                  deploy_targets=targets)
            label = str(Path(out_dir) / "probe.json")
        a = recommend_with(kb, answer_set, probe, label)
        files = folder.commit(render_all(kb, a, dict(answer_set.values), probe))
    return RunResult(a, files, probe_file or ("not probed" if skip_probe else "measured now"))
