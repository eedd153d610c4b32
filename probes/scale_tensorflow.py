"""Scaling probe for TensorFlow: ``tf.distribute.MirroredStrategy`` in one process.

On a CPU machine the N replicas are N logical CPU devices (``tf.config.set_logical_device_
configuration``; inter-op threads = N, intra-op threads = 1, so each replica has one thread); on
GPUs they are the GPUs. The train step is the TF custom-training-loop recipe: a distributed
``tf.data`` pipeline (global batch 128 x N, split per replica, reshuffled every epoch),
``strategy.run`` of a step that takes the GradientTape gradients of ``tf.nn.compute_average_loss``, all-reduces them in the
replica context and applies the plain TensorFlow probe's Adam to every replica's copy of the
variables through ``strategy.extended.update`` (the optimizer's own path). Model and Adam are
probe_tensorflow.py's.

Several nodes (``--nnodes K``, started with ``--no-baseline``: the parent measures the baseline
in a separate 1-device process first): ``tf.distribute.MultiWorkerMirroredStrategy`` with the
group in ``TF_CONFIG`` (built by the parent: one "worker" task per node, task index = node rank),
ring all-reduce (CommunicationImplementation.RING) on the CPU, AUTO on GPUs. On the CPU each task
has one device (MultiWorkerMirroredStrategy uses CPU:0 only), so one worker per node. The
strategy is created first, before any other TensorFlow op, as TensorFlow requires.

The same process measures a 1-replica strategy first (the baseline), then the N-replica one; the
N logical devices and the thread pools (inter-op N, intra-op 1) exist for both, so the baseline
may overlap independent ops on up to N inter-op threads (it cannot be given fewer: the pools are
per process), which if anything lowers the measured efficiency.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import scaling  # noqa: E402
import probe_tensorflow  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def body(config: scaling.ScaleConfig):
    if config.nnodes > 1:
        return body_multi_worker(config)
    world = config.workers
    t_import = time.perf_counter()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    use_gpu = bool(gpus) and config.device == "auto" and len(gpus) >= world
    if not use_gpu:  # N logical CPU devices, made before the runtime starts
        tf.config.set_visible_devices([], "GPU")
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(world)])
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(world)
    tf.config.list_logical_devices()  # the runtime starts here
    import_s = time.perf_counter() - t_import
    spawn_s = scaling.start_seconds(config)
    data = harness.load_data(config.data_cache)
    runs = [measure(tf, config, data, w, use_gpu, import_s, spawn_s)
            for w in scaling.worlds(config)]
    return scaling.report("tensorflow", runs)


def body_multi_worker(config: scaling.ScaleConfig):
    """One task of a MultiWorkerMirroredStrategy group described by TF_CONFIG (one per node)."""
    import json

    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}")
    workers = cluster.get("cluster", {}).get("worker", [])
    if len(workers) != config.nnodes:
        raise RuntimeError(f"TF_CONFIG lists {len(workers)} worker(s), --nnodes is {config.nnodes}")
    t_import = time.perf_counter()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    use_gpu = bool(gpus) and config.device == "auto"
    if not use_gpu:
        tf.config.set_visible_devices([], "GPU")
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(max(2, config.workers))
    import_s = time.perf_counter() - t_import
    t_init = time.perf_counter()
    impl = tf.distribute.experimental.CommunicationImplementation
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=impl.AUTO if use_gpu else impl.RING))
    world = strategy.num_replicas_in_sync
    if world != config.workers * config.nnodes:
        raise RuntimeError(f"MultiWorkerMirroredStrategy has {world} replica(s), "
                           f"{config.workers * config.nnodes} requested")
    dist_s = time.perf_counter() - t_init
    spawn_s = scaling.start_seconds(config)
    data = harness.load_data(config.data_cache)
    run = measure(tf, config, data, world, use_gpu, import_s, spawn_s, strategy=strategy,
                  dist_s=dist_s)

    @tf.function
    def barrier():  # no task leaves (and shuts its server down) while another still runs
        return strategy.run(lambda: tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, tf.constant(1.0)))

    barrier()
    return scaling.report("tensorflow", [run])


def measure(tf, config, data, world, use_gpu, import_s, spawn_s, strategy=None, dist_s=0.0):
    t_init = time.perf_counter()
    if strategy is None:
        names = [f"/gpu:{i}" for i in range(world)] if use_gpu else \
            [f"/cpu:{i}" for i in range(world)]
        strategy = tf.distribute.MirroredStrategy(names)
    else:  # this task's devices of a multi-worker group
        names = list(strategy.extended.worker_devices)
    tf.random.set_seed(config.seed)
    n = data.n_train
    global_batch = scaling.BATCH_PER_WORKER * world
    x_tr = data.x_train.reshape(-1, 8, 8, 1)
    with strategy.scope():
        params, forward = probe_tensorflow.build(scaling.WORKLOAD, tf)
        opt = probe_tensorflow.Adam(tf, params, harness.LEARNING_RATE)
    init_s = time.perf_counter() - t_init + dist_s

    def apply(strategy_, grads):  # cross-replica context: update every replica's copy
        ext = strategy_.extended
        ext.update(opt.t, lambda t: t.assign_add(1.0), group=False)
        t = opt.t.read_value()
        scale = opt.lr * tf.sqrt(1.0 - opt.b2**t) / (1.0 - opt.b1**t)

        def update(p, g, m, v, scale):
            m.assign(opt.b1 * m + (1.0 - opt.b1) * g)
            v.assign(opt.b2 * v + (1.0 - opt.b2) * tf.square(g))
            return p.assign_sub(scale * m / (tf.sqrt(v) + opt.eps))

        for p, g, m, v in zip(params, grads, opt.m, opt.v):
            ext.update(p, update, args=(g, m, v, scale), group=False)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=yb, logits=forward(xb))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, params)
        ctx = tf.distribute.get_replica_context()
        grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        ctx.merge_call(apply, args=(grads,))
        return loss

    @tf.function
    def train_step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    # One distributed pipeline over the padded epoch (a whole number of global batches),
    # reshuffled by tf.data every epoch, as in the tf.distribute custom-loop tutorial.
    order = scaling.epoch_indices(config.seed, 0, n, world)
    ds = (tf.data.Dataset.from_tensor_slices((x_tr[order], data.y_train[order]))
          .shuffle(len(order), seed=config.seed, reshuffle_each_iteration=True)
          .batch(global_batch, drop_remainder=True).prefetch(2))
    if config.nnodes > 1:  # every task holds the same data: each takes its share of each batch
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(options)
    dist_ds = strategy.experimental_distribute_dataset(ds)
    last: dict = {}

    def run_epoch(epoch: int) -> None:
        for batch in dist_ds:
            last["loss"] = train_step(batch)

    def sync() -> None:
        if "loss" in last:
            last["loss"].numpy()

    times = harness.time_epochs(run_epoch, config.epochs, sync)
    with tf.device(names[0]):
        logits = forward(tf.constant(data.x_test.reshape(-1, 8, 8, 1)))
    accuracy = float((tf.argmax(logits, axis=1).numpy() == data.y_test).mean())
    kind = "gpu" if use_gpu else "cpu"
    if config.nnodes > 1:
        engine = (f"tf.distribute.MultiWorkerMirroredStrategy over {config.nnodes} workers "
                  f"(TF_CONFIG, {'AUTO' if use_gpu else 'RING'} all-reduce)")
    else:
        engine = (f"tf.distribute.MirroredStrategy over {world} "
                  f"{'GPU' if use_gpu else 'logical CPU'} device(s)")
    return scaling.result(
        "tensorflow", config, world=world, engine=engine,
        version=tf.__version__, devices=[{"kind": kind, "name": d} for d in names],
        import_s=import_s, init_s=init_s,
        start_s=None if spawn_s is None else round(spawn_s + init_s, 4), times=times,
        samples_per_epoch=len(scaling.epoch_indices(config.seed, 0, n, world)),
        accuracy=accuracy, ran_on=kind,
        extra={"cross_device_ops": type(getattr(strategy.extended, "_cross_device_ops", None)
                                        or object()).__name__,
               "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
               "intra_op_threads": 1},
    )


if __name__ == "__main__":
    scaling.run("tensorflow", body)
