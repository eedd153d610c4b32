"""Valid numbers: contention per row, the spread between fresh processes, and what they move.

Unit tests on fakes for the pooling, the decision and the reports; real tests (marked ``probe``)
start two CPU hogs next to a real probe and check that the probe notices.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from advisor.probe import pool, protocol
from advisor.render import measured
from tests.reports_support import assessment, probe_data

HOG = "while 1: pass"


def evidence(others: float | None, calibration: tuple[float, float] = (0.003, 0.003)) -> dict:
    return {"wall_s": 0.5, "cpu_s": 0.9, "calibration_s": list(calibration), "cores": 2,
            "others_cpu_share": others, "run_delay_s": 0.0}


def row(name: str, *evs: dict) -> dict:
    return {"name": name, "flags": [], "contended": False,
            "workloads": {"mlp-digits": {"contention": list(evs)}}}


# ------------------------------------------------------------------------------ pooling
def test_a_row_other_processes_competed_with_is_contended_and_says_why():
    rows = [row("pytorch", evidence(0.02), evidence(0.45)), row("jax", evidence(0.01))]
    summary = pool.mark_contention(rows)
    assert summary["rows"] == ["pytorch"]
    assert rows[0]["contended"] is True and "contended" in rows[0]["flags"]
    assert rows[0]["contention"]["others_cpu_share"] == 0.45
    assert "45%" in rows[0]["contention"]["why"][0]
    assert rows[1]["contended"] is False and rows[1]["flags"] == []


def test_a_slow_calibration_against_the_runs_own_baseline_is_contention():
    rows = [row("pytorch", evidence(None, (0.0030, 0.0031))),
            row("jax", evidence(None, (0.0062, 0.0064)))]  # 2x the run's fastest reading
    summary = pool.mark_contention(rows)
    assert summary["rows"] == ["jax"] and summary["baseline_calibration_s"] == 0.003
    assert "calibration kernel ran 2.1x slower" in rows[1]["contention"]["why"][0]


def test_one_slow_reading_after_training_on_an_idle_machine_is_not_contention():
    # the readings of an idle 2-core machine (probe of 2026-12-01, load 0.5): the reading right
    # after sklearn's gbdt-digits was 1.8x the run's fastest (its OpenMP threads still spinning)
    # while the row's other readings were 1.0-1.2x; the worst reading flagged it contended
    sklearn = row("sklearn", evidence(0.04, (0.002833, 0.004457)), evidence(0.03, (0.002772,
                  0.002855)), evidence(0.03, (0.003003, 0.002651)), evidence(0.03, (0.003025,
                  0.002878)))
    jax = row("jax", evidence(0.03, (0.002537, 0.002779)), evidence(0.03, (0.002668, 0.002807)))
    # and a TensorFlow row whose own threads slowed the kernel 1.5x by its median (run --quick,
    # idle): where /proc/stat reads others' share, that share decides
    keras_tf = row("keras/tensorflow", evidence(0.0177, (0.004518, 0.003085)))
    summary = pool.mark_contention([sklearn, jax, keras_tf])
    assert summary["rows"] == []
    assert keras_tf["contention"]["calibration_ratio"] > 1.45 and not keras_tf["contended"]
    assert sklearn["contended"] is False
    assert 1.0 < sklearn["contention"]["calibration_ratio"] < 1.2


def test_busy_is_what_other_processes_use_now_where_that_can_be_sampled():
    # a probe that just ended leaves the 1-minute load at 1.3 on 2 cores for a minute
    assert pool.is_busy([1.3, 1.0, 0.9], 2, others_share=0.03) is False
    assert pool.is_busy([0.2, 0.2, 0.2], 2, others_share=0.85) is True
    assert pool.is_busy([1.3, 1.0, 0.9], 2, others_share=None) is True  # no /proc/stat: load


def test_the_busy_sample_reads_an_idle_window_as_idle_and_says_what_it_saw():
    share = protocol.others_cpu_share(0.2)
    if share is None:
        pytest.skip("no /proc/stat here")
    assert 0.0 <= share <= 1.0
    from advisor.probe.model import Run

    run = Run(busy=True, others_cpu_before=0.85, load_avg_before=(0.4, 0.3, 0.2))
    assert "other processes used 85% of its cores" in run.not_quiet


def test_no_evidence_claims_nothing():
    rows = [row("pytorch")]
    assert pool.mark_contention(rows)["rows"] == []
    assert "contention" not in rows[0] and rows[0]["contended"] is False


def part(median: float, iqr: float, values: list[float]) -> dict:
    return {"samples_per_s": {"median": median, "iqr": iqr, "n": len(values), "values": values},
            "accuracy": 0.95, "contention": evidence(0.0)}


def test_the_spread_between_processes_is_reported_next_to_the_spread_within():
    bimodal = [part(27_000, 270, [27_000] * 3), part(52_000, 520, [52_000] * 3)]
    out = pool.pool_workload("mlp-digits", bimodal)
    assert out["processes"]["n"] == 2
    assert out["processes"]["medians"] == [27_000, 52_000]
    assert out["processes"]["spread"] == pytest.approx(25_000 / 39_500, abs=1e-4)
    assert out["processes"]["within"] == 0.01
    assert len(out["contention"]) == 2
    one = pool.pool_workload("mlp-digits", bimodal[:1])["processes"]
    assert one["spread"] is None  # one process: unknown, not zero


# ------------------------------------------------------------------------------ the decision
def _cpu_probe(tmp_path, **run_extra):
    data = probe_data("cpu-noisy")
    for r in data["frameworks"]:
        wl = (r.get("workloads") or {}).get("cnn-digits")
        if wl:
            wl["samples_per_s"] = {"median": 2400.0, "iqr": 10.0, "n": 6}
    torch = next(r for r in data["frameworks"] if r["name"] == "pytorch")
    torch["workloads"]["cnn-digits"]["samples_per_s"] = {"median": 480.0, "iqr": 2.0, "n": 6}
    data.setdefault("run", {}).update(run_extra)
    return data, torch


def _write(tmp_path, data):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_contended_row_moves_no_score_and_the_reports_say_why(tmp_path):
    data, torch = _cpu_probe(tmp_path, busy=False, quiet=True)
    baseline = assessment(_write(tmp_path, data), ("team_experience=keras",))
    assert any(m.points for m in baseline.measurements)  # without the mark, speed counts
    data["run"].update(quiet=False, contention={"rows": ["pytorch"]})
    torch["contended"] = True
    a = assessment(_write(tmp_path, data), ("team_experience=keras",))
    assert all(m.points == 0 and m.rating == 0 for m in a.measurements)
    assert a.measurement_notes[0].startswith("Other work competed for the CPU while pytorch "
                                             "trained (contended)")
    from advisor.render import html, markdown

    md = markdown.render(a)
    assert "**Warning:** Not measured quiet" in md and "pytorch trained (contended)" in md
    assert "nothing else running" not in md
    page = html.render(a)
    assert 'id="not-quiet"' in page


def test_a_busy_probe_moves_no_score(tmp_path):
    data, _ = _cpu_probe(tmp_path, busy=True, load_avg_before=[3.5, 3.0, 2.0])
    a = assessment(_write(tmp_path, data), ("team_experience=keras",))
    assert all(m.points == 0 for m in a.measurements)
    assert "machine was busy (load 3.5 before the run)" in a.measurement_notes[0]


def test_a_difference_within_the_spread_between_processes_is_no_difference(tmp_path):
    data, torch = _cpu_probe(tmp_path, busy=False, quiet=True)
    torch["workloads"]["cnn-digits"]["samples_per_s"] = {"median": 1900.0, "iqr": 2.0, "n": 6}
    for row in data["frameworks"]:  # two fresh processes each, 2 % apart: 1900 vs 2400 separates
        if "cnn-digits" in (row.get("workloads") or {}):
            row["repeats"] = 2
            row["workloads"]["cnn-digits"]["processes"] = {"n": 2, "spread": 0.02}
    moved = assessment(_write(tmp_path, data), ("team_experience=keras",))
    assert any(m.candidate == "pytorch" and m.points for m in moved.measurements)
    torch["workloads"]["cnn-digits"]["processes"] = {"n": 2, "medians": [1500.0, 2300.0],
                                                    "spread": 0.42, "within": 0.01}
    a = assessment(_write(tmp_path, data), ("team_experience=keras",))
    assert not any(m.candidate == "pytorch" and m.points for m in a.measurements)
    assert any("too close on cnn-digits" in n and "+/- 21%" in n for n in a.measurement_notes)


def _doc(**run) -> ProbeDocument:  # noqa: F821
    from advisor.probe.model import ProbeDocument

    data = probe_data("cpu-noisy")
    data["run"] = run
    return ProbeDocument.from_dict(data, "test")


def test_reports_claim_a_quiet_machine_only_when_it_was_measured_quiet():
    staged = {"threads": 2, "startup": {"mode": "staged", "window": 2}}
    quiet = measured.method(_doc(**staged, quiet=True))
    assert "measured quiet" in quiet
    old = measured.method(_doc(**staged))
    assert "was not measured" in old and "quiet:" not in old
    loud = measured.method(_doc(**staged, quiet=False, busy=True))
    assert "measured quiet" not in loud and "nothing else" not in loud
    assert measured.quiet_warning(_doc(**staged, quiet=True)) == ""
    assert "busy" in measured.quiet_warning(_doc(busy=True, load_avg_before=[4, 3, 2]))
    warn = measured.quiet_warning(_doc(quiet=False, contention={"rows": ["jax"]}))
    assert warn.startswith("Not measured quiet:") and "jax trained (contended)" in warn


def test_compare_says_which_machines_were_measured_quiet():
    from advisor.service import compare

    doc = _doc(busy=False, quiet=False, contention={"rows": ["jax"]})
    assert compare._facts(doc)["Measured quiet"].startswith("NO: contended rows jax")
    assert compare._facts(_doc(quiet=True, contention={"rows": []}))["Measured quiet"] == "yes"
    assert compare._facts(_doc())["Measured quiet"] == "not measured"


# ------------------------------------------------------------------------------ for real
@pytest.fixture
def hogs():
    """Two busy loops competing for the cores, killed afterwards (by their own ids)."""
    procs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(2)]
    time.sleep(0.5)
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)


@pytest.mark.probe
def test_the_contention_window_sees_two_hogs(hogs):
    window = protocol.ContentionWindow()
    deadline = time.perf_counter() + 1.0
    while time.perf_counter() < deadline:
        protocol.calibration_kernel(2_000)
    ev = window.close()
    assert ev["others_cpu_share"] is not None and ev["others_cpu_share"] > pool.OTHERS_CPU_LIMIT
    assert ev["run_delay_s"] is not None and ev["run_delay_s"] > 0.05


@pytest.mark.probe
def test_the_busy_sample_sees_two_hogs(hogs):
    share = protocol.others_cpu_share(0.5)
    assert share is not None and share > pool.OTHERS_CPU_LIMIT


@pytest.mark.probe
def test_a_real_probe_next_to_two_hogs_marks_its_numbers_contended(tmp_path, hogs):
    from conftest import run_cli

    out = tmp_path / "probe.json"
    # --quick (one process, mlp-digits): with two hogs on two cores the default probe's two
    # processes of two workloads outlast run_cli's 120 s; contention is judged per row either way
    r = run_cli("probe", "--frameworks", "sklearn", "--quick", "--out", str(out), timeout=300)
    assert r.code == 0, r.err
    assert "contended:" in r.out + r.err and "move no score" in r.out + r.err
    data = json.loads(out.read_text())
    assert data["run"]["contended"] is True and data["run"]["quiet"] is False
    sk = data["frameworks"][0]
    assert sk["contended"] is True and sk["contention"]["why"]
    assert sk["workloads"]["mlp-digits"]["samples_per_s"]["n"] >= 1
    md = run_cli("recommend", "--probe", str(out), "--set", "modality=tabular", "--defaults",
                 "--format", "markdown")
    assert md.code == 0, md.err  # the recommendation from it says why its speed moved nothing
    assert "Not measured quiet" in md.out


# ------------------------------------------------------------------------------ --python
def test_python_must_be_an_interpreter_or_a_virtual_environment(tmp_path):
    from conftest import run_cli

    r = run_cli("probe", "--python", str(tmp_path / "nope"), "--out", str(tmp_path / "p.json"))
    assert r.code == 2 and "--python" in r.err and "no such file" in r.err
    assert "Traceback" not in r.err
    r = run_cli("probe", "--python", str(tmp_path), "--out", str(tmp_path / "p.json"))
    assert r.code == 2 and "not a virtual environment" in r.err


def test_a_bare_virtual_environment_has_every_row_missing_and_hardware_from_here(tmp_path):
    """The pipx case turned around: an interpreter without frameworks reports them missing, by
    asking that interpreter (not this one, which has them all)."""
    from advisor.probe import plan

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = plan.resolve_python(str(venv))
    assert python == str(venv / "bin" / "python")
    installed = plan.installed_checker(python)
    assert not installed("torch") and not installed("sklearn")
    assert plan.installed_checker(sys.executable) is plan.is_installed


@pytest.mark.probe
def test_python_runs_the_children_under_the_given_interpreter(tmp_path):
    """A wrapper script stands for another interpreter: the rows run through it."""
    from conftest import run_cli

    marker = tmp_path / "used"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f"#!/bin/sh\necho x >> {marker}\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    out = tmp_path / "probe.json"
    r = run_cli("probe", "--python", str(wrapper), "--frameworks", "sklearn", "--quick",
                "--out", str(out))
    assert r.code == 0, r.err
    data = json.loads(out.read_text())
    assert data["frameworks"][0]["status"] == "ok"
    # one look-up of the installed modules, then one child (--quick: one process)
    assert len(marker.read_text().split()) == 2
    assert data["run"]["python"] != "advisor's own"


# ------------------------------------------------------------------------------ advisor run
def test_run_probes_only_the_workloads_its_project_needs(tmp_path):
    from conftest import cli_env, run_cli
    from probe_fixtures import fake_probes_dir, ok_payload

    from advisor.probe.facts import project_workloads

    assert project_workloads({"modality": "images"}) == ("cnn-digits",)
    assert project_workloads({"modality": "tabular"}) == ("gbdt-digits", "mlp-digits")
    assert project_workloads({}) is None
    argv_log = tmp_path / "argv"
    body = (f"import json, sys\nopen({str(argv_log)!r}, 'a').write(' '.join(sys.argv) + '\\n')\n"
            f"print(json.dumps({ok_payload('sklearn', cnn=False)!r}))\n")
    folder = fake_probes_dir(tmp_path / "probes", {"probe_sklearn.py": body})
    env = cli_env(ADVISOR_PROBES_DIR=str(folder))
    r = run_cli("run", "--set", "modality=tabular", "--defaults", "--no-input", "--out",
                str(tmp_path / "out"), env=env, timeout=300)
    assert r.code == 0, r.err
    calls = argv_log.read_text().splitlines()
    assert len(calls) == 1  # one fresh process (run's budget), and only the workloads tabular
    # (time to accuracy: scikit-learn's gradient-boosted trees, the others' MLP)
    assert all(c.split("--workloads ")[1].split()[0] == "mlp-digits,gbdt-digits" for c in calls)
    assert project_workloads({"modality": "text", "pretrained": "hf_transformers"}) == (
        "mlp-digits",)  # nothing represents it: the cheapest, for the installed/learned facts
    probe = json.loads((tmp_path / "out" / "probe.json").read_text())
    assert probe["run"]["processes"]["per_row"] == 1


def test_run_plans_the_rows_its_workloads_and_keras_backend_need(monkeypatch):
    from advisor.probe.plan import ProbeOptions, plan_rows

    monkeypatch.setenv("KERAS_BACKEND", "jax")
    every = lambda module: True  # noqa: E731 - every framework installed
    rows, not_run = plan_rows(ProbeOptions(workloads=("cnn-digits",), one_keras_backend=True,
                                           purpose="advisor run"), every)
    assert "sklearn" not in rows  # it has no cnn-digits: it would only import its framework
    assert [r for r in rows if r.startswith("keras/")] == ["keras/jax"]
    reasons = {n["name"]: n["reason"] for n in not_run}
    assert "none of the workloads measured (cnn-digits)" in reasons["sklearn"]
    assert reasons["keras/torch"].startswith("advisor run measures Keras on one backend")
    # tabular data: scikit-learn's gbdt against the others' MLP, every row runs
    rows, _ = plan_rows(ProbeOptions(workloads=("mlp-digits", "gbdt-digits")), every)
    assert len(rows) == 7


# ------------------------------------------------------------------------------ plan / supervise
def test_rows_run_in_interleaved_rounds_of_fresh_processes(tmp_path, monkeypatch):
    """Round 1 runs every row once, then round 2: a slow stretch of the machine lands on
    several rows' processes instead of all of one row's."""
    from probe_fixtures import fake_probes_dir, ok_payload

    from advisor.probe import core, plan

    monkeypatch.setattr(plan, "is_installed", lambda module: True)
    log = tmp_path / "order"
    scripts = {}
    for row, script in (("pytorch", "probe_pytorch.py"), ("jax", "probe_jax.py")):
        scripts[script] = (f"import json, os\nopen({str(log)!r}, 'a').write('{row} %d\\n' % "
                           f"os.getpid())\nprint(json.dumps({ok_payload(row)!r}))\n")
    folder = fake_probes_dir(tmp_path / "probes", scripts)
    doc = core.run_probe(core.ProbeOptions(scripts=folder, frameworks=("pytorch", "jax"),
                                           threads=1, timeout_s=30, startup="serial", repeat=3))
    lines = [line.split() for line in log.read_text().splitlines()]
    assert [name for name, _ in lines] == ["pytorch", "jax"] * 3
    assert len({pid for _, pid in lines}) == 6  # every process a fresh one
    assert all(r.repeats == 3 for r in doc.frameworks)


def test_the_protocol_module_needs_nothing_but_the_standard_library():
    """Children load it under any interpreter (--python), without advisor or site-packages."""
    from advisor.probe import protocol

    code = ("import runpy, sys; m = runpy.run_path(sys.argv[1]); "
            "print(m['READY_LINE'], m['calibrate']() > 0)")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code, protocol.__file__],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["advisor-probe:", "ready", "True"]
