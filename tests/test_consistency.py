"""Questions skipped by design are unknown everywhere; declared constraints refuse contradictions
from every source (file, --set, prompt, defaults) and steer the questionnaire."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from advisor.decision import engine
from advisor.infra.errors import AnswerError
from advisor.infra.resources import rules_dir
from advisor.kb import lint, loader
from advisor.questionnaire import answers as answers_mod
from advisor.questionnaire import consistency, flow
from advisor.service import recommend as core
from tests.conftest import run_cli

CONSTRAINTS = """\
constraints:
  - id: tpu-runs-linux
    when: "training_hardware == 'tpu'"
    require: "os in ['linux', 'auto']"
    message: "TPU VMs run Linux."
    sources:
      - {url: "https://cloud.google.com/tpu/docs/system-architecture-tpu-vm", title: "TPU VM architecture", date: "2026-10"}
  - id: cpu-only-one-device
    when: "training_hardware == 'cpu_only'"
    require: "scale != 'multi_gpu'"
    message: "cpu_only trains without GPUs, so not on several GPUs."
"""


@pytest.fixture
def rules(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    dst = tmp_path / "rules"
    shutil.copytree(rules_dir(), dst, ignore=shutil.ignore_patterns(
        "*.py", "*.json", "__pycache__", "constraints.yaml"))  # the bundled constraints: tested apart
    (dst / "zz_constraints.yaml").write_text(CONSTRAINTS)
    return dst


def inputs(kb, answers):
    return engine.Inputs(dict(answers), {k: "set" for k in answers},
                         {"machine.os": "linux", "machine.hardware": "cpu_only"})


def test_constraints_load_and_break_only_for_known_answers(rules):
    kb = loader.load(rules)
    assert [c.id for c in kb.constraints] == ["tpu-runs-linux", "cpu-only-one-device"]
    assert kb.constraints[0].where().endswith("zz_constraints.yaml:2")
    assert consistency.violations(kb, {"training_hardware": "tpu", "os": "windows"})[0].id == "tpu-runs-linux"
    assert consistency.is_consistent(kb, {"training_hardware": "tpu"})  # os unknown: no violation
    assert consistency.is_consistent(kb, {"training_hardware": "tpu", "os": "auto"})


def test_set_over_file_is_refused_with_one_line_naming_the_constraint(rules, tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text("os: windows\n")
    res = run_cli("recommend", "--rules", str(rules), "--answers", str(answers),
                  "--set", "training_hardware=tpu")
    assert res.code == 2
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert "TPU VMs run Linux" in lines[0] and "constraint tpu-runs-linux" in lines[0]
    assert "training_hardware=tpu from --set" in lines[0] and "os=windows from the answers file" in lines[0]


def test_merge_refuses_and_defaults_never_contradict(rules):
    kb = loader.load(rules)
    with pytest.raises(AnswerError, match="cpu-only-one-device"):
        answers_mod.merge(kb, from_file={"scale": "multi_gpu"}, from_set={"training_hardware": "cpu_only"})
    filled = answers_mod.merge(kb, from_set={"training_hardware": "tpu", "os": "linux"}, use_defaults=True)
    assert consistency.is_consistent(kb, filled.values)


def test_prompt_refuses_a_contradiction_and_asks_again(rules):
    kb = loader.load(rules)
    preset = answers_mod.AnswerSet({"training_hardware": "tpu"}, {"training_hardware": "set"})
    replies = iter(["windows", "linux"])
    said: list[str] = []
    only_os = [q for q in kb.questions if q.id == "os"]
    kb_os = dataclasses.replace(kb, questions=[kb.question("training_hardware"), *only_os])
    got = flow.run(kb_os, preset, lambda _: next(replies), said.append)
    assert got.values["os"] == "linux"
    assert any("TPU VMs run Linux" in line for line in said)


def test_a_single_consistent_value_is_implied_not_asked(rules, tmp_path):
    (rules / "zz_constraints.yaml").write_text(CONSTRAINTS.replace("['linux', 'auto']", "['linux']"))
    kb = loader.load(rules)
    preset = answers_mod.AnswerSet({"training_hardware": "tpu"}, {"training_hardware": "set"})
    kb_os = dataclasses.replace(kb, questions=[kb.question("training_hardware"), kb.question("os")])
    said: list[str] = []
    got = flow.run(kb_os, preset, lambda _: pytest.fail("asked"), said.append)
    assert got.values["os"] == "linux" and got.origin["os"] == "implied"


def test_rules_check_type_checks_constraints(rules):
    (rules / "zz_constraints.yaml").write_text(CONSTRAINTS.replace("os in ['linux', 'auto']", "os == 'beos'"))
    problems = [p for p in lint.check(str(rules)) if p.severity == "error"]
    assert any("constraint 'tpu-runs-linux': require" in p.message and "beos" in p.message
               for p in problems), problems


def test_a_stale_answer_to_a_skipped_question_changes_nothing(kb, tmp_path):
    """--set modality=tabular over a file with pretrained: hf_transformers (the question is skipped
    for tabular data) must not fire the Transformers rules nor veto scikit-learn."""
    answers = tmp_path / "a.yaml"
    answers.write_text("modality: text\npretrained: hf_transformers\ndataset_size: small\n")
    stale = core.gather(kb, str(answers), ["modality=tabular"])
    clean = core.gather(kb, None, ["modality=tabular", "dataset_size=small"])
    a_stale = engine.assess(kb, inputs(kb, stale.values))
    a_clean = engine.assess(kb, inputs(kb, clean.values))
    assert not a_stale.result("sklearn").vetoed
    assert [r.id for r in a_stale.fired_rules] == [r.id for r in a_clean.fired_rules]
    assert [(r.candidate, r.score) for r in a_stale.ranking] == [(r.candidate, r.score) for r in a_clean.ranking]
    assert "pretrained" not in a_stale.answers and "pretrained" not in a_stale.unanswered
    reason = a_stale.not_asked["pretrained"]
    assert reason.startswith("not asked, because modality is tabular")
    assert "'hf_transformers' was ignored" in reason
    assert all(f.question != "pretrained" for f in a_stale.robustness.flips)


def test_report_says_not_asked_because(kb, tmp_path):
    res = run_cli("recommend", "--set", "modality=tabular", "--format", "markdown")
    assert res.code == 0, res.err
    assert "not asked, because modality is tabular" in res.out


def test_flips_never_propose_a_contradiction(rules):
    """Windows is answered: 'training_hardware = tpu' would contradict tpu-runs-linux, so it is no flip."""
    kb = loader.load(rules)
    answers = {"os": "windows", "modality": "images", "training_hardware": "nvidia_gpu",
               "scale": "single_device"}
    a = engine.assess(kb, inputs(kb, answers))
    changes = [f.change for f in a.robustness.flips + a.robustness.project_flips]
    assert "training_hardware = tpu" not in changes
    from advisor.decision import robustness as robust

    free = dataclasses.replace(kb, constraints=[], constraint_conditions={})  # no constraints:
    b = engine.assess(free, inputs(free, answers))  # the same change is considered
    assert any(f.change == "training_hardware = tpu" for f, _ in robust.changes(free, inputs(free, answers)))
    assert not any(f.change == "training_hardware = tpu" for f, _ in robust.changes(kb, inputs(kb, answers)))
    assert b.winner is not None
