"""Scaling probe for Keras 3 on JAX: ``keras.distribution.DataParallel`` + ``model.fit``.

Keras' own distribution API (keras.distribution) is implemented for the JAX backend only; the
parent marks keras/tensorflow and keras/torch "unavailable" without starting them (on those
backends Keras defers to tf.distribute or to PyTorch DDP, which the tensorflow and pytorch rows
measure). The N devices are JAX devices (forced host devices on a CPU machine, like scale_jax.py).
The model is the plain Keras probe's cnn-digits; ``fit`` runs on the padded epoch (a whole number
of global batches of 128 x N), reshuffled by Keras every epoch. The same process measures a
1-device DataParallel first (the baseline), then N devices.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import scaling  # noqa: E402


def body(config: scaling.ScaleConfig):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "jax":
        raise RuntimeError(f"keras.distribution is not implemented for the {backend} backend")
    if config.nnodes != 1:
        raise RuntimeError("multi-node Keras/JAX (jax.distributed.initialize) is not wired")
    t_import = time.perf_counter()
    import keras

    import probe_keras

    keras.distribution.list_devices()  # the JAX backend starts here
    import_s = time.perf_counter() - t_import
    spawn_s = scaling.start_seconds(config)
    data = harness.load_data(config.data_cache)
    runs = [measure(keras, probe_keras, config, data, w, import_s, spawn_s)
            for w in scaling.worlds(config)]
    return scaling.report("keras/jax", runs)


def measure(keras, probe_keras, config, data, world, import_s, spawn_s):
    import jax

    t_init = time.perf_counter()
    devices = keras.distribution.list_devices()
    if len(devices) < world:
        raise RuntimeError(f"Keras sees {len(devices)} device(s), {world} requested")
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices[:world]))
    probe_keras._seed(config.seed)
    model = probe_keras.build(scaling.WORKLOAD, keras)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=harness.LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    init_s = time.perf_counter() - t_init
    n = data.n_train
    # The padded epoch (a whole number of global batches); fit reshuffles it every epoch.
    order = scaling.epoch_indices(config.seed, 0, n, world)
    global_batch = scaling.BATCH_PER_WORKER * world
    timer = probe_keras.EpochTimer(keras)
    # Two warm-up epochs: Keras on JAX compiles once more at the start of its second epoch
    # (measured: 1.5-2.5 s on the 2-core machine), which is no steady state.
    warmup = 2
    model.fit(data.x_train.reshape(-1, 8, 8, 1)[order], data.y_train[order],
              batch_size=global_batch, epochs=warmup + config.epochs, shuffle=True, verbose=0,
              callbacks=[timer.callback])
    times = harness.EpochTimes(sum(timer.durations[:warmup]), timer.durations[warmup:])
    logits = keras.ops.convert_to_numpy(model(data.x_test.reshape(-1, 8, 8, 1), training=False))
    accuracy = float((logits.argmax(axis=1) == data.y_test).mean())
    kind = "cpu" if jax.devices()[0].platform == "cpu" else "gpu"
    return scaling.result(
        "keras/jax", config, world=world,
        engine="keras.distribution.DataParallel (JAX backend) + model.fit",
        version=keras.__version__,
        devices=[{"kind": kind, "name": str(d)} for d in devices[:world]],
        import_s=import_s, init_s=init_s,
        start_s=None if spawn_s is None else round(spawn_s + init_s, 4), times=times,
        samples_per_epoch=len(order), accuracy=accuracy, ran_on=kind,
        extra={"backend": "jax", "backend_version": jax.__version__,
               "epochs": {"warmup": warmup, "timed": len(times.timed_s)}},
    )


if __name__ == "__main__":
    scaling.run("keras/jax", body)
