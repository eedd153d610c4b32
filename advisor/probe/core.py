"""``run_probe``: hardware, then every framework row in its own fresh process, one after another.

Knows nothing of the terminal: progress goes to a callback, the result is a ``ProbeReport``.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from advisor import __version__
from advisor.errors import BadInput
from advisor.probe import hardware
from advisor.probe.model import ROW_NAMES, SCHEMA_VERSION, ProbeReport
from advisor.probe.runner import ChildResult, run_child
from advisor.resources import probes_dir

NOISE_LIMIT = 0.10  # IQR / median above this: noisy
BUSY_LOAD_PER_CORE = 0.5  # 1-minute load before the run above this x usable cores: busy machine
ACCURACY_GATE = {"mlp-digits": 0.80, "cnn-digits": 0.80}  # chance is 0.10
DEFAULT_EPOCHS = 5
WORKLOADS = ("mlp-digits", "cnn-digits")
# --quick drops cnn-digits (its tracing/compilation is most of a row's work beyond the import);
# mlp-digits keeps its 5 timed epochs, which cost tens of milliseconds each.
QUICK_WORKLOADS = ("mlp-digits",)
SEED = 0


@dataclass(frozen=True)
class RowSpec:
    name: str
    script: str
    modules: tuple[str, ...]  # top-level modules that must be installed
    install_hint: str
    env: dict[str, str] = field(default_factory=dict)
    workloads: tuple[str, ...] = ("mlp-digits", "cnn-digits")


ROWS: dict[str, RowSpec] = {
    spec.name: spec
    for spec in (
        RowSpec("pytorch", "probe_pytorch.py", ("torch",), "pip install torch"),
        RowSpec("tensorflow", "probe_tensorflow.py", ("tensorflow",), "pip install tensorflow"),
        RowSpec("keras/tensorflow", "probe_keras.py", ("keras", "tensorflow"),
                "pip install keras tensorflow", {"KERAS_BACKEND": "tensorflow"}),
        RowSpec("keras/torch", "probe_keras.py", ("keras", "torch"), "pip install keras torch",
                {"KERAS_BACKEND": "torch"}),
        RowSpec("keras/jax", "probe_keras.py", ("keras", "jax"), "pip install keras jax",
                {"KERAS_BACKEND": "jax"}),
        RowSpec("jax", "probe_jax.py", ("jax",), "pip install jax"),
        RowSpec("sklearn", "probe_sklearn.py", ("sklearn",), "pip install scikit-learn",
                workloads=("mlp-digits",)),
    )
}
# sklearn first: it imports scikit-learn anyway, so it prepares the shared data cache for free.
RUN_ORDER = ("sklearn", "pytorch", "jax", "tensorflow", "keras/tensorflow", "keras/torch",
             "keras/jax")


@dataclass
class ProbeOptions:
    frameworks: tuple[str, ...] = ROW_NAMES
    timeout_s: float = 120.0
    repeat: int = 1
    quick: bool = False
    include_hostname: bool = False
    threads: int | None = None  # default: the usable cores
    workloads: tuple[str, ...] | None = None  # default: both, or QUICK_WORKLOADS with quick
    epochs: int = DEFAULT_EPOCHS  # timed epochs after the warm-up epoch
    python: str = sys.executable
    scripts: Path | None = None  # default: the bundled probes/
    scaling: Any = None  # a scaling.ScalingOptions: also run the scaling probe (--scaling)
    scaling_only: bool = False  # skip the single-process rows (--scaling-only)

    def validate(self) -> None:
        unknown = [f for f in self.frameworks if f not in ROWS]
        if unknown:
            raise BadInput(f"unknown framework row(s) {', '.join(unknown)}; "
                           f"choose from {', '.join(ROW_NAMES)}")
        if not self.frameworks:
            raise BadInput("no framework rows selected")
        if self.repeat < 1:
            raise BadInput("--repeat must be at least 1")
        if self.timeout_s <= 0:
            raise BadInput("--timeout must be positive")
        if self.epochs < 1 or any(w not in WORKLOADS for w in self.workloads or ()):
            raise BadInput(f"epochs must be >= 1 and workloads among {', '.join(WORKLOADS)}")
        if self.scaling_only and self.scaling is None:
            raise BadInput("--scaling-only needs --scaling")
        if self.scaling is not None:
            self.scaling.validate()

    def selected_workloads(self) -> tuple[str, ...]:
        return self.workloads or (QUICK_WORKLOADS if self.quick else WORKLOADS)


@dataclass
class ProgressEvent:
    kind: str  # "start" | "done"
    name: str
    index: int  # 1-based position of the row
    total: int
    attempt: int = 1
    repeat: int = 1
    row: dict[str, Any] | None = None


ProgressCallback = Callable[[ProgressEvent], None]


def scripts_dir() -> Path:
    """The probe scripts: ``ADVISOR_PROBES_DIR`` when set (custom or test probes), else bundled."""
    override = os.environ.get("ADVISOR_PROBES_DIR")
    return Path(override) if override else probes_dir()


def parse_frameworks(text: str | None) -> tuple[str, ...]:
    if not text:
        return ROW_NAMES
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise BadInput(f"unknown framework row(s) {', '.join(unknown)}; "
                       f"choose from {', '.join(ROW_NAMES)}")
    return names


def load_harness(folder: Path) -> ModuleType:
    """The probes' harness module, loaded by path (standard library only at import)."""
    spec = importlib.util.spec_from_file_location("_advisor_probe_harness", folder / "harness.py")
    if spec is None or spec.loader is None:  # pragma: no cover - the file is packaged
        raise BadInput(f"probe harness not found in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    return module


def is_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def child_env(spec: RowSpec, threads: int, harness: ModuleType) -> dict[str, str]:
    env = dict(os.environ)
    env.update(harness.thread_env(threads))
    env.update({
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",  # JAX: allocate GPU memory as needed
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",  # TF: the same
        "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(spec.env)
    return env


def run_probe(options: ProbeOptions, progress: ProgressCallback | None = None) -> ProbeReport:
    options.validate()
    notify = progress or (lambda event: None)
    started_wall = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    load_before = hardware.get_load_average()
    host = hardware.get_host(include_hostname=options.include_hostname)
    gpus = [g.to_dict() for g in hardware.get_gpus()]
    environment = hardware.get_environment()
    threads = options.threads or host["usable_cores"]
    folder = options.scripts or scripts_dir()
    harness = load_harness(folder)
    epochs = options.epochs
    selected = options.selected_workloads()
    order = [] if options.scaling_only else [n for n in RUN_ORDER if n in options.frameworks]
    rows: dict[str, dict[str, Any]] = {}
    cache = tempfile.mkdtemp(prefix="advisor-probe-")
    try:
        for index, name in enumerate(order, start=1):
            spec = ROWS[name]
            missing = [m for m in spec.modules if not is_installed(m)]
            if missing:
                row = {"name": name, "status": "missing", "version": None, "devices": [],
                       "import_s": None, "workloads": {}, "install_hint": spec.install_hint,
                       "error": f"not installed: {', '.join(missing)}", "flags": []}
                rows[name] = row
                notify(ProgressEvent("done", name, index, len(order), row=row))
                continue
            workloads = [w for w in spec.workloads if w in selected]
            args = [options.python, str(folder / spec.script), "--threads", str(threads),
                    "--epochs", str(epochs), "--seed", str(SEED), "--data-cache", cache,
                    "--workloads", ",".join(workloads)]
            results = []
            for attempt in range(1, options.repeat + 1):
                notify(ProgressEvent("start", name, index, len(order), attempt, options.repeat))
                if not (folder / spec.script).is_file():
                    results.append(ChildResult("broken", None,
                                               f"probe script not found: {spec.script}", None, 0))
                    break
                results.append(run_child(args, env=child_env(spec, threads, harness),
                                         timeout=options.timeout_s))
            row = pool_row(spec, results, harness, selected, host_has_gpu=bool(gpus))
            rows[name] = row
            notify(ProgressEvent("done", name, index, len(order), row=row))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    scaling_report = None
    if options.scaling is not None:
        from advisor.probe import scaling

        sc_opts = options.scaling
        sc_opts.frameworks = tuple(n for n in sc_opts.frameworks if n in options.frameworks)

        def relay(event: scaling.ScalingEvent) -> None:
            notify(ProgressEvent(event.kind, f"scaling {event.name}", event.index, event.total,
                                 row=event.row))

        scaling_report = scaling.run_scaling(
            sc_opts, host=host, gpus=gpus, harness=harness, folder=folder,
            python=options.python, is_installed=is_installed, progress=relay)
    frameworks = [rows[n] for n in ROW_NAMES if n in rows]
    cpu_peak = apply_cpu_peak(frameworks)
    report = {
        "schema_version": SCHEMA_VERSION,
        "advisor_version": __version__,
        "created": started.isoformat().replace("+00:00", "Z"),
        "host": host,
        "gpus": gpus,
        "environment": environment,
        "run": {
            "threads": threads,
            "seed": SEED,
            "epochs": {"warmup": 1, "timed": epochs},
            "quick": options.quick,
            "workloads": list(selected),
            "repeat": options.repeat,
            "timeout_s": options.timeout_s,
            "load_avg_before": load_before,
            "load_avg_after": hardware.get_load_average(),
            "busy": is_busy(load_before, threads),
            "noise_limit": NOISE_LIMIT,
            "cpu_matmul_peak_gflops": cpu_peak,
            "accuracy_gate": ACCURACY_GATE,
            "wall_s": round(time.perf_counter() - started_wall, 2),
            "child_env": {k: hardware.redact(v)
                          for k, v in child_env(ROWS["jax"], threads, harness).items()
                          if k not in os.environ or os.environ[k] != v},
        },
        "frameworks": frameworks,
        "workloads": workload_descriptions(harness),
    }
    if scaling_report is not None:
        report["scaling"] = scaling_report
    return ProbeReport.model_validate(report)


def is_busy(load: list[float] | None, cores: int) -> bool:
    """Other work was competing for the cores the probe uses: its numbers are unreliable."""
    return bool(load) and load[0] > BUSY_LOAD_PER_CORE * cores


def workload_descriptions(harness: ModuleType) -> dict[str, dict[str, Any]]:
    common = {"dataset": "sklearn digits (bundled)", "split": "80/20 stratified, random_state=0",
              "scaling": "StandardScaler fit on train", "optimizer": "Adam lr 1e-3",
              "loss": "cross-entropy", "dtype": "float32"}
    return {
        "mlp-digits": {**common, "model": "64-128-64-10 MLP, ReLU", "batch_size": 32,
                       "train_flops_per_sample": harness.mlp_train_flops_per_sample()},
        "cnn-digits": {**common, "model": "1x8x8 -> conv3x3 32 -> conv3x3 64 -> maxpool2 -> "
                       "dense 128 -> dense 10, ReLU", "batch_size": 128,
                       "train_flops_per_sample": harness.cnn_train_flops_per_sample()},
    }


def pool_row(spec: RowSpec, results: list[ChildResult], harness: ModuleType,
             selected: tuple[str, ...] = WORKLOADS, host_has_gpu: bool = False) -> dict[str, Any]:
    """One row from N fresh-process runs: samples pooled, any failed run makes the row fail."""
    failed = next((r for r in results if r.status != "ok"), None)
    payloads = [r.payload for r in results if r.status == "ok" and r.payload]
    first = (failed.payload if failed and failed.payload else None) or (payloads[0] if payloads
                                                                        else {})
    row: dict[str, Any] = {
        "name": spec.name,
        "status": failed.status if failed else "ok",
        "version": first.get("version"),
        "devices": first.get("devices", []),
        "sees_gpu": any(d.get("kind") == "gpu" for d in first.get("devices", [])),
        "ran_on": first.get("ran_on"),
        "import_s": _median([p.get("import_s") for p in payloads]),
        "threads": first.get("threads"),
        "framework_threads": first.get("framework_threads"),
        "seed": first.get("seed"),
        "repeats": len(results),
        "wall_s": round(sum(r.wall_s for r in results), 3),
        "workloads": {},
        "flags": [],
    }
    for key in ("backend", "backend_version"):
        if key in first:
            row[key] = first[key]
    if failed:
        attempt = results.index(failed) + 1
        prefix = f"run {attempt}/{len(results)}: " if len(results) > 1 else ""
        row["error"] = prefix + (failed.error or failed.status)
        if failed.status == "missing":
            row["install_hint"] = (failed.payload or {}).get("install_hint", spec.install_hint)
        if failed.stderr_tail and failed.status in ("broken", "timeout"):
            row["stderr_tail"] = failed.stderr_tail[-2000:]
        return row
    for workload in (w for w in spec.workloads if w in selected):
        parts = [p["workloads"][workload] for p in payloads if workload in p.get("workloads", {})]
        if parts:
            row["workloads"][workload] = pool_workload(workload, parts, harness)
    if host_has_gpu and not row["sees_gpu"] and spec.name != "sklearn":
        row["flags"].append("gpu-not-visible")  # the host has a GPU this framework cannot use
    for workload, result in row["workloads"].items():
        if result["noisy"]:
            row["flags"].append(f"noisy:{workload}")
        if not result["learned"]:
            row["flags"].append(f"not-learned:{workload}")
    return row


def pool_workload(name: str, parts: list[dict[str, Any]], harness: ModuleType) -> dict[str, Any]:
    values = [v for p in parts for v in p["samples_per_s"].get("values", [])]
    stats = harness.quantiles(values)
    median, iqr = stats["median"], stats["iqr"]
    accuracy = _median([p.get("accuracy") for p in parts])
    out: dict[str, Any] = {
        "first_epoch_s": _median([p.get("first_epoch_s") for p in parts]),
        "samples_per_s": {"median": _round(median), "iqr": _round(iqr), "n": stats["n"],
                          "values": [_round(v) for v in values]},
        "accuracy": accuracy,
        "peak_rss_mb": max((p.get("peak_rss_mb") or 0 for p in parts), default=None) or None,
        "rss_scope": parts[0].get("rss_scope"),
        "peak_gpu_mb": max((p.get("peak_gpu_mb") or 0 for p in parts), default=0) or None,
        "epochs": parts[0].get("epochs"),
        "batch_size": parts[0].get("batch_size"),
        "wall_s": _median([p.get("wall_s") for p in parts]),
        "noisy": bool(median and iqr is not None and iqr / median > NOISE_LIMIT),
        "learned": accuracy is not None and accuracy >= ACCURACY_GATE[name],
    }
    if name == "cnn-digits":
        peak = max((p.get("peak_gflops") or 0 for p in parts), default=0) or None
        achieved = median * harness.cnn_train_flops_per_sample() / 1e9 if median else None
        out.update({
            "gflops": _round(achieved),
            "peak_gflops": _round(peak),
            "peak_source": parts[0].get("peak_source"),
            "fraction_of_peak": round(achieved / peak, 4) if achieved and peak else None,
        })
    return out


CPU_PEAK_SOURCE = "numpy-float32-matmul-cpu"


def apply_cpu_peak(frameworks: list[dict[str, Any]]) -> float | None:
    """One CPU reference per run: the best numpy matmul rate any row measured.

    Every cnn-digits row on the CPU is then judged against the same number.
    """
    cnn = [r["workloads"]["cnn-digits"] for r in frameworks if "cnn-digits" in r["workloads"]]
    cpu = [w for w in cnn if w.get("peak_source") == CPU_PEAK_SOURCE and w.get("peak_gflops")]
    if not cpu:
        return None
    peak = max(w["peak_gflops"] for w in cpu)
    for w in cpu:
        w["peak_gflops"] = peak
        w["fraction_of_peak"] = round(w["gflops"] / peak, 4) if w.get("gflops") else None
    return peak


def _median(values: list[Any]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, (int, float))]
    return round(statistics.median(nums), 4) if nums else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None
