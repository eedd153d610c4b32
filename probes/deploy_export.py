"""Deploy probe, export step: turn one row's trained models into one deployment format.

Run by ``advisor probe --deploy`` in a fresh process per row, after the training probe saved the
row's models with ``--save-model ROOT`` (harness.save_trained)::

    python deploy_export.py --exporter pytorch --row pytorch --formats onnx,executorch \
        --models ROOT --out ARTIFACTS --workloads mlp-digits,cnn-digits --threads 2 \
        --progress FILE

One process per row imports the framework once for all its formats; ``--progress`` gets a line
as each format starts and as each result is known, so when an exporter crashes or hangs the parent
keeps what was done, blames the format in progress and exports the rest in a fresh process.

``--exporter`` is the framework whose exporters run (``keras`` for every Keras row), ``--row``
the probe row whose saved models are read.

Prints ONE JSON object on stdout (harness.emit): ``{"status": "ok", "results": [...]}`` with one
result per (format, workload): ``workload``, ``status`` (ok | failed | unavailable), ``reason``,
``export_s`` (conversion alone, the framework already imported), ``size_bytes``, ``artifact``,
``tool`` (name and version), ``quantized``. Every model is exported for batch-1 inference (the
latency the deploy probe measures; mobile converters want static shapes anyway), in the input
layout the row trained with. A failed export is the exception's first line, never a crash.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # exports and runtimes measure the CPU path

ONNX_OPSET = 18


class Unavailable(Exception):
    """The tool for this path is not installed (the message says how to install it)."""


def size_of(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f))
                   for d, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)


def version_of(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a module without distribution metadata
        return "unknown"


def need(module: str, install: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise Unavailable(f"{module} is not installed ({install})") from exc


def load_arrays(folder: str) -> dict[str, Any]:
    import numpy as np

    with open(os.path.join(folder, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    return {"meta": meta, "inputs": np.load(os.path.join(folder, "inputs.npy")),
            "calibration": np.load(os.path.join(folder, "calibration.npy"))}


def int8_options(tf: Any, calibration: Any) -> dict[str, Any]:
    """LiteRT full-integer post-training quantisation, calibrated on the saved training slice:
    TFLiteConverter attributes (Keras' ``Model.export(format="litert")`` takes the same names)."""
    return {
        "optimizations": [tf.lite.Optimize.DEFAULT],
        "representative_dataset":
            lambda: ([calibration[i:i + 1]] for i in range(len(calibration))),
        "target_spec": tf.lite.TargetSpec(supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8]),
        "inference_input_type": tf.int8,
        "inference_output_type": tf.int8,
    }


def write_tflite(tf: Any, converter: Any, fmt: str, calibration: Any, out: str) -> str:
    """Convert (int8 for ``tflite_int8``) and write ``model.tflite`` under ``out``."""
    if fmt == "tflite_int8":
        for name, value in int8_options(tf, calibration).items():
            setattr(converter, name, value)
    path = os.path.join(out, "model.tflite")
    with open(path, "wb") as f:
        f.write(converter.convert())
    return path


# --------------------------------------------------------------------------------- pytorch
def torch_model(folder: str, workload: str) -> tuple[Any, Any]:
    import probe_pytorch
    import torch
    from torch import nn

    model = probe_pytorch.build(workload, nn)
    state = torch.load(os.path.join(folder, "model.pt"), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    example = torch.from_numpy(load_arrays(folder)["inputs"][:1])
    return model, example


def export_pytorch(fmt: str, folder: str, workload: str, out: str) -> tuple[str, str]:
    import torch

    model, example = torch_model(folder, workload)
    if fmt == "onnx":
        need("onnxscript", "pip install onnxscript")
        path = os.path.join(out, "model.onnx")
        with torch.no_grad():
            program = torch.onnx.export(model, (example,), dynamo=True, opset_version=ONNX_OPSET,
                                        input_names=["x"], output_names=["logits"],
                                        verbose=False)
        program.save(path)
        return path, f"torch.onnx (dynamo) {torch.__version__}"
    if fmt == "torch_export":
        path = os.path.join(out, "model.pt2")
        program = torch.export.export(model, (example,))
        torch.export.save(program, path)
        return path, f"torch.export {torch.__version__}"
    if fmt == "executorch":
        need("executorch", "pip install executorch")
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        path = os.path.join(out, "model.pte")
        program = torch.export.export(model, (example,))
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        with open(path, "wb") as f:
            f.write(lowered.to_executorch().buffer)
        return path, f"executorch {version_of('executorch')} (XNNPACK)"
    if fmt == "executorch_int8":
        return _executorch_int8(model, example, folder, out)
    if fmt == "coreml":
        ct = need("coremltools", "pip install coremltools")
        path = os.path.join(out, "model.mlpackage")
        program = torch.export.export(model, (example,)).run_decompositions({})
        ct.convert(program, convert_to="mlprogram").save(path)
        return path, f"coremltools {ct.__version__}"
    if fmt == "tflite_int8":
        raise Unavailable("int8 .tflite from PyTorch (litert-torch + ai-edge-quantizer) is not "
                          "wired in advisor's exporter")
    if fmt == "tflite":
        need("litert_torch", "pip install litert-torch")
        import litert_torch

        path = os.path.join(out, "model.tflite")
        litert_torch.convert(model, (example,)).export(path)
        return path, f"litert-torch {version_of('litert-torch')}"
    raise ValueError(f"no {fmt} exporter for pytorch")


def _executorch_int8(model: Any, example: Any, folder: str, out: str) -> tuple[str, str]:
    """int8 post-training quantisation (PT2E with XNNPACK's symmetric per-channel scheme,
    calibrated on the saved training slice), lowered to XNNPACK in an ExecuTorch program."""
    import torch

    need("executorch", "pip install executorch")
    need("torchao", "pip install torchao")
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from executorch.exir import to_edge_transform_and_lower
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(model, (example,)).module(), quantizer)
    calibration = torch.from_numpy(load_arrays(folder)["calibration"])
    with torch.no_grad():
        for i in range(len(calibration)):
            prepared(calibration[i:i + 1])
    quantized = convert_pt2e(prepared)
    program = torch.export.export(quantized, (example,))
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    path = os.path.join(out, "model.pte")
    with open(path, "wb") as f:
        f.write(lowered.to_executorch().buffer)
    return path, (f"executorch {version_of('executorch')} int8 (PT2E, XNNPACK quantizer, "
                  f"torchao {version_of('torchao')})")


# ------------------------------------------------------------------------------ tensorflow
def tf_function(folder: str, workload: str) -> tuple[Any, Any, Any, Any]:
    import numpy as np
    import probe_tensorflow
    import tensorflow as tf

    params, forward = probe_tensorflow.build(workload, tf)
    with np.load(os.path.join(folder, "params.npz")) as saved:
        for i, p in enumerate(params):
            p.assign(saved[f"arr_{i}"])
    arrays = load_arrays(folder)
    spec = tf.TensorSpec((1, *arrays["meta"]["input_shape"]), tf.float32, name="x")
    module = tf.Module()
    module.params = params
    module.serve = tf.function(forward, input_signature=[spec])
    return tf, module, spec, arrays


def export_tensorflow(fmt: str, folder: str, workload: str, out: str) -> tuple[str, str]:
    tf, module, spec, arrays = tf_function(folder, workload)
    concrete = module.serve.get_concrete_function()
    if fmt == "savedmodel":
        path = os.path.join(out, "savedmodel")
        tf.saved_model.save(module, path, signatures=concrete)
        return path, f"tf.saved_model {tf.__version__}"
    if fmt in ("tflite", "tflite_int8"):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
        path = write_tflite(tf, converter, fmt, arrays["calibration"], out)
        return path, f"tf.lite.TFLiteConverter {tf.__version__}"
    if fmt == "onnx":
        tf2onnx = need("tf2onnx", "pip install tf2onnx")
        path = os.path.join(out, "model.onnx")
        tf2onnx.convert.from_function(module.serve, input_signature=[spec], opset=ONNX_OPSET,
                                      output_path=path)
        return path, f"tf2onnx {tf2onnx.__version__}"
    if fmt == "coreml":
        ct = need("coremltools", "pip install coremltools")
        path = os.path.join(out, "model.mlpackage")
        ct.convert([concrete], source="tensorflow", convert_to="mlprogram").save(path)
        return path, f"coremltools {ct.__version__}"
    if fmt == "tfjs":
        need("tensorflowjs", "pip install tensorflowjs")
        saved = os.path.join(out, "savedmodel")
        tf.saved_model.save(module, saved, signatures=concrete)
        from tensorflowjs.converters import convert_tf_saved_model

        path = os.path.join(out, "tfjs")
        convert_tf_saved_model(saved, path)
        return path, f"tensorflowjs {version_of('tensorflowjs')}"
    raise ValueError(f"no {fmt} exporter for tensorflow")


# --------------------------------------------------------------------------------- sklearn
def export_sklearn(fmt: str, folder: str, workload: str, out: str) -> tuple[str, str]:
    import pickle

    with open(os.path.join(folder, "model.pkl"), "rb") as f:
        model = pickle.load(f)  # written by this run's own sklearn probe (harness.save_trained)
    if fmt == "onnx":
        skl2onnx = need("skl2onnx", "pip install skl2onnx")
        from skl2onnx.common.data_types import FloatTensorType

        path = os.path.join(out, "model.onnx")
        onx = skl2onnx.convert_sklearn(model, initial_types=[("x", FloatTensorType([1, 64]))],
                                       options={id(model): {"zipmap": False}})
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        return path, f"skl2onnx {skl2onnx.__version__}"
    if fmt == "coreml":
        ct = need("coremltools", "pip install coremltools")
        path = os.path.join(out, "model.mlmodel")
        ct.converters.sklearn.convert(model).save(path)
        return path, f"coremltools {ct.__version__}"
    raise ValueError(f"no {fmt} exporter for sklearn")


# ------------------------------------------------------------------------------------- jax
def export_jax(fmt: str, folder: str, workload: str, out: str) -> tuple[str, str]:
    """jax.export (StableHLO, loaded back by jax) and jax2tf into TensorFlow's formats."""
    import jax
    import probe_jax

    params = probe_jax.load_params(folder)
    arrays = load_arrays(folder)
    shape = (1, *arrays["meta"]["input_shape"])

    def fn(x: Any) -> Any:
        return probe_jax.forward(workload, params, x)

    if fmt == "jax_export":
        path = os.path.join(out, "model.jaxexport")
        exported = jax.export.export(jax.jit(fn))(jax.ShapeDtypeStruct(shape, "float32"))
        with open(path, "wb") as f:
            f.write(exported.serialize())
        return path, f"jax.export {jax.__version__}"
    import tensorflow as tf
    from jax.experimental import jax2tf

    spec = tf.TensorSpec(shape, tf.float32, name="x")
    module = tf.Module()
    module.serve = tf.function(jax2tf.convert(fn, with_gradient=False), input_signature=[spec],
                               autograph=False)
    concrete = module.serve.get_concrete_function()
    tool = f"jax2tf (jax {jax.__version__}, tensorflow {tf.__version__})"
    if fmt == "savedmodel":
        path = os.path.join(out, "savedmodel")
        tf.saved_model.save(module, path, signatures=concrete)
        return path, tool
    if fmt in ("tflite", "tflite_int8"):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
        path = write_tflite(tf, converter, fmt, arrays["calibration"], out)
        return path, tool + " + TFLiteConverter"
    if fmt == "onnx":
        tf2onnx = need("tf2onnx", "pip install tf2onnx")
        path = os.path.join(out, "model.onnx")
        tf2onnx.convert.from_function(module.serve, input_signature=[spec], opset=ONNX_OPSET,
                                      output_path=path)
        return path, tool + f" + tf2onnx {tf2onnx.__version__}"
    raise ValueError(f"no {fmt} exporter for jax")


# ----------------------------------------------------------------------------------- keras
def export_keras(fmt: str, folder: str, workload: str, out: str) -> tuple[str, str]:
    """Keras 3's own ``Model.export`` formats, on the backend of the row (KERAS_BACKEND)."""
    import keras

    import probe_keras

    model = keras.saving.load_model(os.path.join(folder, "model.keras"),
                                    custom_objects=probe_keras.custom_objects(keras))
    arrays = load_arrays(folder)
    spec = [keras.InputSpec(shape=(1, *arrays["meta"]["input_shape"]), dtype="float32")]
    tool = f"keras {keras.__version__} Model.export ({keras.backend.backend()})"
    if fmt == "savedmodel":
        path = os.path.join(out, "savedmodel")
        model.export(path, format="tf_saved_model", input_signature=spec, verbose=False)
        return path, tool
    if fmt == "onnx":
        need("onnx", "pip install onnx")
        path = os.path.join(out, "model.onnx")
        model.export(path, format="onnx", input_signature=spec, verbose=False)
        return path, tool
    if fmt in ("tflite", "tflite_int8"):
        if keras.backend.backend() == "torch":
            need("litert_torch", "pip install litert-torch")
        options: dict[str, Any] = {}
        if fmt == "tflite_int8":
            import tensorflow as tf

            options = int8_options(tf, arrays["calibration"])
        path = os.path.join(out, "model.tflite")
        model.export(path, format="litert", input_signature=spec, verbose=False, **options)
        return path, tool
    if fmt == "tfjs":
        need("tensorflowjs", "pip install tensorflowjs")
        from tensorflowjs.converters import save_keras_model

        path = os.path.join(out, "tfjs")
        save_keras_model(model, path)
        return path, f"tensorflowjs {version_of('tensorflowjs')}"
    raise ValueError(f"no {fmt} exporter for keras")


EXPORTERS: dict[str, Callable[[str, str, str, str], tuple[str, str]]] = {
    "pytorch": export_pytorch,
    "tensorflow": export_tensorflow,
    "sklearn": export_sklearn,
    "keras": export_keras,
    "jax": export_jax,
}


FRAMEWORK_MODULE = {"pytorch": "torch", "tensorflow": "tensorflow", "sklearn": "sklearn",
                    "keras": "keras", "jax": "jax"}
TOOL_MODULES = {  # (exporter, format) -> imported before the clock starts too, where installed
    ("pytorch", "onnx"): ("onnxscript",),
    ("pytorch", "executorch"): ("executorch.exir",
                                "executorch.backends.xnnpack.partition.xnnpack_partitioner"),
    ("pytorch", "executorch_int8"): ("executorch.exir", "torchao.quantization.pt2e"),
    ("pytorch", "coreml"): ("coremltools",),
    ("pytorch", "tflite"): ("litert_torch",),
    ("tensorflow", "onnx"): ("tf2onnx",),
    ("tensorflow", "coreml"): ("coremltools",),
    ("sklearn", "onnx"): ("skl2onnx",),
    ("sklearn", "coreml"): ("coremltools",),
    ("jax", "savedmodel"): ("tensorflow", "jax.experimental.jax2tf"),
    ("jax", "tflite"): ("tensorflow", "jax.experimental.jax2tf"),
    ("jax", "tflite_int8"): ("tensorflow", "jax.experimental.jax2tf"),
    ("jax", "onnx"): ("tensorflow", "jax.experimental.jax2tf", "tf2onnx"),
}


def warm_up(row: str, fmt: str) -> None:
    """Import the row's framework and the format's tool before the clock starts: ``export_s``
    is the conversion alone (a missing tool is reported by the exporter itself)."""
    import importlib
    import importlib.util

    importlib.import_module(FRAMEWORK_MODULE[row])
    for module in TOOL_MODULES.get((row, fmt), ()):
        try:
            if importlib.util.find_spec(module.split(".")[0]) is not None:
                importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - the exporter reports a broken tool itself
            print(f"warm-up import of {module} failed: {harness.error_line(exc)}",
                  file=sys.stderr)


def _not_installed(exc: ModuleNotFoundError) -> bool:
    """Is the missing module really absent from this environment? (Not an API that moved inside
    an installed package, nor a probes folder without its framework module.)"""
    import importlib.util

    top = (exc.name or "").split(".")[0]
    if not top or top.startswith("probe_"):
        return False
    try:
        return importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return False


def raise_as_failed(result: dict[str, Any], exc: BaseException) -> None:
    """Record an exporter's exception as a failed export (the traceback goes to stderr)."""
    import traceback

    traceback.print_exception(exc, file=sys.stderr)
    result["reason"] = f"export failed: {harness.error_line(exc)}"


def export_one(exporter: str, row: str, fmt: str, models: str, out: str,
               workload: str) -> dict[str, Any]:
    result: dict[str, Any] = {"workload": workload, "format": fmt, "status": "failed",
                              "reason": None, "export_s": None, "size_bytes": None,
                              "artifact": None, "tool": None, "quantized": fmt.endswith("_int8")}
    folder = harness.model_dir(models, row, workload)
    if not os.path.isfile(os.path.join(folder, "meta.json")):
        error = os.path.join(folder, harness.SAVE_ERROR)
        if os.path.isfile(error):  # the framework could not save its own trained model
            with open(error, encoding="utf-8", errors="replace") as f:
                result["reason"] = f"the framework could not save its model: {f.read(300)}"
            return result
        # the training probe's gap, not the framework's: no evidence either way
        result.update(status="unavailable",
                      reason="no trained model was saved by the training probe")
        return result
    target = os.path.join(out, row.replace("/", "_"), workload, fmt)
    os.makedirs(target, exist_ok=True)
    started = time.perf_counter()
    try:
        path, tool = EXPORTERS[exporter](fmt, folder, workload, target)
    except Unavailable as exc:
        result.update(status="unavailable", reason=str(exc))
        return result
    except ModuleNotFoundError as exc:
        if not _not_installed(exc):
            raise_as_failed(result, exc)
            return result
        # a tool the framework's exporter asks for (Keras on JAX -> ONNX needs jax2onnx): not
        # installed is no evidence either way, as with ``need``
        result.update(status="unavailable", reason=f"a tool is not installed: "
                                                   f"{harness.error_line(exc)}")
        return result
    except BaseException as exc:  # noqa: BLE001 - a failed export is a status
        raise_as_failed(result, exc)
        return result
    result.update(status="ok", export_s=round(time.perf_counter() - started, 4),
                  size_bytes=size_of(path), artifact=path, tool=tool)
    return result


def main(argv: list[str] | None = None) -> int:
    harness.capture_stdout()
    parser = argparse.ArgumentParser(description="advisor deploy probe: export")
    parser.add_argument("--exporter", required=True, choices=sorted(EXPORTERS))
    parser.add_argument("--row", required=True)
    parser.add_argument("--formats", required=True, help="comma-separated, exported in order")
    parser.add_argument("--models", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--workloads", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--progress", default=None,
                        help="file that gets one JSON line as each format starts and as each "
                             "result is known (kept by the parent if this process dies)")
    ns = parser.parse_args(argv)
    os.environ.update(harness.thread_env(ns.threads))
    formats = [f for f in ns.formats.split(",") if f]
    out: dict[str, Any] = {"status": "ok", "row": ns.row, "formats": formats, "results": []}

    def progress(item: dict[str, Any]) -> None:
        if ns.progress:
            with open(ns.progress, "a", encoding="utf-8") as f:
                f.write(json.dumps(item, sort_keys=True, allow_nan=False) + "\n")

    try:
        for fmt in formats:  # every tool imported before the first clock starts
            warm_up(ns.exporter, fmt)
        for fmt in formats:
            progress({"started": fmt})
            for workload in (w for w in ns.workloads.split(",") if w):
                result = export_one(ns.exporter, ns.row, fmt, ns.models, ns.out, workload)
                out["results"].append(result)
                progress(result)
    except BaseException as exc:  # noqa: BLE001 - the framework itself cannot be imported
        out.update(status="broken", error=harness.error_line(exc))
    harness.emit(out)
    return 0


if __name__ == "__main__":
    harness.exit_now(main())
