"""Hand-written JAX loop: jit-compiled step, hand-written Adam, batches sliced on the host."""

import jax
import jax.numpy as jnp
import numpy as np
from _common import EPOCHS, Clock, digits, report

x_tr, y_tr, x_te, y_te = digits()


def dense(rng, i, o):
    return {"w": rng.uniform(-i ** -0.5, i ** -0.5, (i, o)).astype("float32"),
            "b": np.zeros(o, "float32")}


def conv(rng, i, o):
    return {"w": rng.uniform(-(9 * i) ** -0.5, (9 * i) ** -0.5, (3, 3, i, o)).astype("float32"),
            "b": np.zeros(o, "float32")}


def mlp(p, x):
    x = jax.nn.relu(x @ p[0]["w"] + p[0]["b"])
    x = jax.nn.relu(x @ p[1]["w"] + p[1]["b"])
    return x @ p[2]["w"] + p[2]["b"]


def cnn(p, x):
    dn = ("NHWC", "HWIO", "NHWC")
    x = jax.nn.relu(jax.lax.conv_general_dilated(x, p[0]["w"], (1, 1), "SAME",
                                                 dimension_numbers=dn) + p[0]["b"])
    x = jax.nn.relu(jax.lax.conv_general_dilated(x, p[1]["w"], (1, 1), "SAME",
                                                 dimension_numbers=dn) + p[1]["b"])
    x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    x = jax.nn.relu(x.reshape(x.shape[0], -1) @ p[2]["w"] + p[2]["b"])
    return x @ p[3]["w"] + p[3]["b"]


def layer_norm(p, x):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + 1e-5) * p["g"] + p["b"]


def encoder(p, h):
    """Post-norm encoder layer: 4 heads of 16, feed-forward 128, exact GELU."""
    b, t, d = h.shape

    def heads(z):
        return z.reshape(b, t, 4, 16).transpose(0, 2, 1, 3)

    q, k, v = (heads(h @ p[n]["w"] + p[n]["b"]) for n in ("q", "k", "v"))
    att = jax.nn.softmax(q @ k.transpose(0, 1, 3, 2) / 4.0, axis=-1)
    mixed = (att @ v).transpose(0, 2, 1, 3).reshape(b, t, d) @ p["o"]["w"] + p["o"]["b"]
    h = layer_norm(p["ln1"], h + mixed)
    ff = jax.nn.gelu(h @ p["f1"]["w"] + p["f1"]["b"], approximate=False) @ p["f2"]["w"]
    return layer_norm(p["ln2"], h + ff + p["f2"]["b"])


def attn(p, x):
    h = x @ p["embed"]["w"] + p["embed"]["b"] + p["pos"]
    for layer in p["layers"]:
        h = encoder(layer, h)
    return h.mean(1) @ p["head"]["w"] + p["head"]["b"]


def attn_params(rng):
    def layer():
        norm = {"g": np.ones(64, "float32"), "b": np.zeros(64, "float32")}
        out = {n: dense(rng, 64, 64) for n in ("q", "k", "v", "o")}
        out.update(ln1=dict(norm), ln2=dict(norm), f1=dense(rng, 64, 128), f2=dense(rng, 128, 64))
        return out

    return {"embed": dense(rng, 8, 64), "pos": np.zeros((1, 8, 64), "float32"),
            "layers": [layer(), layer()], "head": dense(rng, 64, 10)}


results = {}
for name, batch in (("mlp-digits", 32), ("cnn-digits", 128), ("attn-digits", 64)):
    rng = np.random.default_rng(0)
    if name == "mlp-digits":
        f, shape = mlp, (-1, 64)
        params = [dense(rng, 64, 128), dense(rng, 128, 64), dense(rng, 64, 10)]
    elif name == "attn-digits":
        f, shape = attn, (-1, 8, 8)
        params = attn_params(rng)
    else:
        f, shape = cnn, (-1, 8, 8, 1)
        params = [conv(rng, 1, 32), conv(rng, 32, 64), dense(rng, 1024, 128), dense(rng, 128, 10)]
    x = x_tr.reshape(shape)

    def loss_fn(p, xb, yb, f=f):
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(f(p, xb)), yb[:, None], 1))

    @jax.jit
    def step(p, m, v, t, xb, yb):
        loss, g = jax.value_and_grad(loss_fn)(p, xb, yb)
        t = t + 1
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        p = jax.tree.map(lambda p, m, v: p - 1e-3 * (m / (1 - 0.9 ** t)) /
                         (jnp.sqrt(v / (1 - 0.999 ** t)) + 1e-8), p, m, v)
        return p, m, v, t, loss

    p = jax.tree.map(jnp.asarray, params)
    m = jax.tree.map(jnp.zeros_like, p)
    v = jax.tree.map(jnp.zeros_like, p)
    t = jnp.zeros(())
    clock = Clock()
    for epoch in range(EPOCHS):
        clock.start()
        perm = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            p, m, v, t, loss = step(p, m, v, t, x[idx], y_tr[idx])
        jax.block_until_ready(p)
        clock.stop()
    acc = (np.asarray(f(p, x_te.reshape(shape))).argmax(1) == y_te).mean()
    results[name] = (clock.times, len(x), acc)
report(results)
