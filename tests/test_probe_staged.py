"""Staged start-up (runner.run_staged + the harness's --staged protocol): rows import side by side,
train one at a time with nothing else running, and every way a staged child can go wrong still
ends as a status with no process left behind."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from probe_fixtures import PROBES, PY, fake_probes_dir, gone, read_pids, write_script

from advisor.probe import catalog, core, plan, supervise
from advisor.probe.runner import Child, StagedJob, run_staged

# A probe on the real harness whose "framework" import and training are timed sleeps that log
# when they begin and end, so the test can see what overlapped what.
PHASED = """
    import os, sys, time
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness

    NAME = os.environ.get("ROW", os.path.basename(__file__))

    def log(what):
        with open(os.environ["PHASE_LOG"], "a") as f:
            f.write(f"{NAME} {what} {time.monotonic()}\\n")

    def load(config):
        log("import-begin"); time.sleep(float(os.environ.get("IMPORT_S", "0.4"))); log("import-end")
        return {"version": "1.0", "devices": [{"kind": "cpu", "name": "cpu"}], "ran_on": "cpu"}

    def run(name, config, data, info):
        log("train-begin")
        times = harness.time_epochs(lambda epoch: time.sleep(0.03), config.epochs, lambda: None)
        log("train-end")
        return times, 0.95, None

    harness.main(harness.Probe(NAME, "json", "pip install nothing", load, run))
"""


def intervals(log: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """phase -> row -> (begin, end) from the PHASE_LOG lines."""
    marks: dict[tuple[str, str], dict[str, float]] = {}
    for line in log.read_text().splitlines():
        name, what, when = line.split()
        phase, edge = what.rsplit("-", 1)
        marks.setdefault((phase, name), {})[edge] = float(when)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for (phase, name), edges in marks.items():
        out.setdefault(phase, {})[name] = (edges["begin"], edges["end"])
    return out


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def max_concurrent(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = now = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def phased_jobs(tmp_path: Path, n: int, imports: tuple[float, ...] = (),
                **env: str) -> tuple[list[StagedJob], Path]:
    folder = fake_probes_dir(tmp_path / "probes", {"phased.py": PHASED})
    log = tmp_path / "phases.log"
    cache = tmp_path / "cache"
    cache.mkdir()
    jobs = []
    for i in range(n):
        job_env = dict(os.environ, PHASE_LOG=str(log), ROW=f"row{i}", **env)
        if imports:
            job_env["IMPORT_S"] = str(imports[i])
        jobs.append(StagedJob([PY, str(folder / "phased.py"), "--threads", "1", "--epochs", "3",
                               "--workloads", "mlp-digits", "--data-cache", str(cache),
                               "--staged"], job_env))
    return jobs, log


def test_training_never_overlaps_another_row_or_a_start_up(tmp_path):
    jobs, log = phased_jobs(tmp_path, 4, imports=(0.1, 3.0, 0.3, 0.5))  # rows ready at odd times
    phases = []
    results = run_staged(jobs, window=2, timeout=60,
                         on_phase=lambda phase, i, result: phases.append((phase, i)))
    assert [r.status for r in results] == ["ok"] * 4, [r.error for r in results]
    spans = intervals(log)
    imports, trains = spans["import"], spans["train"]
    assert len(imports) == len(trains) == 4
    for (a, sa), (b, sb) in itertools.combinations(trains.items(), 2):
        assert not overlaps(sa, sb), f"{a} and {b} trained at the same time"
    for name, train in trains.items():
        for other, imp in imports.items():
            assert not overlaps(train, imp), f"{name} trained while {other} imported"
    # start-up did overlap, but never more than the window
    assert max_concurrent(list(imports.values())) == 2
    # every row reported start, ready, measure and done, and trained in job order
    for i in range(4):
        assert [p for p, j in phases if j == i] == ["start", "ready", "measure", "done"]
    assert [j for p, j in phases if p == "measure"] == [0, 1, 2, 3]
    # the timed epochs are the training after the go signal, not the waiting before it, and a
    # row's wall time is its own: start-up plus training, without the wait for its turn
    # (orderings of logged events, no wall-clock amounts: a loaded machine stretches them all)
    # row0 was ready first, and trained only once row1's long import had ended
    assert imports["row0"][1] < imports["row1"][1] <= trains["row0"][0]
    # the wait the parent counted lies between row0's ready and its go signal ...
    assert 0 < results[0].waited_s <= trains["row0"][0] - imports["row0"][1]
    # ... and is left out of its wall time, which still covers its own start-up and training
    assert results[0].wall_s >= trains["row0"][1] - imports["row0"][0] - results[0].waited_s
    for result in results:
        epochs = result.payload["workloads"]["mlp-digits"]["epoch_s"]
        assert len(epochs) == 3 and all(0.02 < t < 0.5 for t in epochs)


MISBEHAVING = {
    "hangs_before_ready": "import time\nwhile True:\n    time.sleep(1)\n",
    "crashes_before_ready": "import os\nos._exit(3)\n",
    "ready_then_hangs": (
        "import os, sys, time\nsys.stdout.write('advisor-probe: ready\\n'); sys.stdout.flush()\n"
        "sys.stdin.read(1)\nwhile True:\n    time.sleep(1)\n"),
    "ready_then_exits": (
        "import sys\nsys.stdout.write('advisor-probe: ready\\n'); sys.stdout.flush()\n"),
    "floods_before_ready": "import sys\nsys.stdout.write('garbage ' * 2_000_000)\n",
}


def test_misbehaving_staged_children_end_as_statuses_and_leave_nothing(tmp_path):
    pidfile = tmp_path / "pids"
    prelude = f"import os\nopen({str(pidfile)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
    jobs = [StagedJob([PY, str(write_script(tmp_path, f"{name}.py", prelude + body))])
            for name, body in MISBEHAVING.items()]
    good, _ = phased_jobs(tmp_path, 1, IMPORT_S="0.1")
    start = time.perf_counter()
    results = run_staged(jobs + good, window=3, timeout=3)
    assert time.perf_counter() - start < 30
    status = dict(zip([*MISBEHAVING, "good"], results))
    assert status["hangs_before_ready"].status == "timeout"
    assert status["crashes_before_ready"].status == "broken"
    assert "exited with code 3" in status["crashes_before_ready"].error
    assert status["ready_then_hangs"].status == "timeout"
    assert status["ready_then_exits"].status == "broken"
    assert status["ready_then_exits"].error == "probe printed no result"
    assert status["floods_before_ready"].status == "broken"
    assert status["good"].status == "ok", status["good"].error
    pids = read_pids(pidfile)
    assert len(pids) == len(MISBEHAVING)
    assert all(gone(pid) for pid in pids)


def test_interrupt_while_rows_wait_kills_every_child(tmp_path):
    jobs, log = phased_jobs(tmp_path, 3, IMPORT_S="0.2")
    seen: list[int] = []

    def on_phase(phase, index, result):
        if phase == "ready":
            seen.append(index)
            if len(seen) == 2:
                raise KeyboardInterrupt

    children: list[Child] = []
    original_start = Child.start

    def tracking_start(self):
        children.append(self)
        return original_start(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Child, "start", tracking_start)
        with pytest.raises(KeyboardInterrupt):
            run_staged(jobs, window=3, timeout=30, on_phase=on_phase)
    assert children and all(gone(c.proc.pid) for c in children)
    assert "train" not in intervals(log)  # nobody got to train


def test_a_waiting_child_exits_when_the_parent_stops_without_go(tmp_path):
    [job], _ = phased_jobs(tmp_path, 1, IMPORT_S="0.1")
    child = Child(job.args, env=job.env, staged=True).start()
    try:
        deadline = time.monotonic() + 30
        while not child.ready.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert child.ready.is_set()
        child.proc.stdin.close()  # the parent gave up: end of file instead of the go byte
        assert child.proc.wait(timeout=10) == 3
    finally:
        child.finish()


def test_rows_starting_together_prepare_the_data_once(tmp_path):
    log = tmp_path / "prepared.log"
    script = write_script(tmp_path, "load.py", f"""
        import sys, time
        sys.path.insert(0, {str(PROBES)!r})
        import harness
        original = harness._prepare_digits
        def logged():
            open({str(log)!r}, "a").write("prepared\\n")
            time.sleep(0.5)  # long enough for the others to arrive while it works
            return original()
        harness._prepare_digits = logged
        data = harness.load_data(sys.argv[1])
        print(data.n_train, data.x_test.shape[0])
    """)
    cache = tmp_path / "cache"
    cache.mkdir()
    procs = [subprocess.Popen([PY, str(script), str(cache)], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs == [["1437", "360"]] * 3
    assert log.read_text().splitlines() == ["prepared"]


# ---------------------------------------------------------------- run_probe: plan and startup
@pytest.fixture
def installed(monkeypatch):
    absent: set[str] = set()
    monkeypatch.setattr(plan, "is_installed", lambda module: module not in absent)
    return absent


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    (tmp_path / "keras-home").mkdir()
    return tmp_path / "keras-home"


def test_quick_measures_keras_on_its_configured_backend(installed, keras_home, monkeypatch):
    order, not_run = plan.plan_rows(core.ProbeOptions(quick=True))
    assert [n for n in order if n.startswith("keras/")] == ["keras/tensorflow"]  # Keras' default
    assert {item["name"] for item in not_run} == {"keras/torch", "keras/jax"}
    assert all("Keras' default" in item["reason"] for item in not_run)

    (keras_home / "keras.json").write_text('{"backend": "jax"}')
    order, not_run = plan.plan_rows(core.ProbeOptions(quick=True))
    assert [n for n in order if n.startswith("keras/")] == ["keras/jax"]
    assert "keras.json" in not_run[0]["reason"]

    monkeypatch.setenv("KERAS_BACKEND", "torch")  # the environment wins, as in Keras
    order, _ = plan.plan_rows(core.ProbeOptions(quick=True))
    assert [n for n in order if n.startswith("keras/")] == ["keras/torch"]

    installed.add("torch")  # the configured backend cannot run: the first one that can
    order, not_run = plan.plan_rows(core.ProbeOptions(quick=True))
    assert [n for n in order if n.startswith("keras/")] == ["keras/tensorflow"]
    assert "cannot run here" in not_run[0]["reason"]


def test_quick_with_named_rows_or_without_quick_runs_every_keras_row(installed, keras_home):
    named = core.ProbeOptions(quick=True, frameworks=("keras/torch", "keras/jax", "jax"))
    assert plan.plan_rows(named) == (["jax", "keras/torch", "keras/jax"], [])
    order, not_run = plan.plan_rows(core.ProbeOptions())
    assert sorted(order) == sorted(catalog.ROWS) and not_run == []


def test_startup_is_staged_unless_declined_pointless_or_short_of_memory(monkeypatch):
    assert plan.choose_startup("staged", 5, 2) == ("staged", "default")
    assert plan.choose_startup("serial", 5, 2)[0] == "serial"
    assert plan.choose_startup("staged", 1, 2) == ("serial", "one row")
    assert plan.choose_startup("staged", 5, 1) == ("serial", "one usable core")
    import psutil

    class Tight:
        available = 3 << 30

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tight())
    mode, why = plan.choose_startup("staged", 5, 2)
    assert mode == "serial" and "3.0 GiB available" in why


def test_a_staged_probe_run_records_how_it_ran(tmp_path, installed, keras_home):
    bodies = {f"probe_{n}.py": PHASED for n in ("pytorch", "jax", "sklearn")}
    folder = fake_probes_dir(tmp_path / "probes", bodies)
    log = tmp_path / "phases.log"
    events = []
    real_host = core.hardware.get_host
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHASE_LOG", str(log))
        mp.setenv("IMPORT_S", "0.1")
        mp.setattr(core.hardware, "get_host", lambda **kw: {**real_host(**kw), "usable_cores": 2})
        report = core.run_probe(core.ProbeOptions(
            scripts=folder, frameworks=("pytorch", "jax", "sklearn"), threads=1, timeout_s=60,
            quick=True, repeat=2), events.append)
    for name in ("pytorch", "jax", "sklearn"):
        row = report.row(name)
        assert row.status == "ok", row.error
        assert row.repeats == 2
        assert row.workloads["mlp-digits"].samples_per_s.n == 10  # 2 runs x 5 timed blocks
    run = report.to_dict()["run"]
    assert run["startup"] == {"mode": "staged", "why": "default", "window": 2}
    assert run["rows"] == ["sklearn", "pytorch", "jax"] and run["not_run"] == []
    kinds = [(e.kind, e.name, e.attempt) for e in events]
    assert kinds.count(("measure", "jax", 1)) == 1 and kinds.count(("measure", "jax", 2)) == 1
    assert [k for k, n, _ in kinds if n == "jax"] == [
        "start", "ready", "measure", "start", "ready", "measure", "done"]
    trains = list(intervals(log)["train"].values())  # one entry per row name: the last run
    assert max_concurrent(trains) == 1


def test_probe_cli_quick_lists_the_keras_rows_it_left_out(tmp_path, keras_home):
    folder = fake_probes_dir(tmp_path / "probes", {
        "probe_keras.py": PHASED, "probe_sklearn.py": PHASED})
    env = dict(os.environ, ADVISOR_PROBES_DIR=str(folder), PHASE_LOG=str(tmp_path / "log"),
               IMPORT_S="0.1", KERAS_HOME=str(keras_home))
    env.pop("KERAS_BACKEND", None)
    out = tmp_path / "probe.json"
    proc = subprocess.run([sys.executable, "-m", "advisor", "probe", "--quick",
                           "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    shown = " ".join((proc.stdout + proc.stderr).split())  # the summary is the command's result
    assert "not run: keras/torch, keras/jax (--quick measures Keras on one backend" in shown
    assert "training one row at a time" in shown


# ---------------------------------------------------------------- what the user sees
def test_live_view_shows_every_active_row_with_its_phase():
    from rich.console import Console

    from advisor.probe.model import FrameworkRow, Stats, WorkloadResult
    from advisor.render.probe_view import ProbeView

    console = Console(record=True, width=120, force_terminal=True)
    view = ProbeView(console)
    for kind, name, index in (("start", "sklearn", 1), ("start", "pytorch", 2),
                              ("ready", "sklearn", 1), ("start", "jax", 3),
                              ("ready", "pytorch", 2), ("ready", "jax", 3),
                              ("measure", "sklearn", 1)):
        view.update(supervise.ProgressEvent(kind, name, index, 3))
    console.print(view._render())
    text = console.export_text()
    assert "sklearn" in text and "training" in text
    assert text.count("ready, waits its turn") == 2  # pytorch and jax wait
    row = FrameworkRow(name="sklearn", status="ok", workloads={"mlp-digits": WorkloadResult(
        name="mlp-digits", first_epoch_s=None, peak_rss_mb=None, accuracy=0.97,
        samples_per_s=Stats(median=1234.0, iqr=None, n=1))})
    view.update(supervise.ProgressEvent("done", "sklearn", 1, 3, row=row))
    console.print(view._render())
    last = console.export_text()
    assert "mlp-digits 1,234/s acc 0.97" in last and "training" not in last


def test_reports_say_how_the_probe_ran_and_what_it_left_out(tmp_path):
    import copy
    import json

    from advisor.render import html, markdown
    from tests.reports_support import assessment, probe_data

    data = copy.deepcopy(probe_data("cpu-noisy"))
    data["frameworks"] = [r for r in data["frameworks"]
                          if r["name"] not in ("keras/torch", "keras/jax")]
    reason = "--quick measures Keras on one backend, keras/tensorflow: Keras' default"
    data["run"] = {"threads": 2, "epochs": {"warmup": 1, "timed": 5, "min_block_s": 0.05},
                   "startup": {"mode": "staged", "why": "default", "window": 2},
                   "not_run": [{"name": "keras/torch", "reason": reason},
                               {"name": "keras/jax", "reason": reason}]}
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(data))
    a = assessment(str(path))
    assert any("Keras 3 was measured as keras/tensorflow only; keras/torch, keras/jax did not "
               "run" in n for n in a.measurement_notes), a.measurement_notes
    md = markdown.render(a)
    assert "- Not run: `keras/torch` (--quick measures Keras on one backend" in md
    assert "frameworks imported 2 side by side" in md and "1 warm-up epoch, then 5 timed blocks of whole epochs, each at least 50 ms" in md
    page = html.render(a, charts=False)
    assert 'id="not-run"' in page and 'id="probe-method"' in page


def test_ctrl_c_during_a_staged_probe_kills_every_row_and_writes_nothing(tmp_path):
    pids = tmp_path / "pids"
    note = f"import os\nopen({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
    folder = fake_probes_dir(tmp_path / "probes", {
        # ready, then waiting for its go signal
        "probe_sklearn.py": note + "import sys\nsys.stdout.write('advisor-probe: ready\\n')\n"
                            "sys.stdout.flush()\nsys.stdin.read(1)\n",
        # still starting up, with a grandchild of its own
        "probe_pytorch.py": note + "import subprocess, sys, time\n"
                            "g = subprocess.Popen([sys.executable, '-c', 'import time; "
                            "time.sleep(120)'])\n"
                            f"open({str(pids)!r}, 'a').write(f'{{g.pid}}\\n')\ntime.sleep(120)\n",
        "probe_jax.py": note + "import time\ntime.sleep(120)\n",
    })
    out = tmp_path / "probe.json"
    env = dict(os.environ, ADVISOR_PROBES_DIR=str(folder))
    proc = subprocess.Popen([sys.executable, "-m", "advisor", "probe", "--frameworks",
                             "sklearn,pytorch,jax", "--out", str(out)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(read_pids(pids)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(read_pids(pids)) == 4
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".probe.json.*"))
    assert all(gone(pid) for pid in read_pids(pids))


def test_the_runner_and_the_harness_speak_the_same_protocol():
    """The harness runs without advisor installed: it loads advisor's protocol file by path."""
    import importlib

    from advisor.probe import protocol, runner

    sys.path.insert(0, str(PROBES))
    try:
        harness = importlib.import_module("harness")
    finally:
        sys.path.remove(str(PROBES))
    assert harness.protocol.__file__ == protocol.__file__
    assert (harness.READY_LINE, harness.GO) == (runner.READY_LINE, runner.GO)
