"""The scenario suite: realistic projects run through the real knowledge base and engine.

Each tests/scenarios/NAME.yaml is an ordinary answers file (what `advisor ask` writes); its
expected outcome, with the facts behind it, is in tests/scenarios/expectations.yaml. Where the
field genuinely splits, `winner` lists more than one candidate.

Scenarios give training_hardware and os explicitly, and the machine facts are emptied, so the
results never depend on the machine the tests run on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from advisor.decision import engine
from advisor.questionnaire import consistency
from advisor.service import recommend as core

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "tests" / "scenarios"
RULES = ROOT / "rules"
EXPECTATIONS = yaml.safe_load((SCENARIOS / "expectations.yaml").read_text())
CANDIDATES = {"pytorch", "keras", "tensorflow", "jax", "sklearn"}

REQUIRED_COVERAGE = {
    # topic of the brief -> (question, value) that some scenario must answer
    "mobile Android": ("deploy_targets", "mobile_android"),
    "iOS": ("deploy_targets", "mobile_ios"),
    "microcontrollers": ("deploy_targets", "microcontroller"),
    "browser": ("deploy_targets", "browser"),
    "LLM fine-tuning": ("pretrained", "hf_transformers"),
    "TPU training": ("training_hardware", "tpu"),
    "AMD ROCm": ("training_hardware", "amd_gpu"),
    "Apple silicon": ("training_hardware", "apple_silicon"),
    "native Windows": ("os", "windows"),
    "tabular": ("modality", "tabular"),
    "time series": ("modality", "time_series"),
    "audio": ("modality", "audio"),
    "graphs": ("modality", "graph"),
    "scientific computing": ("scientific_computing", True),
    "teaching": ("purpose", "learning"),
    "existing TF/TFX stack": ("existing_stack", "tensorflow"),
    "prototyping on a CPU": ("training_hardware", "cpu_only"),
}


@pytest.fixture(scope="module")
def kb():
    return core.load_kb(str(RULES))


def _assess(kb, name: str, *, v1_only: bool = False, **overrides):
    answer_set = core.gather(kb, str(SCENARIOS / f"{name}.yaml"))
    if v1_only:
        for qid in list(answer_set.values):
            if qid not in V1_QUESTIONS:
                del answer_set.values[qid]
                answer_set.origin.pop(qid, None)
    for qid, value in overrides.items():
        answer_set.put(qid, value, "test")
    inputs = core.build_inputs(kb, answer_set)
    inputs.machine = {}  # never let the test machine answer anything
    return engine.assess(kb, inputs)


def _answers(name: str) -> dict:
    return yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text()) or {}


def test_suite_is_complete():
    files = {p.stem for p in SCENARIOS.glob("*.yaml")} - {"expectations"}
    assert files == set(EXPECTATIONS), "every scenario file needs an expectation and vice versa"
    assert len(files) >= 25
    for name, exp in EXPECTATIONS.items():
        assert set(exp["winner"]) <= CANDIDATES and exp["winner"], name
        assert set(exp["acceptable"]) <= CANDIDATES, name
        assert not set(exp["winner"]) & set(exp["acceptable"]), name
        assert len(exp["why"]) > 40, f"{name}: cite the facts"
        text = (SCENARIOS / f"{name}.yaml").read_text()
        assert text.startswith("# Scenario:") and "Expected winner" in text and "Why:" in text, name


def test_scenarios_fix_the_machine():
    for name in EXPECTATIONS:
        answers = _answers(name)
        if not answers:
            continue  # the "nothing answered" scenario: the emptied machine answers nothing either
        assert answers.get("training_hardware") not in (None, "auto"), name
        assert answers.get("os") not in (None, "auto"), name


def test_suite_covers_the_brief():
    answered = [_answers(name) for name in EXPECTATIONS]
    for topic, (qid, value) in REQUIRED_COVERAGE.items():
        hit = any(
            (value in a.get(qid, [])) if isinstance(a.get(qid), list) else a.get(qid) == value
            for a in answered
        )
        assert hit, f"no scenario covers {topic}"


def half(name: str) -> str:
    """The fixed split: a scenario is in the tuning half when the CRC-32 of its name is even.

    Rules and weights are tuned against the "tune" half only; the "holdout" half measures how
    well that tuning generalises. The rule depends on the name alone, so adding scenarios never
    moves an existing one to the other half.
    """
    return "tune" if zlib.crc32(name.encode()) % 2 == 0 else "holdout"


#: Agreement floors per half (winner among the accepted winners), with the scenario's full answers
#: and with only the DESIGN.md questions answered (an answers file written before the v2 questions:
#: task, model_size, inference, python_version, serving_stack, scientific_computing unknown).
#: Baseline before the v2 rules: tune 41/46, holdout 41/48; v1-only 36/46 and 39/48.
#: Raise them as the model improves; never lower them to make a change pass.
FLOORS = {"tune": 45, "holdout": 48}
V1_FLOORS = {"tune": 45, "holdout": 46}
V1_QUESTIONS = {"purpose", "modality", "pretrained", "deploy_targets", "training_hardware", "os",
                "scale", "dataset_size", "team_experience", "existing_stack", "priority",
                "custom_research"}


@dataclass(frozen=True)
class Outcome:
    name: str
    half: str
    winner: str | None
    runner_up: str | None
    agrees: bool
    runner_up_ok: bool
    ranking: list


def outcome(kb, name: str, v1_only: bool = False) -> Outcome:
    exp = EXPECTATIONS[name]
    a = _assess(kb, name, v1_only=v1_only)
    runner_up = a.robustness.runner_up
    return Outcome(
        name=name,
        half=half(name),
        winner=a.winner,
        runner_up=runner_up,
        agrees=a.winner in exp["winner"],
        runner_up_ok=runner_up is None or runner_up in exp["winner"] + exp["acceptable"],
        ranking=[(r.candidate, round(r.score, 2), r.vetoed) for r in a.ranking],
    )


def agreement_report(kb, v1_only: bool = False) -> tuple[dict[str, tuple[int, int]], list[Outcome]]:
    outcomes = [outcome(kb, name, v1_only) for name in sorted(EXPECTATIONS)]
    totals = {}
    for h in ("tune", "holdout"):
        mine = [o for o in outcomes if o.half == h]
        totals[h] = (sum(o.agrees for o in mine), len(mine))
    return totals, outcomes


def test_halves_are_balanced():
    counts = {h: sum(half(n) == h for n in EXPECTATIONS) for h in ("tune", "holdout")}
    assert min(counts.values()) >= 30, counts


@pytest.mark.parametrize("v1_only", [False, True], ids=["all-answers", "design-questions-only"])
def test_agreement_per_half(kb, v1_only):
    floors = V1_FLOORS if v1_only else FLOORS
    totals, outcomes = agreement_report(kb, v1_only)
    misses = "\n".join(
        f"  [{o.half}] {o.name}: got {o.winner}, accepted {EXPECTATIONS[o.name]['winner']}; {o.ranking}"
        for o in outcomes if not o.agrees
    )
    summary = ", ".join(f"{h} {a}/{n}" for h, (a, n) in totals.items())
    print(f"\nscenario agreement: {summary}\n{misses}")
    for h, (agree, _) in totals.items():
        assert agree >= floors[h], f"agreement fell below the floor ({summary}); misses:\n{misses}"


def test_vetoed_candidates_never_win_or_rank_above_a_live_one(kb):
    for name in EXPECTATIONS:
        a = _assess(kb, name)
        live = [r.vetoed for r in a.ranking]
        assert live == sorted(live), name


def test_every_scenario_is_consistent(kb):
    for name in EXPECTATIONS:
        assert consistency.is_consistent(kb, _answers(name)), (name, consistency.violations(kb, _answers(name)))


@pytest.mark.parametrize(
    "answers, constraint",
    [
        ({"training_hardware": "tpu", "os": "windows"}, "tpu-vm-linux"),
        ({"training_hardware": "apple_silicon", "os": "linux"}, "apple-silicon-macos"),
        ({"training_hardware": "aws_trainium", "os": "windows"}, "neuron-gaudi-linux"),
        ({"training_hardware": "cpu_only", "scale": "multi_gpu"}, "cpu-only-no-gpus"),
        ({"model_size": "needs_sharding", "scale": "single_device"}, "sharded-model-several-devices"),
        ({"deploy_targets": ["microcontroller"], "model_size": "fits_one_device"}, "microcontroller-small-model"),
    ],
)
def test_contradictions_are_refused_by_the_bundled_constraints(kb, answers, constraint):
    assert [v.id for v in consistency.violations(kb, answers)] == [constraint]
    assert consistency.is_consistent(kb, {k: v for k, v in answers.items() if k != "os"} | {"os": "auto"}
                                     if "os" in answers else {list(answers)[0]: answers[list(answers)[0]]})


def test_cli_agrees_with_the_engine(kb):
    name = "windows_gpu_tf_team"
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "recommend", "--rules", str(RULES),
         "--answers", str(SCENARIOS / f"{name}.yaml"), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["winner"] == _assess(kb, name).winner
    assert {r["candidate"]: r["vetoed"] for r in data["ranking"]}["tensorflow"] is True


# ------------------------------------------------------------------ hard facts


def _vetoed(a) -> dict[str, list[str]]:
    return {r.candidate: [v.rule for v in r.vetoes] for r in a.ranking if r.vetoed}


@pytest.mark.parametrize("team", [["tensorflow"], ["keras"], ["tensorflow", "keras"], ["jax"]])
@pytest.mark.parametrize("stack", ["none", "tensorflow", "jax"])
def test_windows_gpu_vetoes_tf_and_jax_whatever_the_team_knows(kb, team, stack):
    a = _assess(kb, "windows_gpu_tf_team", team_experience=team, existing_stack=stack,
                priority="deployment")
    vetoed = _vetoed(a)
    assert "hw.windows-gpu.tensorflow" in vetoed.get("tensorflow", [])
    assert "hw.windows-gpu.jax" in vetoed.get("jax", [])
    assert a.winner not in ("tensorflow", "jax")


def test_windows_without_gpu_does_not_veto_tensorflow(kb):
    a = _assess(kb, "windows_cpu_desktop_app")
    assert "tensorflow" not in _vetoed(a)


@pytest.mark.parametrize(
    "name, overrides, rule",
    [
        ("llm_finetune_lora", {}, "eco.hf-transformers-v5-torch-only"),
        ("tpu_keras_vision", {"scale": "single_device"}, "hw.tpu"),
        ("graph_gnn_research", {}, "research.custom-loops"),
        ("scientific_grad_vmap", {"custom_research": False}, "sci.function-transformations"),
        ("time_series_large_sensors", {"scale": "multi_node"}, "scale.distributed"),
    ],
)
def test_sklearn_is_vetoed_where_it_cannot_work(kb, name, overrides, rule):
    a = _assess(kb, name, **overrides)
    assert rule in _vetoed(a).get("sklearn", []), _vetoed(a)


def test_team_experience_never_lifts_a_veto(kb):
    """Experience only moves ratings: the set of vetoed candidates is the same for any team."""
    base = _vetoed(_assess(kb, "windows_gpu_tf_team", team_experience=["none"]))
    for team in (["tensorflow"], ["jax"], ["sklearn"], ["pytorch", "keras", "tensorflow", "jax"]):
        assert _vetoed(_assess(kb, "windows_gpu_tf_team", team_experience=team)) == base


def test_transformers_v5_is_pytorch_only(kb):
    for name in ("llm_finetune_lora", "browser_text_hf", "audio_asr_finetune", "cpu_laptop_text_prototype"):
        a = _assess(kb, name)
        eco = a.result("pytorch").ratings["ecosystem"]
        assert all(eco > a.result(c).ratings["ecosystem"] for c in ("tensorflow", "jax", "keras")), name


def test_unconfirmed_facts_are_marked_in_the_report(kb):
    a = _assess(kb, "apple_silicon_keras_team")
    fired = {r.id: r for r in a.fired_rules}
    assert fired["hw.apple.tensorflow-metal-broken"].unconfirmed
    assert fired["hw.apple.tensorflow-metal-broken"].confidence == "low"
    assert not fired["hw.apple.mps"].unconfirmed
    a = _assess(kb, "tpu_llm_pretraining")
    assert {r.id for r in a.fired_rules if r.unconfirmed} >= {"hw.tpu.pytorch-xla-uncertain"}


def test_torchserve_archival_is_reported_for_production_serving(kb):
    a = _assess(kb, "gpu_serving_high_throughput")
    notes = [n.text for n in a.notes if n.candidate == "pytorch"]
    assert any("TorchServe is archived" in n for n in notes)


def test_tensorflow_is_in_maintenance_mode_unless_it_is_the_stack(kb):
    a = _assess(kb, "amd_rocm_vision")
    assert "maint.tensorflow-maintenance-mode" in {r.id for r in a.fired_rules}
    a = _assess(kb, "existing_tfx_pipeline")
    assert "maint.tensorflow-maintenance-mode" not in {r.id for r in a.fired_rules}


def test_small_tabular_prefers_trees_even_for_a_pytorch_team_on_a_gpu(kb):
    a = _assess(kb, "tabular_small_churn", team_experience=["pytorch"], training_hardware="nvidia_gpu")
    assert a.winner == "sklearn"


def test_contributions_sum_to_score_in_every_scenario(kb):
    for name in EXPECTATIONS:
        a = _assess(kb, name)
        for r in a.ranking:
            assert sum(r.contributions.values()) == pytest.approx(r.score, abs=1e-9), name
            assert sum(p.points for p in r.parts) == pytest.approx(r.score, abs=1e-9), name


if __name__ == "__main__":  # python tests/test_scenarios.py [--v1]: the agreement table
    totals, outcomes = agreement_report(core.load_kb(str(RULES)), "--v1" in sys.argv)
    for o in outcomes:
        mark = "ok  " if o.agrees else "MISS"
        second = "" if o.runner_up_ok else f" (runner-up {o.runner_up} not accepted)"
        print(f"{mark} [{o.half:7}] {o.name}: {o.winner}{second}")
    print(", ".join(f"{h} {a}/{n}" for h, (a, n) in totals.items()))
