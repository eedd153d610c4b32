"""Shared workload harness for every probe script (standard library + numpy only).

A probe script is run by ``advisor probe`` in a fresh process::

    python probe_<framework>.py --threads 2 --epochs 5 --workloads mlp-digits,cnn-digits \
        --seed 0 --data-cache DIR

It imports its framework (timed: ``import_s``), builds the workloads of docs/architecture.md, trains them
for one warm-up epoch (``first_epoch_s``: tracing and compilation included) plus ``--epochs`` timed
blocks of whole epochs (each at least ``--min-block-s``, see :func:`time_epochs`), and prints
exactly ONE JSON object on stdout. Everything else the frameworks print is sent
to stderr (fd 1 is redirected at start), so stdout holds nothing but that object.

With ``--staged`` the parent overlaps the rows' start-up: the probe imports its framework and loads
the data, then prints the line ``READY_LINE`` on stdout and blocks until the parent writes one
byte ``G`` on its stdin (anything else, or end of file, means "stop": it exits at once). Training
-- warm-up epoch included -- only starts after that go signal, and the parent gives it to one row
at a time, so every epoch time is measured with nothing else starting beside it.

Choices, documented here once:
- Data: sklearn's bundled digits, float32, 80/20 stratified split with random_state=0,
  StandardScaler fit on the train part. The prepared arrays are cached as .npz in
  ``--data-cache`` so that only the first probe of a run pays for importing scikit-learn (the
  parent starts sklearn first; rows starting side by side wait on a lock for the one preparing).
- Epoch order: ``numpy.random.default_rng(seed + epoch).permutation(n)`` for loop-based probes;
  Keras ``fit`` shuffles itself (seeded like ``keras.utils.set_random_seed``).
- Timing: ``time.perf_counter`` around blocks of whole epochs, sized by the first epoch after the
  warm-up so that each block lasts at least 50 ms (one epoch when epochs are that long; a 3 ms
  epoch of jax on mlp-digits makes blocks of 17); the probe's ``sync`` runs before every clock
  read (``torch.cuda.synchronize``, ``block_until_ready``, a host read of the loss). Each
  block's samples/s is one value of the median, IQR and n.
- Matmul peak: numpy float32 matmul (1024x1024, best of several) with the same thread count,
  measured in every child that runs cnn-digits; the parent takes the best of the run as the one
  machine-level CPU reference (a single measurement can land in a burst of background load). On a
  GPU the probe passes its own device matmul instead (numpy cannot use the GPU); ``peak_source``
  says which one was used. On a GPU that is the framework's float32 matmul at the precision the
  row trains with: TF32 tensor cores on Ampere and newer (JAX and TensorFlow by default; the
  PyTorch probe sets ``float32_matmul_precision`` "high" to match).
- Peak RSS: per workload when Linux lets us reset the high-water mark (``/proc/self/clear_refs``),
  else the process peak so far (``getrusage``); ``rss_scope`` says which.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn


def _load_protocol() -> Any:
    """advisor/probe/protocol.py, by path: this child may run where advisor is not installed.

    The parent names the file in ADVISOR_PROBE_PROTOCOL; a probe run by hand finds it beside
    the probes (source checkout: ../advisor/probe/, installed wheel: ../probe/).
    """
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("ADVISOR_PROBE_PROTOCOL") or "",
                  os.path.join(here, os.pardir, "advisor", "probe", "protocol.py"),
                  os.path.join(here, os.pardir, "probe", "protocol.py")]
    path = next((c for c in candidates if c and os.path.isfile(c)), None)
    if path is None:
        raise ImportError("advisor's probe protocol not found: set ADVISOR_PROBE_PROTOCOL to "
                          "the path of advisor/probe/protocol.py")
    if "advisor_probe_protocol" in sys.modules:
        return sys.modules["advisor_probe_protocol"]
    spec = importlib.util.spec_from_file_location("advisor_probe_protocol", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


protocol = _load_protocol()
for _key, _value in protocol.CHILD_ENV.items():  # before any framework is imported
    os.environ.setdefault(_key, _value)
# The workloads are defined once, in the protocol module (SPECS: family, batch, accuracy gate).
SPECS = protocol.SPECS
WORKLOADS = protocol.WORKLOADS
MIN_BLOCK_S = protocol.MIN_BLOCK_S  # a timed block lasts at least this long (see epochs_per_block)
MAX_EPOCHS_PER_BLOCK = 64
BATCH = protocol.BATCH
GBDT_ROUNDS_PER_EPOCH = 5  # gbdt-digits: one "epoch" is this many more boosting rounds
# Time to accuracy (protocol.TARGET_ACCURACY): checked after every epoch until reached; a row that
# has not reached it by the end of its timed blocks trains on, one epoch at a time, for at most
# TARGET_EXTRA_S more seconds (a spec's ``chase_s`` overrides it: attn-digits needs about 13
# epochs for 0.95, which a one-minute probe cannot spend on six rows).
TARGET_ACCURACY = protocol.TARGET_ACCURACY
TARGET_EXTRA_S = 1.0
TARGET_MAX_EPOCHS = 60


def chase_s(name: str) -> float:
    """Seconds of extra training a row may spend on ``name`` to reach TARGET_ACCURACY."""
    return float(SPECS[name].get("chase_s", TARGET_EXTRA_S))
LEARNING_RATE = 1e-3
SPLIT_SEED = 0  # random_state of the stratified split
DATA_VERSION = 1  # bump when the preparation below changes

# Original stdout, kept for the one JSON object; fd 1 goes to stderr while frameworks run.
_RESULT_FD: int | None = None
READY_LINE = protocol.READY_LINE  # the one line a --staged probe prints before its result
GO = protocol.GO


def capture_stdout() -> None:
    """Send everything written to fd 1 (framework chatter) to stderr; keep fd 1 for the result."""
    global _RESULT_FD
    if _RESULT_FD is not None:
        return
    sys.stdout.flush()
    _RESULT_FD = os.dup(1)
    os.dup2(2, 1)


def emit(result: dict[str, Any]) -> None:
    """Print the one JSON object on the original stdout."""
    _write_result_fd(protocol.result_line(result))


def _write_result_fd(text: str) -> None:
    data = text.encode("utf-8")
    fd = _RESULT_FD if _RESULT_FD is not None else 1
    sys.stdout.flush()
    sys.stderr.flush()
    while data:
        written = os.write(fd, data)
        data = data[written:]


def wait_for_go() -> None:
    """--staged: say "ready" on stdout, then block until the parent's go byte on stdin.

    End of file or any other byte means the parent stopped the run: exit at once, quietly.
    """
    _write_result_fd(READY_LINE + "\n")
    try:
        got = os.read(sys.stdin.fileno(), 1)
    except (OSError, ValueError):
        got = b""
    if got != GO:
        sys.stderr.flush()
        os._exit(3)


@dataclass
class Config:
    threads: int = 1
    epochs: int = 5  # timed blocks of whole epochs, after one warm-up epoch
    workloads: tuple[str, ...] = WORKLOADS
    seed: int = 0
    data_cache: str | None = None
    device: str = "auto"  # auto | cpu
    staged: bool = False  # wait for the parent's go signal between start-up and training
    min_block_s: float = MIN_BLOCK_S  # see epochs_per_block
    save_model: str | None = None  # --save-model DIR: keep each trained model for the deploy probe


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description="advisor probe script")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-cache", default=None)
    parser.add_argument("--device", choices=("auto", "cpu"), default="auto")
    parser.add_argument("--staged", action="store_true")
    parser.add_argument("--min-block-s", type=float, default=MIN_BLOCK_S)
    parser.add_argument("--save-model", default=None)
    ns = parser.parse_args(argv)
    names = tuple(w for w in ns.workloads.split(",") if w)
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown or ns.threads < 1 or ns.epochs < 1:
        parser.error(f"bad arguments: workloads {unknown or 'ok'}, threads {ns.threads}, "
                     f"epochs {ns.epochs}")
    return Config(ns.threads, ns.epochs, names, ns.seed, ns.data_cache, ns.device, ns.staged,
                  max(0.0, ns.min_block_s), ns.save_model)


thread_env = protocol.thread_env


# ---------------------------------------------------------------------------------------- data
@dataclass
class Data:
    x_train: Any  # float32 (n, 64), standardized
    y_train: Any  # int64 (n,)
    x_test: Any
    y_test: Any

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    def images(self, x: Any) -> Any:
        """(n, 64) -> (n, 1, 8, 8) channels-first view (probes transpose for channels-last)."""
        return x.reshape(-1, 1, 8, 8)


def _prepare_digits() -> dict[str, Any]:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=SPLIT_SEED
    )
    scaler = StandardScaler().fit(x_tr)
    return {
        "x_train": scaler.transform(x_tr).astype(np.float32),
        "x_test": scaler.transform(x_te).astype(np.float32),
        "y_train": y_tr.astype(np.int64),
        "y_test": y_te.astype(np.int64),
    }


def load_data(cache_dir: str | None) -> Data:
    """The prepared digits split, from the run's cache when an earlier probe already made it.

    Rows that start side by side (``--staged``) would each import scikit-learn to prepare it;
    a lock on the cache folder makes the first one prepare it and the others wait and read it.
    """
    path = os.path.join(cache_dir, f"digits-v{DATA_VERSION}.npz") if cache_dir else None
    arrays = _read_cache(path)
    if arrays is None:
        with _cache_lock(cache_dir):
            arrays = _read_cache(path)  # prepared while this probe waited for the lock
            if arrays is None:
                arrays = _prepare_digits()
                _write_cache(path, arrays)
    return Data(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"])


def _read_cache(path: str | None) -> dict[str, Any] | None:
    import numpy as np

    if not path or not os.path.isfile(path):
        return None
    try:
        with np.load(path) as f:
            return {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, ValueError, KeyError):
        return None


def _write_cache(path: str | None, arrays: dict[str, Any]) -> None:
    import numpy as np

    if not path:
        return
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError:
        pass


class _cache_lock:
    """An exclusive lock on ``cache_dir/digits.lock`` (POSIX flock); a no-op where unavailable."""

    def __init__(self, cache_dir: str | None):
        self.cache_dir = cache_dir
        self.fd: int | None = None

    def __enter__(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: rows may prepare the data twice, which is only slower
            return
        if not self.cache_dir:
            return
        try:
            self.fd = os.open(os.path.join(self.cache_dir, "digits.lock"),
                              os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            self.__exit__()

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock
            self.fd = None


def epoch_order(seed: int, epoch: int, n: int) -> Any:
    """The reshuffled sample order of one epoch (same in every loop-based probe)."""
    import numpy as np

    return np.random.default_rng(seed + epoch).permutation(n)


# ------------------------------------------------------------------------------- saved models
CALIBRATION_SAMPLES = 200  # train inputs kept for int8 post-training quantisation


SAVE_ERROR = "save_error.txt"  # --save-model: why the trained model could not be saved


def model_dir(root: str, row: str, workload: str) -> str:
    """Where ``--save-model ROOT`` keeps a row's trained workload (read by probes/deploy_*.py)."""
    return os.path.join(root, row.replace("/", "_"), workload)


def save_trained(config: Config, row: str, workload: str, data: Data, inputs_test: Any,
                 outputs: Any, write: Callable[[str], Any], output_kind: str = "logits") -> None:
    """--save-model: the trained model (``write(folder)`` saves it in its framework's own form)
    plus what the deploy probe compares against: the test inputs exactly as the model takes them,
    the framework's own outputs on them, the labels and a slice of train inputs for calibration.

    Never fails the training probe: a model that cannot be saved is reported by the exporter
    (no saved model) and the error goes to stderr.
    """
    if not config.save_model:
        return
    import numpy as np

    try:
        folder = model_dir(config.save_model, row, workload)
        os.makedirs(folder, exist_ok=True)
        inputs_test = np.ascontiguousarray(inputs_test, dtype=np.float32)
        layout = inputs_test.shape[1:]
        calib = data.x_train[:CALIBRATION_SAMPLES].reshape((-1, *layout))
        np.save(os.path.join(folder, "inputs.npy"), inputs_test)
        np.save(os.path.join(folder, "outputs.npy"), np.asarray(outputs, dtype=np.float32))
        np.save(os.path.join(folder, "labels.npy"), np.asarray(data.y_test, dtype=np.int64))
        np.save(os.path.join(folder, "calibration.npy"), np.ascontiguousarray(calib, np.float32))
        write(folder)
        meta = {"row": row, "workload": workload, "input_shape": list(layout),
                "output_kind": output_kind}
        tmp = os.path.join(folder, "meta.json.tmp")  # written last, whole: the model is complete
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(protocol.result_line(meta))
        os.replace(tmp, os.path.join(folder, "meta.json"))
    except Exception as exc:  # noqa: BLE001 - the deploy probe reports it (failed)
        traceback.print_exc(file=sys.stderr)
        try:  # why, next to the model: a framework that cannot save its model fails the path
            with open(os.path.join(model_dir(config.save_model, row, workload), SAVE_ERROR), "w",
                      encoding="utf-8") as f:
                f.write(error_line(exc))
        except OSError:
            pass


# ------------------------------------------------------------------------------------ FLOPs
def cnn_forward_macs(width: int = 1) -> int:
    """Multiply-accumulates of one cnn-digits forward pass (one sample; ``width`` x channels)."""
    c1, c2, d = 32 * width, 64 * width, 128 * width
    conv1 = 8 * 8 * c1 * (3 * 3 * 1)
    conv2 = 8 * 8 * c2 * (3 * 3 * c1)
    dense1 = (4 * 4 * c2) * d
    dense2 = d * 10
    return conv1 + conv2 + dense1 + dense2


def cnn_train_flops_per_sample(width: int = 1) -> int:
    """Forward + backward ~ 3x forward; 2 FLOPs per multiply-accumulate."""
    return 3 * 2 * cnn_forward_macs(width)


def mlp_train_flops_per_sample(width: int = 1) -> int:
    h1, h2 = 128 * width, 64 * width
    return 3 * 2 * (64 * h1 + h1 * h2 + h2 * 10)


def attn_forward_macs(width: int = 1, tokens: int = 8, features: int = 8, layers: int = 2,
                      classes: int = 10) -> int:
    """Multiply-accumulates of one attn-digits forward pass (one sample, matmuls only)."""
    d_model, ff = 64 * width, 128 * width
    per_layer = (tokens * d_model * 3 * d_model  # q, k, v projections
                 + 2 * tokens * tokens * d_model  # scores and the weighted sum of values
                 + tokens * d_model * d_model  # output projection
                 + 2 * tokens * d_model * ff)  # feed-forward
    return tokens * features * d_model + layers * per_layer + d_model * classes


def attn_train_flops_per_sample(width: int = 1) -> int:
    return 3 * 2 * attn_forward_macs(width)


TRAIN_FLOPS = {"mlp-digits": mlp_train_flops_per_sample, "cnn-digits": cnn_train_flops_per_sample,
               "attn-digits": attn_train_flops_per_sample}
# Workloads whose achieved GFLOP/s is judged against the measured matmul peak (compute-bound
# enough for the fraction to mean something; mlp-digits measures per-step overhead).
PEAK_WORKLOADS = ("cnn-digits", "attn-digits")


def train_flops_per_sample(workload: str, width: int = 1) -> int | None:
    """Training FLOPs of one sample of ``workload`` (None where not counted: gbdt-digits)."""
    count = TRAIN_FLOPS.get(workload)
    return count(width) if count else None


# ----------------------------------------------------------------------------- GPU sizes
# On a GPU the digits models measure kernel-launch overhead (issue 12: jax 270k samples/s, PyTorch
# 58k on an H200's cnn-digits). A probe that trains on a GPU therefore also runs each neural
# workload at a compute-bound size: every hidden width x GPU_WIDTH, batches of GPU_BATCH, in
# float32 (TF32 matmuls, as the row's peak) and, where the probe supports it, in bf16 mixed
# precision. Results go under ``<workload>@large`` and ``<workload>@large-bf16``. Never on a CPU.
GPU_WIDTH = 8
GPU_BATCH = {"mlp-digits": 1024, "cnn-digits": 1024, "attn-digits": 512}
GPU_SUFFIX = "@large"


@dataclass(frozen=True)
class Variant:
    """A size and precision of a workload (the default: the workload as docs/architecture.md lists it)."""

    key: str  # the result key: "cnn-digits", "cnn-digits@large", "cnn-digits@large-bf16"
    width: int = 1  # multiplier of every hidden width (channels, units, d_model)
    batch_size: int | None = None  # None: the workload's own
    precision: str = "float32"  # "float32" | "bf16-mixed"

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16-mixed"


def gpu_variants(name: str, bf16: bool) -> list[Variant]:
    """The GPU sizes of a neural workload (none for gbdt-digits): float32, and bf16 if asked."""
    if name not in GPU_BATCH:
        return []
    out = [Variant(name + GPU_SUFFIX, GPU_WIDTH, GPU_BATCH[name])]
    if bf16:
        out.append(Variant(name + GPU_SUFFIX + "-bf16", GPU_WIDTH, GPU_BATCH[name],
                           "bf16-mixed"))
    return out


def batch_of(name: str, variant: Variant | None) -> int:
    return (variant.batch_size if variant and variant.batch_size else BATCH[name])


def numpy_matmul_peak(n: int = 1024, budget_s: float = 0.12) -> float:
    """Best float32 n x n matmul rate of numpy (GFLOP/s) within a small time budget."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: thread pool start, page faults
    return best_rate(lambda: a @ b, lambda: None, 2.0 * n**3, budget_s)


def best_rate(fn: Callable[[], Any], sync: Callable[[], Any], flops: float,
              budget_s: float = 0.25, max_reps: int = 20) -> float:
    """GFLOP/s of the fastest of several calls of ``fn`` (sync before each clock read)."""
    best = float("inf")
    start = time.perf_counter()
    for _ in range(max_reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return flops / best / 1e9


# ------------------------------------------------------------------------------------ memory
def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """VmHWM from /proc (resettable), else getrusage's process peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return round(peak / divisor, 1)


# ------------------------------------------------------------------------------------ timing
quantiles = protocol.quantiles


@dataclass
class EpochTimes:
    first_s: float
    timed_s: list[float] = field(default_factory=list)  # per block: seconds per epoch
    per_block: int = 1  # whole epochs in each timed block
    calibration_s: float | None = None  # the epoch that sized the blocks
    # time to accuracy (see TARGET_ACCURACY): [epochs, training seconds, test accuracy] after
    # each checked epoch, and the first point that reached the target (None: not reached)
    curve: list[list[float]] = field(default_factory=list)
    reached: tuple[int, float] | None = None
    epochs_trained: int = 0


def epochs_per_block(epoch_s: float, min_block_s: float) -> int:
    """Whole epochs per timed block so that a block lasts at least ``min_block_s``.

    An epoch of a few milliseconds is at the mercy of one context switch; blocks of 50 ms are
    not (pyperf and torch.utils.benchmark size their timed blocks the same way).
    """
    if min_block_s <= 0 or epoch_s >= min_block_s:
        return 1
    if epoch_s <= 0:
        return MAX_EPOCHS_PER_BLOCK
    return max(1, min(MAX_EPOCHS_PER_BLOCK, math.ceil(min_block_s / epoch_s)))


def time_epochs(run_epoch: Callable[[int], Any], blocks: int, sync: Callable[[], Any],
                clock: Callable[[], float] = time.perf_counter,
                min_block_s: float = 0.0, evaluate: Callable[[], float] | None = None,
                target: float = TARGET_ACCURACY, extra_s: float = TARGET_EXTRA_S) -> EpochTimes:
    """One warm-up epoch, then ``blocks`` timed blocks of whole epochs; ``sync`` runs before
    every clock read.

    With ``min_block_s`` the first epoch after the warm-up sizes the blocks: when it lasts at
    least ``min_block_s`` it is the first block (one epoch per block), else it is only the
    calibration and every block runs enough epochs to last ``min_block_s``.

    With ``evaluate`` (test accuracy of the model as it is now) the time to ``target`` accuracy
    is measured too: after every epoch, with the clock stopped, until the target is reached;
    when the timed blocks end before it, single epochs follow (outside the throughput numbers)
    for at most ``extra_s`` seconds of training.
    """
    epoch = 0
    train_s = 0.0
    curve: list[list[float]] = []
    reached: tuple[int, float] | None = None

    def chasing() -> bool:
        return evaluate is not None and reached is None

    def check() -> None:
        nonlocal reached
        assert evaluate is not None
        accuracy = float(evaluate())
        curve.append([epoch, round(train_s, 5), round(accuracy, 4)])
        if accuracy >= target:
            reached = (epoch, train_s)

    def timed(n: int) -> float:
        nonlocal epoch, train_s
        elapsed = 0.0
        sync()
        t0: float | None = clock()
        for _ in range(n):
            if t0 is None:  # the clock was stopped for an evaluation
                sync()
                t0 = clock()
            run_epoch(epoch)
            epoch += 1
            if chasing():
                sync()
                lap = clock() - t0
                elapsed, train_s, t0 = elapsed + lap, train_s + lap, None
                check()
        if t0 is not None:
            sync()
            lap = clock() - t0
            elapsed, train_s = elapsed + lap, train_s + lap
        return elapsed

    first = timed(1)
    calibration = timed(1)
    per_block = epochs_per_block(calibration, min_block_s)
    times = [calibration] if per_block == 1 else []
    while len(times) < blocks:
        times.append(timed(per_block) / per_block)
    extra = 0.0
    while chasing() and extra < extra_s and epoch < TARGET_MAX_EPOCHS:
        extra += timed(1)
    return EpochTimes(first, times, per_block, calibration if per_block > 1 else None,
                      curve, reached, epoch)


def blocks_from_epochs(first_s: float, epoch_s: list[float], blocks: int,
                       per_block: int, accuracy: list[float] | None = None,
                       target: float = TARGET_ACCURACY) -> EpochTimes:
    """EpochTimes from per-epoch durations (a Keras callback's): [warm-up, calibration?, ...].

    ``accuracy``: the test accuracy after each epoch (warm-up first), as far as it was checked
    (see :func:`time_epochs`); ``epoch_s`` may run past the timed blocks (epochs chasing the
    target), which count for the time to accuracy only.
    """
    calibration = epoch_s[0] if per_block > 1 else None
    rest = epoch_s[1:] if per_block > 1 else epoch_s
    timed = [sum(rest[i * per_block:(i + 1) * per_block]) / per_block for i in range(blocks)]
    durations = [first_s] + list(epoch_s)
    curve: list[list[float]] = []
    reached: tuple[int, float] | None = None
    for i, acc in enumerate(accuracy or []):
        spent = sum(durations[:i + 1])
        curve.append([i + 1, round(spent, 5), round(float(acc), 4)])
        if acc >= target:
            reached = (i + 1, spent)
            break
    return EpochTimes(first_s, timed, per_block, calibration, curve, reached, len(durations))


def workload_result(name: str, times: EpochTimes, n_train: int, accuracy: float,
                    peak_rss: float, rss_scope: str, peak_gflops: float | None,
                    peak_source: str | None, peak_gpu_mb: float | None = None,
                    variant: Variant | None = None) -> dict[str, Any]:
    rates = [n_train / t for t in times.timed_s if t > 0]
    stats = quantiles(rates)
    result: dict[str, Any] = {
        "first_epoch_s": round(times.first_s, 4),
        "samples_per_s": stats,
        "epoch_s": [round(t, 5) for t in times.timed_s],
        "epochs": {"warmup": 1, "calibration": 1 if times.calibration_s is not None else 0,
                   "blocks": len(times.timed_s), "per_block": times.per_block,
                   "timed": len(times.timed_s) * times.per_block},
        "batch_size": batch_of(name, variant),
        "precision": variant.precision if variant else "float32",
        "width": variant.width if variant else 1,
        "train_samples": n_train,
        "accuracy": round(float(accuracy), 4),
        "peak_rss_mb": peak_rss,
        "rss_scope": rss_scope,
        "peak_gpu_mb": peak_gpu_mb,
        "time_to_accuracy": time_to_accuracy(times),
        "train_flops_per_sample": train_flops_per_sample(name, variant.width if variant else 1),
    }
    if (name in PEAK_WORKLOADS or variant is not None) and stats["median"]:
        flops = result["train_flops_per_sample"] or 0
        result["gflops"] = round(stats["median"] * flops / 1e9, 3)
        add_peak(result, peak_gflops, peak_source)
    return result


def time_to_accuracy(times: EpochTimes, target: float = TARGET_ACCURACY) -> dict[str, Any] | None:
    """Seconds of training (first epoch included) until the test accuracy first reached the
    target; ``None`` when the probe did not check (no evaluation hook)."""
    if not times.curve:
        return None
    return {
        "target": target,
        "reached": times.reached is not None,
        "s": round(times.reached[1], 4) if times.reached else None,
        "epochs": times.reached[0] if times.reached else None,
        "checked_epochs": int(times.curve[-1][0]),
        "best_accuracy": max(point[2] for point in times.curve),
        "curve": times.curve,
    }


def add_peak(result: dict[str, Any], peak_gflops: float | None, peak_source: str | None) -> None:
    """Achieved GFLOP/s (cnn-digits, attn-digits) against a measured matmul peak."""
    achieved = result.get("gflops")
    result["peak_gflops"] = round(peak_gflops, 2) if peak_gflops else None
    result["peak_source"] = peak_source
    result["fraction_of_peak"] = (round(achieved / peak_gflops, 4)
                                  if achieved and peak_gflops else None)


# ------------------------------------------------------------------------------------ driver
@dataclass
class Probe:
    """What a framework's probe script supplies to :func:`main`."""

    name: str  # row name, e.g. "pytorch", "keras/jax"
    module: str  # top-level module whose absence means "missing"
    install_hint: str
    load: Callable[[Config], dict[str, Any]]  # imports the framework; returns info (version...)
    # run(workload, config, data, info) -> (EpochTimes, accuracy, peak_gpu_mb or None)
    run: Callable[[str, Config, Data, dict[str, Any]], tuple[EpochTimes, float, float | None]]
    workloads: tuple[str, ...] = WORKLOADS
    # run_variant(workload, variant, config, data, info) -> as run: the GPU sizes (gpu_variants);
    # None: the probe has no GPU sizes. ``bf16``: it has a bf16 mixed-precision variant.
    run_variant: Callable[..., tuple[EpochTimes, float, float | None]] | None = None
    bf16: bool = False


def channels_last(name: str, x: Any) -> Any:
    """The (n, 64) digits as the workload reads them in TensorFlow, Keras and JAX: channels-last
    images (n, 8, 8, 1), row tokens (n, 8, 8), flat otherwise."""
    if name == "cnn-digits":
        return x.reshape(-1, 8, 8, 1)
    if name == "attn-digits":
        return x.reshape(-1, 8, 8)
    return x


def exit_now(code: int) -> NoReturn:
    """Flush stdout and stderr, then exit at once: ``os._exit`` skips the interpreter teardown
    of torch/TF/JAX (up to a second per child) once the result is out."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(probe: Probe, argv: list[str] | None = None) -> None:
    """Run a probe, print its one JSON object and exit at once (:func:`exit_now`)."""
    exit_now(run_probe(probe, argv))


def run_probe(probe: Probe, argv: list[str] | None = None) -> int:
    """Run a probe and print its one JSON object; never raises (the parent reads the status)."""
    capture_stdout()
    config = parse_args(argv)
    os.environ.update(thread_env(config.threads))
    out: dict[str, Any] = {
        "name": probe.name,
        "status": "broken",
        "python": platform.python_version(),
        "threads": config.threads,
        "seed": config.seed,
    }
    try:
        t0 = time.perf_counter()
        try:
            info = probe.load(config)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if missing and missing in probe.module.split(","):
                out.update(status="missing", error=f"No module named {missing!r}",
                           install_hint=probe.install_hint)
                emit(out)
                return 0
            raise
        out["import_s"] = round(time.perf_counter() - t0, 4)
        info.setdefault("_row", probe.name)  # the row a saved model belongs to (save_trained)
        out.update({k: v for k, v in info.items() if not k.startswith("_")})
        data = load_data(config.data_cache)
        if config.staged:
            wait_for_go()
        results = {}
        for name in config.workloads:
            if name not in probe.workloads:
                continue
            scope = "workload" if reset_peak_rss() else "process"
            window = protocol.ContentionWindow()  # what else ran on our cores meanwhile
            started = time.perf_counter()
            times, accuracy, gpu_mb = probe.run(name, config, data, info)
            contention = window.close()
            results[name] = workload_result(
                name, times, data.n_train, accuracy, peak_rss_mb(), scope, None, None, gpu_mb,
            )
            results[name]["contention"] = contention
            # build + train + evaluate: what the workload cost beyond its timed epochs
            results[name]["wall_s"] = round(time.perf_counter() - started, 4)
            results.update(run_gpu_sizes(probe, name, config, data, info))
        peaked = [key for key in results if key.split("@")[0] in PEAK_WORKLOADS or "@" in key]
        if peaked:  # measured after training: no BLAS threads left spinning
            peak, peak_source = _peak(info)
            for key in peaked:
                add_peak(results[key], peak, peak_source)
        out["workloads"] = results
        out["probe_wall_s"] = round(time.perf_counter() - t0, 4)
        out["status"] = "ok"
    except BaseException as exc:  # noqa: BLE001 - report every failure as a status
        traceback.print_exc(file=sys.stderr)
        out.update(status="broken", error=error_line(exc))
        emit(out)
        return 1
    emit(out)
    return 0


def run_gpu_sizes(probe: Probe, name: str, config: Config, data: Data,
                  info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The workload's GPU sizes (see GPU_WIDTH) when this row trains on a GPU; nothing on a CPU.

    A size that fails (out of memory, an unsupported op in bf16) is recorded as its error, not
    as a failure of the row: the digits-sized numbers stand.
    """
    if info.get("ran_on") != "gpu" or probe.run_variant is None or config.device == "cpu":
        return {}
    out: dict[str, dict[str, Any]] = {}
    for variant in gpu_variants(name, probe.bf16):
        started = time.perf_counter()
        try:
            times, accuracy, gpu_mb = probe.run_variant(name, variant, config, data, info)
        except Exception as exc:  # noqa: BLE001 - one size failing leaves the row standing
            out[variant.key] = {"error": error_line(exc), "precision": variant.precision}
            continue
        result = workload_result(name, times, data.n_train, accuracy, peak_rss_mb(), "process",
                                 None, None, gpu_mb, variant=variant)
        result["wall_s"] = round(time.perf_counter() - started, 4)
        out[variant.key] = result
    return out


def error_line(exc: BaseException) -> str:
    """``Type: message`` (first line of the message, without notes), at most 500 characters."""
    message = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    return text[:500]


def _peak(info: dict[str, Any]) -> tuple[float | None, str | None]:
    device_peak = info.get("_device_matmul_peak")
    if callable(device_peak):  # a GPU: the framework's own matmul on the device
        return device_peak(), info.get("_device_peak_source", "framework-device-matmul")
    return numpy_matmul_peak(), "numpy-float32-matmul-cpu"
