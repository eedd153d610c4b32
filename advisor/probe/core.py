"""``run_probe``: hardware, then every framework row in its own fresh process.

Rows train one after another with nothing else running. How they start up is ``startup``:
``staged`` (the default) lets up to one row per usable core import its framework side by side,
then gives the rows their go signal one at a time (runner.run_staged); ``serial`` runs each row
from start to end before the next one starts, so its import time is measured alone too.

Knows nothing of the terminal: progress goes to a callback, the result is a ``ProbeDocument``.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from advisor import __version__
from advisor.infra.errors import BadInput
from advisor.probe import catalog, hardware, policy, protocol
from advisor.probe.catalog import KERAS_ROWS, ROW_NAMES, ROWS, RUN_ORDER, Row
from advisor.probe.model import SCHEMA_VERSION, FrameworkRow, ProbeDocument, ScalingRow, parse
from advisor.probe.runner import ChildResult, StagedJob, run_child, run_staged
from advisor.infra.resources import probes_dir

BUSY_LOAD_PER_CORE = 0.5  # 1-minute load before the run above this x usable cores: busy machine
DEFAULT_EPOCHS = 5
WORKLOADS = catalog.WORKLOADS
# --quick drops cnn-digits (its tracing/compilation is most of a row's work beyond the import);
# mlp-digits keeps its 5 timed blocks, which cost a quarter of a second or so per row.
QUICK_WORKLOADS = ("mlp-digits",)
SEED = 0
STARTUPS = ("staged", "serial")
# A staged round keeps every row's process alive until it has trained: below this much available
# memory per row, start-up runs serially instead.
STAGED_MEMORY_PER_ROW = 1 << 30


@dataclass
class ProbeOptions:
    frameworks: tuple[str, ...] | None = None  # None: every row (one Keras backend with quick)
    timeout_s: float = 120.0
    repeat: int = 1
    quick: bool = False
    include_hostname: bool = False
    threads: int | None = None  # default: the usable cores
    workloads: tuple[str, ...] | None = None  # default: both, or QUICK_WORKLOADS with quick
    epochs: int = DEFAULT_EPOCHS  # timed blocks of whole epochs after the warm-up epoch
    python: str = sys.executable
    scripts: Path | None = None  # default: the bundled probes/
    scaling: Any = None  # a scaling.ScalingOptions: also run the scaling probe (--scaling)
    scaling_only: bool = False  # skip the single-process rows (--scaling-only)
    startup: str = "staged"  # staged | serial (see the module docstring)
    deploy: Any = None  # a deploy.DeployOptions: also export and run the trained models (--deploy)

    def validate(self) -> None:
        if self.frameworks is not None:
            catalog.check_rows(self.frameworks)
            if not self.frameworks:
                raise BadInput("no framework rows selected")
        if self.startup not in STARTUPS:
            raise BadInput(f"startup must be one of {', '.join(STARTUPS)}, not {self.startup!r}")
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
        if self.deploy is not None:
            self.deploy.validate()

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
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        backend = json.loads(Path(home, "keras.json").read_text(encoding="utf-8")).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    if isinstance(backend, str) and backend.strip():
        return backend.strip(), "keras.json"
    return "tensorflow", "Keras' default"


def quick_keras_row() -> tuple[str, str]:
    """The one Keras row a default --quick probe runs, and why that one.

    The backend Keras is configured to use when its row can run; else the first installed one.
    """
    backend, source = keras_backend_setting()
    configured = f"keras/{backend}"
    candidates = ([configured] if configured in KERAS_ROWS else []) + [
        r for r in ("keras/tensorflow", "keras/jax", "keras/torch") if r != configured]
    for row in candidates:
        if all(is_installed(m) for m in ROWS[row].modules):
            if row == configured:
                return row, f"Keras' configured backend ({source})"
            return row, f"the configured backend {backend!r} ({source}) cannot run here"
    return (configured if configured in KERAS_ROWS else "keras/tensorflow"), "no backend installed"


def plan_rows(options: ProbeOptions) -> tuple[list[str], list[dict[str, str]]]:
    """The rows to run, in run order, and the rows left out on purpose (with the reason).

    A --quick probe without --frameworks measures Keras on one backend: importing TensorFlow,
    PyTorch and JAX once more under Keras costs 2-5 s each, a third of the 15 s budget.
    """
    if options.scaling_only:
        return [], []
    wanted = set(options.requested_rows())
    not_run: list[dict[str, str]] = []
    if options.quick and options.frameworks is None:
        keep, why = quick_keras_row()
        for row in KERAS_ROWS:
            if row != keep:
                wanted.discard(row)
                not_run.append({"name": row, "reason": (
                    f"--quick measures Keras on one backend, {keep}: {why}; drop --quick or "
                    "name the row in --frameworks to measure it")})
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
    except Exception:  # noqa: BLE001 - unknown memory: stay safe
        return "serial", "available memory unknown"
    if available < rows * STAGED_MEMORY_PER_ROW:
        return "serial", (f"{available / 2**30:.1f} GiB available is under "
                          f"{STAGED_MEMORY_PER_ROW / 2**30:.0f} GiB per row")
    return "staged", "default"


@dataclass
class ProgressEvent:
    kind: str  # "start" | "ready" (staged: waits for its turn) | "measure" (staged) | "done"
    name: str
    index: int  # 1-based position of the row
    total: int
    attempt: int = 1
    repeat: int = 1
    row: FrameworkRow | ScalingRow | None = None  # the finished row, typed


ProgressCallback = Callable[[ProgressEvent], None]


def scripts_dir() -> Path:
    """The probe scripts: ``ADVISOR_PROBES_DIR`` when set (custom or test probes), else bundled."""
    override = os.environ.get("ADVISOR_PROBES_DIR")
    return Path(override) if override else probes_dir()


def parse_frameworks(text: str | None) -> tuple[str, ...]:
    if not text:
        return ROW_NAMES
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    catalog.check_rows(names)
    return names


def is_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def typed(row: dict[str, Any]) -> FrameworkRow:
    """A pooled row as the probe document holds it (validated like a probe file's rows)."""
    return parse(FrameworkRow, row, f"row {row.get('name')}")


def run_probe(options: ProbeOptions, progress: ProgressCallback | None = None) -> ProbeDocument:
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
    epochs = options.epochs
    selected = options.selected_workloads()
    order, not_run = plan_rows(options)
    rows: dict[str, dict[str, Any]] = {}
    results: dict[str, list[ChildResult]] = {}
    runnable: list[str] = []
    for index, name in enumerate(order, start=1):
        spec = ROWS[name]
        missing = [m for m in spec.modules if not is_installed(m)]
        if missing:
            rows[name] = {"name": name, "status": "missing", "version": None, "devices": [],
                          "import_s": None, "workloads": {}, "install_hint": spec.install_hint,
                          "error": f"not installed: {', '.join(missing)}", "flags": []}
            notify(ProgressEvent("done", name, index, len(order), row=typed(rows[name])))
        elif not (folder / spec.script).is_file():
            results[name] = [ChildResult("broken", None, f"probe script not found: {spec.script}",
                                         None, 0)]
            rows[name] = pool_row(spec, results[name], selected, bool(gpus))
            notify(ProgressEvent("done", name, index, len(order), row=typed(rows[name])))
        else:
            runnable.append(name)
    startup, startup_reason = choose_startup(options.startup, len(runnable),
                                             host["usable_cores"] or 1)
    window = max(1, min(host["usable_cores"] or 1, len(runnable)))
    cache = tempfile.mkdtemp(prefix="advisor-probe-")
    models = Path(cache) / "models" if options.deploy is not None else None  # --save-model

    def args_for(name: str) -> list[str]:
        spec = ROWS[name]
        workloads = [w for w in spec.workloads if w in selected]
        return [options.python, str(folder / spec.script), "--threads", str(threads),
                "--epochs", str(epochs), "--seed", str(SEED), "--data-cache", cache,
                "--workloads", ",".join(workloads)] + \
            (["--save-model", str(models)] if models is not None else [])

    def finish_row(name: str) -> None:
        rows[name] = pool_row(ROWS[name], results[name], selected,
                              host_has_gpu=bool(gpus))
        notify(ProgressEvent("done", name, order.index(name) + 1, len(order),
                             row=typed(rows[name])))

    try:
        if startup == "staged":
            for attempt in range(1, options.repeat + 1):  # one round per repeat: bounded memory
                _staged_round(runnable, attempt, options, order, args_for, threads,
                              window, results, notify, finish_row)
        else:
            for name in runnable:
                for attempt in range(1, options.repeat + 1):
                    notify(ProgressEvent("start", name, order.index(name) + 1, len(order),
                                         attempt, options.repeat))
                    results.setdefault(name, []).append(run_child(
                        args_for(name), env=catalog.child_env(ROWS[name], threads),
                        timeout=options.timeout_s))
                    if results[name][-1].status != "ok":
                        break  # a failed run fails the row: no need to repeat it
                finish_row(name)
        deploy_report = None
        if options.deploy is not None and models is not None:
            from advisor.probe import deploy

            deploy_report = deploy.run_deploy(
                options.deploy, rows=rows, models=models, folder=folder, python=options.python,
                threads=threads, usable_cores=host["usable_cores"] or 1,
                notify=lambda kind, what, summary: notify(ProgressEvent(
                    "deploy" if kind == "start" else "done", f"deploy {what}", 0, 0,
                    row=None if kind == "start" else FrameworkRow(name=what, status="ok",
                                                                  error=summary))))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    scaling_report = None
    if options.scaling is not None:
        from advisor.probe import scaling

        sc_opts = options.scaling
        sc_opts.frameworks = tuple(n for n in sc_opts.frameworks
                                   if n in options.requested_rows())

        def relay(event: scaling.ScalingEvent) -> None:
            notify(ProgressEvent(event.kind, f"scaling {event.name}", event.index, event.total,
                                 row=event.row))

        scaling_report = scaling.run_scaling(
            sc_opts, host=host, gpus=gpus, folder=folder,
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
            "epochs": {"warmup": 1, "timed": epochs, "unit": "blocks of whole epochs",
                       "min_block_s": protocol.MIN_BLOCK_S},
            "quick": options.quick,
            "workloads": list(selected),
            "rows": order,
            "not_run": not_run,
            "startup": {"mode": startup, "why": startup_reason,
                        "window": window if startup == "staged" else 1},
            "repeat": options.repeat,
            "timeout_s": options.timeout_s,
            "load_avg_before": load_before,
            "load_avg_after": hardware.get_load_average(),
            "busy": is_busy(load_before, threads),
            "noise_limit": policy.NOISE_LIMIT,
            "cpu_matmul_peak_gflops": cpu_peak,
            "accuracy_gate": dict(policy.ACCURACY_GATE),
            "wall_s": round(time.perf_counter() - started_wall, 2),
            "child_env": {k: hardware.redact(v)
                          for k, v in catalog.child_env(ROWS["jax"], threads).items()
                          if (k not in os.environ or os.environ[k] != v)
                          and k != protocol.ENV_PROTOCOL},
        },
        "frameworks": frameworks,
        "workloads": workload_descriptions(frameworks),
    }
    if scaling_report is not None:
        report["scaling"] = scaling_report
    if deploy_report is not None:
        report["deploy"] = deploy_report
    return ProbeDocument.from_dict(report, "the probe's result")


def _staged_round(runnable: list[str], attempt: int, options: ProbeOptions, order: list[str],
                  args_for: Callable[[str], list[str]], threads: int,
                  window: int, results: dict[str, list[ChildResult]],
                  notify: ProgressCallback, finish_row: Callable[[str], None]) -> None:
    """One attempt of every row still standing: start-up side by side, training one at a time."""
    names = [n for n in runnable
             if all(r.status == "ok" for r in results.get(n, []))]  # a failed row is done
    jobs = [StagedJob(args_for(n) + ["--staged"], catalog.child_env(ROWS[n], threads))
            for n in names]

    def on_phase(phase: str, index: int, result: ChildResult | None) -> None:
        name = names[index]
        if phase != "done":
            notify(ProgressEvent(phase, name, order.index(name) + 1, len(order), attempt,
                                 options.repeat))
            return
        assert result is not None
        results.setdefault(name, []).append(result)
        if attempt == options.repeat or result.status != "ok":
            finish_row(name)

    run_staged(jobs, window=window, timeout=options.timeout_s, on_phase=on_phase)


def is_busy(load: list[float] | None, cores: int) -> bool:
    """Other work was competing for the cores the probe uses: its numbers are unreliable."""
    return bool(load) and load[0] > BUSY_LOAD_PER_CORE * cores


def workload_descriptions(frameworks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    common = {"dataset": "sklearn digits (bundled)", "split": "80/20 stratified, random_state=0",
              "scaling": "StandardScaler fit on train", "optimizer": "Adam lr 1e-3",
              "loss": "cross-entropy", "dtype": "float32"}
    return {
        "mlp-digits": {**common, "model": "64-128-64-10 MLP, ReLU", "batch_size": 32,
                       "train_flops_per_sample": _flops(frameworks, "mlp-digits")},
        "cnn-digits": {**common, "model": "1x8x8 -> conv3x3 32 -> conv3x3 64 -> maxpool2 -> "
                       "dense 128 -> dense 10, ReLU", "batch_size": 128,
                       "train_flops_per_sample": _flops(frameworks, "cnn-digits")},
    }


def _flops(frameworks: list[dict[str, Any]], workload: str) -> int | None:
    """Training FLOPs per sample of a workload, as the children that ran it count them."""
    return next((r["workloads"][workload]["train_flops_per_sample"] for r in frameworks
                 if r.get("workloads", {}).get(workload, {}).get("train_flops_per_sample")),
                None)


def pool_row(spec: Row, results: list[ChildResult],
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
    for key in ("backend", "backend_version", "float32_matmul_precision"):
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
            row["workloads"][workload] = pool_workload(workload, parts)
    if host_has_gpu and not row["sees_gpu"] and spec.name != "sklearn":
        row["flags"].append("gpu-not-visible")  # the host has a GPU this framework cannot use
    for workload, result in row["workloads"].items():
        if result["noisy"]:
            row["flags"].append(f"noisy:{workload}")
        if not result["learned"]:
            row["flags"].append(f"not-learned:{workload}")
    return row


def pool_workload(name: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    values = [v for p in parts for v in p["samples_per_s"].get("values", [])]
    stats = policy.summary(values)
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
        "train_flops_per_sample": parts[0].get("train_flops_per_sample"),
        "noisy": policy.is_noisy(median, iqr),
        "learned": policy.learned(name, accuracy),
    }
    if name == "cnn-digits":
        peak = max((p.get("peak_gflops") or 0 for p in parts), default=0) or None
        flops = parts[0].get("train_flops_per_sample")
        achieved = median * flops / 1e9 if median and flops else None
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
