"""Plan a probe run: which rows, which workloads, how many fresh processes, which start-up.

Nothing here starts a process. ``ProbeOptions`` is what the user asked for; ``plan_rows`` the rows
in run order (and those left out on purpose, with the reason); ``worker_args`` the one place a
child's argument list is built (pyperf's ``Manager.worker_cmd``); ``choose_startup`` staged or
serial start-up.

Repeats (``processes``): a process is a sample, not the truth (the same hand-written PyTorch
loop runs at about 27k or 52k samples/s from one process to the next), so every row runs in
``DEFAULT_PROCESSES`` fresh processes by default, interleaved (round 1 runs every row, then round
2 ...), each with ``DEFAULT_EPOCHS`` timed blocks; the pool reports the spread between the
processes next to the spread within them. Why 2 x 3: the budget (every row and workload within
60 s on 2 idle cores) pays each extra process with a framework import (1-4 s) and a warm-up
epoch per workload, while a timed block costs 50 ms: two processes of three blocks cost about what
one process of five did plus one import round, and are the fewest that show a between-process
spread at all. ``--repeat N`` asks for more; ``--quick`` runs one process (no between-process
spread, which its summary says).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.infra.errors import BadInput
from advisor.infra.resources import probes_dir
from advisor.probe import catalog
from advisor.probe.catalog import KERAS_ROWS, ROW_NAMES, ROWS, RUN_ORDER

DEFAULT_EPOCHS = 3  # timed blocks per process
DEFAULT_PROCESSES = 2  # fresh processes per row (see the module docstring)
WORKLOADS = catalog.WORKLOADS
# --quick drops cnn-digits, attn-digits and gbdt-digits (tracing/compilation is most of a row's
# work beyond the import)
# and runs one process per row; mlp-digits keeps its timed blocks.
QUICK_WORKLOADS = ("mlp-digits",)
QUICK_EPOCHS = 5
SEED = 0
STARTUPS = ("staged", "serial")
# A staged round keeps every row's process alive until it has trained: below this much available
# memory per row, start-up runs serially instead.
STAGED_MEMORY_PER_ROW = 1 << 30


@dataclass
class ProbeOptions:
    frameworks: tuple[str, ...] | None = None  # None: every row (one Keras backend with quick)
    timeout_s: float = 120.0
    repeat: int | None = None  # fresh processes per row; default DEFAULT_PROCESSES (quick: 1)
    quick: bool = False
    include_hostname: bool = False
    threads: int | None = None  # default: the usable cores
    workloads: tuple[str, ...] | None = None  # default: all, or QUICK_WORKLOADS with quick
    epochs: int | None = None  # timed blocks per process; default DEFAULT_EPOCHS (quick: 5)
    python: str = sys.executable  # the interpreter that runs the children (--python)
    scripts: Path | None = None  # default: the bundled probes/
    scaling: Any = None  # a scaling.ScalingOptions: also run the scaling probe (--scaling)
    scaling_only: bool = False  # skip the single-process rows (--scaling-only)
    startup: str = "staged"  # staged | serial (see the module docstring)
    deploy: Any = None  # a deploy.DeployOptions: also export and run the trained models (--deploy)
    # Keras on its configured backend only, as --quick does (`advisor run`: the backend the
    # project would use; the others cost a framework import each)
    one_keras_backend: bool = False
    purpose: str = "--quick"  # what asked for the narrower probe, as the not-run reasons say

    def validate(self) -> None:
        if self.frameworks is not None:
            catalog.check_rows(self.frameworks)
            if not self.frameworks:
                raise BadInput("no framework rows selected")
        if self.startup not in STARTUPS:
            raise BadInput(f"startup must be one of {', '.join(STARTUPS)}, not {self.startup!r}")
        if self.repeat is not None and self.repeat < 1:
            raise BadInput("--repeat must be at least 1")
        if not math.isfinite(self.timeout_s) or self.timeout_s <= 0:  # nan would disable it
            raise BadInput(f"--timeout must be a positive number of seconds, not {self.timeout_s}")
        if (self.epochs is not None and self.epochs < 1) or any(
                w not in WORKLOADS for w in self.workloads or ()):
            raise BadInput(f"epochs must be >= 1 and workloads among {', '.join(WORKLOADS)}")
        if self.scaling_only and self.scaling is None:
            raise BadInput("--scaling-only needs --scaling")
        if self.scaling is not None:
            self.scaling.validate()
        if self.deploy is not None:
            self.deploy.validate()
        if not (os.path.isfile(self.python) and os.access(self.python, os.X_OK)):
            raise BadInput(f"--python {self.python}: not an executable file")
        from advisor.probe.runner import default_memory_limit

        default_memory_limit()  # a bad ADVISOR_PROBE_MEMORY_LIMIT_MB: one line now, not per row
        scripts_dir()  # and a bad ADVISOR_PROBES_DIR

    def processes(self) -> int:
        """Fresh processes per row."""
        return self.repeat or (1 if self.quick else DEFAULT_PROCESSES)

    def blocks(self) -> int:
        """Timed blocks per process."""
        return self.epochs or (QUICK_EPOCHS if self.quick else DEFAULT_EPOCHS)

    def selected_workloads(self) -> tuple[str, ...]:
        return self.workloads or (QUICK_WORKLOADS if self.quick else WORKLOADS)

    def requested_rows(self) -> tuple[str, ...]:
        return self.frameworks if self.frameworks is not None else ROW_NAMES


def keras_backend_setting() -> tuple[str, str]:
    """The backend ``import keras`` would use here, and where that comes from.

    The same order Keras itself follows: ``KERAS_BACKEND``, then ``backend`` in keras.json under
    ``KERAS_HOME`` (default ``~/.keras``), then TensorFlow.
    """
    env = os.environ.get("KERAS_BACKEND", "").strip()
    if env:
        return env, "KERAS_BACKEND"
    from advisor.probe import kerasconf

    backend = (kerasconf.read_user_config() or {}).get("backend")  # a FIFO there never blocks
    if isinstance(backend, str) and backend.strip():
        return backend.strip(), "keras.json"
    return "tensorflow", "Keras' default"


def quick_keras_row(installed: Any = None) -> tuple[str, str]:
    """The one Keras row a default --quick probe runs, and why that one.

    The backend Keras is configured to use when its row can run; else the first installed one.
    """
    backend, source = keras_backend_setting()
    configured = f"keras/{backend}"
    candidates = ([configured] if configured in KERAS_ROWS else []) + [
        r for r in ("keras/tensorflow", "keras/jax", "keras/torch") if r != configured]
    for row in candidates:
        if all((installed or is_installed)(m) for m in ROWS[row].modules):
            if row == configured:
                return row, f"Keras' configured backend ({source})"
            return row, f"the configured backend {backend!r} ({source}) cannot run here"
    return (configured if configured in KERAS_ROWS else "keras/tensorflow"), "no backend installed"


def plan_rows(options: ProbeOptions,
              installed: Any = None) -> tuple[list[str], list[dict[str, str]]]:
    """The rows to run, in run order, and the rows left out on purpose (with the reason).

    A --quick probe without --frameworks measures Keras on one backend: importing TensorFlow,
    PyTorch and JAX once more under Keras costs 2-5 s each, a third of the 15 s budget.
    """
    if options.scaling_only:
        return [], []
    wanted = set(options.requested_rows())
    not_run: list[dict[str, str]] = []
    if (options.quick or options.one_keras_backend) and options.frameworks is None:
        keep, why = quick_keras_row(installed)
        for row in KERAS_ROWS:
            if row != keep:
                wanted.discard(row)
                not_run.append({"name": row, "reason": (
                    f"{options.purpose} measures Keras on one backend, {keep}: {why}; "
                    "`advisor probe` without --quick measures every backend")})
    if options.workloads and options.deploy is None:
        # a row none of whose workloads was asked for would only import its framework
        for name in sorted(wanted, key=RUN_ORDER.index):
            if not set(ROWS[name].workloads) & set(options.workloads):
                wanted.discard(name)
                not_run.append({"name": name, "reason": (
                    f"it has none of the workloads measured ({', '.join(options.workloads)})")})
    return [n for n in RUN_ORDER if n in wanted], not_run


def choose_startup(requested: str, rows: int, cores: int) -> tuple[str, str]:
    """``staged`` unless declined, pointless (one row, one core) or short of memory."""
    if requested == "serial":
        return "serial", "--serial"
    if rows < 2:
        return "serial", "one row"
    if cores < 2:
        return "serial", "one usable core"
    try:
        import psutil

        available = psutil.virtual_memory().available
    except Exception:  # unknown memory: stay safe
        return "serial", "available memory unknown"
    if available < rows * STAGED_MEMORY_PER_ROW:
        return "serial", (f"{available / 2**30:.1f} GiB available is under "
                          f"{STAGED_MEMORY_PER_ROW / 2**30:.0f} GiB per row")
    return "staged", "default"


def scripts_dir() -> Path:
    """The probe scripts: ``ADVISOR_PROBES_DIR`` when set (custom or test probes), else bundled."""
    override = os.environ.get("ADVISOR_PROBES_DIR")
    if override and not Path(override, "harness.py").is_file():
        raise BadInput(f"ADVISOR_PROBES_DIR={override[:200]} is not a folder of probe scripts "
                       "(it has no harness.py); unset it to use the bundled probes")
    return Path(override) if override else probes_dir()


def parse_frameworks(text: str | None) -> tuple[str, ...]:
    if not text:
        return ROW_NAMES
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    catalog.check_rows(names)
    return names


def is_installed(module: str) -> bool:
    """Is ``module`` importable by this interpreter (without importing it)?"""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


_FIND_SPECS = ("import importlib.util, json, sys\n"
               "def found(m):\n"
               "    try:\n"
               "        return importlib.util.find_spec(m) is not None\n"
               "    except (ImportError, ValueError):\n"
               "        return False\n"
               "print(json.dumps({m: found(m) for m in sys.argv[1:]}))\n")


def resolve_python(path: str) -> str:
    """``--python``: an interpreter, or a virtual environment's folder (its bin/python)."""
    p = Path(path).expanduser()
    if p.is_dir():
        for candidate in (p / "bin" / "python", p / "Scripts" / "python.exe"):
            if candidate.is_file():
                return str(candidate)
        raise BadInput(f"--python {path}: a folder without bin/python (not a virtual environment)")
    if not p.is_file():
        raise BadInput(f"--python {path}: no such file")
    if not os.access(p, os.X_OK):
        raise BadInput(f"--python {path}: not executable")
    return str(p)


def own_interpreter(python: str) -> bool:
    """Is ``python`` this very interpreter? By path, not by the file a symlink points to: every
    virtual environment's python links to the same base interpreter, with its own packages."""
    return os.path.abspath(python) == os.path.abspath(sys.executable)


def installed_checker(python: str, timeout_s: float = 30.0) -> Any:
    """``is_installed`` for the interpreter that runs the children.

    This interpreter: ``find_spec`` here. Another one (``--python``): one subprocess asks it about
    every module the catalogue names (argument list, no shell, a timeout); one that cannot answer
    has nothing installed, which its rows then say.
    """
    if own_interpreter(python):
        return is_installed
    import subprocess

    modules = sorted({m for row in ROWS.values() for m in row.modules})
    try:
        done = subprocess.run([python, "-c", _FIND_SPECS, *modules], capture_output=True,
                              text=True, timeout=timeout_s, check=False)
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        found = {}
    if not isinstance(found, dict):
        found = {}
    return lambda module: found.get(module) is True


def worker_args(options: ProbeOptions, row: catalog.Row, folder: Path, threads: int,
                cache: str, selected: tuple[str, ...], save_model: str | None = None) -> list[str]:
    """The argument list of one child measuring ``row`` (the only place it is built).

    ``save_model``: where the child keeps its trained models for the deploy probe (--deploy).
    """
    workloads = [w for w in row.workloads if w in selected]
    return [options.python, str(folder / row.script), "--threads", str(threads),
            "--epochs", str(options.blocks()), "--seed", str(SEED), "--data-cache", cache,
            "--workloads", ",".join(workloads)] + \
        (["--save-model", save_model] if save_model else [])
