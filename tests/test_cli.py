"""The CLI as a user runs it: contracts of recommend's JSON, formats, explain, rules, no heavy imports."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from tests.conftest import ROOT, cli_env, run_cli

HEAVY = ("torch", "tensorflow", "jax", "keras", "matplotlib", "sklearn", "numpy")


def test_recommend_json_contract(tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text("modality: text\npretrained: hf_transformers\ntraining_hardware: nvidia_gpu\nos: linux\n")
    result = run_cli("recommend", "--answers", str(answers), "--defaults", "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["schema_version"] == 1
    assert data["winner"] == "pytorch"
    ids = [r["candidate"] for r in data["ranking"]]
    assert sorted(ids) == sorted(["pytorch", "keras", "tensorflow", "jax", "sklearn"])
    for row in data["ranking"]:
        assert isinstance(row["vetoed"], bool)
        assert math.isclose(sum(row["contributions"].values()), row["score"], abs_tol=1e-9)
    scores = [r["score"] for r in data["ranking"] if not r["vetoed"]]
    assert scores == sorted(scores, reverse=True)
    fired = {r["id"]: r for r in data["fired_rules"]}
    assert fired["eco.hf-transformers-v5-torch-only"]["sources"][0]["url"].startswith("https://")
    assert data["robustness"]["label"] in ("decisive", "clear", "close")
    assert {w["criterion"] for w in data["robustness"]["weight_intervals"]} == {w["criterion"] for w in data["weights"]}
    assert any(w["candidate"] == "sklearn" and w["vetoed_by"] for w in data["why_not"])


def test_recommend_markdown_to_file_is_atomic_and_complete(tmp_path):
    out = tmp_path / "report.md"
    result = run_cli("recommend", "--defaults", "--set", "modality=tabular", "--set", "dataset_size=small",
                     "--format", "markdown", "--out", str(out))
    assert result.code == 0, result.err
    text = out.read_text()
    assert text.startswith("# Framework decision: scikit")
    for heading in ("## Context", "## Decision drivers", "## Options considered", "## Why scikit",
                    "## Why not the others", "## Robustness", "## Rules that fired"):
        assert heading in text
    assert not list(tmp_path.glob(".report.md.*"))  # no temp file left behind


def test_table_output_names_winner():
    result = run_cli("recommend", "--defaults", "--set", "modality=tabular", "--set", "os=linux",
                     "--set", "dataset_size=small", "--set", "training_hardware=cpu_only")
    assert result.code == 0, result.err
    head = result.out.split("Ranking")[0]
    assert "Recommendation" in head and "scikit-learn" in head


def test_explain_traces_every_rule():
    result = run_cli("recommend", "--defaults", "--set", "os=linux", "--set", "training_hardware=cpu_only",
                     "--explain", "keras")
    assert result.code == 0, result.err
    assert "Every rule considered" in result.out
    assert "hw.cpu-only" in result.out and "true" in result.out
    assert "total" in result.out


def test_explain_unknown_candidate():
    result = run_cli("recommend", "--defaults", "--explain", "caffe")
    assert result.code == 2 and "allowed: pytorch, keras" in result.err


def test_recommend_needs_some_answers():
    result = run_cli("recommend")
    assert result.code == 2 and "--answers" in result.err


def test_rules_check_bundled_is_clean():
    result = run_cli("rules", "check")
    assert result.code == 0, result.err
    assert "0 errors, 0 warnings" in result.out


def test_rules_schema_is_json_schema():
    result = run_cli("rules", "schema")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["title"] == "advisor rules file"
    assert "rules" in schema["properties"]


def test_python_m_advisor_and_help():
    result = run_cli("--help")
    assert result.code == 0
    for cmd in ("ask", "recommend", "rules"):
        assert cmd in result.out


def _imported_modules(args: list[str]) -> set[str]:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['advisor', *{args!r}]\n"
        "try:\n"
        "    runpy.run_module('advisor', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stdout.flush()\n"
        "print('\\nMODULES ' + ' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=cli_env(), timeout=120)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("MODULES ")][-1]
    return set(line.split()[1:])


def test_help_and_recommend_import_no_framework():
    for args in (["--help"], ["recommend", "--defaults", "--format", "json"],
                 ["recommend", "--defaults"], ["rules", "check"]):
        mods = _imported_modules(args)
        assert not (mods & set(HEAVY)), (args, mods & set(HEAVY))


def test_committed_json_schema_is_current():
    """rules/schema.json (used by editors through the yaml-language-server modeline) is current."""
    result = run_cli("rules", "schema")
    assert result.code == 0
    assert (ROOT / "rules" / "schema.json").read_text() == result.out, (
        "regenerate with: advisor rules schema --out rules/schema.json"
    )


def test_readme_command_reference_matches_help():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
