"""Deploy probe, runtime step: load exported artifacts in their runtime and measure them.

Run by ``advisor probe --deploy`` in a fresh process per (row, format), after deploy_export.py::

    python deploy_run.py --format onnx --threads 2 --warmup 10 \
        --artifact mlp-digits=ART/model.onnx=MODELS/pytorch/mlp-digits ...

For each artifact: the runtime's load time (``load_s``, the runtime module already imported),
then one warm-up pass of ``--warmup`` batch-1 calls, then one batch-1 call per test sample (360 on
digits, at least 50): ``latency_ms`` p50/p99/n over those calls, and ``parity`` of their outputs
with the framework's own outputs saved by the training probe (top-1 agreement, largest absolute
difference). A quantised (int8) model also gets its test accuracy and ``accuracy_drop`` against
the framework's float model. Prints ONE JSON object: ``{"status": "ok", "results": [...]}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

MIN_CALLS = 50

# format -> (runtime name, module whose version is reported)
RUNTIMES = {
    "onnx": ("onnxruntime", "onnxruntime"),
    "tflite": ("ai-edge-litert", "ai-edge-litert"),
    "tflite_int8": ("ai-edge-litert", "ai-edge-litert"),
    "executorch": ("executorch", "executorch"),
    "executorch_int8": ("executorch", "executorch"),
    "torch_export": ("torch.export", "torch"),
    "savedmodel": ("tensorflow", "tensorflow-cpu"),
    "jax_export": ("jax.export", "jax"),
}


def version_of(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    for name in (dist, dist.replace("-cpu", "")):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def percentile(values: list[float], p: float) -> float:
    xs = sorted(values)
    pos = (len(xs) - 1) * p
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# A loader returns a batch-1 predict function: float32 array (1, ...) -> float32 array (1, k).
Loader = Callable[[str, int], Callable[[Any], Any]]


def load_onnx(path: str, threads: int) -> Callable[[Any], Any]:
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    # skl2onnx models answer (label, probabilities): take the float one
    outputs = [o.name for o in session.get_outputs() if "float" in o.type]
    chosen = outputs[-1] if outputs else session.get_outputs()[0].name
    return lambda x: np.asarray(session.run([chosen], {name: x})[0], dtype=np.float32)


def load_tflite(path: str, threads: int) -> Callable[[Any], Any]:
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    in_scale, in_zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    quantized_in = inp["dtype"] in (np.int8, np.uint8)
    quantized_out = out["dtype"] in (np.int8, np.uint8)

    def predict(x: Any) -> Any:
        if quantized_in:
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / in_scale + in_zero), info.min, info.max).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])
        if quantized_out:
            return (y.astype(np.float32) - out_zero) * out_scale
        return y.astype(np.float32)

    return predict


def load_executorch(path: str, threads: int) -> Callable[[Any], Any]:
    import torch
    from executorch.runtime import Runtime

    torch.set_num_threads(threads)
    method = Runtime.get().load_program(path).load_method("forward")
    return lambda x: method.execute([torch.from_numpy(x)])[0].numpy()


def load_torch_export(path: str, threads: int) -> Callable[[Any], Any]:
    import torch

    torch.set_num_threads(threads)
    module = torch.export.load(path).module()

    def predict(x: Any) -> Any:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return predict


def load_savedmodel(path: str, threads: int) -> Callable[[Any], Any]:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    return lambda x: next(iter(serve(tf.constant(x)).values())).numpy()


def load_jax_export(path: str, threads: int) -> Callable[[Any], Any]:
    import jax
    import numpy as np

    with open(path, "rb") as f:
        exported = jax.export.deserialize(bytearray(f.read()))
    call = jax.jit(exported.call)
    return lambda x: np.asarray(call(x))


LOADERS: dict[str, Loader] = {
    "onnx": load_onnx,
    "tflite": load_tflite,
    "tflite_int8": load_tflite,
    "executorch": load_executorch,
    "executorch_int8": load_executorch,
    "torch_export": load_torch_export,
    "savedmodel": load_savedmodel,
    "jax_export": load_jax_export,
}
IMPORTS = {"onnx": "onnxruntime", "tflite": "ai_edge_litert.interpreter",
           "tflite_int8": "ai_edge_litert.interpreter", "executorch": "executorch.runtime",
           "executorch_int8": "executorch.runtime", "torch_export": "torch",
           "savedmodel": "tensorflow", "jax_export": "jax"}


def measure(fmt: str, workload: str, artifact: str, model: str, threads: int,
            warmup: int) -> dict[str, Any]:
    import numpy as np

    name, dist = RUNTIMES[fmt]
    result: dict[str, Any] = {"workload": workload, "format": fmt, "status": "failed",
                              "reason": None, "runtime": {"name": name,
                                                          "version": version_of(dist)},
                              "load_s": None, "latency_ms": None, "parity": None,
                              "accuracy": None, "reference_accuracy": None,
                              "accuracy_drop": None}
    inputs = np.load(os.path.join(model, "inputs.npy"))
    reference = np.load(os.path.join(model, "outputs.npy"))
    labels = np.load(os.path.join(model, "labels.npy"))
    try:
        started = time.perf_counter()
        predict = LOADERS[fmt](artifact, threads)
        result["load_s"] = round(time.perf_counter() - started, 4)
        for i in range(warmup):
            predict(inputs[i % len(inputs):i % len(inputs) + 1])
        times, outputs = [], []
        for i in range(len(inputs)):
            x = inputs[i:i + 1]
            t0 = time.perf_counter()
            y = predict(x)
            times.append(time.perf_counter() - t0)
            outputs.append(np.asarray(y, dtype=np.float32).reshape(1, -1))
    except BaseException as exc:  # noqa: BLE001 - the runtime refused the artifact: a status
        import traceback

        traceback.print_exc(file=sys.stderr)
        result["reason"] = f"runtime failed: {harness.error_line(exc)}"
        return result
    got = np.concatenate(outputs)
    if got.shape != reference.shape or not np.all(np.isfinite(got)):
        result["reason"] = (f"runtime answered shape {list(got.shape)} (expected "
                            f"{list(reference.shape)}) or non-finite values")
        return result
    agreement = float((got.argmax(1) == reference.argmax(1)).mean())
    reference_accuracy = float((reference.argmax(1) == labels).mean())
    accuracy = float((got.argmax(1) == labels).mean())
    result.update(
        status="ok",
        latency_ms={"p50": round(percentile(times, 0.5) * 1e3, 4),
                    "p99": round(percentile(times, 0.99) * 1e3, 4), "n": len(times)},
        parity={"top1_agreement": round(agreement, 4),
                "max_abs_diff": float(f"{float(np.abs(got - reference).max()):.6g}")},
        accuracy=round(accuracy, 4),
        reference_accuracy=round(reference_accuracy, 4),
        accuracy_drop=round(reference_accuracy - accuracy, 4),
    )
    return result


def main(argv: list[str] | None = None) -> int:
    harness.capture_stdout()
    parser = argparse.ArgumentParser(description="advisor deploy probe: runtime")
    parser.add_argument("--format", required=True, choices=sorted(LOADERS))
    parser.add_argument("--artifact", action="append", default=[],
                        help="WORKLOAD=ARTIFACT=MODEL_DIR (repeatable)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10)
    ns = parser.parse_args(argv)
    os.environ.update(harness.thread_env(ns.threads))
    out: dict[str, Any] = {"status": "ok", "format": ns.format, "results": []}
    try:
        started = time.perf_counter()
        __import__(IMPORTS[ns.format])
        out["import_s"] = round(time.perf_counter() - started, 4)
        for spec in ns.artifact:
            workload, artifact, model = spec.split("=", 2)
            out["results"].append(measure(ns.format, workload, artifact, model, ns.threads,
                                          ns.warmup))
    except BaseException as exc:  # noqa: BLE001 - the runtime cannot even be imported
        out.update(status="broken", error=harness.error_line(exc))
    harness.emit(out)
    return 0


if __name__ == "__main__":
    harness.exit_now(main())
