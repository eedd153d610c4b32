"""``advisor probe --deploy``: take each row's trained models to its targets, measured.

After the training probe (whose children saved their models with ``--save-model``), every
(row, format) the answered targets need is exported in a fresh process (probes/deploy_export.py)
and the artifacts are run in their runtime in another fresh process (probes/deploy_run.py), each
with a timeout, through the probe runner (crash, hang, garbage and Ctrl-C become statuses). Export
children run side by side (one per usable core); runtime children one at a time, since they
time batch-1 latency.

The probe document gains ``deploy.rows``: one row per (row, workload, target, format) with
``status`` ok | failed | unavailable | timeout and a one-line ``reason`` (DESIGN.md "Probe JSON").
One measurement of an artifact serves every target that uses the format (the ONNX file is what
onnxruntime runs on a server, ONNX Runtime Mobile on a phone and onnxruntime-web in a browser).

Statuses, decided here once:
- ``ok``: exported, loaded and run; top-1 agreement with the framework's own predictions on the
  test split >= ``PARITY_MIN`` (a quantised model: accuracy drop <= ``INT8_MAX_DROP`` instead).
- ``failed``: the exporter or the runtime raised (the reason is the exception's first line), the
  framework could not save its trained model, the child crashed or printed garbage, or the
  predictions differ.
- ``unavailable``: the tool is not installed (the reason is how to install it, and why it may not
  share this environment; an exporter's ModuleNotFoundError counts only when that module is
  really absent), the training probe saved no model, advisor has no path for that framework and
  target, or the artifact was converted but cannot run here (Core ML needs macOS; a TF.js model
  runs in a browser).
- ``timeout``: the child did not answer within the timeout and was killed.

Decision facts (``probe.deploy.<candidate>.<target>``, declared in rules/deploy_measured.yaml):
``ok`` when some path of one of the candidate's rows is ok for the target, ``failed`` when every
path that ran failed, absent (unknown) otherwise. :func:`measurer` turns them into rating changes
on the ``deployment`` criterion for the answered targets, listed as measurements.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.infra.errors import BadInput
from advisor.probe import catalog

if TYPE_CHECKING:  # the decision half (facts, measurer) runs without the runner
    from advisor.probe.runner import ChildResult

# Every target of the deploy_targets question but "none" (DESIGN.md question ids).
TARGETS = ("server", "desktop", "edge_linux", "mobile_android", "mobile_ios", "browser",
           "microcontroller")
STATUSES = ("ok", "failed", "unavailable", "timeout")
NO_FORMAT = "none"  # the format of a row for a (framework, target) advisor has no path for
PARITY_MIN = 0.99  # top-1 agreement with the framework's own predictions for an ok float path
INT8_MAX_DROP = 0.05  # test-accuracy drop an int8 model may have and still be ok
WARMUP_CALLS = 10  # batch-1 calls before the timed ones (the timed ones: the whole test split)
EXPORT_SCRIPT = "deploy_export.py"
RUN_SCRIPT = "deploy_run.py"

# Tools that cannot share the pinned environment (resolver dry runs against torch 2.13 CPU,
# tensorflow-cpu 2.21, pydantic 2.14, numpy 2.4, protobuf 7, late 2026).
LITERT_TORCH_CONFLICT = ("litert-torch 0.10 needs typing-extensions<4.13 (through "
                         "litert-converter -> xdsl), pydantic 2.14 needs >=4.16: install it in "
                         "an environment of its own")
TFJS_CONFLICT = ("tensorflowjs 4.22 pulls the full tensorflow 2.19, tf-keras, "
                 "tensorflow-decision-forests and packaging 23 (downgrading numpy and protobuf): "
                 "install it in an environment of its own")


@dataclass(frozen=True)
class Format:
    """A deployment format: the file its exporter writes and the runtime that runs it."""

    name: str
    title: str
    runtime: str  # what runs it on the target
    runtime_modules: tuple[str, ...]  # what runs it here (empty: never run here)
    not_run: str | None = None  # why it is converted but not run on this machine
    quantized: bool = False


FORMATS: Mapping[str, Format] = {f.name: f for f in (
    Format("onnx", "ONNX", "onnxruntime (Mobile on phones, onnxruntime-web in browsers)",
           ("onnxruntime",)),
    Format("torch_export", "torch.export (.pt2)", "torch.export.load", ("torch",)),
    Format("executorch", "ExecuTorch (.pte, XNNPACK)", "ExecuTorch runtime", ("executorch",)),
    Format("savedmodel", "SavedModel (TF Serving)", "tf.saved_model.load", ("tensorflow",)),
    Format("jax_export", "jax.export (StableHLO)", "jax.export.deserialize", ("jax",)),
    Format("tflite", "LiteRT (.tflite)", "LiteRT interpreter (ai-edge-litert)",
           ("ai_edge_litert",)),
    Format("tflite_int8", "LiteRT int8 (.tflite)", "LiteRT / LiteRT for Microcontrollers",
           ("ai_edge_litert",), quantized=True),
    # int8 post-training quantisation (PT2E, XNNPACK's symmetric per-channel scheme), run here by
    # ExecuTorch's XNNPACK kernels; on a microcontroller ExecuTorch's Arm (Cortex-M) backend runs it
    Format("executorch_int8", "ExecuTorch int8 (.pte)", "ExecuTorch runtime (Arm backend on "
           "Cortex-M; XNNPACK here)", ("executorch",), quantized=True),
    Format("coreml", "Core ML", "Core ML (iOS, macOS)", (),
           not_run="converted, not run: the Core ML runtime needs macOS"),
    Format("tfjs", "TF.js", "TensorFlow.js (browser)", (),
           not_run="converted, not run: a TF.js model runs in a browser or Node.js"),
)}


@dataclass(frozen=True)
class Tool:
    """The exporter of one (framework, format): modules it needs, how to install them."""

    modules: tuple[str, ...]
    install: str
    conflict: str | None = None  # why it cannot share the pinned environment


# (exporter, format) -> Tool; the exporter is the framework of a row (catalog.Row.deploy_exporter)
TOOLS: Mapping[tuple[str, str], Tool] = {
    ("pytorch", "onnx"): Tool(("onnx", "onnxscript"), "pip install onnx onnxscript"),
    ("pytorch", "torch_export"): Tool((), ""),
    ("pytorch", "executorch"): Tool(("executorch",), "pip install executorch"),
    ("pytorch", "executorch_int8"): Tool(("executorch", "torchao"), "pip install executorch"),
    ("pytorch", "coreml"): Tool(("coremltools",), "pip install coremltools"),
    ("pytorch", "tflite"): Tool(("litert_torch",), "pip install litert-torch",
                                LITERT_TORCH_CONFLICT),
    ("pytorch", "tflite_int8"): Tool(("litert_torch", "ai_edge_quantizer"),
                                     "pip install litert-torch ai-edge-quantizer",
                                     LITERT_TORCH_CONFLICT),
    ("tensorflow", "onnx"): Tool(("tf2onnx",), "pip install tf2onnx"),
    ("tensorflow", "savedmodel"): Tool((), ""),
    ("tensorflow", "tflite"): Tool((), ""),
    ("tensorflow", "tflite_int8"): Tool((), ""),
    ("tensorflow", "coreml"): Tool(("coremltools",), "pip install coremltools"),
    ("tensorflow", "tfjs"): Tool(("tensorflowjs",), "pip install tensorflowjs", TFJS_CONFLICT),
    ("keras", "savedmodel"): Tool(("tensorflow",), "pip install tensorflow"),
    ("keras", "onnx"): Tool(("onnx",), "pip install onnx onnxscript tf2onnx"),
    ("keras", "tflite"): Tool(("tensorflow",), "pip install tensorflow"),
    ("keras", "tflite_int8"): Tool(("tensorflow",), "pip install tensorflow"),
    ("keras", "tfjs"): Tool(("tensorflowjs",), "pip install tensorflowjs", TFJS_CONFLICT),
    ("jax", "jax_export"): Tool((), ""),
    ("jax", "savedmodel"): Tool(("tensorflow",), "pip install tensorflow"),
    ("jax", "tflite"): Tool(("tensorflow",), "pip install tensorflow"),
    ("jax", "tflite_int8"): Tool(("tensorflow",), "pip install tensorflow"),
    ("jax", "onnx"): Tool(("tensorflow", "tf2onnx"), "pip install tensorflow tf2onnx"),
    ("sklearn", "onnx"): Tool(("skl2onnx",), "pip install skl2onnx"),
    ("sklearn", "coreml"): Tool(("coremltools",), "pip install coremltools"),
}


@dataclass(frozen=True)
class Path_:
    """One planned measurement: a row's workload in one format (serves several targets)."""

    row: str
    workload: str
    format: str


@dataclass
class DeployOptions:
    targets: tuple[str, ...] = ("server",)
    timeout_s: float = 120.0

    def validate(self) -> None:
        unknown = [t for t in self.targets if t not in TARGETS]
        if unknown or not self.targets:
            raise BadInput(f"unknown deploy target(s) {', '.join(unknown) or '(none)'}; "
                           f"choose from {', '.join(TARGETS)}")


def parse_targets(text: str | None) -> tuple[str, ...]:
    """``--targets server,mobile_android`` -> a validated tuple (default: server)."""
    names = tuple(dict.fromkeys(t.strip() for t in (text or "server").split(",") if t.strip()))
    DeployOptions(names).validate()
    return names


def targets_from_answers(values: Iterable[str] | None) -> tuple[str, ...]:
    """The targets a project answered (``advisor run`` measures only those)."""
    return tuple(t for t in (values or ()) if t in TARGETS)


def formats_for(row: str, target: str) -> tuple[str, ...]:
    spec = catalog.ROWS.get(row)
    return tuple(spec.deploy.get(target, ())) if spec is not None else ()


# --------------------------------------------------------------------------------- running
# Progress: (kind, what, summary): kind "start" when a child starts, "done" (with a one-line
# summary of its paths' statuses) when it is finished.
Notify = Callable[[str, str, str], None]


def run_deploy(options: DeployOptions, *, rows: Mapping[str, Mapping[str, Any]],
               models: Path, folder: Path, python: str, threads: int, usable_cores: int,
               notify: Notify | None = None,
               installed: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Export and run every path of ``options.targets`` for the rows that trained (``rows``:
    name -> probe row with its status and workloads); the ``deploy`` part of the probe JSON."""
    options.validate()
    say = notify or (lambda kind, what, summary: None)
    if installed is None:
        from advisor.probe.plan import installed_checker

        installed = installed_checker(python)
    has = installed
    started = time.perf_counter()
    out_dir = Path(str(models) + "-artifacts")
    results: dict[Path_, dict[str, Any]] = {}
    plan: list[tuple[str, str, str]] = []  # (row, target, format or "")
    for name, row in rows.items():
        if row.get("status") != "ok":
            continue
        for target in options.targets:
            formats = formats_for(name, target) or ("",)
            plan.extend((name, target, f) for f in formats)
    exports: dict[tuple[str, str], list[str]] = {}  # (row, format) -> workloads to export
    for name, _target, fmt in plan:
        if not fmt:
            continue
        for workload in (rows[name].get("workloads") or {}):
            key = Path_(name, workload, fmt)
            if key in results:
                continue
            missing = _missing_tool(name, fmt, has)
            if missing is not None:
                results[key] = _result("unavailable", missing)
                continue
            results[key] = {}  # placeholder: to export
            exports.setdefault((name, fmt), []).append(workload)
    try:
        _export_all(exports, results, models, out_dir, folder, python, threads, usable_cores,
                    options.timeout_s, say)
        _run_all(results, models, folder, python, threads, options.timeout_s, say, has)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    deploy_rows = []
    for name, target, fmt in plan:
        if not fmt:
            for workload in (rows[name].get("workloads") or {}):
                deploy_rows.append(_row(name, workload, target, NO_FORMAT, _result(
                    "unavailable", f"advisor has no export path from {name} to {target}")))
            continue
        for workload in (rows[name].get("workloads") or {}):
            deploy_rows.append(_row(name, workload, target, fmt, results[Path_(name, workload,
                                                                              fmt)]))
    return {
        "targets": list(options.targets),
        "parity_min": PARITY_MIN,
        "int8_max_drop": INT8_MAX_DROP,
        "warmup_calls": WARMUP_CALLS,
        "wall_s": round(time.perf_counter() - started, 2),
        "rows": deploy_rows,
    }


# A row whose exporter needs more than its framework's (exporter, format) tool: Keras 3 exports
# ONNX per backend (Model.export), and on JAX it asks for jax2onnx.
ROW_TOOLS: Mapping[tuple[str, str], Tool] = {
    ("keras/jax", "onnx"): Tool(("onnx", "jax2onnx"), "pip install jax2onnx"),
}


def _missing_tool(row: str, fmt: str, has: Callable[[str], bool]) -> str | None:
    spec = catalog.ROWS[row]
    tool = ROW_TOOLS.get((row, fmt)) or TOOLS.get((spec.deploy_exporter or "", fmt))
    if tool is None:
        return f"advisor has no {FORMATS[fmt].title} exporter for {row}"
    lacking = [m for m in tool.modules if not has(m)]
    lacking += [m for m in FORMATS[fmt].runtime_modules if not has(m) and m not in lacking]
    if not lacking:
        return None
    why = f"not installed: {', '.join(lacking)} ({tool.install or 'pip install advisor[deploy]'})"
    return f"{why}; {tool.conflict}" if tool.conflict else why


def _result(status: str, reason: str | None, **values: Any) -> dict[str, Any]:
    return {"status": status, "reason": reason, **values}


def _row(row: str, workload: str, target: str, fmt: str,
         got: Mapping[str, Any]) -> dict[str, Any]:
    runtime = got.get("runtime")
    if isinstance(runtime, Mapping):  # deploy_run.py's {name, version}: "onnxruntime 1.32.0"
        runtime = " ".join(str(runtime[k]) for k in ("name", "version") if runtime.get(k))
    return {
        "row": row, "workload": workload, "target": target, "format": fmt,
        "runtime": runtime or None,
        "tool": got.get("tool"),
        "status": got.get("status", "failed"),
        "reason": got.get("reason"),
        "export_s": got.get("export_s"),
        "size_bytes": got.get("size_bytes"),
        "load_s": got.get("load_s"),
        "latency_ms": got.get("latency_ms"),
        "parity": got.get("parity"),
        "quantized": bool(FORMATS[fmt].quantized) if fmt in FORMATS else False,
        "accuracy": got.get("accuracy"),
        "accuracy_drop": got.get("accuracy_drop"),
    }


def _child_env(row: str, threads: int) -> dict[str, str]:
    env = catalog.child_env(catalog.ROWS[row], threads)
    env["CUDA_VISIBLE_DEVICES"] = ""  # deployment paths are measured on the CPU
    return env


def _export_all(exports: Mapping[tuple[str, str], list[str]],
                results: dict[Path_, dict[str, Any]], models: Path, out_dir: Path,
                folder: Path, python: str, threads: int, usable_cores: int, timeout: float,
                say: Notify) -> None:
    """One export child per row (the framework imported once for all its formats), up to one
    per usable core side by side; a child that dies is replaced for the formats it left."""
    from concurrent.futures import ThreadPoolExecutor

    from advisor.probe.runner import kill_all_children

    per_row: dict[str, list[str]] = {}
    workloads: dict[str, list[str]] = {}
    for (row, fmt), wls in exports.items():
        per_row.setdefault(row, []).append(fmt)
        workloads.setdefault(row, [])
        workloads[row].extend(w for w in wls if w not in workloads[row])
    if not per_row:
        return
    window = max(1, min(usable_cores, len(per_row)))
    per_child = max(1, threads // window)
    lock = threading.Lock()

    def one(row: str) -> None:
        got = _export_row(row, per_row[row], workloads[row], models, out_dir, folder, python,
                          per_child, timeout, say)
        with lock:
            for key, value in got.items():
                if key in results:
                    results[key] = value

    if window == 1:
        for row in per_row:
            one(row)
        return
    pool = ThreadPoolExecutor(max_workers=window)
    try:
        for future in [pool.submit(one, row) for row in per_row]:
            future.result()
    except BaseException:
        kill_all_children()  # Ctrl-C: the exports still running go with us
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _export_row(row: str, formats: list[str], workloads: list[str], models: Path, out_dir: Path,
                folder: Path, python: str, threads: int, timeout: float,
                say: Notify) -> dict[Path_, dict[str, Any]]:
    """Export one row's formats; each format gets ``timeout`` seconds (see _run_watched)."""

    spec = catalog.ROWS[row]
    got: dict[Path_, dict[str, Any]] = {}
    left = list(formats)
    attempt = 0
    while left:
        attempt += 1
        what = f"export {row} -> {', '.join(FORMATS[f].title for f in left)}"
        say("start", what, "")
        progress = out_dir / f"progress-{row.replace('/', '_')}-{attempt}.jsonl"
        progress.parent.mkdir(parents=True, exist_ok=True)
        args = [python, str(folder / EXPORT_SCRIPT), "--exporter", spec.deploy_exporter or row,
                "--row", row, "--formats", ",".join(left), "--models", str(models),
                "--out", str(out_dir), "--workloads", ",".join(workloads),
                "--threads", str(threads), "--progress", str(progress)]
        child = _run_watched(args, _child_env(row, threads), timeout, progress)
        started, done = _read_progress(progress)
        if child.status == "ok":
            done.update({(item["format"], item["workload"]): item
                         for item in _child_items(child)})
        for (fmt, workload), item in done.items():
            got[Path_(row, workload, fmt)] = item
        finished = [f for f in left if all((f, w) in done for w in workloads)]
        if child.status == "ok" and not finished:  # answered, but not for these formats
            finished = list(left)
        if child.status != "ok" and child.payload is not None:
            # the child answered "broken": the framework itself failed before any export
            for fmt in left:
                for workload in workloads:
                    got.setdefault(Path_(row, workload, fmt),
                                   _result("failed", f"export child: {child.error}"))
            finished = list(left)
        elif child.status != "ok":
            # the format in progress when the child died (or the first one, if none started)
            blamed = next((f for f in reversed(started) if f not in finished), None) or \
                next(f for f in left if f not in finished)
            for workload in workloads:
                key = Path_(row, workload, blamed)
                if (blamed, workload) not in done:
                    got[key] = _child_failure(child, f"export to {blamed}")
            finished.append(blamed)
        for fmt in left:
            if fmt in finished:
                for workload in workloads:
                    got.setdefault(Path_(row, workload, fmt),
                                   _result("failed", "the export child gave no result for it"))
        say("done", what, _summary(got[Path_(row, w, f)] for f in left if f in finished
                                   for w in workloads if Path_(row, w, f) in got))
        left = [f for f in left if f not in finished]
    return got


def _run_watched(args: list[str], env: dict[str, str], timeout: float,
                 progress: Path) -> ChildResult:
    """Run an export child; it times out only when ``timeout`` seconds pass without a new line
    in its progress file (a format started or finished), so a row with many formats gets
    ``timeout`` per step, and a hang in one format is caught after ``timeout``."""
    from advisor.probe.runner import Child

    child = Child(args, env=env).start()
    if child.result is not None:
        return child.result
    timed_out = False
    seen = -1
    deadline = time.monotonic() + timeout
    try:
        while child.wait(min(deadline, time.monotonic() + 1.0)):
            try:
                size = progress.stat().st_size
            except OSError:
                size = 0
            if size != seen:
                seen, deadline = size, time.monotonic() + timeout
            if time.monotonic() >= deadline:
                timed_out = True
                break
    finally:
        result = child.finish(timed_out, timeout)
    return result


def _read_progress(path: Path) -> tuple[list[str], dict[tuple[str, str], dict[str, Any]]]:
    """Formats started, and results written, by an export child (its --progress file)."""
    import json

    started: list[str] = []
    done: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return started, done
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("started"), str):
            started.append(item["started"])
        elif isinstance(item.get("format"), str) and isinstance(item.get("workload"), str) \
                and item.get("status") in STATUSES:
            done[(item["format"], item["workload"])] = item
    return started, done


def _child_items(got: ChildResult) -> list[dict[str, Any]]:
    payload = got.payload if got.status == "ok" else None
    items = payload.get("results") if isinstance(payload, dict) else None
    return [i for i in items if isinstance(i, dict) and isinstance(i.get("format"), str)
            and isinstance(i.get("workload"), str) and i.get("status") in STATUSES] \
        if isinstance(items, list) else []


def _run_all(results: dict[Path_, dict[str, Any]], models: Path, folder: Path, python: str,
             threads: int, timeout: float, say: Notify, has: Callable[[str], bool]) -> None:
    """One runtime child per (row, format) with exported artifacts, one at a time."""
    from advisor.probe.runner import run_child

    groups: dict[tuple[str, str], list[Path_]] = {}
    for key, exported in results.items():
        if exported.get("status") != "ok" or exported.get("measured"):
            continue
        spec = FORMATS[key.format]
        if spec.not_run:
            exported.update(status="unavailable",
                            reason=f"{spec.not_run} ({exported.get('size_bytes') or 0:,} bytes)",
                            runtime=spec.runtime)
            continue
        groups.setdefault((key.row, key.format), []).append(key)
    for (row, fmt), keys in groups.items():
        what = f"run {row} {FORMATS[fmt].title}"
        say("start", what, "")
        args = [python, str(folder / RUN_SCRIPT), "--format", fmt, "--threads", str(threads),
                "--warmup", str(WARMUP_CALLS)]
        for key in keys:
            model_dir = _model_dir(models, key.row, key.workload)
            args += ["--artifact", f"{key.workload}={results[key]['artifact']}={model_dir}"]
        child = run_child(args, env=_child_env(row, threads), timeout=timeout)
        by_workload = _child_results(child)
        for key in keys:
            ran = by_workload.get(key.workload) or _child_failure(child, "runtime")
            results[key] = _judge(results[key], ran)
        say("done", what, _summary(results[key] for key in keys))


def _summary(results: Iterable[Mapping[str, Any]]) -> str:
    return ", ".join(str(r.get("status")) for r in results)


def _model_dir(models: Path, row: str, workload: str) -> str:
    return str(models / row.replace("/", "_") / workload)  # harness.model_dir's layout


def _child_results(got: ChildResult) -> dict[str, dict[str, Any]]:
    return {item["workload"]: item for item in _child_items(got)}


def _child_failure(got: ChildResult, step: str) -> dict[str, Any]:
    """A child that timed out, crashed or printed garbage: the status of all it was to do."""
    if got.status == "timeout":
        return _result("timeout", f"{step}: {got.error}")
    return _result("failed", f"{step} child: {got.error or got.status}")


def _judge(exported: Mapping[str, Any], ran: Mapping[str, Any]) -> dict[str, Any]:
    """Join an export's and a run's results and decide the path's status (module docstring)."""
    out = dict(exported)
    out["measured"] = True
    for key in ("runtime", "load_s", "latency_ms", "parity", "accuracy", "accuracy_drop"):
        out[key] = ran.get(key)
    if ran.get("status") != "ok":
        out.update(status=ran.get("status", "failed"), reason=ran.get("reason"))
        return out
    parity = ran.get("parity") or {}
    agreement = parity.get("top1_agreement")
    drop = ran.get("accuracy_drop")
    if exported.get("quantized"):
        if not isinstance(drop, (int, float)) or drop > INT8_MAX_DROP:
            out.update(status="failed", reason=f"int8 model loses {drop} test accuracy "
                                               f"(limit {INT8_MAX_DROP})")
            return out
    elif not isinstance(agreement, (int, float)) or agreement < PARITY_MIN:
        out.update(status="failed", reason=f"predictions differ from the framework's: top-1 "
                                           f"agreement {agreement} (limit {PARITY_MIN})")
        return out
    out.update(status="ok", reason=None)
    return out
