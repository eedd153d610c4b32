"""The probe catalogue: every row advisor can measure, in one place.

A row is one framework (or one Keras backend) measured in its own fresh process. Its entry says
which script measures it, which top-level modules must be installed, how to install them, the
environment its child gets on top of every child's (``protocol.CHILD_ENV``), the workloads it
runs and whether (and on which engine) the scaling probe measures it. Everything else derives
from this table: the row names of the probe JSON (``ROW_NAMES``, docs/architecture.md order), the run order,
the Keras rows, the scaling rows, ``advisor probe --frameworks`` validation, and ``advisor rules
check``'s check of the knowledge base's ``probe_rows``.

Adding a row: one ``Row(...)`` below plus its script in ``probes/``. Deployment support is the
``deploy`` field's to add (the deploy probe's exporters per row).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from advisor.infra.errors import BadInput
from advisor.probe import protocol


@dataclass(frozen=True)
class ScalingSupport:
    """How ``advisor probe --scaling`` measures a row, or why it cannot."""

    script: str
    engine: str
    launcher: str = "process"  # "torchrun" | "process" (one process measures 1 and N)
    multi_node: bool = False
    unavailable: str | None = None  # the framework has no engine of its own here: why
    multi_node_unavailable: str | None = None  # single node only: why


@dataclass(frozen=True)
class Row:
    name: str
    script: str
    modules: tuple[str, ...]  # top-level modules that must be installed
    install_hint: str
    workloads: tuple[str, ...] = ("mlp-digits", "cnn-digits", "attn-digits")
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    scaling: ScalingSupport | None = None
    # advisor probe --deploy: deployment target -> formats this row's models are exported to
    # (advisor/probe/deploy.py FORMATS), and whose exporters probes/deploy_export.py runs
    deploy: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    deploy_exporter: str | None = None

    @property
    def is_keras(self) -> bool:
        return self.name.startswith("keras/")


_KERAS_ONLY_JAX = ("keras.distribution (DataParallel, ModelParallel) is implemented for the JAX "
                   "backend only")

# Deployment paths per target (DESIGN.md "Deployment probe"). ONNX reaches servers and desktops
# (onnxruntime), phones (ONNX Runtime Mobile), edge boxes and browsers (onnxruntime-web).
_TORCH_DEPLOY = MappingProxyType({
    "server": ("onnx", "torch_export"), "desktop": ("onnx",),
    "edge_linux": ("executorch", "onnx"), "mobile_android": ("executorch", "onnx", "tflite"),
    "mobile_ios": ("coreml", "executorch", "onnx"), "browser": ("onnx",),
    "microcontroller": ("executorch_int8", "tflite_int8"),
})
_TF_DEPLOY = MappingProxyType({
    "server": ("savedmodel", "onnx"), "desktop": ("onnx",),
    "edge_linux": ("tflite", "onnx"), "mobile_android": ("tflite", "onnx"),
    "mobile_ios": ("coreml", "tflite"), "browser": ("tfjs", "onnx"),
    "microcontroller": ("tflite_int8",),
})
# Keras 3's own Model.export formats (tf_saved_model, onnx, litert) on each backend; Core ML's
# converter reads tf.keras models, not Keras 3 ones, so iOS goes through LiteRT or ONNX.
_KERAS_DEPLOY = MappingProxyType({
    "server": ("savedmodel", "onnx"), "desktop": ("onnx",),
    "edge_linux": ("tflite", "onnx"), "mobile_android": ("tflite", "onnx"),
    "mobile_ios": ("tflite", "onnx"), "browser": ("tfjs", "onnx"),
    "microcontroller": ("tflite_int8",),
})
_KERAS_TORCH_DEPLOY = MappingProxyType({  # no SavedModel from the torch backend
    **{k: tuple(f for f in v if f != "savedmodel") for k, v in _KERAS_DEPLOY.items()},
})
# JAX: its own serialized jax.export programs on servers; jax2tf into TensorFlow's formats elsewhere.
_JAX_DEPLOY = MappingProxyType({
    "server": ("jax_export", "savedmodel", "onnx"), "desktop": ("jax_export", "onnx"),
    "edge_linux": ("tflite", "onnx"), "mobile_android": ("tflite", "onnx"),
    "mobile_ios": ("tflite", "onnx"), "browser": ("onnx",),
    "microcontroller": ("tflite_int8",),
})
_SKLEARN_DEPLOY = MappingProxyType({
    "server": ("onnx",), "desktop": ("onnx",), "edge_linux": ("onnx",),
    "mobile_android": ("onnx",), "mobile_ios": ("coreml", "onnx"), "browser": ("onnx",),
})

_ROWS = (
    Row("pytorch", "probe_pytorch.py", ("torch",), "pip install torch",
        deploy=_TORCH_DEPLOY, deploy_exporter="pytorch",
        scaling=ScalingSupport("scale_pytorch.py", "torch.distributed DDP", launcher="torchrun",
                               multi_node=True)),
    Row("tensorflow", "probe_tensorflow.py", ("tensorflow",), "pip install tensorflow",
        deploy=_TF_DEPLOY, deploy_exporter="tensorflow",
        scaling=ScalingSupport("scale_tensorflow.py", "tf.distribute.MirroredStrategy",
                               multi_node=True)),
    Row("keras/tensorflow", "probe_keras.py", ("keras", "tensorflow"),
        "pip install keras tensorflow", env=MappingProxyType({"KERAS_BACKEND": "tensorflow"}),
        deploy=_KERAS_DEPLOY, deploy_exporter="keras",
        scaling=ScalingSupport(
            "scale_keras.py", "keras.distribution",
            unavailable=f"{_KERAS_ONLY_JAX}; on TensorFlow, Keras trains under a tf.distribute "
                        "strategy, which the tensorflow row measures")),
    Row("keras/torch", "probe_keras.py", ("keras", "torch"), "pip install keras torch",
        env=MappingProxyType({"KERAS_BACKEND": "torch"}),
        deploy=_KERAS_TORCH_DEPLOY, deploy_exporter="keras",
        scaling=ScalingSupport(
            "scale_keras.py", "keras.distribution",
            unavailable="keras.distribution is implemented for the JAX backend only; on torch, "
                        "Keras models are wrapped in PyTorch DDP by hand, which the pytorch row "
                        "measures")),
    Row("keras/jax", "probe_keras.py", ("keras", "jax"), "pip install keras jax",
        env=MappingProxyType({"KERAS_BACKEND": "jax"}),
        deploy=_KERAS_DEPLOY, deploy_exporter="keras",
        scaling=ScalingSupport(
            "scale_keras.py", "keras.distribution.DataParallel",
            multi_node_unavailable="multi-node keras.distribution (keras.distribution.initialize "
            "over jax.distributed, each process feeding its own part of every global batch to "
            "model.fit) is not wired in the probe; the jax row measures jax.distributed")),
    Row("jax", "probe_jax.py", ("jax",), "pip install jax",
        deploy=_JAX_DEPLOY, deploy_exporter="jax",
        scaling=ScalingSupport("scale_jax.py", "jax.jit + NamedSharding (data mesh)",
                               multi_node=True)),
    Row("sklearn", "probe_sklearn.py", ("sklearn",), "pip install scikit-learn",
        workloads=("mlp-digits", "gbdt-digits"), deploy=_SKLEARN_DEPLOY,
        deploy_exporter="sklearn"),
)

ROWS: Mapping[str, Row] = MappingProxyType({row.name: row for row in _ROWS})
ROW_NAMES: tuple[str, ...] = tuple(ROWS)  # the order rows appear in the probe JSON and reports
# sklearn first: it imports scikit-learn anyway, so it prepares the shared data cache for free.
RUN_ORDER: tuple[str, ...] = ("sklearn", "pytorch", "jax", "tensorflow", "keras/tensorflow",
                              "keras/torch", "keras/jax")
KERAS_ROWS: tuple[str, ...] = tuple(n for n in ROW_NAMES if ROWS[n].is_keras)
SCALING_ROWS: tuple[str, ...] = tuple(n for n in ROW_NAMES if ROWS[n].scaling is not None)
# Scaling: the cheapest engines first (JAX and DDP start fastest).
SCALING_RUN_ORDER: tuple[str, ...] = ("jax", "pytorch", "tensorflow", "keras/jax",
                                      "keras/tensorflow", "keras/torch")
WORKLOADS = protocol.WORKLOADS
assert sorted(RUN_ORDER) == sorted(ROW_NAMES) and sorted(SCALING_RUN_ORDER) == sorted(SCALING_ROWS)
assert all(w in WORKLOADS for row in _ROWS for w in row.workloads)


def unknown(names: Iterable[str]) -> list[str]:
    return [n for n in names if n not in ROWS]


def check_rows(names: Iterable[str], what: str = "framework row(s)") -> None:
    """BadInput naming every unknown row and the rows there are."""
    bad = unknown(names)
    if bad:
        raise BadInput(f"unknown {what} {', '.join(bad)}; choose from {', '.join(ROW_NAMES)}")


def probe_rows_problems(candidates: Iterable[Any]) -> list[tuple[Any, str]]:
    """(candidate, message) for every ``probe_rows`` entry of the knowledge base no row has."""
    out = []
    for cand in candidates:
        for name in getattr(cand, "probe_rows", ()) or ():
            if name not in ROWS:
                hint = _closest(name)
                message = (f"candidate {cand.id!r}: probe_rows names {name!r}, which is no probe "
                           f"row{hint}; rows: {', '.join(ROW_NAMES)}")
                out.append((cand, message))
    return out


def _closest(name: str) -> str:
    import difflib

    match = difflib.get_close_matches(name, ROW_NAMES, n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def child_env(row: Row, threads: int, base: Mapping[str, str] | None = None,
              xla_flags: str | None = None) -> dict[str, str]:
    """The environment of a child measuring ``row`` with ``threads`` threads.

    ``base`` (default: this process's environment) + the thread pins + ``protocol.CHILD_ENV`` +
    the row's own (Keras' backend) + where the child finds the protocol module.
    """
    env = dict(os.environ if base is None else base)
    env.update(protocol.thread_env(threads, env.get("XLA_FLAGS", "") if xla_flags is None
                                   else xla_flags))
    for key, value in protocol.CHILD_ENV.items():
        if key in protocol.CHILD_ENV_DEFAULTS:
            env.setdefault(key, value)
        else:
            env[key] = value
    env[protocol.ENV_PROTOCOL] = protocol.__file__
    env.update(row.env)
    if row.is_keras:  # the Keras configuration measured, not the user's keras.json (kerasconf)
        from advisor.probe import kerasconf

        env["KERAS_HOME"] = kerasconf.child_home(env.get("KERAS_BACKEND", "tensorflow"))
    return env
