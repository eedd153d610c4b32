"""advisor probe --deploy: statuses, fault handling of the export/runtime children, decision facts,
reports. Fakes stand in for the frameworks here; tests marked ``probe`` run the real tools."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from advisor.infra.errors import BadInput
from advisor.probe import deploy, deploy_facts
from tests.probe_fixtures import PROBES, ROOT, write_script

OK_EXPORT = """
import json, os, sys, time, argparse
p = argparse.ArgumentParser()
for a in ("--exporter", "--row", "--formats", "--models", "--out", "--workloads", "--threads",
          "--progress"):
    p.add_argument(a)
ns = p.parse_args()
res = []
def progress(item):
    with open(ns.progress, "a") as f:
        f.write(json.dumps(item) + "\\n")
for fmt in ns.formats.split(","):
    progress({"started": fmt})
    if fmt == os.environ.get("FAKE_CRASH_ON"):
        os.abort()
    if fmt == os.environ.get("FAKE_HANG_ON"):
        time.sleep(60)
    for w in ns.workloads.split(","):
        d = os.path.join(ns.out, ns.row.replace("/", "_"), w, fmt)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.bin")
        open(path, "wb").write(b"x" * 1000)
        res.append({"workload": w, "format": fmt, "status": "ok", "reason": None,
                    "export_s": 0.1, "size_bytes": 1000, "artifact": path, "tool": "fake 1",
                    "quantized": fmt.endswith("_int8")})
        progress(res[-1])
print(json.dumps({"status": "ok", "results": res}))
"""

OK_RUN = """
import json, sys
args = sys.argv[1:]
arts = [args[i + 1] for i, a in enumerate(args) if a == "--artifact"]
fmt = args[args.index("--format") + 1]
AGREE = {AGREE}
res = [{"workload": a.split("=")[0], "format": fmt, "status": "ok", "reason": None,
        "runtime": {"name": "fake", "version": "1"}, "load_s": 0.01,
        "latency_ms": {"p50": 0.05, "p99": 0.2, "n": 360},
        "parity": {"top1_agreement": AGREE, "max_abs_diff": 1e-6},
        "accuracy": 0.95, "reference_accuracy": 0.96, "accuracy_drop": 0.01} for a in arts]
print(json.dumps({"status": "ok", "results": res}))
"""

BROKEN_EXPORT = "import sys\nsys.stderr.write('boom\\n')\nraise SystemExit(3)\n"
GARBAGE = "print('this is not json')\n"
HANG = "import time\ntime.sleep(60)\n"

ROWS = {"pytorch": {"status": "ok", "workloads": {"mlp-digits": {}}},
        "sklearn": {"status": "ok", "workloads": {"mlp-digits": {}}},
        "jax": {"status": "ok", "workloads": {"mlp-digits": {}}},
        "tensorflow": {"status": "broken", "workloads": {}}}


def scripts(tmp_path: Path, export: str = OK_EXPORT, run: str = OK_RUN.replace("{AGREE}", "1.0")
            ) -> Path:
    folder = tmp_path / "probes"
    folder.mkdir()
    write_script(folder, deploy.EXPORT_SCRIPT, export)
    write_script(folder, deploy.RUN_SCRIPT, run)
    return folder


def run(tmp_path: Path, folder: Path, targets=("server", "mobile_android"), timeout=30.0,
        installed=lambda m: m != "litert_torch") -> dict:
    return deploy.run_deploy(deploy.DeployOptions(targets, timeout_s=timeout), rows=ROWS,
                             models=tmp_path / "models", folder=folder, python=sys.executable,
                             threads=1, usable_cores=2, installed=installed)


def by(rows: list[dict], **match) -> list[dict]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


CONTRACT = {"row", "workload", "target", "format", "runtime", "status", "reason", "export_s",
            "size_bytes", "load_s", "latency_ms", "parity", "quantized", "accuracy_drop"}


def test_every_path_gets_a_row_with_the_contract_keys_and_a_status(tmp_path):
    out = run(tmp_path, scripts(tmp_path))
    rows = out["rows"]
    assert out["targets"] == ["server", "mobile_android"]
    assert all(CONTRACT <= set(r) and r["status"] in deploy.STATUSES for r in rows)
    assert not by(rows, row="tensorflow")  # a row that did not train has nothing to export
    ok = by(rows, status="ok")
    assert {(r["row"], r["target"], r["format"]) for r in ok} >= {
        ("pytorch", "server", "onnx"), ("pytorch", "server", "torch_export"),
        ("pytorch", "mobile_android", "executorch"), ("sklearn", "mobile_android", "onnx")}
    for r in ok:
        assert r["latency_ms"]["p50"] and r["size_bytes"] == 1000
        assert r["parity"]["top1_agreement"] >= deploy.PARITY_MIN
    # one measurement of the ONNX artifact serves every target that uses it
    server, android = (by(rows, row="pytorch", format="onnx", target=t)[0]
                       for t in ("server", "mobile_android"))
    assert server["latency_ms"] == android["latency_ms"]
    # a tool that cannot share the environment: unavailable, with the install and the reason
    tfl = by(rows, row="pytorch", format="tflite")[0]
    assert tfl["status"] == "unavailable" and "litert-torch" in tfl["reason"]
    assert "typing-extensions" in tfl["reason"]
    assert by(rows, row="jax", format="jax_export", target="server")[0]["status"] == "ok"
    json.dumps(out, allow_nan=False)  # strict JSON
    from advisor.probe.model import Deploy, parse

    typed = parse(Deploy, out, "deploy")  # the probe document's own validation accepts it
    assert len(typed.rows) == len(rows) and typed.extra["targets"] == list(out["targets"])


def test_a_target_without_a_path_is_unavailable_with_a_reason(tmp_path):
    rows = run(tmp_path, scripts(tmp_path), targets=("microcontroller",))["rows"]
    sk = by(rows, row="sklearn")
    assert sk and all(r["status"] == "unavailable" and r["format"] == deploy.NO_FORMAT
                      and "no export path" in r["reason"] for r in sk)
    assert by(rows, row="pytorch", format="tflite_int8")[0]["status"] == "unavailable"


def test_broken_exporter_is_failed_never_a_crash(tmp_path):
    rows = run(tmp_path, scripts(tmp_path, export=BROKEN_EXPORT))["rows"]
    tried = [r for r in rows if r["row"] in ("pytorch", "sklearn") and r["format"] != "tflite"]
    assert tried and all(r["status"] == "failed" for r in tried)
    assert all("export" in r["reason"] and "boom" in r["reason"] for r in tried)


def test_exporter_crash_blames_its_format_and_the_rest_are_exported(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CRASH_ON", "torch_export")
    rows = run(tmp_path, scripts(tmp_path), targets=("server", "mobile_android"))["rows"]
    crashed = by(rows, row="pytorch", format="torch_export")[0]
    assert crashed["status"] == "failed" and "SIGABRT" in crashed["reason"]
    # onnx (before it, from the progress file) and executorch (after it, a fresh child) are ok
    assert by(rows, row="pytorch", format="onnx", target="server")[0]["status"] == "ok"
    assert by(rows, row="pytorch", format="executorch")[0]["status"] == "ok"


def test_exporter_hang_is_a_timeout_for_its_format_only(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_HANG_ON", "torch_export")
    rows = run(tmp_path, scripts(tmp_path), targets=("server",), timeout=3)["rows"]
    assert by(rows, row="pytorch", format="torch_export")[0]["status"] == "timeout"
    assert by(rows, row="pytorch", format="onnx")[0]["status"] == "ok"
    assert by(rows, row="sklearn", format="onnx")[0]["status"] == "ok"


def test_garbage_from_a_runtime_is_failed(tmp_path):
    rows = run(tmp_path, scripts(tmp_path, run=GARBAGE))["rows"]
    onnx = by(rows, row="sklearn", format="onnx")
    assert onnx and all(r["status"] == "failed" and "garbage" in r["reason"] for r in onnx)
    assert onnx[0]["size_bytes"] == 1000  # the export's own numbers stay


def test_hanging_runtime_is_a_timeout_and_killed(tmp_path):
    started = time.monotonic()
    rows = run(tmp_path, scripts(tmp_path, run=HANG), targets=("server",), timeout=2)["rows"]
    assert time.monotonic() - started < 30
    tried = by(rows, row="sklearn", format="onnx")
    assert tried and all(r["status"] == "timeout" for r in tried)


def test_parity_below_the_limit_fails_the_path(tmp_path):
    rows = run(tmp_path, scripts(tmp_path, run=OK_RUN.replace("{AGREE}", "0.9")),
               targets=("server",))["rows"]
    onnx = by(rows, row="sklearn", format="onnx")[0]
    assert onnx["status"] == "failed" and "top-1 agreement 0.9" in onnx["reason"]


def test_int8_judged_by_accuracy_drop_and_core_ml_not_run():
    exported = {"status": "ok", "quantized": True, "size_bytes": 10}
    ran = {"status": "ok", "parity": {"top1_agreement": 0.9}, "accuracy_drop": 0.01}
    assert deploy._judge(exported, ran)["status"] == "ok"
    ran["accuracy_drop"] = 0.2
    assert deploy._judge(exported, ran)["status"] == "failed"


def test_targets_are_validated():
    assert deploy.parse_targets("server, mobile_android,server") == ("server", "mobile_android")
    with pytest.raises(BadInput, match="choose from"):
        deploy.parse_targets("server,moon")


# ------------------------------------------------------------------------------ decision
def probe_with(rows: list[dict]) -> dict:
    return {"deploy": {"targets": ["server", "mobile_android"], "rows": rows}}


def path(row, target, fmt, status, reason=None):
    return {"row": row, "workload": "mlp-digits", "target": target, "format": fmt,
            "status": status, "reason": reason, "latency_ms": {"p50": 0.05, "p99": 0.1, "n": 360},
            "size_bytes": 70_000, "parity": {"top1_agreement": 1.0, "max_abs_diff": 1e-6}}


@pytest.fixture(scope="module")
def kb():
    from advisor.kb import loader

    return loader.load(ROOT / "rules", use_cache=False)


def test_facts_ok_failed_and_unknown(kb):
    probe = probe_with([
        path("pytorch", "mobile_android", "executorch", "ok"),
        path("pytorch", "mobile_android", "tflite", "unavailable", "not installed"),
        path("tensorflow", "mobile_android", "tflite", "failed", "export failed: X"),
        path("sklearn", "mobile_android", "onnx", "unavailable", "not installed"),
        path("keras/tensorflow", "server", "onnx", "timeout"),
    ])
    facts = deploy_facts.deploy_facts(kb, probe)
    assert facts["probe.deploy.pytorch.mobile_android"] == "ok"
    assert facts["probe.deploy.tensorflow.mobile_android"] == "failed"
    assert "probe.deploy.sklearn.mobile_android" not in facts  # unavailable: no evidence
    assert "probe.deploy.keras.server" not in facts  # timeout: no evidence
    declared = {f.id for f in kb.facts}
    assert all(name in declared for name in facts)


def test_keras_measured_on_one_backend_is_never_failed_on_the_others_behalf(kb):
    """Keras on JAX cannot write LiteRT, Keras on TensorFlow can: when only keras/jax ran
    (--quick, `advisor run`: the configured backend), Keras is not "failed" for Android, and
    its training facts claim no "failed everywhere" or "sees no GPU" either."""
    from advisor.probe.facts import facts as probe_facts

    not_run = [{"name": "keras/tensorflow", "reason": "--quick measures Keras on one backend"},
               {"name": "keras/torch", "reason": "--quick measures Keras on one backend"}]
    probe = probe_with([path("keras/jax", "mobile_android", "tflite", "failed",
                             "export failed: LiteRT export requires TensorFlow or PyTorch")])
    probe["run"] = {"not_run": not_run}
    assert "probe.deploy.keras.mobile_android" not in deploy_facts.deploy_facts(kb, probe)
    probe["run"] = {"not_run": []}  # every backend tried and failed: that is evidence
    assert deploy_facts.deploy_facts(kb, probe)["probe.deploy.keras.mobile_android"] == "failed"

    cpu_row = {"name": "keras/jax", "status": "ok", "devices": [{"kind": "cpu", "name": "cpu"}],
               "workloads": {}}
    doc = {"gpus": [{"name": "NVIDIA H200", "vendor": "nvidia"}], "frameworks": [cpu_row],
           "run": {"not_run": not_run}}
    got = probe_facts(kb, doc)
    assert got["probe.keras.installed"] is True and "probe.keras.sees_gpu" not in got
    broken = dict(doc, frameworks=[dict(cpu_row, status="broken")])
    assert "probe.keras.failed" not in probe_facts(kb, broken)
    doc["run"] = broken["run"] = {"not_run": []}  # every backend measured: evidence
    assert probe_facts(kb, doc)["probe.keras.sees_gpu"] is False
    assert probe_facts(kb, broken)["probe.keras.failed"] is True


def test_measured_paths_move_deployment_only_for_answered_targets(kb):
    from advisor.decision import engine

    probe = probe_with([path("pytorch", "mobile_android", "executorch", "ok"),
                        path("tensorflow", "mobile_android", "tflite", "failed", "boom"),
                        path("sklearn", "server", "onnx", "ok")])
    measure = deploy_facts.measurer(None, probe)
    weights = {"deployment": 0.5}
    deltas, ms, notes = measure(kb, {"deploy_targets": ["mobile_android", "browser"]}, weights)
    got = {(m.candidate, m.criterion): m for m in ms}
    assert got[("pytorch", "deployment")].rating > 0
    # a failure is listed with its error, and scored once: by the knowledge base's per-target
    # rule that reads the fact (so it bounds the criterion like any weak target), not here too
    failed = got[("tensorflow", "deployment")]
    assert failed.rating == 0 and "boom" in failed.detail
    assert "deploy.measured.tensorflow.mobile_android.failed" in failed.detail
    assert ("sklearn", "deployment") not in got  # server was not answered
    assert all(isinstance(d, engine.MeasuredDelta) for d in deltas) and len(deltas) == 1
    assert any("mobile_android" in n and "measured" in n for n in notes)
    assert any("browser" in n and "rules only" in n for n in notes)


def test_android_recommendation_lists_deployment_among_measurements(tmp_path):
    from advisor.service import recommend

    probe = json.loads((ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json").read_text())
    probe["deploy"] = probe_with([path("pytorch", "mobile_android", "executorch", "ok"),
                                  path("tensorflow", "mobile_android", "tflite", "ok"),
                                  path("sklearn", "mobile_android", "onnx", "failed", "boom")]
                                 )["deploy"]
    probe_file = tmp_path / "probe.json"
    probe_file.write_text(json.dumps(probe))
    a = recommend.recommend(rules=None, answers_file=None, probe_file=str(probe_file),
                            sets=["deploy_targets=mobile_android", "modality=images"]).assessment
    deployment = {m.candidate: m for m in a.measurements if m.criterion == "deployment"}
    assert set(deployment) == {"pytorch", "tensorflow", "sklearn"}
    assert deployment["sklearn"].points == 0 < deployment["pytorch"].points
    ranked_parts = {r.candidate: r.parts for r in a.ranking}
    failed = [p for p in ranked_parts["sklearn"]
              if p.source == "deploy.measured.sklearn.mobile_android.failed"]
    assert failed and all(p.points < 0 for p in failed)  # the failure is scored once, by rule
    assert any("measured on the probed machine" in n for n in a.measurement_notes)
    doc = json.loads(a.to_json())
    assert any(m["criterion"] == "deployment" for m in doc["measurements"])
    ranked = {r.candidate: r for r in a.ranking}
    assert ranked["pytorch"].contributions["deployment"] > 0
    # the knowledge base's rule that reads the failed fact points the reader at the matrix
    assert any(n.rule == "probe.deploy.sklearn-failed" for n in a.notes)


# ------------------------------------------------------------------------------- reports
def assessment_with_deploy():
    from advisor.probe.model import ProbeDocument
    from advisor.render import measured

    probe = json.loads((ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json").read_text())
    probe.update(probe_with([path("pytorch", "mobile_android", "executorch", "ok"),
                             path("tensorflow", "mobile_android", "tflite", "failed",
                                  "<b>boom</b>"),
                             path("sklearn", "server", "onnx", "ok")]))
    return measured.deploy(ProbeDocument.from_dict(probe, "test"))


def test_matrix_view_picks_the_best_path_and_lists_each_artifact_once():
    dm = assessment_with_deploy()
    assert dm is not None and dm.targets == ["server", "mobile_android"]
    assert dm.best("pytorch", "mlp-digits", "mobile_android").status == "ok"
    assert dm.best("tensorflow", "mlp-digits", "mobile_android").status == "failed"
    assert dm.best("sklearn", "mlp-digits", "mobile_android") is None
    assert len(dm.measurements()) == 3


def test_reports_show_the_matrix_escaped_with_numbers(tmp_path):
    from advisor.render import html, markdown, terminal
    from advisor.service import recommend

    probe = json.loads((ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json").read_text())
    probe.update(probe_with([path("pytorch", "mobile_android", "executorch", "ok"),
                             path("tensorflow", "mobile_android", "tflite", "failed",
                                  "<b>boom</b>"),
                             path("sklearn", "server", "onnx", "ok")]))
    probe_file = tmp_path / "probe.json"
    probe_file.write_text(json.dumps(probe))
    a = recommend.recommend(rules=None, answers_file=None, probe_file=str(probe_file),
                            sets=["deploy_targets=mobile_android"]).assessment
    text = markdown.render(a)
    assert "### Deployment paths measured on the probed machine" in text
    assert "ok executorch: 0.05 ms p50" in text and "failed (tflite)" in text
    assert "<b>" not in text and "boom" in text and "68.4" in text
    page = html.render(a, charts=False)
    assert 'id="deploy-matrix"' in page and "<b>boom" not in page and "&lt;b&gt;boom" in page
    from rich.console import Console

    console = Console(record=True, width=200)
    terminal.render(a, console)
    assert "Deployment paths measured" in console.export_text()


def test_compare_shows_deploy_side_by_side(tmp_path):
    from advisor.render import compare_report
    from advisor.service import compare

    base = json.loads((ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json").read_text())
    a, b = dict(base), dict(base)
    a["deploy"] = probe_with([path("pytorch", "mobile_android", "executorch", "ok")])["deploy"]
    b["deploy"] = probe_with([path("pytorch", "mobile_android", "executorch", "failed",
                                   "no XNNPACK")])["deploy"]
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    cmp = compare.compare([str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert cmp.deploy_keys == [("pytorch", "mlp-digits", "mobile_android")]
    text = compare_report.render_markdown(cmp)
    assert "ok executorch" in text and "failed (executorch)" in text
    html = compare_report.render_html(cmp, charts=False)
    assert 'id="deploy"' in html
    data = json.loads(compare_report.render_json(cmp))
    assert data


# ---------------------------------------------------------------------------------- real
def _have(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def _trained_and_deployed(tmp_path: Path, row: str, targets: tuple[str, ...],
                          timeout: float = 180) -> list[dict]:
    """Train ``row``'s mlp-digits for real (one epoch, --save-model), then run the deploy probe
    for ``targets`` on it: the deploy rows."""
    import subprocess

    from advisor.probe import catalog

    spec = catalog.ROWS[row]
    models = tmp_path / "models"
    subprocess.run([sys.executable, str(PROBES / spec.script), "--threads", "1", "--epochs", "1",
                    "--workloads", "mlp-digits", "--data-cache", str(tmp_path),
                    "--save-model", str(models)],
                   env=catalog.child_env(spec, 1), check=True, capture_output=True, timeout=180)
    return deploy.run_deploy(deploy.DeployOptions(targets, timeout_s=timeout),
                             rows={row: {"status": "ok", "workloads": {"mlp-digits": {}}}},
                             models=models, folder=PROBES, python=sys.executable, threads=1,
                             usable_cores=1)["rows"]


@pytest.mark.probe
@pytest.mark.skipif(not _have("sklearn", "skl2onnx", "onnxruntime"),
                    reason="needs scikit-learn, skl2onnx and onnxruntime (advisor[deploy])")
def test_real_sklearn_to_onnx_runs_in_onnxruntime(tmp_path):
    rows = _trained_and_deployed(tmp_path, "sklearn", ("server", "microcontroller"))
    onnx = by(rows, format="onnx", target="server")[0]
    assert onnx["status"] == "ok", onnx["reason"]
    assert onnx["parity"]["top1_agreement"] >= 0.99 and onnx["latency_ms"]["n"] >= 50
    assert onnx["size_bytes"] > 1000 and onnx["runtime"].startswith("onnxruntime ")
    mcu = by(rows, target="microcontroller")[0]
    assert mcu["status"] == "unavailable" and mcu["reason"]


@pytest.mark.probe
@pytest.mark.skipif(not _have("torch", "onnx", "onnxscript", "onnxruntime"),
                    reason="needs torch, onnx, onnxscript and onnxruntime (advisor[test] has them)")
def test_real_pytorch_to_onnx_and_torch_export_run_and_agree(tmp_path):
    """The PyTorch server paths, for real (CI installs the test extra's light deploy tools):
    the trained mlp-digits exported by the dynamo ONNX exporter and by torch.export, each loaded
    in a fresh process and timed, agreeing with PyTorch's own predictions."""
    rows = _trained_and_deployed(tmp_path, "pytorch", ("server",))
    assert {r["format"] for r in rows} == {"onnx", "torch_export"}
    for r in rows:
        assert r["status"] == "ok", (r["format"], r["reason"])
        assert r["parity"]["top1_agreement"] >= 0.99 and r["parity"]["max_abs_diff"] < 1e-3
        assert r["latency_ms"]["n"] >= 50 and 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p99"]
        assert r["size_bytes"] > 1000 and r["export_s"] > 0 and r["load_s"] > 0
    assert by(rows, format="onnx")[0]["runtime"].startswith("onnxruntime ")


@pytest.mark.probe
@pytest.mark.skipif(not _have("torch", "executorch", "torchao"),
                    reason="needs torch, executorch and torchao (advisor[deploy])")
def test_real_pytorch_int8_executorch_for_microcontrollers(tmp_path):
    """PyTorch's microcontroller path: int8 post-training quantisation (PT2E) in an ExecuTorch
    program, run in ExecuTorch's runtime; judged by its accuracy drop, with its size."""
    rows = _trained_and_deployed(tmp_path, "pytorch", ("microcontroller",), timeout=300)
    int8 = by(rows, format="executorch_int8")[0]
    assert int8["status"] == "ok", int8["reason"]
    assert int8["quantized"] is True and int8["accuracy_drop"] is not None
    assert int8["accuracy_drop"] <= deploy.INT8_MAX_DROP and int8["latency_ms"]["n"] >= 50
    float_size = 72_000  # the float ExecuTorch program of mlp-digits is about 72 KB
    assert 0 < int8["size_bytes"] < float_size / 2


@pytest.mark.probe
@pytest.mark.skipif(not _have("torch", "tensorflow", "sklearn", "onnxruntime", "onnxscript",
                              "skl2onnx", "tf2onnx", "ai_edge_litert"),
                    reason="needs the cpu and deploy extras (pip install 'advisor[cpu,deploy]')")
def test_real_quick_deploy_probe_meets_the_issue_check(tmp_path):
    """The issue's check: `advisor probe --quick --deploy --targets server,mobile_android
    --frameworks pytorch,tensorflow,sklearn` gives rows for all three, at least four paths ok
    (each with top-1 parity >= 0.99, a latency and a size), every other path with a reason, and
    an Android project recommended from it shows deployment among its measured facts."""
    from advisor.probe.core import ProbeOptions, run_probe
    from advisor.service import recommend

    doc = run_probe(ProbeOptions(frameworks=("pytorch", "tensorflow", "sklearn"), quick=True,
                                 deploy=deploy.DeployOptions(("server", "mobile_android"),
                                                             timeout_s=300)))
    rows = doc.to_dict()["deploy"]["rows"]
    assert {r["row"] for r in rows} == {"pytorch", "tensorflow", "sklearn"}
    ok = [r for r in rows if r["status"] == "ok"]
    assert len({(r["row"], r["format"]) for r in ok}) >= 4, [
        (r["row"], r["format"], r["status"], r["reason"]) for r in rows]
    for r in ok:
        assert r["parity"]["top1_agreement"] >= 0.99
        assert r["latency_ms"]["p50"] > 0 and r["latency_ms"]["n"] >= 50 and r["size_bytes"] > 0
    assert all(r["reason"] for r in rows if r["status"] != "ok")
    probe_file = tmp_path / "probe.json"
    probe_file.write_text(doc.to_json())
    a = recommend.recommend(rules=None, answers_file=None, probe_file=str(probe_file),
                            sets=["deploy_targets=mobile_android"]).assessment
    assert any(m.criterion == "deployment" for m in a.measurements)


# ----------------------------------------------------------------------------------- CLI
def _cli(folder: Path, *args: str, timeout: float = 120):
    import subprocess

    env = dict(os.environ, ADVISOR_PROBES_DIR=str(folder), PYTHONPATH=str(ROOT), COLUMNS="120")
    return subprocess.run([sys.executable, "-m", "advisor", "probe", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=folder,
                          check=False)


@pytest.mark.skipif(not _have("skl2onnx", "onnxruntime"),
                    reason="the planner asks the environment for skl2onnx and onnxruntime before "
                           "it runs even a fake exporter (advisor[deploy])")
def test_cli_probe_deploy_writes_deploy_rows(tmp_path):
    from advisor.probe.model import load_probe
    from tests.probe_fixtures import fake_probes_dir, ok_payload, printing_script

    folder = fake_probes_dir(tmp_path / "probes", {
        "probe_sklearn.py": printing_script(ok_payload("sklearn", cnn=False)),
        deploy.EXPORT_SCRIPT: OK_EXPORT, deploy.RUN_SCRIPT: OK_RUN.replace("{AGREE}", "1.0")})
    out = tmp_path / "probe.json"
    done = _cli(folder, "--frameworks", "sklearn", "--quick", "--deploy", "--targets",
                "server,microcontroller", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "deploy export sklearn" in done.stderr
    doc = load_probe(out)
    assert doc.deploy is not None
    got = {(r.target, r.format): r.status for r in doc.deploy.rows}
    assert got == {("server", "onnx"): "ok", ("microcontroller", "none"): "unavailable"}


@pytest.mark.parametrize("args", [("--targets", "server"), ("--deploy", "--targets", "moon")])
def test_cli_bad_deploy_options_exit_2(tmp_path, args):
    done = _cli(tmp_path, "--frameworks", "sklearn", *args, "--out", str(tmp_path / "p.json"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert not (tmp_path / "p.json").exists()


def test_advisor_run_deploy_measures_only_the_answered_targets(tmp_path, monkeypatch):
    from advisor.probe.model import ProbeDocument
    from advisor.questionnaire.answers import AnswerSet
    from advisor.service import recommend
    from advisor.service import run as run_mod

    seen = {}
    fixture = json.loads((ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json").read_text())

    def fake_probe(**kw):
        seen.update(kw)
        return ProbeDocument.from_dict(fixture, "fake")

    monkeypatch.setattr(run_mod, "probe_machine", fake_probe)
    kb = recommend.load_kb(None)
    answers = AnswerSet(values={"deploy_targets": ["mobile_android", "none", "browser"]})
    run_mod.run(kb, answers, out_dir=str(tmp_path / "out"), deploy=True)
    assert seen["deploy_targets"] == ("mobile_android", "browser")
    run_mod.run(kb, answers, out_dir=str(tmp_path / "out2"))
    assert seen["deploy_targets"] == ()


# ------------------------------------------------------------------ the real exporter's statuses
def _exporter_module(monkeypatch):
    monkeypatch.syspath_prepend(str(PROBES))
    import deploy_export

    return deploy_export


def test_no_saved_model_is_no_evidence_either_way(tmp_path, monkeypatch):
    """A workload the training probe could not save is the probe's gap, not the framework's:
    unavailable (no evidence), never failed (which counts against the candidate)."""
    ex = _exporter_module(monkeypatch)
    got = ex.export_one("jax", "jax", "onnx", str(tmp_path / "models"), str(tmp_path / "out"),
                        "attn-digits")
    assert got["status"] == "unavailable" and "no trained model" in got["reason"]


def test_an_exporter_asking_for_a_missing_tool_is_unavailable(tmp_path, monkeypatch):
    ex = _exporter_module(monkeypatch)
    folder = Path(ex.harness.model_dir(str(tmp_path / "models"), "keras/jax", "mlp-digits"))
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text("{}")

    def raising(exc):
        def exporter(fmt, folder, workload, out):
            raise exc
        return exporter

    def export(fmt="onnx"):
        return ex.export_one("keras", "keras/jax", fmt, str(tmp_path / "models"),
                             str(tmp_path / "out"), "mlp-digits")

    # a module that is not installed: no evidence either way
    monkeypatch.setitem(ex.EXPORTERS, "keras", raising(ModuleNotFoundError(
        "No module named 'jax2onnx_not_here'", name="jax2onnx_not_here")))
    got = export()
    assert got["status"] == "unavailable" and "jax2onnx_not_here" in got["reason"]
    # an import that breaks inside an installed package (an API that moved) is a failure
    monkeypatch.setitem(ex.EXPORTERS, "keras", raising(ModuleNotFoundError(
        "No module named 'json.moved_api'", name="json.moved_api")))
    assert export()["status"] == "failed"
    # Keras on JAX asks for jax2onnx with a plain ImportError: the planner rules that path out
    # first (deploy.ROW_TOOLS), so the exporter never sees it
    assert "jax2onnx" in deploy._missing_tool("keras/jax", "onnx",
                                              lambda m: m != "jax2onnx")
    assert deploy._missing_tool("keras/tensorflow", "onnx", lambda m: m != "jax2onnx") is None

    def broken(fmt, folder, workload, out):
        raise ValueError("LiteRT export requires TensorFlow or PyTorch backend.")

    monkeypatch.setitem(ex.EXPORTERS, "keras", broken)
    got = export("tflite")
    assert got["status"] == "failed" and "requires TensorFlow or PyTorch" in got["reason"]


def test_a_model_the_framework_could_not_save_fails_its_paths(tmp_path, monkeypatch):
    ex = _exporter_module(monkeypatch)
    folder = Path(ex.harness.model_dir(str(tmp_path / "models"), "jax", "attn-digits"))
    folder.mkdir(parents=True)
    (folder / ex.harness.SAVE_ERROR).write_text("TypeError: cannot pickle 'PjitFunction'")
    got = ex.export_one("jax", "jax", "onnx", str(tmp_path / "models"), str(tmp_path / "out"),
                        "attn-digits")
    assert got["status"] == "failed" and "could not save its model" in got["reason"]


def test_jax_parameters_of_every_workload_save_and_load_back(tmp_path, monkeypatch):
    """attn-digits' nested parameters (a list of encoder layers) were not saved, so its export
    was reported as a failure of JAX; they round-trip now."""
    np = pytest.importorskip("numpy")
    monkeypatch.syspath_prepend(str(PROBES))
    import probe_jax

    rng = np.random.default_rng(0)
    params = probe_jax._attention_params(rng)
    probe_jax.save_params(params, str(tmp_path))
    back = probe_jax.load_params(str(tmp_path))
    assert isinstance(back["layers"], list) and len(back["layers"]) == 2
    assert np.array_equal(back["layers"][1]["qkv"]["w"], params["layers"][1]["qkv"]["w"])
    assert np.array_equal(back["pos"], params["pos"]) and back["head"]["b"].shape == (10,)


@pytest.mark.probe
def test_the_keras_attention_model_saves_and_loads_back(tmp_path, monkeypatch):
    """Its own position layer and a lambda activation made the saved attn-digits model fail to
    load in the exporter ("Functional could not be deserialized"), reported as a Keras failure."""
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    monkeypatch.syspath_prepend(str(PROBES))
    import probe_keras

    model = probe_keras._attention_model(keras)
    x = np.random.default_rng(0).standard_normal((4, 8, 8)).astype("float32")
    path = str(tmp_path / "model.keras")
    model.save(path)
    back = keras.saving.load_model(path, custom_objects=probe_keras.custom_objects(keras))
    assert np.allclose(np.asarray(back.predict(x, verbose=0)),
                       np.asarray(model.predict(x, verbose=0)), atol=1e-5)
