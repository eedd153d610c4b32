"""`advisor run` end to end, as a user runs it (real subprocess)."""

from __future__ import annotations

import json

import pytest

from tests.reports_support import probe_data

FILES = {"report.html", "report.md", "recommendation.json", "answers.yaml", "probe.json"}


def test_run_non_interactive_with_probe_file(tmp_path, cli):
    out = tmp_path / "out"
    res = cli("run", "--answers", "examples/image-classifier.yaml", "--probe",
              "tests/fixtures/probe-nvidia-tf-blind.json", "--out", str(out), "--no-input")
    assert res.code == 0, res.err
    assert {p.name for p in out.iterdir()} == FILES  # no temporary files left behind
    rec = json.loads((out / "recommendation.json").read_text())
    # the summary shows each measurement that moved a score, as the JSON has it
    moved = [m for m in rec["measurements"] if m["rating"]]
    assert moved and all(f"{m['criterion']} {m['rating']:+.2f}" in res.out for m in moved)
    for name in FILES:
        assert str(out / name) in res.out.replace("\n", "")
    # PyTorch and Keras 3 share one speed group on this probe (0.03 points apart): a tie band
    assert rec["winner"] in ("pytorch", "keras") and rec["schema_version"] == 1
    assert rec["robustness"]["label"] == "tie"
    saved, given = json.loads((out / "probe.json").read_text()), probe_data("nvidia-tf-blind")
    assert saved["host"] == given["host"] and saved["gpus"] == given["gpus"]
    assert [(r["name"], r["status"]) for r in saved["frameworks"]] == [
        (r["name"], r["status"]) for r in given["frameworks"]]
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "## Measured numbers" in (out / "report.md").read_text()
    # the saved answers replay to the same recommendation
    again = cli("recommend", "--answers", str(out / "answers.yaml"), "--probe", str(out / "probe.json"),
                "--format", "json")
    assert again.code == 0, again.err
    assert json.loads(again.out)["winner"] == rec["winner"]


def test_run_with_set_and_defaults_without_probe(tmp_path, cli):
    res = cli("run", "--set", "modality=tabular", "--no-input", "--defaults", "--no-probe",
              "--out", str(tmp_path / "o"))
    assert res.code == 0, res.err
    assert {p.name for p in (tmp_path / "o").iterdir()} == FILES - {"probe.json"}


def test_run_missing_answers_and_bad_usage_are_one_line_exit_2(tmp_path, cli):
    res = cli("run", "--set", "modality=images", "--no-input", "--probe",
              "tests/fixtures/probe-cpu-noisy.json", "--out", str(tmp_path / "o"))
    assert res.code == 2 and res.err.count("\n") == 1 and "missing answers" in res.err
    assert not (tmp_path / "o").exists()  # nothing written when the run cannot finish
    res = cli("run", "--defaults", "--no-input", "--probe", "x.json", "--quick")
    assert res.code == 2 and "choose one of" in res.err
    res = cli("run", "--defaults", "--no-input", "--probe", "tests/fixtures/probe-future.json",
              "--out", str(tmp_path / "o"))
    assert res.code == 2 and "schema_version 2" in res.err and "Traceback" not in res.err


def test_run_without_terminal_refuses_to_prompt(tmp_path, cli):
    res = cli("run", "--set", "modality=images", "--probe", "tests/fixtures/probe-cpu-noisy.json",
              "--out", str(tmp_path / "o"))
    assert res.code == 2 and "not a terminal" in res.err


@pytest.mark.probe
def test_run_quick_real_probe(tmp_path, cli):
    out = tmp_path / "real"
    res = cli("run", "--answers", "examples/image-classifier.yaml", "--quick", "--no-input",
              "--out", str(out), timeout=900)
    assert res.code == 0, res.err
    assert {p.name for p in out.iterdir()} == FILES
    probe = json.loads((out / "probe.json").read_text())
    assert probe["schema_version"] == 1 and probe["frameworks"]
    ok = [row["name"] for row in probe["frameworks"] if row["status"] == "ok"]
    assert ok, probe["frameworks"]
    # --quick: one Keras row, the others listed as not run; start-up staged when 2+ rows run
    keras_rows = [r["name"] for r in probe["frameworks"] if r["name"].startswith("keras/")]
    assert len(keras_rows) == 1
    assert len(probe["run"]["not_run"]) == 2
    assert {i["name"] for i in probe["run"]["not_run"]} | set(keras_rows) == {
        "keras/tensorflow", "keras/torch", "keras/jax"}
    if len(ok) > 1 and probe["host"]["usable_cores"] > 1:
        assert probe["run"]["startup"]["mode"] == "staged"
    assert "Not run: `keras/" in (out / "report.md").read_text()
    rec = json.loads((out / "recommendation.json").read_text())
    assert rec["probe"]["host"]["usable_cores"] >= 1
    assert rec["resolved"]["training_hardware"]["source"] == "probe file"
