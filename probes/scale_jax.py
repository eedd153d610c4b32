"""Scaling probe for JAX: one process, ``jax.jit`` with a data-parallel sharding over N devices.

On a CPU machine the devices are host devices forced with the documented XLA flag
``--xla_force_host_platform_device_count=N`` (set by the parent before JAX starts; each device
runs its computations on one thread: ``--xla_cpu_multi_thread_eigen=false``); on GPUs they are the
GPUs. The batch indices are sharded along a 1-D ``data`` mesh axis, parameters and optimizer state
are replicated; XLA's partitioner inserts the gradient all-reduce. Model, init and Adam are the
plain JAX probe's (probe_jax.py). Per-device batch 128, global batch 128 x N.

The same process measures a 1-device mesh first (the baseline), then the N-device mesh.

Several nodes (``--nnodes K --node-rank R --master-addr A --master-port P``, started with
``--no-baseline``: the parent measures the baseline in a separate 1-device process first): JAX's
own multi-controller start, ``jax.distributed.initialize(coordinator_address="A:P",
num_processes=K, process_id=R)`` (node 0 serves the coordinator), before any computation; on
the CPU cross-process collectives go through gloo (``jax_cpu_collectives_implementation``). The
mesh then spans the K x N global devices (N local ones per process); every global array is built
with ``jax.make_array_from_callback`` from the same host data on every process.
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
    if config.device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    t_import = time.perf_counter()
    import jax

    import_s = time.perf_counter() - t_import
    dist_s = 0.0
    if config.nnodes > 1:
        if config.master_port is None:
            raise RuntimeError("multi-node JAX needs --master-port")
        t_dist = time.perf_counter()
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=f"{config.master_addr}:{config.master_port}",
            num_processes=config.nnodes, process_id=config.node_rank)
        dist_s = time.perf_counter() - t_dist
    t_devices = time.perf_counter()
    jax.devices()  # the backend starts here: part of getting the process ready
    import_s += time.perf_counter() - t_devices
    spawn_s = scaling.start_seconds(config)
    data = harness.load_data(config.data_cache)
    if config.nnodes > 1:
        worlds = [config.workers * config.nnodes]
    else:
        worlds = scaling.worlds(config)
    try:
        runs = [measure(jax, config, data, world, import_s, spawn_s, dist_s) for world in worlds]
    finally:
        if config.nnodes > 1:
            jax.distributed.shutdown()  # a barrier: no process leaves while another still runs
    return scaling.report("jax", runs)


def measure(jax, config, data, world, import_s, spawn_s, dist_s=0.0):
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

    def put(value, sharding):  # a global array from the same host value on every process
        value = np.asarray(value)
        return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

    x = put(data.x_train.reshape(-1, 8, 8, 1), replicated)
    y = put(data.y_train.astype(np.int32), replicated)
    params = jax.tree.map(lambda a: put(a, replicated), probe_jax.init(name, config.seed))
    state = jax.tree.map(lambda a: put(a, replicated), probe_jax.adam_init(params))
    jax.block_until_ready((x, y, params, state))
    init_s = time.perf_counter() - t_init + dist_s

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
            idx = put(order[start:start + batch], by_data)
            p, s, _ = train_step(p, s, x, y, idx)
        box["params"], box["state"] = p, s

    times = harness.time_epochs(run_epoch, config.epochs,
                                lambda: jax.block_until_ready(box["params"]))
    local = jax.local_devices()[0]  # evaluate on one device of this process
    params0 = jax.tree.map(lambda a: jax.device_put(a.addressable_data(0), local), box["params"])
    logits = jax.jit(lambda p, xb: probe_jax.forward(name, p, xb))(
        params0, jax.device_put(data.x_test.reshape(-1, 8, 8, 1), local))
    accuracy = float((np.asarray(logits).argmax(axis=1) == data.y_test).mean())
    kind = "cpu" if devices[0].platform == "cpu" else "gpu"
    engine = "jax.jit + NamedSharding over a 1-D data mesh"
    if config.nnodes > 1:
        engine += f", jax.distributed over {config.nnodes} processes (gloo on the CPU)"
    return scaling.result(
        "jax", config, world=world, engine=engine,
        version=jax.__version__,
        devices=[{"kind": kind, "name": getattr(d, "device_kind", d.platform)}
                 for d in devices[:world]],
        import_s=import_s, init_s=init_s,
        start_s=None if spawn_s is None else round(spawn_s + init_s, 4), times=times,
        samples_per_epoch=len(scaling.epoch_indices(config.seed, 0, n, world)),
        accuracy=accuracy, ran_on=kind,
        extra={"xla_flags": os.environ.get("XLA_FLAGS", ""),
               "devices_in_process": len(jax.local_devices()),
               "process_index": jax.process_index(), "process_count": jax.process_count()},
    )


if __name__ == "__main__":
    scaling.run("jax", body)
