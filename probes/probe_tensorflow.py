"""TensorFlow probe: tf.Module + tf.function train step + GradientTape, without Keras.

Keras has its own rows (keras/tensorflow, ...); this row measures TensorFlow itself: variables,
``tf.nn`` ops, a traced train step (one trace: the batch dimension is ``None`` in the signature)
and Adam written with TensorFlow ops inside the same graph (the Keras 3 optimizer is Keras).
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def load(config: harness.Config) -> dict[str, Any]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:  # never grab all GPU memory (must happen before the runtime starts)
        tf.config.experimental.set_memory_growth(gpu, True)
    if config.device == "cpu":
        tf.config.set_visible_devices([], "GPU")
    tf.config.threading.set_intra_op_parallelism_threads(config.threads)
    tf.config.threading.set_inter_op_parallelism_threads(config.threads)
    use_gpu = bool(gpus) and config.device == "auto"
    devices = [{"kind": "cpu", "name": "cpu"}]
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        devices.append({"kind": "gpu", "name": details.get("device_name", gpu.name)})
    info: dict[str, Any] = {
        "version": tf.__version__,
        "devices": devices,
        "ran_on": "gpu" if use_gpu else "cpu",
        "framework_threads": config.threads,
    }
    if use_gpu:
        info["_device_matmul_peak"] = lambda: _gpu_matmul_peak(tf)
        info["_device_peak_source"] = "tensorflow-gpu-float32-matmul"
    return info


def _gpu_matmul_peak(tf: Any, n: int = 4096) -> float:
    with tf.device("/GPU:0"):
        a = tf.random.normal((n, n))
        b = tf.random.normal((n, n))
        out = {"c": tf.matmul(a, b)}

        def step() -> None:
            out["c"] = tf.matmul(a, b)

        # Reading one element waits for the matmul without copying the whole result to the host.
        return harness.best_rate(step, lambda: out["c"][0, 0].numpy(), 2.0 * n**3)


def _dense(tf: Any, fan_in: int, fan_out: int) -> list[Any]:
    bound = 1.0 / math.sqrt(fan_in)
    w = tf.Variable(tf.random.uniform((fan_in, fan_out), -bound, bound))
    return [w, tf.Variable(tf.zeros((fan_out,)))]


def _conv(tf: Any, c_in: int, c_out: int) -> list[Any]:
    bound = 1.0 / math.sqrt(9 * c_in)
    w = tf.Variable(tf.random.uniform((3, 3, c_in, c_out), -bound, bound))
    return [w, tf.Variable(tf.zeros((c_out,)))]


def _layer_norm(tf: Any, h: Any, gamma: Any, beta: Any) -> Any:
    mean, var = tf.nn.moments(h, axes=[-1], keepdims=True)
    return (h - mean) * tf.math.rsqrt(var + 1e-5) * gamma + beta


def _attention(tf: Any, width: int = 1) -> tuple[list[Any], Any]:
    """attn-digits (harness.SPECS) with tf ops: post-norm encoder layers, 4 heads of 16."""
    d, heads, ff = 64 * width, 4, 128 * width
    params = _dense(tf, 8, d) + [tf.Variable(tf.random.normal((8, d), stddev=0.02))]
    for _ in range(2):
        params += (_dense(tf, d, 3 * d) + _dense(tf, d, d)
                   + [tf.Variable(tf.ones((d,))), tf.Variable(tf.zeros((d,)))]
                   + _dense(tf, d, ff) + _dense(tf, ff, d)
                   + [tf.Variable(tf.ones((d,))), tf.Variable(tf.zeros((d,)))])
    params += _dense(tf, d, 10)

    def split(t: Any) -> Any:  # (B, T, d) -> (B, heads, T, d / heads)
        return tf.transpose(tf.reshape(t, (-1, 8, heads, d // heads)), (0, 2, 1, 3))

    def forward(x: Any) -> Any:
        h = tf.einsum("btf,fd->btd", x, params[0]) + params[1] + params[2]
        for i in range(2):
            wqkv, bqkv, wo, bo, g1, b1, w1, c1, w2, c2, g2, b2 = params[3 + 12 * i:15 + 12 * i]
            q, k, v = tf.split(tf.einsum("btd,de->bte", h, wqkv) + bqkv, 3, axis=-1)
            scores = tf.matmul(split(q), split(k), transpose_b=True) / math.sqrt(d // heads)
            att = tf.matmul(tf.nn.softmax(scores, axis=-1), split(v))
            att = tf.reshape(tf.transpose(att, (0, 2, 1, 3)), (-1, 8, d))
            h = _layer_norm(tf, h + tf.einsum("btd,de->bte", att, wo) + bo, g1, b1)
            mid = tf.nn.gelu(tf.einsum("btd,df->btf", h, w1) + c1, approximate=False)
            h = _layer_norm(tf, h + tf.einsum("btf,fd->btd", mid, w2) + c2, g2, b2)
        return tf.reduce_mean(h, axis=1) @ params[-2] + params[-1]

    return params, forward


def build(name: str, tf: Any, width: int = 1) -> tuple[list[Any], Any]:
    """Variables and the forward function of a workload (NHWC for the CNN); ``width``
    multiplies every hidden width (GPU sizes)."""
    w = width
    if name == "attn-digits":
        return _attention(tf, w)
    if name == "mlp-digits":
        params = _dense(tf, 64, 128 * w) + _dense(tf, 128 * w, 64 * w) + _dense(tf, 64 * w, 10)

        def forward(x: Any) -> Any:
            h = tf.nn.relu(x @ params[0] + params[1])
            h = tf.nn.relu(h @ params[2] + params[3])
            return h @ params[4] + params[5]

        return params, forward
    flat = 16 * 64 * w
    params = (_conv(tf, 1, 32 * w) + _conv(tf, 32 * w, 64 * w) + _dense(tf, flat, 128 * w)
              + _dense(tf, 128 * w, 10))

    def forward(x: Any) -> Any:
        h = tf.nn.relu(tf.nn.conv2d(x, params[0], 1, "SAME") + params[1])
        h = tf.nn.relu(tf.nn.conv2d(h, params[2], 1, "SAME") + params[3])
        h = tf.nn.max_pool2d(h, 2, 2, "VALID")
        h = tf.reshape(h, (-1, flat))
        h = tf.nn.relu(h @ params[4] + params[5])
        return h @ params[6] + params[7]

    return params, forward


def save_params(params: list[Any], folder: str) -> None:
    """The trained variables in build() order (probes/deploy_export.py rebuilds the model)."""
    import numpy as np

    np.savez(os.path.join(folder, "params.npz"), *[p.numpy() for p in params])


class Adam:
    """Adam (Kingma & Ba) with TensorFlow ops, applied inside the traced train step."""

    def __init__(self, tf: Any, params: list[Any], lr: float, b1: float = 0.9,
                 b2: float = 0.999, eps: float = 1e-7):
        self.tf, self.params, self.lr, self.b1, self.b2, self.eps = tf, params, lr, b1, b2, eps
        self.m = [tf.Variable(tf.zeros_like(p)) for p in params]
        self.v = [tf.Variable(tf.zeros_like(p)) for p in params]
        self.t = tf.Variable(0.0)

    def apply(self, grads: list[Any]) -> None:
        tf = self.tf
        self.t.assign_add(1.0)
        scale = self.lr * tf.sqrt(1.0 - self.b2**self.t) / (1.0 - self.b1**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.assign(self.b1 * m + (1.0 - self.b1) * g)
            v.assign(self.b2 * v + (1.0 - self.b2) * tf.square(g))
            p.assign_sub(scale * m / (tf.sqrt(v) + self.eps))


shaped = harness.channels_last  # the digits as the workload reads them


def run_variant(name: str, variant: harness.Variant, config: harness.Config,
                data: harness.Data, info: dict[str, Any]):
    """A GPU size (harness.gpu_variants), float32 only: this row writes its layers and Adam with
    raw TensorFlow ops, and bf16 would mean casting each by hand (Keras' rows measure TF's
    mixed precision through its dtype policy)."""
    return run(name, config, data, info, variant)


def run(name: str, config: harness.Config, data: harness.Data, info: dict[str, Any],
        variant: harness.Variant | None = None):
    import tensorflow as tf

    tf.random.set_seed(config.seed)
    gpu = info["ran_on"] == "gpu"
    x_tr, x_te = shaped(name, data.x_train), shaped(name, data.x_test)
    params, forward = build(name, tf, variant.width if variant else 1)
    opt = Adam(tf, params, harness.LEARNING_RATE)
    x = tf.constant(x_tr)
    y = tf.constant(data.y_train)

    # One trace for every batch size; the step gathers its batch from the resident data.
    @tf.function(input_signature=[tf.TensorSpec((None,), tf.int64)])
    def train_step(idx: Any) -> Any:
        xb, yb = tf.gather(x, idx), tf.gather(y, idx)
        with tf.GradientTape() as tape:
            logits = forward(xb)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits)
            )
        opt.apply(tape.gradient(loss, params))
        return loss

    batch = harness.batch_of(name, variant)
    n = data.n_train
    last: dict[str, Any] = {}
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")

    def run_epoch(epoch: int) -> None:
        order = harness.epoch_order(config.seed, epoch, n)
        for start in range(0, n, batch):
            last["loss"] = train_step(order[start:start + batch])

    def sync() -> None:  # a host read of the last loss waits for the device
        if "loss" in last:
            last["loss"].numpy()

    x_test = tf.constant(x_te)
    predict = tf.function(lambda xb: tf.argmax(forward(xb), axis=1))

    def evaluate() -> float:
        return float((predict(x_test).numpy() == data.y_test).mean())

    times = harness.time_epochs(run_epoch, config.epochs, sync, min_block_s=config.min_block_s,
                                evaluate=evaluate,
                                extra_s=0.0 if variant else harness.chase_s(name))
    accuracy = evaluate()
    gpu_mb = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20 if gpu else None
    if variant is None:  # --save-model: the deploy probe exports what was trained here
        harness.save_trained(config, info["_row"], name, data, x_te, forward(x_test).numpy(),
                             lambda folder: save_params(params, folder))
    return times, accuracy, gpu_mb


PROBE = harness.Probe("tensorflow", "tensorflow", "pip install tensorflow", load, run,
                      run_variant=run_variant)

if __name__ == "__main__":
    harness.main(PROBE)
