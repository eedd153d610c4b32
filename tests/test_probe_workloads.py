"""What the probe measures (issue 12): the workload table, GPU sizes (with fakes: never on a CPU),
and real short runs of the new workloads (marked ``probe``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from probe_fixtures import PROBES

sys.path.insert(0, str(PROBES))
import harness

from advisor.probe import catalog, pool, protocol
from advisor.probe.runner import ChildResult

FAKE = """
import json, sys
sys.path.insert(0, {probes!r})
import harness

calls = []

def times():
    return harness.EpochTimes(0.5, [0.1, 0.1, 0.1], curve=[[1, 0.5, 0.9]], reached=None)

def load(config):
    return {{"version": "1", "devices": [], "ran_on": {ran_on!r},
            "_device_matmul_peak": (lambda: 1000.0) if {ran_on!r} == "gpu" else None}}

def run(name, config, data, info):
    return times(), 0.97, None

def run_variant(name, variant, config, data, info):
    calls.append([name, variant.key, variant.precision])
    sys.stderr.write("VARIANT " + json.dumps(calls[-1]) + "\\n")
    if variant.precision == {fail!r}:
        raise RuntimeError("CUDA out of memory.\\nTried to allocate 2 GiB")
    return times(), 0.5, 123.0

harness.main(harness.Probe("fake", "json", "", load, run, run_variant=run_variant, bf16={bf16!r}))
"""


def _run(tmp_path, ran_on, workloads="mlp-digits,cnn-digits,gbdt-digits", bf16=True, fail=None):
    script = tmp_path / "probe_fake.py"
    script.write_text(FAKE.format(probes=str(PROBES), ran_on=ran_on, bf16=bf16, fail=fail))
    done = subprocess.run([sys.executable, str(script), "--threads", "1", "--epochs", "3",
                           "--workloads", workloads, "--data-cache", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    calls = [json.loads(line[8:]) for line in done.stderr.splitlines()
             if line.startswith("VARIANT ")]
    return out, calls


def test_gpu_sizes_run_only_on_a_gpu(tmp_path):
    out, calls = _run(tmp_path, "cpu")
    assert out["status"] == "ok"
    assert calls == [] and all("@" not in k for k in out["workloads"])


def test_gpu_sizes_on_a_gpu_float32_and_bf16_with_fraction_of_peak(tmp_path):
    out, calls = _run(tmp_path, "gpu")
    keys = set(out["workloads"])
    assert {"mlp-digits@large", "mlp-digits@large-bf16", "cnn-digits@large",
            "cnn-digits@large-bf16"} <= keys
    assert not any(k.startswith("gbdt-digits@") for k in keys)  # trees have no GPU size
    large = out["workloads"]["cnn-digits@large"]
    assert large["precision"] == "float32" and large["width"] == harness.GPU_WIDTH
    assert large["batch_size"] == harness.GPU_BATCH["cnn-digits"]
    assert large["train_flops_per_sample"] == harness.cnn_train_flops_per_sample(harness.GPU_WIDTH)
    assert large["peak_gflops"] == 1000.0 and 0 < large["fraction_of_peak"]
    assert out["workloads"]["cnn-digits@large-bf16"]["precision"] == "bf16-mixed"
    assert {c[2] for c in calls} == {"float32", "bf16-mixed"}


def test_a_framework_without_bf16_runs_float32_only(tmp_path):
    out, _ = _run(tmp_path, "gpu", "cnn-digits", bf16=False)
    assert set(out["workloads"]) == {"cnn-digits", "cnn-digits@large"}


def test_a_failing_gpu_size_leaves_the_row_standing(tmp_path):
    out, _ = _run(tmp_path, "gpu", "cnn-digits", fail="bf16-mixed")
    assert out["status"] == "ok"
    assert out["workloads"]["cnn-digits@large-bf16"]["error"].startswith("RuntimeError: CUDA out")
    row = pool.pool_row(catalog.ROWS["pytorch"], [ChildResult("ok", out, None, None, 1.0)],
                        ("cnn-digits",), host_has_gpu=True)
    assert set(row["workloads"]) == {"cnn-digits", "cnn-digits@large"}
    assert row["size_errors"]["cnn-digits@large-bf16"].startswith("RuntimeError")
    assert row["workloads"]["cnn-digits@large"]["learned"]  # 0.5: a few wide steps beat chance


def test_the_parent_and_the_children_share_one_workload_table():
    assert harness.SPECS == protocol.SPECS  # the very file, loaded by path in the child
    assert catalog.WORKLOADS == protocol.WORKLOADS
    assert catalog.ROWS["sklearn"].workloads == ("mlp-digits", "gbdt-digits")
    for name in ("pytorch", "tensorflow", "keras/jax", "jax"):
        assert "attn-digits" in catalog.ROWS[name].workloads


# --------------------------------------------------------------------------- real, short runs
def _real(script: str, workloads: str, tmp_path, env: dict | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, str(PROBES / script), "--threads", "1", "--epochs", "3",
         "--workloads", workloads, "--data-cache", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok", out.get("error")
    return out


@pytest.mark.probe
def test_real_sklearn_measures_gradient_boosting_by_time_to_accuracy(tmp_path):
    out = _real("probe_sklearn.py", "gbdt-digits,mlp-digits", tmp_path)
    for name in ("gbdt-digits", "mlp-digits"):
        tta = out["workloads"][name]["time_to_accuracy"]
        assert tta["target"] == 0.95 and tta["reached"], tta
        assert 0 < tta["s"] and tta["curve"][-1][2] >= 0.95
    assert out["workloads"]["gbdt-digits"]["accuracy"] >= 0.9


@pytest.mark.probe
@pytest.mark.parametrize("script,env", [("probe_pytorch.py", {}), ("probe_jax.py", {}),
                                        ("probe_tensorflow.py", {}),
                                        ("probe_keras.py", {"KERAS_BACKEND": "jax"})])
def test_real_attention_workload_learns_in_every_framework(script, env, tmp_path):
    out = _real(script, "attn-digits", tmp_path, env)
    wl = out["workloads"]["attn-digits"]
    assert wl["accuracy"] >= protocol.SPECS["attn-digits"]["gate"]
    assert wl["samples_per_s"]["n"] == 3 and wl["train_flops_per_sample"] > 0
    assert wl["time_to_accuracy"]["curve"]  # checked after every epoch


@pytest.mark.probe
@pytest.mark.parametrize("script,env", [("probe_pytorch.py", {}), ("probe_jax.py", {}),
                                        ("probe_keras.py", {"KERAS_BACKEND": "jax"})])
def test_real_gpu_size_code_paths_run_in_bf16(script, env, tmp_path):
    """The GPU sizes' code (width, batch, bf16 mixed precision) runs, here on the CPU by a direct
    call at a small size (the probe itself runs them on a GPU only)."""
    code = f"""
import json, os, sys
sys.path.insert(0, {str(PROBES)!r})
import harness, {script[:-3]} as p
config = harness.Config(threads=1, epochs=2, data_cache={str(tmp_path)!r}, min_block_s=0.0)
info = p.load(config)
data = harness.load_data(config.data_cache)
out = {{}}
for precision in ("float32", "bf16-mixed"):
    v = harness.Variant("mlp-digits@large", 2, 256, precision)
    times, acc, _ = p.run_variant("mlp-digits", v, config, data, info)
    out[precision] = [acc, len(times.timed_s)]
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for precision in ("float32", "bf16-mixed"):
        accuracy, blocks = out[precision]
        assert blocks == 2 and accuracy > protocol.VARIANT_GATE, out
