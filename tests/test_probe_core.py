"""run_probe and `advisor probe` with fake probe scripts: pooling, flags, statuses, exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from probe_fixtures import ROOT, fake_probes_dir, gone, ok_payload, printing_script, read_pids

from advisor.infra.errors import BadInput
from advisor.probe import catalog, core, plan, pool
from advisor.probe.model import load_probe


@pytest.fixture
def installed(monkeypatch):
    """Every framework counts as installed unless a test says otherwise."""
    absent: set[str] = set()
    monkeypatch.setattr(plan, "is_installed", lambda module: module not in absent)
    return absent


def options(folder, **kw):
    kw.setdefault("frameworks", ("pytorch",))
    kw.setdefault("timeout_s", 30)
    kw.setdefault("threads", 1)
    return core.ProbeOptions(scripts=folder, **kw)


def test_ok_row_has_the_contract_and_records_the_run(tmp_path, installed):
    folder = fake_probes_dir(tmp_path, {"probe_pytorch.py": printing_script(ok_payload("pytorch"))})
    events = []
    report = core.run_probe(options(folder), events.append)
    row = report.row("pytorch")
    assert row.status == "ok" and row.flags == ()
    mlp = row.workloads["mlp-digits"]
    # by default every row runs in two fresh processes whose blocks are pooled
    assert row.repeats == 2
    assert mlp.samples_per_s.median == 1000.0 and mlp.samples_per_s.n == 10
    assert (mlp.processes.n, mlp.processes.medians, mlp.processes.spread,
            mlp.processes.within) == (2, (1000.0, 1000.0), 0.0, 0.001)
    assert mlp.between_spread == 0.0 and row.contended is False
    assert mlp.noisy is False and mlp.learned is True
    cnn = row.workloads["cnn-digits"]
    assert cnn.peak_gflops == 100.0 and cnn.fraction_of_peak > 0
    run = report.run
    assert run.threads == 1 and run.seed == 0 and run.epochs.timed == 3
    assert (run.processes.per_row, run.processes.interleaved,
            run.processes.blocks_per_process) == (2, True, 3)
    assert run.load_avg_before is None or len(run.load_avg_before) == 3
    assert [e.kind for e in events] == ["start", "start", "done"]
    # every workload is described in the file, whichever ran (the descriptions travel with it)
    assert report.schema_version == 1 and set(report.workloads) == {
        "mlp-digits", "cnn-digits", "attn-digits", "gbdt-digits"}
    assert report.workloads["attn-digits"]["family"] == "transformer"
    assert report.workloads["gbdt-digits"]["target_accuracy"] == 0.95


def test_repeat_pools_fresh_processes(tmp_path, installed):
    folder = fake_probes_dir(tmp_path, {"probe_pytorch.py": printing_script(ok_payload("pytorch"))})
    report = core.run_probe(options(folder, repeat=3))
    row = report.row("pytorch")
    assert row.repeats == 3
    assert row.workloads["mlp-digits"].samples_per_s.n == 15


def test_time_to_accuracy_pools_the_processes():
    runs = [{"target": 0.95, "reached": True, "s": s, "epochs": 3, "best_accuracy": 0.96}
            for s in (1.0, 2.0, 3.0)]
    pooled = pool.pool_time_to_accuracy(runs)
    assert pooled["reached"] and pooled["s"] == 2.0 and pooled["iqr_s"] == 1.0
    assert pooled["runs"] == 3 and pooled["values_s"] == [1.0, 2.0, 3.0]
    # one process that did not get there: the row did not reach it (no optimistic median)
    runs[1] = {"target": 0.95, "reached": False, "s": None, "epochs": None, "best_accuracy": 0.9}
    pooled = pool.pool_time_to_accuracy(runs)
    assert pooled["reached"] is False and pooled["s"] is None and pooled["reached_runs"] == 2
    assert pool.pool_time_to_accuracy([None, None]) is None


def test_noisy_and_not_learned_rows_are_flagged(tmp_path, installed):
    payload = ok_payload("pytorch", rates=(500.0, 1000.0, 1500.0, 800.0, 1200.0), accuracy=0.3)
    folder = fake_probes_dir(tmp_path, {"probe_pytorch.py": printing_script(payload)})
    row = core.run_probe(options(folder)).row("pytorch")
    assert row.workloads["mlp-digits"].noisy is True
    assert row.workloads["mlp-digits"].learned is False
    assert "noisy:mlp-digits" in row.flags and "not-learned:mlp-digits" in row.flags


def test_missing_framework_needs_no_process(tmp_path, installed):
    installed.add("torch")
    folder = fake_probes_dir(tmp_path, {"probe_pytorch.py": "raise SystemExit('must not run')"})
    row = core.run_probe(options(folder)).row("pytorch")
    assert row.status == "missing" and row.install_hint == "pip install torch"


def test_keras_rows_set_their_backend(tmp_path, installed):
    body = """
        import json, os
        name = "keras/" + os.environ["KERAS_BACKEND"]
        print(json.dumps({"status": "ok", "name": name, "workloads": {}}))
    """
    folder = fake_probes_dir(tmp_path, {"probe_keras.py": body})
    report = core.run_probe(options(folder, frameworks=("keras/jax", "keras/torch")))
    assert [r.name for r in report.frameworks] == ["keras/torch", "keras/jax"]
    assert all(r.status == "ok" for r in report.frameworks)


def test_child_env_pins_threads_and_gpu_memory(tmp_path):
    env = catalog.child_env(catalog.ROWS["keras/jax"], 3)
    assert env["OMP_NUM_THREADS"] == "3" and env["TF_NUM_INTRAOP_THREADS"] == "3"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["KERAS_BACKEND"] == "jax"


def test_one_failed_repeat_fails_the_row(tmp_path, installed, monkeypatch):
    body = """
        import json, os, pathlib
        marker = pathlib.Path("ran-once")
        if marker.exists():
            os._exit(7)
        marker.write_text("x")
        print(json.dumps({"status": "ok", "name": "pytorch", "workloads": {}}))
    """
    folder = fake_probes_dir(tmp_path, {"probe_pytorch.py": body})
    monkeypatch.chdir(tmp_path)
    row = core.run_probe(options(folder, repeat=2)).row("pytorch")
    assert row.status == "broken" and row.error.startswith("run 2/2:")


def test_missing_script_is_a_broken_row(tmp_path, installed):
    folder = fake_probes_dir(tmp_path, {})
    row = core.run_probe(options(folder)).row("pytorch")
    assert row.status == "broken" and "not found" in row.error


def test_bad_options_are_bad_input():
    with pytest.raises(BadInput, match="unknown framework"):
        plan.parse_frameworks("pytorch,caffe")
    with pytest.raises(BadInput):
        core.ProbeOptions(repeat=0).validate()
    assert plan.parse_frameworks("jax, jax,sklearn") == ("jax", "sklearn")


# ------------------------------------------------------------------------------------- the CLI
def cli(folder, *args, timeout=60):
    env = dict(os.environ, ADVISOR_PROBES_DIR=str(folder), PYTHONPATH=str(ROOT), COLUMNS="120")
    return subprocess.run([sys.executable, "-m", "advisor", "probe", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=folder)


def test_cli_writes_the_probe_json(tmp_path):
    script = printing_script(ok_payload("sklearn", cnn=False))
    folder = fake_probes_dir(tmp_path / "probes", {"probe_sklearn.py": script})
    out = tmp_path / "out" / "probe.json"
    done = cli(folder, "--frameworks", "sklearn", "--out", str(out), "--quick")
    assert done.returncode == 0, done.stderr
    report = load_probe(out)
    assert report.row("sklearn").status == "ok"
    assert report.run.quick is True
    # the results table is the command's output (stdout); progress and "wrote" go to stderr
    assert "sklearn" in done.stdout and "wrote" in done.stderr and "wrote" not in done.stdout


def test_cli_exits_1_when_nothing_ran_and_still_writes_the_file(tmp_path):
    # issue 15 item 11: the hardware and each row's failure are what the user needs to send on
    folder = fake_probes_dir(tmp_path / "probes", {"probe_sklearn.py": "print('garbage')"})
    out = tmp_path / "probe.json"
    done = cli(folder, "--frameworks", "sklearn", "--out", str(out))
    assert done.returncode == 1
    assert "no framework row could run" in done.stderr
    assert "Traceback" not in done.stderr
    assert load_probe(out).row("sklearn").status == "broken"


def test_cli_bad_framework_is_exit_2(tmp_path):
    done = cli(fake_probes_dir(tmp_path, {}), "--frameworks", "caffe")
    assert done.returncode == 2 and "unknown framework" in done.stderr


def test_cli_ctrl_c_kills_children_exits_130_and_writes_nothing(tmp_path):
    folder = fake_probes_dir(tmp_path / "probes", {"probe_sklearn.py": """
        import os, subprocess, sys, time
        grand = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open("pids", "w").write(f"{os.getpid()} {grand.pid}")
        time.sleep(120)
    """})
    out = tmp_path / "probe.json"
    env = dict(os.environ, ADVISOR_PROBES_DIR=str(folder), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "advisor", "probe", "--frameworks", "sklearn",
                             "--out", str(out)], env=env, cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (folder / "pids").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert not out.exists() and not list(tmp_path.glob(".probe.json.*"))
    pids = read_pids(folder / "pids")
    assert len(pids) == 2 and all(gone(pid) for pid in pids)


def test_row_that_cannot_see_the_hosts_gpu_is_flagged(tmp_path, installed, monkeypatch):
    from advisor.probe import hardware

    monkeypatch.setattr(hardware, "get_gpus", lambda: [hardware.Gpu("nvidia", "T4", 1, "1")])
    folder = fake_probes_dir(tmp_path, {"probe_pytorch.py": printing_script(ok_payload("pytorch"))})
    report = core.run_probe(options(folder))
    row = report.row("pytorch")
    assert report.gpus[0].name == "T4"
    assert row.sees_gpu is False and "gpu-not-visible" in row.flags


def test_cnn_rows_share_the_best_cpu_peak_of_the_run(tmp_path, installed):
    slow, fast = ok_payload("pytorch"), ok_payload("jax")
    cpu = "numpy-float32-matmul-cpu"
    slow["workloads"]["cnn-digits"].update(peak_gflops=50.0, peak_source=cpu)
    fast["workloads"]["cnn-digits"].update(peak_gflops=200.0, peak_source=cpu)
    folder = fake_probes_dir(tmp_path, {"probe_pytorch.py": printing_script(slow),
                                        "probe_jax.py": printing_script(fast)})
    report = core.run_probe(options(folder, frameworks=("pytorch", "jax")))
    assert report.run.cpu_matmul_peak_gflops == 200.0
    for name in ("pytorch", "jax"):
        cnn = report.row(name).workloads["cnn-digits"]
        assert cnn.peak_gflops == 200.0
        assert cnn.fraction_of_peak == pytest.approx(cnn.gflops / 200.0, rel=1e-3)


def test_busy_machine_is_recorded():
    assert pool.is_busy([3.0, 2.0, 1.0], 2) is True
    assert pool.is_busy([0.4, 2.0, 1.0], 2) is False
    assert pool.is_busy(None, 2) is False
