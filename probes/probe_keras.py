"""Keras 3 probe: ``keras.Sequential`` + ``compile`` + ``model.fit``, the idiomatic Keras loop.

The backend comes from ``KERAS_BACKEND`` (set by the parent: rows keras/tensorflow, keras/torch,
keras/jax). Epoch times come from a callback; the first epoch includes building the train
function (tracing / jit). Keras shuffles each epoch itself (``shuffle=True``, seeded).
Training runs without metrics (accuracy is measured once on the test part afterwards).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
BACKEND_MODULE = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}.get(BACKEND, BACKEND)


def load(config: harness.Config) -> dict[str, Any]:
    if BACKEND == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
        tf.config.threading.set_intra_op_parallelism_threads(config.threads)
        tf.config.threading.set_inter_op_parallelism_threads(config.threads)
    elif BACKEND == "torch":
        import torch

        torch.set_num_threads(config.threads)
    import keras

    devices = _devices()
    ran_on = "gpu" if any(d["kind"] == "gpu" for d in devices) else "cpu"
    info: dict[str, Any] = {
        "version": keras.__version__,
        "backend": keras.backend.backend(),
        "backend_version": _backend_version(),
        "devices": devices,
        "ran_on": ran_on,
        "framework_threads": config.threads,
        # what this child measured with (the parent sets a private KERAS_HOME holding float32)
        "keras_config": {"floatx": keras.config.floatx(),
                         "image_data_format": keras.config.image_data_format(),
                         "epsilon": keras.config.epsilon()},
    }
    if ran_on == "gpu":  # judge cnn-digits against the device, not the CPU's numpy matmul
        info["_device_matmul_peak"], info["_device_peak_source"] = device_peak()
    return info


def device_peak() -> tuple[Any, str]:
    """The backend framework's own float32 matmul on the GPU, as its own probe measures it
    (seen on an H200: without this, keras/jax on the GPU was judged against the CPU's peak)."""
    if BACKEND == "torch":
        import probe_pytorch
        import torch

        device = torch.device("cuda:0")
        return (lambda: probe_pytorch._cuda_matmul_peak(torch, device)), \
            "torch-cuda-float32-matmul"
    if BACKEND == "jax":
        import jax
        import probe_jax

        return (lambda: probe_jax._device_matmul_peak(jax)), \
            f"jax-{jax.default_backend()}-float32-matmul"
    import probe_tensorflow
    import tensorflow as tf

    return (lambda: probe_tensorflow._gpu_matmul_peak(tf)), "tensorflow-gpu-float32-matmul"


def _backend_version() -> str:
    module = __import__(BACKEND_MODULE)
    return str(getattr(module, "__version__", "unknown"))


def _devices() -> list[dict[str, str]]:
    devices = [{"kind": "cpu", "name": "cpu"}]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            name = tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
            devices.append({"kind": "gpu", "name": name})
    elif BACKEND == "torch":
        import torch

        for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
            devices.append({"kind": "gpu", "name": torch.cuda.get_device_name(i)})
    elif BACKEND == "jax":
        import jax

        for dev in jax.devices():
            if dev.platform != "cpu":
                devices.append({"kind": "gpu", "name": getattr(dev, "device_kind", dev.platform)})
    return devices


_CUSTOM: dict[str, Any] = {}


def custom_objects(keras: Any) -> dict[str, Any]:
    """The workload models' own layers, for ``keras.saving.load_model`` (the deploy exporter
    loads the saved attn-digits model in another process)."""
    if "AddPositions" not in _CUSTOM:
        class AddPositions(keras.layers.Layer):
            """Learned position embeddings of the row tokens."""

            def build(self, input_shape: Any) -> None:
                self.pos = self.add_weight(shape=tuple(input_shape[-2:]), name="positions",
                                           initializer=keras.initializers.RandomNormal(
                                               stddev=0.02))

            def call(self, x: Any) -> Any:
                return x + self.pos

        _CUSTOM["AddPositions"] = AddPositions
    return dict(_CUSTOM)


def _attention_model(keras: Any, width: int = 1) -> Any:
    """attn-digits (protocol.SPECS) from Keras layers: MultiHeadAttention, LayerNormalization
    (4 heads; ``width`` multiplies d_model and the feed-forward width)."""
    d = 64 * width
    layers = keras.layers
    AddPositions = custom_objects(keras)["AddPositions"]  # noqa: N806 - a class

    inputs = keras.Input((8, 8))
    h = AddPositions()(layers.Dense(d)(inputs))
    for _ in range(2):  # post-norm encoder layers, as PyTorch's TransformerEncoderLayer
        att = layers.MultiHeadAttention(num_heads=4, key_dim=d // 4)(h, h)
        h = layers.LayerNormalization(epsilon=1e-5)(h + att)
        # exact GELU ("gelu" is keras.activations.gelu, approximate=False); a named activation
        # so the saved model loads back (a lambda does not)
        mid = layers.Dense(2 * d, activation="gelu")(h)
        h = layers.LayerNormalization(epsilon=1e-5)(h + layers.Dense(d)(mid))
    # float32 logits under a mixed policy (Keras' mixed-precision guide)
    outputs = layers.Dense(10, dtype="float32")(layers.GlobalAveragePooling1D()(h))
    return keras.Model(inputs, outputs)


def build(name: str, keras: Any, width: int = 1) -> Any:
    """The workload's model; ``width`` multiplies every hidden width (GPU sizes)."""
    w = width
    layers = keras.layers
    if name == "attn-digits":
        return _attention_model(keras, w)
    if name == "mlp-digits":
        stack = [
            keras.Input((64,)), layers.Dense(128 * w, activation="relu"),
            layers.Dense(64 * w, activation="relu"), layers.Dense(10, dtype="float32"),
        ]
    else:
        stack = [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32 * w, 3, padding="same", activation="relu"),
            layers.Conv2D(64 * w, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2), layers.Flatten(),
            layers.Dense(128 * w, activation="relu"), layers.Dense(10, dtype="float32"),
        ]
    return keras.Sequential(stack)


class EpochTimer:
    """Keras callback recording epoch durations; the first includes building the train step.

    With ``evaluate`` it also checks the test accuracy after each epoch, after the epoch's
    duration is taken and before the next epoch's clock starts, until it reaches the target
    (time to accuracy, see harness.time_epochs).
    """

    def __init__(self, keras: Any, evaluate: Any = None, target: float = 1.0):
        outer = self
        self.durations: list[float] = []
        self.accuracy: list[float] = []
        self._t0 = 0.0

        class _Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs: Any = None) -> None:
                outer._t0 = time.perf_counter()

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                if outer.durations:  # the very first epoch counts from the start of fit
                    outer._t0 = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                outer.durations.append(time.perf_counter() - outer._t0)
                if evaluate is not None and not outer.reached(target):
                    outer.accuracy.append(evaluate())

        self.callback = _Callback()

    def reached(self, target: float) -> bool:
        return bool(self.accuracy) and self.accuracy[-1] >= target


def _peak_gpu_mb() -> float | None:
    try:
        if BACKEND == "torch":
            import torch

            return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        if BACKEND == "jax":
            import jax

            dev = jax.devices()[0]
            stats = dev.memory_stats() if dev.platform != "cpu" else None
            return stats["peak_bytes_in_use"] / 2**20 if stats else None
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    except (RuntimeError, KeyError, ValueError):
        return None
    return None


def _seed(seed: int) -> None:
    """What ``keras.utils.set_random_seed`` does, without importing TensorFlow on other backends.

    (It imports TensorFlow whenever TF is installed: 2-3 s of a keras/jax or keras/torch row.)
    Keras' global seed generator draws its seed from ``random``, so seeding it is enough.
    """
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tf.random.set_seed(seed)
    elif BACKEND == "torch":
        import torch

        torch.manual_seed(seed)


def run_variant(name: str, variant: harness.Variant, config: harness.Config,
                data: harness.Data, info: dict[str, Any]):
    """A GPU size (harness.gpu_variants): wider, larger batches; bf16 through Keras' own
    ``mixed_bfloat16`` dtype policy (bfloat16 compute, float32 variables)."""
    import keras

    if not variant.bf16:
        return run(name, config, data, info, variant)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        return run(name, config, data, info, variant)
    finally:
        keras.config.set_dtype_policy(previous)


def run(name: str, config: harness.Config, data: harness.Data, info: dict[str, Any],
        variant: harness.Variant | None = None):
    import keras

    _seed(config.seed)
    x_tr, x_te = shaped(name, data.x_train), shaped(name, data.x_test)
    model = build(name, keras, variant.width if variant else 1)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=harness.LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    def evaluate() -> float:  # predict compiles once (a direct call runs op by op: 3x the CPU)
        logits = model.predict(x_te, batch_size=512, verbose=0)
        return float((logits.argmax(axis=1) == data.y_test).mean())

    target = harness.TARGET_ACCURACY
    timer = EpochTimer(keras, evaluate, target)

    def fit(epochs: int) -> None:  # a later fit reuses the compiled train function
        if epochs > 0:
            model.fit(x_tr, data.y_train, batch_size=harness.batch_of(name, variant), epochs=epochs,
                      shuffle=True, verbose=0, callbacks=[timer.callback])

    fit(2)  # the warm-up epoch, then the one that sizes the timed blocks
    per_block = harness.epochs_per_block(timer.durations[1], config.min_block_s)
    fit(config.epochs * per_block - (1 if per_block == 1 else 0))
    extra = 0.0
    while (not timer.reached(target) and extra < (0.0 if variant else harness.chase_s(name))
           and len(timer.durations) < harness.TARGET_MAX_EPOCHS):
        fit(1)  # chasing the target accuracy: counts for time to accuracy, not throughput
        extra += timer.durations[-1]
    times = harness.blocks_from_epochs(timer.durations[0], timer.durations[1:], config.epochs,
                                       per_block, timer.accuracy, target)
    accuracy = evaluate()
    if variant is None:  # --save-model: the deploy probe exports what was trained here
        harness.save_trained(config, info["_row"], name, data, x_te,
                             model.predict(x_te, batch_size=512, verbose=0),
                             lambda folder: model.save(os.path.join(folder, "model.keras")))
    return times, accuracy, _peak_gpu_mb()


shaped = harness.channels_last  # the digits as the workload reads them


PROBE = harness.Probe(
    f"keras/{BACKEND}", f"keras,{BACKEND_MODULE}", f"pip install keras {BACKEND_MODULE}", load, run,
    run_variant=run_variant, bf16=True,
)

if __name__ == "__main__":
    harness.main(PROBE)
