"""The shared probe harness: statistics, timing discipline, FLOPs, data, thread pinning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from probe_fixtures import PROBES

sys.path.insert(0, str(PROBES))
import harness


def test_quantiles_median_iqr_n():
    stats = harness.quantiles([5.0, 1.0, 3.0, 2.0, 4.0])
    assert stats["median"] == 3.0
    assert stats["iqr"] == 2.0  # q3 4 - q1 2
    assert stats["n"] == 5
    assert harness.quantiles([])["n"] == 0


def test_time_epochs_syncs_before_every_clock_read():
    events = []
    ticks = iter(range(100))

    def clock():
        events.append("clock")
        return float(next(ticks))

    times = harness.time_epochs(lambda epoch: events.append(f"epoch{epoch}"), 2,
                                lambda: events.append("sync"), clock=clock)
    assert events == ["sync", "clock", "epoch0", "sync", "clock",
                      "sync", "clock", "epoch1", "sync", "clock",
                      "sync", "clock", "epoch2", "sync", "clock"]
    assert times.first_s == 1.0 and times.timed_s == [1.0, 1.0]


def test_cnn_flops_are_analytic():
    assert harness.cnn_forward_macs() == 8 * 8 * 32 * 9 + 8 * 8 * 64 * 9 * 32 + 1024 * 128 + 1280
    assert harness.cnn_train_flops_per_sample() == 6 * 1_330_432


def test_workload_result_reports_fraction_of_peak():
    times = harness.EpochTimes(2.0, [1.0, 1.0, 1.0, 1.0, 1.0])
    out = harness.workload_result("cnn-digits", times, 1000, 0.9, 100.0, "workload", 80.0, "x")
    gflops = 1000 * harness.cnn_train_flops_per_sample() / 1e9
    assert out["gflops"] == pytest.approx(gflops, rel=1e-3)
    assert out["fraction_of_peak"] == pytest.approx(gflops / 80.0, rel=1e-3)
    assert out["samples_per_s"]["median"] == 1000.0 and out["samples_per_s"]["n"] == 5
    mlp = harness.workload_result("mlp-digits", times, 1000, 0.9, 100.0, "workload", None, None)
    assert "gflops" not in mlp


def test_gpu_peak_uses_the_framework_matmul_when_given():
    info = {"_device_matmul_peak": lambda: 123.0, "_device_peak_source": "torch-cuda"}
    assert harness._peak(info) == (123.0, "torch-cuda")


def test_thread_env_pins_every_pool():
    env = harness.thread_env(3)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        assert env[key] == "3"
    assert "--xla_cpu_multi_thread_eigen=true" in env["XLA_FLAGS"]
    assert "--xla_cpu_multi_thread_eigen=false" in harness.thread_env(1)["XLA_FLAGS"]


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        harness.parse_args(["--workloads", "resnet"])
    with pytest.raises(SystemExit):
        harness.parse_args(["--threads", "0"])


def test_data_split_and_cache(tmp_path):
    pytest.importorskip("sklearn")
    data = harness.load_data(str(tmp_path))
    assert data.x_train.shape == (1437, 64) and data.x_test.shape == (360, 64)
    assert str(data.x_train.dtype) == "float32"
    assert abs(float(data.x_train.mean())) < 1e-3  # standardized on the train part
    counts = [int((data.y_test == k).sum()) for k in range(10)]
    assert max(counts) - min(counts) <= 2  # stratified
    cached = list(tmp_path.glob("digits-v*.npz"))
    assert len(cached) == 1
    again = harness.load_data(str(tmp_path))
    assert (again.x_train == data.x_train).all() and (again.y_test == data.y_test).all()


def test_epoch_order_is_seeded_and_changes_per_epoch():
    a, b = harness.epoch_order(0, 1, 50), harness.epoch_order(0, 1, 50)
    assert (a == b).all()
    assert not (harness.epoch_order(0, 2, 50) == a).all()
    assert sorted(a.tolist()) == list(range(50))


def _run_probe_script(tmp_path, body):
    script = tmp_path / "probe_fake.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(PROBES)!r})\nimport harness\n{body}")
    done = subprocess.run([sys.executable, str(script), "--threads", "1"], capture_output=True,
                          text=True, timeout=60)
    return done, done.stdout.strip().splitlines()


def test_missing_framework_reports_missing_with_hint(tmp_path):
    done, lines = _run_probe_script(tmp_path, """
def load(config):
    import advisor_no_such_framework_xyz
PROBE = harness.Probe("fake", "advisor_no_such_framework_xyz", "pip install fake", load, None)
harness.main(PROBE)
""")
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["status"] == "missing" and result["install_hint"] == "pip install fake"


def test_framework_chatter_never_reaches_stdout_and_errors_are_one_line(tmp_path):
    done, lines = _run_probe_script(tmp_path, """
def load(config):
    print("framework banner on stdout")
    return {"version": "0"}
def run(name, config, data, info):
    raise RuntimeError("kernel failed\\nsecond line")
PROBE = harness.Probe("fake", "fake", "pip install fake", load, run)
harness.main(PROBE)
""")
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert result["status"] == "broken"
    assert result["error"] == "RuntimeError: kernel failed"
    assert "framework banner" in done.stderr
    assert done.returncode == 1


def test_keras_on_a_gpu_is_judged_against_its_backends_device_peak():
    """A Keras row on a GPU takes its backend's device matmul as the peak, not numpy's CPU one
    (found on an H200: keras/jax reached '68%' of the CPU's peak). The GPU is faked; the matmul
    is JAX's real one on this machine's CPU."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(PROBES)!r})
        import harness, probe_keras
        probe_keras._devices = lambda: [{{"kind": "cpu", "name": "cpu"}},
                                        {{"kind": "gpu", "name": "fake"}}]
        info = probe_keras.load(harness.Config(threads=1))
        peak = info["_device_matmul_peak"]()
        print(info["ran_on"], info["_device_peak_source"], peak > 0)
    """)
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["gpu", "jax-cpu-float32-matmul", "True"]


def _fake_clock(epoch_s: float, events: list[str]):
    """A clock that advances ``epoch_s`` per epoch run (events holds 'epochN' and 'sync')."""
    state = {"now": 0.0, "seen": 0}

    def clock() -> float:
        epochs = sum(e.startswith("epoch") for e in events)
        state["now"] += (epochs - state["seen"]) * epoch_s
        state["seen"] = epochs
        return state["now"]

    return clock


def test_short_epochs_are_timed_in_blocks_of_at_least_the_minimum():
    events: list[str] = []
    times = harness.time_epochs(lambda epoch: events.append(f"epoch{epoch}"), 5,
                                lambda: events.append("sync"), clock=_fake_clock(0.004, events),
                                min_block_s=0.05)
    assert times.per_block == 13  # ceil(0.05 / 0.004)
    assert times.calibration_s == pytest.approx(0.004)
    assert len(times.timed_s) == 5 and all(t == pytest.approx(0.004) for t in times.timed_s)
    epochs = [e for e in events if e.startswith("epoch")]
    assert epochs == [f"epoch{i}" for i in range(1 + 1 + 5 * 13)]  # warm-up, calibration, blocks
    assert events.count("sync") == 2 * (1 + 1 + 5)  # around blocks, not around every epoch
    out = harness.workload_result("mlp-digits", times, 1000, 0.9, 100.0, "workload", None, None)
    assert out["epochs"] == {"warmup": 1, "calibration": 1, "blocks": 5, "per_block": 13,
                             "timed": 65}
    assert out["samples_per_s"]["n"] == 5 and out["samples_per_s"]["median"] == pytest.approx(250000)


def test_long_epochs_keep_one_epoch_per_block_and_waste_none():
    events: list[str] = []
    times = harness.time_epochs(lambda epoch: events.append(f"epoch{epoch}"), 5,
                                lambda: events.append("sync"), clock=_fake_clock(0.2, events),
                                min_block_s=0.05)
    assert times.per_block == 1 and times.calibration_s is None
    assert sum(e.startswith("epoch") for e in events) == 1 + 5  # the calibration is block 1


def test_epochs_per_block_is_bounded():
    assert harness.epochs_per_block(0.0001, 0.05) == harness.MAX_EPOCHS_PER_BLOCK
    assert harness.epochs_per_block(0.0, 0.05) == harness.MAX_EPOCHS_PER_BLOCK
    assert harness.epochs_per_block(0.01, 0.0) == 1
    assert harness.epochs_per_block(0.02, 0.05) == 3


def test_blocks_from_a_callbacks_epoch_durations():
    """Keras: [calibration, then per_block x blocks epochs] -> mean epoch time per block."""
    t = harness.blocks_from_epochs(1.0, [0.01, 0.01, 0.03, 0.02, 0.02], 2, 2)
    assert t.calibration_s == 0.01 and t.per_block == 2
    assert t.timed_s == pytest.approx([0.02, 0.02])
    one = harness.blocks_from_epochs(1.0, [0.1, 0.2, 0.3], 3, 1)
    assert one.timed_s == [0.1, 0.2, 0.3] and one.calibration_s is None


def test_time_to_accuracy_stops_the_clock_for_evaluations():
    """Evaluation runs with the clock stopped, after every epoch until the target is reached."""
    now = [0.0]
    accuracy = iter([0.5, 0.9, 0.96])
    evaluated = []

    def run_epoch(epoch):
        now[0] += 1.0  # every epoch takes one second

    def evaluate():
        now[0] += 100.0  # an expensive evaluation must not count
        evaluated.append(now[0])
        return next(accuracy)

    times = harness.time_epochs(run_epoch, 3, lambda: None, clock=lambda: now[0],
                                evaluate=evaluate, target=0.95)
    assert times.first_s == 1.0 and times.timed_s == [1.0, 1.0, 1.0]
    assert times.reached == (3, 3.0)  # third epoch, three seconds of training
    assert len(evaluated) == 3  # no evaluation after the target was reached
    out = harness.time_to_accuracy(times)
    assert out["reached"] and out["s"] == 3.0 and out["epochs"] == 3
    assert out["curve"] == [[1, 1.0, 0.5], [2, 2.0, 0.9], [3, 3.0, 0.96]]


def test_time_to_accuracy_chases_the_target_past_the_blocks_within_a_budget():
    now = [0.0]

    def run_epoch(epoch):
        now[0] += 0.4

    times = harness.time_epochs(run_epoch, 2, lambda: None, clock=lambda: now[0],
                                evaluate=lambda: 0.5, target=0.95, extra_s=1.0)
    assert len(times.timed_s) == 2  # the throughput blocks are unchanged
    assert times.epochs_trained == 3 + 3  # warm-up + 2 blocks, then 3 x 0.4 s >= 1.0 s of chase
    assert times.reached is None and harness.time_to_accuracy(times)["reached"] is False
    none = harness.time_epochs(run_epoch, 2, lambda: None, clock=lambda: now[0])
    assert none.curve == [] and harness.time_to_accuracy(none) is None


def test_keras_epochs_give_the_same_time_to_accuracy():
    times = harness.blocks_from_epochs(2.0, [1.0, 1.0, 1.0, 1.0], 3, 1,
                                       accuracy=[0.5, 0.97], target=0.95)
    assert times.timed_s == [1.0, 1.0, 1.0] and times.reached == (2, 3.0)
    assert times.epochs_trained == 5


def test_attention_flops_are_analytic():
    per_layer = 8 * 64 * 192 + 2 * 8 * 8 * 64 + 8 * 64 * 64 + 2 * 8 * 64 * 128
    assert harness.attn_forward_macs() == 8 * 8 * 64 + 2 * per_layer + 640
    assert harness.TRAIN_FLOPS["attn-digits"]() == 6 * harness.attn_forward_macs()


def test_every_workload_has_one_spec():
    assert set(harness.SPECS) == set(harness.WORKLOADS) == {
        "mlp-digits", "cnn-digits", "attn-digits", "gbdt-digits"}
    for spec in harness.SPECS.values():
        assert {"family", "batch_size", "gate", "model"} <= set(spec)
        assert 0.1 < spec["gate"] < harness.TARGET_ACCURACY
