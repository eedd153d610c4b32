"""The scaling probe without frameworks: efficiency math, orchestration with fake runners and
fake workers (crash, hang, grandchildren in sessions of their own), facts, rules, reports."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli
from probe_fixtures import PROBES, fake_probes_dir, gone, read_pids

from advisor.probe import catalog, scaling
from advisor.probe.model import ProbeDocument
from advisor.probe.runner import ChildResult

HOST = {"cpu_model": "test", "logical_cores": 2, "usable_cores": 2, "memory_bytes": 1,
        "os": "linux", "python": "3.11"}


def run(world: int, rates, accuracy=0.95, start_s=1.0) -> dict:
    xs = sorted(rates)
    return {"world_size": world, "workers": world, "nnodes": 1, "engine": "fake engine",
            "version": "1.0", "ran_on": "cpu", "start_s": start_s, "init_s": 0.1,
            "import_s": 0.5, "first_epoch_s": 0.3, "accuracy": accuracy,
            "samples_per_s": {"median": xs[len(xs) // 2], "iqr": xs[-1] - xs[0], "n": len(xs),
                              "values": list(rates)}}


def ok(name: str, runs: list[dict]) -> ChildResult:
    return ChildResult("ok", {"name": name, "status": "ok", "runs": runs}, None, 0, 1.0)


# ------------------------------------------------------------------------------ efficiency
def test_efficiency_is_median_ratio_with_quartile_interval():
    eff = scaling.efficiency([100.0, 100.0, 100.0], [180.0, 190.0, 200.0], 2)
    assert eff["median"] == pytest.approx(0.95)
    assert eff["low"] == pytest.approx(185.0 / 200.0)  # Q1_N / (N Q3_1)
    assert eff["high"] == pytest.approx(195.0 / 200.0)
    assert eff["n"] == 3 and eff["world_size"] == 2


def test_efficiency_interval_contains_the_median_and_widens_with_noise():
    quiet = scaling.efficiency([100, 101, 99], [150, 151, 149], 2)
    noisy = scaling.efficiency([80, 100, 120], [120, 150, 180], 2)
    for e in (quiet, noisy):
        assert e["low"] <= e["median"] <= e["high"]
    assert noisy["high"] - noisy["low"] > quiet["high"] - quiet["low"]


def test_efficiency_without_numbers_is_none():
    assert scaling.efficiency([], [1.0], 2) is None
    assert scaling.efficiency([0.0, -1.0], [1.0], 2) is None


# ------------------------------------------------------------------------------ pooling
def test_pool_scaling_ok_row_has_speedup_efficiency_and_start():
    row = scaling._base_row(catalog.ROWS["jax"], "ok", 2, 1)
    out = scaling.pool_scaling(row, [("both", ok("jax", [run(1, [100, 100, 100]),
                                                         run(2, [150, 160, 170], start_s=2.5)]))], 2)
    assert out["status"] == "ok"
    assert out["speedup"] == pytest.approx(1.6)
    assert out["efficiency"]["median"] == pytest.approx(0.8)
    assert out["start_s"] == 2.5
    assert out["baseline"]["world_size"] == 1 and out["parallel"]["world_size"] == 2
    assert out["flags"] == ["noisy:parallel"]  # IQR 20 of a median of 160: above 10 %


def test_pool_scaling_flags_noise_and_not_learned():
    row = scaling._base_row(catalog.ROWS["jax"], "ok", 2, 1)
    out = scaling.pool_scaling(row, [("both", ok("jax", [
        run(1, [100, 140, 60]), run(2, [150, 150, 150], accuracy=0.3)]))], 2)
    assert out["status"] == "ok"
    assert "noisy:baseline" in out["flags"]
    assert "not-learned:parallel" in out["flags"]


def test_pool_scaling_failed_group_is_the_row_status_and_keeps_the_baseline():
    row = scaling._base_row(catalog.ROWS["pytorch"], "ok", 2, 1)
    crash = ChildResult("broken", None, "RuntimeError: gloo connection reset", -9, 2.0,
                        "Traceback...\nRuntimeError: gloo connection reset\n")
    out = scaling.pool_scaling(row, [("baseline", ok("pytorch", [run(1, [100, 100, 100])])),
                                     ("parallel", crash)], 2)
    assert out["status"] == "broken"
    assert out["error"] == "2-worker group: RuntimeError: gloo connection reset"
    assert out["baseline"] is not None and out["efficiency"] is None
    assert "gloo" in out["stderr_tail"]


def test_pool_scaling_missing_run_is_broken():
    row = scaling._base_row(catalog.ROWS["jax"], "ok", 2, 1)
    out = scaling.pool_scaling(row, [("both", ok("jax", [run(1, [100, 100, 100])]))], 2)
    assert out["status"] == "broken" and "2-worker run" in out["error"]


# ------------------------------------------------------------------------------ orchestration
class FakeRunner:
    def __init__(self, results=None):
        self.calls: list[tuple[list[str], dict]] = []
        self.results = results

    def __call__(self, args, *, env=None, timeout=0.0):
        self.calls.append((args, env))
        name = "pytorch" if "scale_pytorch.py" in " ".join(args) else "x"
        workers = int(args[args.index("--workers") + 1])
        if self.results:
            return self.results.pop(0)
        if name == "pytorch":
            world = workers * int(args[args.index("--nnodes") + 1]) if "torch.distributed.run" \
                in args else workers
            return ok(name, [run(world, [100.0 if world == 1 else 100 * world * 0.9] * 3)])
        nnodes = int(args[len(args) - 1 - args[::-1].index("--nnodes") + 1])
        if "--no-baseline" in args:  # this node's process of a multi-node group
            world = workers * nnodes
            return ok(name, [run(world, [100 * world * 0.7] * 3)])
        if workers == 1:  # a multi-node row's separate baseline
            return ok(name, [run(1, [100.0] * 3)])
        return ok(name, [run(1, [100.0] * 3), run(workers, [100 * workers * 0.8] * 3)])


def run_fake(options, runner, installed=lambda m: True, folder=PROBES):
    return scaling.run_scaling(options, host=HOST, gpus=[], folder=folder,
                               python=sys.executable, is_installed=installed, runner=runner)


def test_every_row_one_node_and_the_json_model_accepts_it():
    runner = FakeRunner()
    out = run_fake(scaling.ScalingOptions(), runner)
    by = {r["name"]: r for r in out["rows"]}
    assert [r["name"] for r in out["rows"]] == list(scaling.SCALING_ROWS)
    assert by["keras/tensorflow"]["status"] == "unavailable"
    assert "JAX backend only" in by["keras/torch"]["error"]
    for name in ("pytorch", "tensorflow", "jax", "keras/jax"):
        assert by[name]["status"] == "ok", by[name]
    assert by["pytorch"]["efficiency"]["median"] == pytest.approx(0.9)
    assert by["jax"]["efficiency"]["median"] == pytest.approx(0.8)
    assert out["workers"] == 2 and out["world_size"] == 2  # the usable cores
    report = ProbeDocument.from_dict({"schema_version": 1, "host": HOST, "scaling": out})
    assert report.scaling.row("jax").efficiency.median == pytest.approx(0.8)
    assert json.loads(report.to_json())["scaling"]["rows"][0]["name"] == "pytorch"


def test_one_node_pytorch_is_spawned_on_loopback_without_torchrun():
    runner = FakeRunner()
    run_fake(scaling.ScalingOptions(frameworks=("pytorch",), workers=2), runner)
    (base, base_env), (group, env) = runner.calls
    for args in (base, group):
        assert "torch.distributed.run" not in args
        assert args[args.index("--launcher") + 1] == "spawn"
        assert "--t0" in args
    assert base[base.index("--workers", base.index("--launcher")) + 1] == "1"
    assert group[group.index("--workers") + 1] == "2"
    assert env["OMP_NUM_THREADS"] == "1"
    if scaling.loopback_interface():
        assert env["GLOO_SOCKET_IFNAME"] == scaling.loopback_interface()


def test_multi_node_passes_the_launcher_options_to_torchrun():
    runner = FakeRunner()
    opts = scaling.ScalingOptions(frameworks=("pytorch",), workers=1, nnodes=2, node_rank=1,
                                  master_addr="10.0.0.7", master_port=29555)
    out = run_fake(opts, runner)
    by = {r["name"]: r for r in out["rows"]}
    assert by["pytorch"]["status"] == "ok" and by["pytorch"]["world_size"] == 2
    (base, _), (group, env) = runner.calls
    assert "torch.distributed.run" not in base  # the 1-worker baseline stays on this node
    i = group.index("torch.distributed.run")
    assert group[i + 1:i + 13] == ["--nnodes", "2", "--node-rank", "1", "--nproc-per-node", "1",
                                   "--master-addr", "10.0.0.7", "--master-port", "29555",
                                   "--monitor-interval", "0.1"]
    assert "GLOO_SOCKET_IFNAME" not in env or env["GLOO_SOCKET_IFNAME"] == \
        scaling.child_env(catalog.ROWS["pytorch"], 1, "10.0.0.7",
                          base={"GLOO_SOCKET_IFNAME": "x"})["GLOO_SOCKET_IFNAME"]
    assert out["nnodes"] == 2 and out["node_rank"] == 1 and out["world_size"] == 2


def test_multi_node_tensorflow_and_jax_start_their_own_groups_and_keras_stays_unavailable():
    runner = FakeRunner()
    opts = scaling.ScalingOptions(frameworks=("tensorflow", "jax", "keras/jax"), workers=1,
                                  nnodes=2, node_rank=1, master_addr="10.0.0.7",
                                  master_port=29555)
    out = run_fake(opts, runner)
    by = {r["name"]: r for r in out["rows"]}
    for name in ("tensorflow", "jax"):
        row = by[name]
        assert row["status"] == "ok" and row["world_size"] == 2, row
        assert row["baseline"]["world_size"] == 1 and row["parallel"]["world_size"] == 2
        assert row["efficiency"]["median"] == pytest.approx(0.7)
    assert by["keras/jax"]["status"] == "unavailable"
    assert "keras.distribution" in by["keras/jax"]["error"]
    calls = {}
    for args, env in runner.calls:
        script = next(a for a in args if a.endswith(".py"))
        calls.setdefault(Path(script).name, []).append((args, env))
    assert set(calls) == {"scale_tensorflow.py", "scale_jax.py"}  # keras/jax starts nothing
    for (base, base_env), (group, _env) in calls.values():
        # the baseline: one device, this node only, no group options, no TF_CONFIG
        assert base[base.index("--workers") + 1] == "1" and "--no-baseline" not in base
        assert "--master-port" not in base and "TF_CONFIG" not in base_env
        assert "--xla_force_host_platform_device_count=1" in base_env["XLA_FLAGS"]
        # this node's process of the group
        assert group[group.index("--workers") + 1] == "1" and "--no-baseline" in group
        assert group[group.index("--nnodes") + 1] == "2"
        assert group[group.index("--node-rank") + 1] == "1"
        assert group[group.index("--master-addr") + 1] == "10.0.0.7"
        assert group[group.index("--master-port") + 1] == "29555"
        assert "torch.distributed.run" not in group
    tf_env = calls["scale_tensorflow.py"][1][1]
    assert json.loads(tf_env["TF_CONFIG"]) == {
        "cluster": {"worker": ["10.0.0.7:29555", "10.0.0.7:29556"]},
        "task": {"type": "worker", "index": 1}}
    assert "TF_CONFIG" not in calls["scale_jax.py"][1][1]


def test_tf_config_lists_one_worker_per_node_and_brackets_ipv6():
    cfg = json.loads(scaling.tf_config(nnodes=3, node_rank=0, master_addr="::1", master_port=7000))
    assert cfg == {"cluster": {"worker": ["[::1]:7000", "[::1]:7001", "[::1]:7002"]},
                   "task": {"type": "worker", "index": 0}}
    env = scaling.child_env(catalog.ROWS["tensorflow"], 1, "x", base={"TF_CONFIG": "{}"})
    assert "TF_CONFIG" not in env  # a user's TF_CONFIG never reaches a one-node run


def test_multi_node_tensorflow_on_the_cpu_is_one_worker_per_node():
    runner = FakeRunner()
    out = run_fake(scaling.ScalingOptions(frameworks=("tensorflow", "jax"), workers=2, nnodes=2,
                                          master_port=29555), runner)
    by = {r["name"]: r for r in out["rows"]}
    assert by["tensorflow"]["status"] == "unavailable" and "--workers 1" in by["tensorflow"]["error"]
    assert by["jax"]["status"] == "ok" and by["jax"]["world_size"] == 4
    assert by["jax"]["parallel"]["world_size"] == 4


def test_single_process_engines_get_forced_host_devices_and_one_thread():
    env = scaling.child_env(catalog.ROWS["jax"], 4, "127.0.0.1",
                            base={"XLA_FLAGS": "--xla_force_host_platform_device_count=9 --foo"})
    assert "--xla_force_host_platform_device_count=4" in env["XLA_FLAGS"]
    assert "=9" not in env["XLA_FLAGS"] and "--foo" in env["XLA_FLAGS"]
    assert "--xla_cpu_multi_thread_eigen=false" in env["XLA_FLAGS"]
    assert env["OMP_NUM_THREADS"] == "1" and env["TF_NUM_INTRAOP_THREADS"] == "1"
    assert scaling.child_env(catalog.ROWS["keras/jax"], 2, "x", base={})[
        "KERAS_BACKEND"] == "jax"


def test_missing_framework_and_one_worker_are_statuses():
    out = run_fake(scaling.ScalingOptions(frameworks=("jax", "pytorch"), workers=1), FakeRunner(),
                   installed=lambda m: m != "torch")
    by = {r["name"]: r for r in out["rows"]}
    assert by["pytorch"]["status"] == "missing" and by["pytorch"]["install_hint"]
    assert by["jax"]["status"] == "unavailable" and "nothing to scale" in by["jax"]["error"]


def test_failed_baseline_skips_the_group():
    runner = FakeRunner([ChildResult("timeout", None, "no result after 5 s (killed)", -9, 5.0)])
    out = run_fake(scaling.ScalingOptions(frameworks=("pytorch",), workers=2), runner)
    assert len(runner.calls) == 1
    assert out["rows"][0]["status"] == "timeout"
    assert out["rows"][0]["error"].startswith("1-worker group: no result")


@pytest.mark.parametrize("kwargs, message", [
    ({"nnodes": 2}, "--master-port"),
    ({"nnodes": 2, "node_rank": 2, "master_port": 1}, "--node-rank"),
    ({"workers": 0}, "--workers"),
    ({"master_addr": "a b"}, "--master-addr"),
])
def test_bad_options_are_bad_input(kwargs, message):
    from advisor.infra.errors import BadInput

    with pytest.raises(BadInput, match=message):
        scaling.ScalingOptions(**kwargs).validate()


# ------------------------------------------------------------------------------ broken workers
LAUNCHER = """
import os, subprocess, sys, time
# like torchrun: workers in sessions of their own, out of reach of a process-group kill
kids = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         start_new_session=True) for _ in range(2)]
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pids"), "a") as f:
    f.write(" ".join(str(k.pid) for k in kids) + " " + str(os.getpid()) + " ")
MODE
"""


@pytest.mark.parametrize("mode, status", [
    ("time.sleep(120)", "timeout"),
    ("os._exit(7)", "broken"),
    ("raise RuntimeError('worker 1 died: gloo connection closed')", "broken"),
])
def test_broken_or_hung_workers_become_a_status_and_leave_no_process(tmp_path, mode, status):
    folder = fake_probes_dir(tmp_path / "probes", {
        "scale_jax.py": LAUNCHER.replace("MODE", mode)})
    opts = scaling.ScalingOptions(frameworks=("jax",), workers=2, timeout_s=4)
    started = time.monotonic()
    out = scaling.run_scaling(opts, host=HOST, gpus=[], folder=folder,
                              python=sys.executable, is_installed=lambda m: True)
    row = out["rows"][0]
    assert row["status"] == status, row
    assert time.monotonic() - started < 30
    pids = read_pids(folder / "pids")
    assert len(pids) == 3
    for pid in pids:
        assert gone(pid), f"process {pid} left behind"


def test_garbage_from_a_worker_is_broken(tmp_path):
    folder = fake_probes_dir(tmp_path / "probes", {"scale_jax.py": "print('not json')\n"})
    out = scaling.run_scaling(scaling.ScalingOptions(frameworks=("jax",), workers=2),
                              host=HOST, gpus=[], folder=folder,
                              python=sys.executable, is_installed=lambda m: True)
    assert out["rows"][0]["status"] == "broken"
    assert "garbage" in out["rows"][0]["error"]


# ------------------------------------------------------------------------------ facts and rules
def scaling_probe(effs: dict[str, tuple[float, float, float]], extra_rows=()) -> dict:
    rows = [{"name": n, "status": "ok", "flags": [],
             "efficiency": {"median": m, "low": lo, "high": hi, "n": 3}}
            for n, (m, lo, hi) in effs.items()]
    return {"schema_version": 1, "host": HOST, "gpus": [], "frameworks": [],
            "scaling": {"workers": 2, "world_size": 2, "rows": rows + list(extra_rows)}}


def test_scaling_facts_best_only_outside_the_spread(kb):
    from advisor.probe.facts import scaling_facts

    separated = scaling_facts(kb, scaling_probe({"pytorch": (0.9, 0.88, 0.93),
                                                 "jax": (0.6, 0.5, 0.7)}))
    assert separated["probe.best_scaling"] == "pytorch"
    assert separated["probe.jax.scaling_efficiency"] == 0.6
    assert separated["probe.jax.scaling_efficiency_high"] == 0.7
    overlap = scaling_facts(kb, scaling_probe({"pytorch": (0.9, 0.6, 0.95),
                                               "jax": (0.7, 0.5, 0.8)}))
    assert "probe.best_scaling" not in overlap


def test_scaling_facts_skip_failed_unlearned_and_keras_takes_its_best_backend(kb):
    from advisor.probe.facts import scaling_facts

    probe = scaling_probe({"keras/jax": (0.7, 0.6, 0.8)}, extra_rows=[
        {"name": "pytorch", "status": "ok", "flags": ["not-learned:parallel"],
         "efficiency": {"median": 0.9, "low": 0.9, "high": 0.9}},
        {"name": "jax", "status": "broken", "efficiency": None},
        {"name": "tensorflow", "status": "ok", "flags": [],
         "efficiency": {"median": "NaN", "low": 1, "high": 1}},
    ])
    facts = scaling_facts(kb, probe)
    assert facts == {"probe.keras.scaling_efficiency": 0.7,
                     "probe.keras.scaling_efficiency_high": 0.8}


def recommend(kb, probe: dict, scale: str):
    from advisor.decision import engine
    from advisor.questionnaire import answers as answers_mod
    from advisor.service import recommend as core

    aset = answers_mod.AnswerSet(values={"scale": scale, "modality": "images"},
                                 origin={"scale": "test", "modality": "test"})
    from advisor.probe.model import ProbeDocument

    return engine.assess(kb, core.build_inputs(kb, aset, ProbeDocument.from_dict(probe)))


def fired(assessment) -> set[str]:
    return {r.id for r in assessment.fired_rules}


def test_rules_use_measured_efficiency_only_for_distributed_projects(kb):
    probe = scaling_probe({"pytorch": (0.9, 0.88, 0.93), "tensorflow": (0.3, 0.25, 0.4),
                           "jax": (0.45, 0.3, 0.6)})
    multi = fired(recommend(kb, probe, "multi_gpu"))
    assert "scaling.measured-best.pytorch" in multi
    assert "scaling.measured-poor.tensorflow" in multi
    assert "scaling.measured-poor.jax" not in multi  # its interval reaches above 0.5
    single = fired(recommend(kb, probe, "single_device"))
    assert not any(r.startswith("scaling.") for r in single)


def test_knowledge_base_stays_clean():
    result = run_cli("rules", "check")
    assert result.code == 0, result.err
    assert "0 errors, 0 warnings" in result.out + result.err


# ------------------------------------------------------------------------------ reports
HOSTILE = "<script>alert(1)</script>"


def probe_file(tmp_path: Path, name: str, **over) -> Path:
    out = run_fake(scaling.ScalingOptions(**over), FakeRunner())
    out["rows"][1]["engine"] = HOSTILE
    data = {"schema_version": 1, "advisor_version": "0.1.0", "host": HOST, "gpus": [],
            "frameworks": [], "scaling": out}
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_markdown_and_html_reports_show_the_scaling_section(tmp_path):
    path = probe_file(tmp_path, "probe.json")
    md = run_cli("recommend", "-p", str(path), "--defaults", "-s", "scale=multi_gpu",
                 "-f", "markdown")
    assert md.code == 0, md.err
    assert "### Data-parallel scaling: 1 worker vs 2 workers" in md.out
    assert "| `pytorch` | ok |" in md.out and "0.90 \\[0.90-0.90\\]" in md.out
    assert "unavailable (keras.distribution" in md.out
    html = run_cli("recommend", "-p", str(path), "--defaults", "-s", "scale=multi_gpu",
                   "-f", "html")
    assert html.code == 0, html.err
    assert 'id="scaling"' in html.out
    assert "Data-parallel scaling efficiency per framework" in html.out  # the chart's alt text
    assert HOSTILE not in html.out and "&lt;script&gt;" in html.out


def test_compare_reads_one_file_per_node_together(tmp_path):
    a = probe_file(tmp_path, "node0.json", workers=1, nnodes=2, node_rank=0, master_port=29500)
    b = probe_file(tmp_path, "node1.json", workers=1, nnodes=2, node_rank=1, master_port=29500)
    for fmt, needle in (("table", "Scaling efficiency"), ("markdown", "## Scaling efficiency"),
                        ("html", 'id="scaling"')):
        result = run_cli("compare", str(a), str(b), "-f", fmt)
        assert result.code == 0, result.err
        assert needle in result.out
        assert "node 1" in result.out and "node 0" in result.out


def test_cli_rejects_scaling_options_without_scaling_and_bad_multi_node():
    r = run_cli("probe", "--scaling-only")
    assert r.code == 2 and "--scaling" in r.err
    r = run_cli("probe", "--scaling", "--nnodes", "2")
    assert r.code == 2 and "--master-port" in r.err
