"""JAX probe: pure functions over a parameter pytree, ``jax.jit`` train step, hand-written Adam.

optax is not a dependency, so Adam is the few lines of Kingma & Ba below (same update as optax's
``adam``); parameters and optimizer state are donated to the jitted step. The partial last batch
of an epoch costs one extra compilation, inside ``first_epoch_s``.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def load(config: harness.Config) -> dict[str, Any]:
    if config.device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    import jax
    import jax.numpy  # noqa: F401

    backend = jax.default_backend()
    devices = [{"kind": "cpu", "name": "cpu"}]
    for dev in jax.devices():
        if dev.platform != "cpu":
            devices.append({"kind": "gpu" if dev.platform in ("gpu", "cuda", "rocm") else
                            dev.platform, "name": getattr(dev, "device_kind", dev.platform)})
    info: dict[str, Any] = {
        "version": jax.__version__,
        "devices": devices,
        "ran_on": "cpu" if backend == "cpu" else "gpu",
        "framework_threads": config.threads,
    }
    if backend != "cpu":
        info["_device_matmul_peak"] = lambda: _device_matmul_peak(jax)
        info["_device_peak_source"] = f"jax-{backend}-float32-matmul"
    return info


def _device_matmul_peak(jax: Any, n: int = 4096) -> float:
    key = jax.random.PRNGKey(0)
    a = jax.random.normal(key, (n, n), dtype="float32")
    mm = jax.jit(lambda a: a @ a)
    out = {"c": mm(a).block_until_ready()}

    def step() -> None:
        out["c"] = mm(a)

    return harness.best_rate(step, lambda: out["c"].block_until_ready(), 2.0 * n**3)


def _uniform(rng: Any, shape: tuple[int, ...], fan_in: int) -> Any:
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype("float32")


def init(name: str, seed: int) -> dict[str, Any]:
    """Parameters drawn with numpy (setup, not the measured work; avoids a compile per layer)."""
    import jax
    import numpy as np

    rng = np.random.default_rng(seed)
    if name == "mlp-digits":
        shapes = {"l1": (64, 128), "l2": (128, 64), "l3": (64, 10)}
        params = {k: {"w": _uniform(rng, s, s[0]), "b": np.zeros(s[1], "float32")}
                  for k, s in shapes.items()}
    else:
        params = {
            "c1": {"w": _uniform(rng, (3, 3, 1, 32), 9), "b": np.zeros(32, "float32")},
            "c2": {"w": _uniform(rng, (3, 3, 32, 64), 9 * 32), "b": np.zeros(64, "float32")},
            "d1": {"w": _uniform(rng, (1024, 128), 1024), "b": np.zeros(128, "float32")},
            "d2": {"w": _uniform(rng, (128, 10), 128), "b": np.zeros(10, "float32")},
        }
    return jax.device_put(params)


def save_params(params: dict[str, Any], folder: str) -> None:
    """The trained parameters as ``layer.w`` / ``layer.b`` arrays (probes/deploy_export.py)."""
    import numpy as np

    flat = {f"{layer}.{k}": np.asarray(v) for layer, p in params.items() for k, v in p.items()}
    np.savez(os.path.join(folder, "params.npz"), **flat)


def load_params(folder: str) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    with np.load(os.path.join(folder, "params.npz")) as saved:
        for key in saved.files:
            layer, k = key.split(".")
            out.setdefault(layer, {})[k] = saved[key]
    return out


def forward(name: str, params: dict[str, Any], x: Any) -> Any:
    import jax
    from jax import lax

    relu = jax.nn.relu
    if name == "mlp-digits":
        h = relu(x @ params["l1"]["w"] + params["l1"]["b"])
        h = relu(h @ params["l2"]["w"] + params["l2"]["b"])
        return h @ params["l3"]["w"] + params["l3"]["b"]
    dims = ("NHWC", "HWIO", "NHWC")
    h = lax.conv_general_dilated(x, params["c1"]["w"], (1, 1), "SAME", dimension_numbers=dims)
    h = relu(h + params["c1"]["b"])
    h = lax.conv_general_dilated(h, params["c2"]["w"], (1, 1), "SAME", dimension_numbers=dims)
    h = relu(h + params["c2"]["b"])
    h = lax.reduce_window(h, -jax.numpy.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = h.reshape(h.shape[0], -1)
    h = relu(h @ params["d1"]["w"] + params["d1"]["b"])
    return h @ params["d2"]["w"] + params["d2"]["b"]


def adam_init(params: Any) -> dict[str, Any]:
    import jax

    def zeros() -> Any:  # two distinct trees: both are donated to the train step
        return jax.tree_util.tree_map(jax.numpy.zeros_like, params)

    return {"m": zeros(), "v": zeros(), "t": jax.numpy.zeros((), "float32")}


def adam_update(params: Any, grads: Any, state: dict[str, Any], lr: float,
                b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> tuple[Any, Any]:
    import jax

    jnp = jax.numpy
    t = state["t"] + 1.0
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state["v"], grads)
    m_hat_scale = 1.0 / (1.0 - b1**t)
    v_hat_scale = 1.0 / (1.0 - b2**t)
    new = jax.tree_util.tree_map(
        lambda p, m, v: p - lr * (m * m_hat_scale) / (jnp.sqrt(v * v_hat_scale) + eps),
        params, m, v,
    )
    return new, {"m": m, "v": v, "t": t}


def run(name: str, config: harness.Config, data: harness.Data, info: dict[str, Any]):
    import jax
    import numpy as np

    x_tr, x_te = data.x_train, data.x_test
    if name == "cnn-digits":
        x_tr, x_te = x_tr.reshape(-1, 8, 8, 1), x_te.reshape(-1, 8, 8, 1)
    lr = harness.LEARNING_RATE

    def loss_fn(params: Any, xb: Any, yb: Any) -> Any:  # mean cross-entropy
        logits = forward(name, params, xb)
        logp = jax.nn.log_softmax(logits)
        return -jax.numpy.take_along_axis(logp, yb[:, None], axis=1).mean()

    def step(params: Any, state: Any, x: Any, y: Any, idx: Any) -> tuple[Any, Any, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params, x[idx], y[idx])
        params, state = adam_update(params, grads, state, lr)
        return params, state, loss

    # The data stays on the device; each step receives only its batch's indices (host numpy),
    # so one executable serves every batch of a size (eager slicing would compile per offset).
    x = jax.device_put(x_tr)
    y = jax.device_put(data.y_train.astype(np.int32))
    train_step = jax.jit(step, donate_argnums=(0, 1))
    params = init(name, config.seed)
    state = adam_init(params)
    batch = harness.BATCH[name]
    n = data.n_train
    box = {"params": params, "state": state, "loss": None}

    def run_epoch(epoch: int) -> None:
        order = harness.epoch_order(config.seed, epoch, n).astype(np.int32)
        p, s = box["params"], box["state"]
        for start in range(0, n, batch):
            p, s, box["loss"] = train_step(p, s, x, y, order[start:start + batch])
        box["params"], box["state"] = p, s

    def sync() -> None:
        jax.block_until_ready(box["params"])

    times = harness.time_epochs(run_epoch, config.epochs, sync, min_block_s=config.min_block_s)
    logits = jax.jit(lambda p, xb: forward(name, p, xb))(box["params"], jax.device_put(x_te))
    accuracy = float((np.asarray(logits).argmax(axis=1) == data.y_test).mean())
    harness.save_trained(config, info["_row"], name, data, x_te, np.asarray(logits),
                         lambda folder: save_params(box["params"], folder))
    gpu_mb = None
    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        gpu_mb = stats.get("peak_bytes_in_use", 0) / 2**20 or None
    return times, accuracy, gpu_mb


PROBE = harness.Probe("jax", "jax", "pip install jax", load, run)

if __name__ == "__main__":
    harness.main(PROBE)
