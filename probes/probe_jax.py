"""JAX probe: pure functions over a parameter pytree, ``jax.jit`` train step, hand-written Adam.

optax is not a dependency, so Adam is the few lines of Kingma & Ba below (same update as optax's
``adam``); parameters and optimizer state are donated to the jitted step. The partial last batch
of an epoch is padded to the batch size with weight 0 on the padding (the same gradient), so one
executable serves every step.
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


def init(name: str, seed: int, width: int = 1) -> dict[str, Any]:
    """Parameters drawn with numpy (setup, not the measured work; avoids a compile per layer)."""
    import jax
    import numpy as np

    rng = np.random.default_rng(seed)
    if name == "attn-digits":
        return jax.device_put(_attention_params(rng, width))
    if name == "mlp-digits":
        w = width
        shapes = {"l1": (64, 128 * w), "l2": (128 * w, 64 * w), "l3": (64 * w, 10)}
        params = {k: {"w": _uniform(rng, s, s[0]), "b": np.zeros(s[1], "float32")}
                  for k, s in shapes.items()}
    else:
        c1, c2, d = 32 * width, 64 * width, 128 * width
        params = {
            "c1": {"w": _uniform(rng, (3, 3, 1, c1), 9), "b": np.zeros(c1, "float32")},
            "c2": {"w": _uniform(rng, (3, 3, c1, c2), 9 * c1), "b": np.zeros(c2, "float32")},
            "d1": {"w": _uniform(rng, (16 * c2, d), 16 * c2), "b": np.zeros(d, "float32")},
            "d2": {"w": _uniform(rng, (d, 10), d), "b": np.zeros(10, "float32")},
        }
    return jax.device_put(params)


def _dense(rng: Any, fan_in: int, fan_out: int) -> dict[str, Any]:
    import numpy as np

    return {"w": _uniform(rng, (fan_in, fan_out), fan_in), "b": np.zeros(fan_out, "float32")}


def _attention_params(rng: Any, width: int = 1) -> dict[str, Any]:
    """attn-digits (harness.SPECS): embedding, positions, 2 encoder layers, head."""
    import numpy as np

    d, ff = 64 * width, 128 * width

    def norm() -> dict[str, Any]:
        return {"g": np.ones(d, "float32"), "b": np.zeros(d, "float32")}

    layers = [{"qkv": _dense(rng, d, 3 * d), "out": _dense(rng, d, d), "ln1": norm(),
               "ff1": _dense(rng, d, ff), "ff2": _dense(rng, ff, d), "ln2": norm()}
              for _ in range(2)]
    return {"embed": _dense(rng, 8, d),
            "pos": (rng.standard_normal((8, d)) * 0.02).astype("float32"),
            "layers": layers, "head": _dense(rng, d, 10)}


def _attention_forward(params: dict[str, Any], x: Any) -> Any:
    """Post-norm transformer encoder over the 8 row tokens, 4 heads of 16, exact GELU."""
    import jax

    jnp = jax.numpy
    heads, d = 4, params["pos"].shape[-1]  # d_model: 64 x width

    def layer_norm(h: Any, p: dict[str, Any]) -> Any:
        mean = h.mean(-1, keepdims=True)
        var = ((h - mean) ** 2).mean(-1, keepdims=True)
        return (h - mean) * jax.lax.rsqrt(var + 1e-5) * p["g"] + p["b"]

    def split(t: Any) -> Any:  # (B, T, d) -> (B, heads, T, d / heads)
        return t.reshape(t.shape[0], t.shape[1], heads, d // heads).transpose(0, 2, 1, 3)

    h = x @ params["embed"]["w"] + params["embed"]["b"] + params["pos"]
    for p in params["layers"]:
        q, k, v = jnp.split(h @ p["qkv"]["w"] + p["qkv"]["b"], 3, axis=-1)
        scores = split(q) @ split(k).transpose(0, 1, 3, 2) / jnp.sqrt(d // heads).astype(h.dtype)
        att = (jax.nn.softmax(scores, axis=-1) @ split(v)).transpose(0, 2, 1, 3)
        att = att.reshape(h.shape)
        h = layer_norm(h + att @ p["out"]["w"] + p["out"]["b"], p["ln1"])
        mid = jax.nn.gelu(h @ p["ff1"]["w"] + p["ff1"]["b"], approximate=False)
        h = layer_norm(h + mid @ p["ff2"]["w"] + p["ff2"]["b"], p["ln2"])
    return h.mean(axis=1) @ params["head"]["w"] + params["head"]["b"]


def save_params(params: dict[str, Any], folder: str) -> None:
    """The trained parameters, one array per leaf named by its path (``l1.w``,
    ``layers.0.qkv.w``, ``pos``), for probes/deploy_export.py."""
    import numpy as np

    flat: dict[str, Any] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, (list, tuple)):
            for index, value in enumerate(node):
                walk(value, f"{path}.{index}")
        else:
            flat[path] = np.asarray(node)

    walk(params, "")
    np.savez(os.path.join(folder, "params.npz"), **flat)


def load_params(folder: str) -> dict[str, Any]:
    """The parameters :func:`save_params` wrote, nested again (numeric path parts: lists)."""
    import numpy as np

    root: dict[str, Any] = {}
    with np.load(os.path.join(folder, "params.npz")) as saved:
        for key in saved.files:
            *parents, leaf = key.split(".")
            node = root
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = saved[key]

    def lists(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        out = {k: lists(v) for k, v in node.items()}
        if out and all(k.isdigit() for k in out):
            return [out[k] for k in sorted(out, key=int)]
        return out

    return lists(root)


def forward(name: str, params: dict[str, Any], x: Any) -> Any:
    import jax
    from jax import lax

    if name == "attn-digits":
        return _attention_forward(params, x)
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


shaped = harness.channels_last  # the digits as the workload reads them


def run_variant(name: str, variant: harness.Variant, config: harness.Config,
                data: harness.Data, info: dict[str, Any]):
    """A GPU size (harness.gpu_variants): wider, larger batches; bf16 mixed precision computes
    the forward and backward pass in bfloat16 on float32 master parameters and Adam state."""
    return run(name, config, data, info, variant)


def run(name: str, config: harness.Config, data: harness.Data, info: dict[str, Any],
        variant: harness.Variant | None = None):
    import jax
    import numpy as np

    x_tr, x_te = shaped(name, data.x_train), shaped(name, data.x_test)
    lr = harness.LEARNING_RATE

    bf16 = variant is not None and variant.bf16

    def compute(params: Any, xb: Any) -> Any:  # logits, in float32
        if bf16:  # bf16 mixed precision: cast the float32 master parameters for the pass
            cast = jax.tree_util.tree_map(lambda a: a.astype(jax.numpy.bfloat16), params)
            return forward(name, cast, xb.astype(jax.numpy.bfloat16)).astype("float32")
        return forward(name, params, xb)

    def loss_fn(params: Any, xb: Any, yb: Any, wb: Any) -> Any:  # mean cross-entropy
        logits = compute(params, xb)
        logp = jax.nn.log_softmax(logits)
        nll = -jax.numpy.take_along_axis(logp, yb[:, None], axis=1)[:, 0]
        return (nll * wb).sum() / wb.sum()  # weights 0 on the padding of a partial batch

    def step(params: Any, state: Any, x: Any, y: Any, idx: Any,
             w: Any) -> tuple[Any, Any, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params, x[idx], y[idx], w)
        params, state = adam_update(params, grads, state, lr)
        return params, state, loss

    # The data stays on the device; each step receives only its batch's indices (host numpy),
    # so one executable serves every batch of a size (eager slicing would compile per offset).
    x = jax.device_put(x_tr)
    y = jax.device_put(data.y_train.astype(np.int32))
    train_step = jax.jit(step, donate_argnums=(0, 1))
    params = init(name, config.seed, variant.width if variant else 1)
    state = adam_init(params)
    batch = harness.batch_of(name, variant)
    n = data.n_train
    box = {"params": params, "state": state, "loss": None}

    full = np.ones(batch, "float32")

    def padded(idx: Any) -> tuple[Any, Any]:
        """A partial last batch padded to the batch size, its padding weighted 0: the same
        gradient as the short batch, from the one compiled executable (static shapes, as JAX
        code is written; a second shape would cost a second compilation, 6 s on attn-digits)."""
        if len(idx) == batch:
            return idx, full
        pad = batch - len(idx)
        return (np.concatenate([idx, np.zeros(pad, np.int32)]),
                np.concatenate([np.ones(len(idx), "float32"), np.zeros(pad, "float32")]))

    def run_epoch(epoch: int) -> None:
        order = harness.epoch_order(config.seed, epoch, n).astype(np.int32)
        p, s = box["params"], box["state"]
        for start in range(0, n, batch):
            idx, w = padded(order[start:start + batch])
            p, s, box["loss"] = train_step(p, s, x, y, idx, w)
        box["params"], box["state"] = p, s

    def sync() -> None:
        jax.block_until_ready(box["params"])

    predict = jax.jit(lambda p, xb: compute(p, xb).argmax(axis=1))
    x_test = jax.device_put(x_te)

    def evaluate() -> float:
        return float((np.asarray(predict(box["params"], x_test)) == data.y_test).mean())

    times = harness.time_epochs(run_epoch, config.epochs, sync, min_block_s=config.min_block_s,
                                evaluate=evaluate,
                                extra_s=0.0 if variant else harness.chase_s(name))
    accuracy = evaluate()
    if variant is None:  # --save-model: the deploy probe exports what was trained here
        harness.save_trained(config, info["_row"], name, data, x_te,
                             np.asarray(forward(name, box["params"], x_test)),
                             lambda folder: save_params(box["params"], folder))
    gpu_mb = None
    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        gpu_mb = stats.get("peak_bytes_in_use", 0) / 2**20 or None
    return times, accuracy, gpu_mb


PROBE = harness.Probe("jax", "jax", "pip install jax", load, run, run_variant=run_variant,
                      bf16=True)

if __name__ == "__main__":
    harness.main(PROBE)
