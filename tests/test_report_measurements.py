"""Measured numbers decide, visibly and honestly (probe facts -> rules and performance ratings)."""

from __future__ import annotations

import copy
import json

from tests.reports_support import assessment, probe_data

# The bundled example (vision backbones, performance first) for a team that knows TensorFlow:
# PyTorch wins narrowly over Keras 3 (a Keras team would keep Keras).
TF_STACK = ("team_experience=tensorflow",)


def _perf_parts(a, cand):
    return [p for p in a.result(cand).parts if p.kind == "measurement"]


def test_tensorflow_blind_to_the_nvidia_gpu_and_several_times_slower():
    a = assessment("nvidia-tf-blind")
    assert a.resolved["training_hardware"] == {"value": "nvidia_gpu", "source": "probe file"}
    fired = {r.id for r in a.fired_rules}
    assert "probe.tensorflow-no-gpu" in fired and "probe.pytorch-no-gpu" not in fired
    [part] = _perf_parts(a, "tensorflow")
    assert part.source == "measured:cnn-digits" and part.rating < -1.5
    [m] = [m for m in a.measurements if m.candidate == "tensorflow"]
    assert abs(m.points - part.points) < 1e-12 and m.value < 0.3
    assert "0.29x the measured candidates' geometric mean" in m.detail
    # centred on the measured candidates: being measured is not a one-sided penalty
    changes = [p.rating for c in ("pytorch", "keras", "tensorflow") for p in _perf_parts(a, c)]
    assert abs(sum(changes)) < 1e-2 and max(changes) > 0
    # PyTorch (48k) and Keras on torch (30.5k) overlap within one process' spread: one group
    assert _perf_parts(a, "pytorch")[0].rating == _perf_parts(a, "keras")[0].rating
    # scores still decompose exactly
    for r in a.ranking:
        assert abs(sum(p.points for p in r.parts) - r.score) < 1e-9
    assert a.result("jax").installed is False


def _write(tmp_path, data, name="p.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _slow_pytorch(spread: float, n: int = 5) -> dict:
    data = probe_data("cpu-noisy")
    for row in data["frameworks"]:
        wl = (row.get("workloads") or {}).get("cnn-digits")
        if wl:
            wl["samples_per_s"] = {"median": 2400.0, "iqr": spread, "n": n}
    torch = next(r for r in data["frameworks"] if r["name"] == "pytorch")
    torch["workloads"]["cnn-digits"]["samples_per_s"] = {"median": 480.0, "iqr": spread / 5, "n": n}
    return data


def test_a_much_slower_framework_loses_the_recommendation(tmp_path):
    without = assessment(None, TF_STACK)
    assert without.winner == "pytorch"
    a = assessment(_write(tmp_path, _slow_pytorch(spread=100.0)), TF_STACK)
    assert a.winner != "pytorch"
    [part] = _perf_parts(a, "pytorch")
    assert part.rating < -1.5  # 5x slower than the other three
    assert any(m.candidate == "pytorch" and "480 samples/s on cnn-digits = 0.30x" in m.detail
               for m in a.measurements)


def test_a_difference_inside_the_spread_moves_nothing(tmp_path):
    data = _slow_pytorch(spread=100.0)
    torch = next(r for r in data["frameworks"] if r["name"] == "pytorch")
    torch["workloads"]["cnn-digits"]["samples_per_s"] = {"median": 2000.0, "iqr": 900.0, "n": 5}
    a = assessment(_write(tmp_path, data), TF_STACK)
    assert not _perf_parts(a, "pytorch")
    assert any("too close" in n and "PyTorch" in n for n in a.measurement_notes)
    noisy = assessment("cpu-noisy")
    assert all(not _perf_parts(noisy, c) for c in ("pytorch", "keras", "tensorflow", "jax"))
    assert noisy.measurement_notes[0].startswith("The measured candidates are too close")


def test_too_few_timed_epochs_move_nothing(tmp_path):
    a = assessment(_write(tmp_path, _slow_pytorch(spread=0.0, n=1)), TF_STACK)
    assert not _perf_parts(a, "pytorch")
    assert any("fewer than 3 timed blocks" in n for n in a.measurement_notes)
    assert a.winner == "pytorch"


def test_rows_that_did_not_learn_or_broke_are_facts_not_speeds(tmp_path):
    data = copy.deepcopy(probe_data("nvidia-tf-blind"))
    tf = next(r for r in data["frameworks"] if r["name"] == "tensorflow")
    tf["workloads"]["cnn-digits"]["accuracy"] = 0.11
    a = assessment(_write(tmp_path, data))
    assert "probe.tensorflow-failed" in {r.id for r in a.fired_rules}
    assert not any(m.candidate == "tensorflow" for m in a.measurements)


def test_a_quick_probe_without_the_matching_workload_says_so(tmp_path):
    data = copy.deepcopy(probe_data("nvidia-tf-blind"))
    for row in data["frameworks"]:
        (row.get("workloads") or {}).pop("cnn-digits", None)  # what a --quick probe leaves
    a = assessment(_write(tmp_path, data))  # an image project: cnn-digits is its workload
    assert not any(p.kind == "measurement" for r in a.ranking for p in r.parts)
    assert any("did not measure" in n and "--quick" in n for n in a.measurement_notes)


def test_a_real_probe_of_an_h200_reads_as_a_gpu_machine():
    """examples/probe-h200.json came from `advisor probe` on a real NVIDIA H200 machine (torch
    2.11 cu130, JAX 0.11.2 CUDA, Keras 3.15, no TensorFlow): every GPU row saw the GPU, ran on
    it and was judged against its own framework's device matmul."""
    from pathlib import Path

    from advisor.probe.model import load_probe

    path = Path(__file__).resolve().parent.parent / "examples" / "probe-h200.json"
    report = load_probe(path)
    assert report.gpus[0].name == "NVIDIA H200"
    for name in ("pytorch", "keras/torch", "keras/jax", "jax"):
        row = report.row(name)
        assert row.status == "ok" and row.sees_gpu and row.ran_on == "gpu"
        cnn = row.workloads["cnn-digits"]
        assert "cpu" not in cnn.extra["peak_source"] and cnn.fraction_of_peak < 0.05
    assert report.row("tensorflow").status == "missing"
    a = assessment(str(path))
    assert a.resolved["training_hardware"] == {"value": "nvidia_gpu", "source": "probe file"}
    assert a.result("tensorflow").installed is False
    # its digits-sized numbers measure launch overhead on the GPU: no score moves, and it says so
    assert a.measurements == [] and not any(p.kind == "measurement" for r in a.ranking
                                            for p in r.parts)
    assert "kernel-launch overhead" in a.measurement_notes[0]
