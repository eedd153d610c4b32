"""`advisor rules audit`: seeded sweeps over random consistent answer sets."""

from __future__ import annotations

import json
import math
import random
import shutil

from advisor.decision import audit
from advisor.infra.resources import rules_dir
from advisor.kb import loader
from advisor.questionnaire import consistency
from tests.conftest import run_cli
from tests.test_consistency import CONSTRAINTS


def test_audit_is_seeded_and_adds_up(kb):
    report = audit.run(kb, samples=200, seed=3)
    assert report.samples == 200
    assert math.isclose(sum(report.winner_shares.values()), 1.0)
    assert all(0.0 <= v <= 1.0 for v in report.influence.values())
    assert set(report.influence) <= {q.id for q in kb.questions}
    assert all(0 <= n <= report.samples for n in report.caps.values())
    assert report.no_answers["label"] != "decisive"
    stacks = {loy.framework: loy for loy in report.loyalty}
    assert "pytorch" in stacks and stacks["sklearn"].scope["modality"] == ["tabular"]
    for loy in report.loyalty:
        assert 0 <= loy.kept <= loy.samples
    assert audit.run(kb, samples=200, seed=3) == report


def test_a_question_that_decides_shows_influence(kb):
    """training_hardware vetoes frameworks (TPU, Windows GPUs): changing it must flip some winners."""
    report = audit.run(kb, samples=150, seed=1)
    assert report.influence["training_hardware"] > 0.0


def test_random_answers_respect_constraints_and_skips(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules, ignore=shutil.ignore_patterns("*.py", "*.json", "__pycache__"))
    (rules / "zz_constraints.yaml").write_text(CONSTRAINTS)
    kb = loader.load(rules)
    rng = random.Random(0)
    tpus = 0
    for _ in range(300):
        answers = audit.random_answers(kb, rng)
        assert answers is not None and consistency.is_consistent(kb, answers)
        assert not (answers.get("modality") == "tabular" and "pretrained" in answers)
        tpus += answers.get("training_hardware") == "tpu"
        if answers.get("training_hardware") == "tpu":
            assert answers["os"] == "linux"
    assert tpus > 0


def test_cli_table_and_json(tmp_path):
    res = run_cli("rules", "audit", "--samples", "40", "--format", "json", "--out", str(tmp_path / "a.json"))
    assert res.code == 0, res.err
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["samples"] == 40 and data["winner_shares"] and data["loyalty"]
    res = run_cli("rules", "audit", "-n", "40")
    assert res.code == 0, res.err
    for heading in ("Winner shares", "With no answers", "Influence", "Cap saturation", "Stack loyalty"):
        assert heading in res.out
