"""Scaling probe for JAX: one process, ``jax.jit`` with a data-parallel sharding over N devices.

On a CPU machine the devices are host devices forced with the documented XLA flag
``--xla_force_host_platform_device_count=N`` (set by the parent before JAX starts; each device
runs its computations on one thread: ``--xla_cpu_multi_thread_eigen=false``); on GPUs they are the
GPUs. The batch indices are sharded along a 1-D ``data`` mesh axis, parameters and optimizer state
are replicated; XLA's partitioner inserts the gradient all-reduce. Model, init and Adam are the
plain JAX probe's (probe_jax.py). Per-device batch 128, global batch 128 x N.

The same process measures a 1-device mesh first (the baseline), then the N-device mesh.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import scaling  # noqa: E402
import probe_jax  # noqa: E402


def body(config: scaling.ScaleConfig):
    if config.nnodes != 1:
        raise RuntimeError("multi-node JAX (jax.distributed.initialize) is not wired in the probe")
    if config.device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    t_import = time.perf_counter()
    import jax

    jax.devices()  # the backend starts here: part of getting the process ready
    import_s = time.perf_counter() - t_import
    spawn_s = scaling.start_seconds(config)
    data = harness.load_data(config.data_cache)
    runs = [measure(jax, config, data, world, import_s, spawn_s) for world in scaling.worlds(config)]
    return scaling.report("jax", runs)


def measure(jax, config, data, world, import_s, spawn_s):
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec as P

    t_init = time.perf_counter()
    devices = jax.devices()
    if len(devices) < world:
        raise RuntimeError(f"JAX sees {len(devices)} device(s), {world} requested "
                           "(XLA_FLAGS --xla_force_host_platform_device_count not applied?)")
    mesh = jax.sharding.Mesh(np.array(devices[:world]), ("data",))
    replicated = NamedSharding(mesh, P())
    by_data = NamedSharding(mesh, P("data"))
    name = scaling.WORKLOAD
    lr = harness.LEARNING_RATE
    x = jax.device_put(data.x_train.reshape(-1, 8, 8, 1), replicated)
    y = jax.device_put(data.y_train.astype(np.int32), replicated)
    params = jax.device_put(probe_jax.init(name, config.seed), replicated)
    state = jax.device_put(probe_jax.adam_init(params), replicated)
    jax.block_until_ready((x, y, params, state))
    init_s = time.perf_counter() - t_init

    def loss_fn(params, xb, yb):
        logp = jax.nn.log_softmax(probe_jax.forward(name, params, xb))
        return -jax.numpy.take_along_axis(logp, yb[:, None], axis=1).mean()

    def step(params, state, x, y, idx):
        loss, grads = jax.value_and_grad(loss_fn)(params, x[idx], y[idx])
        params, state = probe_jax.adam_update(params, grads, state, lr)
        return params, state, loss

    train_step = jax.jit(step, donate_argnums=(0, 1),
                         out_shardings=(replicated, replicated, replicated))
    batch = scaling.BATCH_PER_WORKER * world
    n = data.n_train
    box = {"params": params, "state": state}

    def run_epoch(epoch: int) -> None:
        order = scaling.epoch_indices(config.seed, epoch, n, world).astype(np.int32)
        p, s = box["params"], box["state"]
        for start in range(0, len(order), batch):
            idx = jax.device_put(order[start:start + batch], by_data)
            p, s, _ = train_step(p, s, x, y, idx)
        box["params"], box["state"] = p, s

    times = harness.time_epochs(run_epoch, config.epochs,
                                lambda: jax.block_until_ready(box["params"]))
    params0 = jax.device_put(box["params"], devices[0])  # evaluate on one device, eagerly jitted
    logits = jax.jit(lambda p, xb: probe_jax.forward(name, p, xb))(
        params0, jax.device_put(data.x_test.reshape(-1, 8, 8, 1), devices[0]))
    accuracy = float((np.asarray(logits).argmax(axis=1) == data.y_test).mean())
    kind = "cpu" if devices[0].platform == "cpu" else "gpu"
    return scaling.result(
        "jax", config, world=world, engine="jax.jit + NamedSharding over a 1-D data mesh",
        version=jax.__version__,
        devices=[{"kind": kind, "name": getattr(d, "device_kind", d.platform)}
                 for d in devices[:world]],
        import_s=import_s, init_s=init_s,
        start_s=None if spawn_s is None else round(spawn_s + init_s, 4), times=times,
        samples_per_epoch=len(scaling.epoch_indices(config.seed, 0, n, world)),
        accuracy=accuracy, ran_on=kind,
        extra={"xla_flags": os.environ.get("XLA_FLAGS", ""), "devices_in_process": len(devices)},
    )


if __name__ == "__main__":
    scaling.run("jax", body)
