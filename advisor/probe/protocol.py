"""What the probe parent and its children agree on: standard library only, no advisor import.

The parent imports this module as ``advisor.probe.protocol``. A child (``probes/harness.py``) may
run under another interpreter where advisor is not installed (``advisor probe --python``), so it
loads this very file by path: the parent passes it in ``ENV_PROTOCOL``; a child started by hand
finds it beside the probes (``advisor/probe/`` in a source checkout and in an installed wheel).
Keep it importable by Python 3.8 and free of third-party imports.

The conversation (docs/probe.md tells the story):

1. The parent starts a child with an argument list (``worker_args`` builds it, in one place) and
   the environment ``child_env`` of advisor.probe.catalog (``thread_env`` + ``CHILD_ENV``).
2. The child redirects fd 1 to stderr at once, so the original stdout carries only protocol lines.
3. ``--staged``: after its import and data loading the child writes ``READY_LINE`` and blocks on
   stdin until the parent writes ``GO`` (end of file or any other byte: exit at once).
4. The child writes exactly one JSON object (one line, strict JSON) and exits. Its ``status`` is
   one of ``STATUSES``; a result without a known status is garbage.

Why not a dedicated result pipe (pyperf's ``--pipe FD``)? Step 2 gives stdout that role already:
whatever a framework prints goes to stderr, and the parent keeps both streams as logs. A pipe would
add a second channel without removing one, and hand-run probes would need a file descriptor.
"""

from __future__ import annotations

import json
import os
from typing import Any

PROTOCOL_VERSION = 2  # 2: calibration kernel (``calibration``), cpu_s per workload
READY_LINE = "advisor-probe: ready"  # a --staged child, once it can train
GO = b"G"  # the parent's go byte for a --staged child
STATUSES = ("ok", "missing", "broken", "timeout")
ENV_PROTOCOL = "ADVISOR_PROBE_PROTOCOL"  # path of this file, for children without advisor

# Every workload a probe child knows by name (its --workloads), defined once (docs/architecture.md
# "Add a workload"). ``family``: the model family (families are compared by time to accuracy);
# ``gate``: the test accuracy below which a row "did not learn" (its speed then means nothing);
# ``chase_s``: see harness.TARGET_EXTRA_S. The parent records these in the probe file.
SPECS: dict[str, dict[str, Any]] = {
    "mlp-digits": {"family": "mlp", "batch_size": 32, "gate": 0.80,
                   "model": "64-128-64-10 MLP, ReLU"},
    "cnn-digits": {"family": "cnn", "batch_size": 128, "gate": 0.80,
                   "model": "1x8x8 -> conv3x3 32 -> conv3x3 64 -> maxpool2 -> dense 128 -> "
                            "dense 10, ReLU"},
    # Each digit read as a sequence of its 8 pixel rows (tokens of 8 features): the smallest
    # model that exercises what text, audio and time-series models spend their time in.
    "attn-digits": {"family": "transformer", "batch_size": 64, "gate": 0.70, "chase_s": 0.0,
                    "model": "8 row tokens x 8 -> dense 64 + learned positions -> 2 post-norm "
                             "transformer encoder layers (d_model 64, 4 heads, feed-forward 128, "
                             "GELU, LayerNorm eps 1e-5, no dropout) -> mean over tokens -> "
                             "dense 10"},
    # scikit-learn's HistGradientBoostingClassifier: the family the knowledge base recommends
    # for tabular data. One "epoch" is 5 more boosting rounds (warm start).
    "gbdt-digits": {"family": "gbdt", "batch_size": None, "gate": 0.80,
                    "model": "HistGradientBoostingClassifier (learning_rate 0.1, 31 leaves, "
                             "no early stopping), 5 boosting rounds per epoch"},
}
WORKLOADS = tuple(SPECS)
# A workload's GPU sizes (``<workload>@large``, harness.gpu_variants) train a few wide steps: their
# accuracy must only beat chance (0.10) clearly, to catch a broken bf16 path.
VARIANT_GATE = 0.20
BATCH = {name: spec["batch_size"] for name, spec in SPECS.items()}
# Time to accuracy: training seconds (the first epoch's tracing/compilation included, evaluation
# excluded) until the test accuracy first reaches this. 0.95 on digits is reached within a few
# epochs by the MLP, the CNN and gradient-boosted trees (and by scikit-learn's MLP in under a
# second), well above what a broken or mis-tuned model reaches, and below the 0.96-0.98 plateau
# where the 360-sample test split's granularity (one sample = 0.28 %) would decide.
TARGET_ACCURACY = 0.95
MIN_BLOCK_S = 0.05  # a timed block of whole epochs lasts at least this long (harness.time_epochs)

# The environment of every child, whatever its row: frameworks allocate GPU memory as they need
# it instead of grabbing it all, TensorFlow's C++ logging stays quiet, hashing is reproducible.
CHILD_ENV = {
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}
# Keys of CHILD_ENV the user's own setting wins over.
CHILD_ENV_DEFAULTS = ("TF_CPP_MIN_LOG_LEVEL",)


def thread_env(threads: int, xla_flags: str | None = None) -> dict[str, str]:
    """Environment variables that pin the thread pools of BLAS, OpenMP, TF and XLA."""
    n = str(threads)
    xla = os.environ.get("XLA_FLAGS", "") if xla_flags is None else xla_flags
    if "xla_cpu_multi_thread_eigen" not in xla:
        xla = (xla + f" --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}").strip()
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": n,
        "XLA_FLAGS": xla,
    }


def result_line(result: dict[str, Any]) -> str:
    """The child's one result: strict JSON on one line."""
    return json.dumps(result, sort_keys=True, allow_nan=False) + "\n"


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The child's one JSON object: the last non-empty line, an object with a known status."""
    lines = [line.strip() for line in stdout.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("status") not in STATUSES:
        return None
    return data


def quartiles(values: Any) -> tuple | None:
    """(Q1, median, Q3) with linear interpolation between order statistics (numpy's default,
    ``statistics.quantiles(method="inclusive")``); None for no values. The one definition: the
    parent's measurement policy (advisor.probe.policy) uses it too."""
    xs = sorted(float(v) for v in values)
    n = len(xs)
    if n == 0:
        return None

    def q(p: float) -> float:
        pos = (n - 1) * p
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return q(0.25), q(0.5), q(0.75)


def quantiles(values: Any) -> dict[str, Any]:
    """median, IQR and n of ``values`` (see :func:`quartiles`), as the probe file stores a rate."""
    qs = quartiles(values)
    if qs is None:
        return {"median": None, "iqr": None, "n": 0, "values": []}
    return {"median": qs[1], "iqr": qs[2] - qs[0], "n": len(values), "values": list(values)}


# ---------------------------------------------------------------------- calibration kernel
# A fixed piece of pure-Python work, timed by the child right before and right after each
# workload's training. Its time depends on the core the child runs on and on nobody else
# running there; the parent compares every row's readings with the fastest reading of the whole
# run (its baseline). Pure Python, one thread: no framework, no BLAS pool, the same in every row.
CALIBRATION_LOOPS = 20_000  # a few milliseconds per run
CALIBRATION_RUNS = 5  # the minimum of 5 runs is one reading


def calibration_kernel(loops: int = CALIBRATION_LOOPS) -> int:
    acc = 0
    for i in range(loops):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def calibrate(clock: Any = None, runs: int = CALIBRATION_RUNS) -> float:
    """Seconds of the fastest of ``runs`` calibration kernels (one reading)."""
    import time

    clock = clock or time.perf_counter
    best = float("inf")
    for _ in range(runs):
        t0 = clock()
        calibration_kernel()
        best = min(best, clock() - t0)
    return best


# ---------------------------------------------------------------------- contention evidence
# What else ran on this child's cores while it trained, measured by the child around each
# workload (Linux: /proc; elsewhere only the calibration readings and CPU time are known).
def _allowed_cpus() -> set | None:
    try:
        return set(os.sched_getaffinity(0))  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        return None


def _busy_ticks(cpus: set | None) -> float | None:
    """Busy clock ticks (everything but idle and iowait) summed over ``cpus``, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    total = 0.0
    seen = 0
    for line in lines:
        parts = line.split()
        if not parts or not parts[0].startswith("cpu") or parts[0] == "cpu":
            continue
        try:
            index = int(parts[0][3:])
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in parts[1:9])
        except ValueError:
            continue
        if cpus is not None and index not in cpus:
            continue
        total += user + nice + system + irq + softirq + steal
        seen += 1
    return total if seen else None


def _run_delay_s() -> float | None:
    """Seconds this process's threads spent runnable but waiting for a core (Linux schedstat)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    total = 0
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


class ContentionWindow:
    """Evidence of contention over one stretch of a child's work (one workload's training).

    ``others_cpu_share``: the CPU time of every other process on this child's cores, as a share
    of those cores' time (0: nothing else ran; 0.5 on 2 cores: one core's worth of other work).
    ``run_delay_s``: how long this process's threads waited for a core. ``calibration_s``: the
    calibration kernel right before and right after (the parent compares them with the run's
    fastest reading).
    """

    def __init__(self, calibrated: bool = True) -> None:
        import time

        self._time = time
        self.cpus = _allowed_cpus()
        self.calibrated = calibrated
        self.before = calibrate() if calibrated else None
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.busy0 = _busy_ticks(self.cpus)
        self.delay0 = _run_delay_s()
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()

    def close(self) -> dict[str, Any]:
        wall = self._time.perf_counter() - self.wall0
        cpu = self._time.process_time() - self.cpu0
        busy1, delay1 = _busy_ticks(self.cpus), _run_delay_s()
        readings = [self.before, calibrate()] if self.before is not None else []
        out: dict[str, Any] = {"wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
                               "calibration_s": [round(r, 6) for r in readings],
                               "cores": len(self.cpus) if self.cpus else None,
                               "others_cpu_share": None, "run_delay_s": None}
        if self.busy0 is not None and busy1 is not None and self.cpus and wall > 0:
            others = max(0.0, (busy1 - self.busy0) / self.ticks - cpu)
            out["others_cpu_share"] = round(min(1.0, others / (wall * len(self.cpus))), 4)
        if self.delay0 is not None and delay1 is not None:
            out["run_delay_s"] = round(max(0.0, delay1 - self.delay0), 4)
        return out


def others_cpu_share(seconds: float = 0.5) -> float | None:
    """The share of this process's cores that *other* processes kept busy over ``seconds``
    (0: idle; 0.5 on 2 cores: one core's worth of other work), measured now from /proc/stat;
    None where /proc/stat is not available. The probe parent samples it before the first row:
    unlike the 1-minute load average it does not remember work that already ended (the
    previous probe, an install)."""
    import time

    window = ContentionWindow(calibrated=False)
    time.sleep(seconds)
    share = window.close()["others_cpu_share"]
    return float(share) if share is not None else None
