"""Decision model v2 on the bundled knowledge base: deployment per target bounded by the weakest
target, team and stack as one fact (levels), the costs of leaving a stack, hard facts that
outweigh it, model-family gating, measured deployment facts, and every point still traced."""

from __future__ import annotations

import random

import pytest

from advisor.decision import audit, engine

TARGETS = ("mobile_android", "mobile_ios", "browser", "microcontroller", "server")


def score(kb, answers, probe=None):
    return engine.score(kb, engine.Inputs(dict(answers), probe_facts=dict(probe or {})))


def deployment(s, cid):
    return s.ratings[cid]["deployment"]


def parts(s, cid, criterion):
    return [p for p in s.parts[cid] if p.criterion == criterion]


@pytest.mark.parametrize("stack", [TARGETS[:3], TARGETS[:2] + ("server",), TARGETS])
def test_stacked_targets_are_bounded_by_the_weakest_and_never_saturate(kb, stack):
    singles = {t: score(kb, {"deploy_targets": [t]}) for t in stack}
    stacked = score(kb, {"deploy_targets": list(stack)})
    share = engine.TARGET_MEAN_SHARE
    for cid in kb.candidate_ids:
        alone = [deployment(s, cid) for s in singles.values()]
        lo, mean = min(alone), sum(alone) / len(alone)
        assert deployment(stacked, cid) == pytest.approx(lo + share * (mean - lo))
        assert not [p for p in parts(stacked, cid, "deployment") if p.kind == "cap"]
        # the parts still sum to the rating (each scaled by its target's share)
        assert sum(p.rating for p in parts(stacked, cid, "deployment")) == pytest.approx(
            deployment(stacked, cid))
    ratings = sorted(deployment(stacked, c) for c in kb.candidate_ids)
    assert ratings[-1] < 10 and len(set(ratings)) >= 3, "stacking targets separates the candidates"


def test_a_measured_failure_moves_that_target_only(kb):
    answers = {"deploy_targets": ["mobile_android", "server"], "purpose": "production"}
    before = score(kb, answers)
    after = score(kb, answers, {"probe.deploy.keras.mobile_android": "failed"})
    assert deployment(after, "keras") < deployment(before, "keras") - 1
    for cid in ("pytorch", "tensorflow", "jax", "sklearn"):
        assert deployment(after, cid) == deployment(before, cid)
    sources = {p.source for p in parts(after, "keras", "deployment")}
    assert "deploy.measured.keras.mobile_android.failed" in sources
    ok = score(kb, answers, {"probe.deploy.pytorch.mobile_android": "ok"})
    assert deployment(ok, "pytorch") == deployment(before, "pytorch")  # success confirms the level


def test_team_and_stack_are_one_fact_never_a_capped_sum(kb):
    s = score(kb, {"team_experience": ["pytorch"], "existing_stack": "pytorch"})
    fit = parts(s, "pytorch", "team_fit")
    assert s.ratings["pytorch"]["team_fit"] == 10
    assert [p.source for p in fit if p.kind != "base"] == ["stack.pytorch"]  # one level, no cap
    # knowing another framework is worth its own level, not added to the stack's
    s = score(kb, {"team_experience": ["jax"], "existing_stack": "pytorch"})
    assert s.ratings["jax"]["team_fit"] == 9 and s.ratings["pytorch"]["team_fit"] == 10
    assert s.ratings["tensorflow"]["team_fit"] == 2  # porting and retraining


def test_leaving_a_stack_costs_a_second_serving_stack(kb):
    base = {"deploy_targets": ["server"], "purpose": "production"}
    free = score(kb, base)
    tied = score(kb, {**base, "existing_stack": "tensorflow"})
    assert deployment(tied, "pytorch") < deployment(free, "pytorch")
    assert deployment(tied, "keras") == deployment(free, "keras")  # same SavedModels, same server
    assert tied.weights["team_fit"] > free.weights["team_fit"]


@pytest.mark.parametrize("stack", ["jax", "tensorflow"])
def test_hugging_face_checkpoints_outweigh_a_stack(kb, stack):
    s = score(kb, {"team_experience": [stack], "existing_stack": stack, "modality": "text",
                   "pretrained": "hf_transformers", "training_hardware": "nvidia_gpu",
                   "os": "linux", "deploy_targets": ["server"], "priority": "ecosystem"})
    assert s.winner == "pytorch"
    assert s.ratings["pytorch"]["team_fit"] == 7  # the model code comes with the checkpoint


def test_a_target_only_another_framework_reaches_outweighs_a_jax_stack(kb):
    s = score(kb, {"team_experience": ["jax"], "existing_stack": "jax", "modality": "audio",
                   "deploy_targets": ["microcontroller"], "priority": "deployment",
                   "training_hardware": "cpu_only", "os": "linux", "dataset_size": "small"})
    assert s.winner in ("keras", "tensorflow")  # Keras 3 exports LiteRT (and runs on JAX)


@pytest.mark.parametrize("hardware", ["nvidia_gpu", "cpu_only", "apple_silicon", "amd_gpu"])
def test_small_tabular_is_classical_on_any_hardware(kb, hardware):
    os_ = "macos" if hardware == "apple_silicon" else "linux"
    answers = {"modality": "tabular", "dataset_size": "small", "training_hardware": hardware,
               "os": os_, "team_experience": ["none"], "priority": "performance"}
    s = score(kb, answers)
    assert s.winner == "sklearn"
    images = score(kb, {**answers, "modality": "images"})
    # GPU bonuses stop deciding a CPU tree problem: hardware fit weighs a third or less
    assert s.weights["hardware_fit"] < 0.4 * images.weights["hardware_fit"]


@pytest.mark.parametrize("task", ["reinforcement_learning", "genai_finetune", "genai_pretrain",
                                  "recommender"])
def test_sklearn_is_vetoed_for_work_outside_its_scope(kb, task):
    s = score(kb, {"task": task})
    assert [v.rule for v in s.vetoes["sklearn"]] == ["task.sklearn-out-of-scope"]


def test_text_with_linear_models_is_a_penalty_not_a_veto(kb):
    for size in ("small", "medium", "large"):
        s = score(kb, {"modality": "text", "dataset_size": size, "pretrained": "none"})
        assert not s.vetoes["sklearn"], size
    s = score(kb, {"modality": "text", "dataset_size": "medium", "pretrained": "none",
                   "task": "classical_ml", "team_experience": ["sklearn"],
                   "existing_stack": "sklearn", "training_hardware": "cpu_only", "os": "linux"})
    assert s.winner == "sklearn"
    assert score(kb, {"modality": "images", "dataset_size": "medium"}).vetoes["sklearn"]


def test_python_version_constraints(kb):
    s = score(kb, {"python_version": "py314"})
    assert [v.rule for v in s.vetoes["tensorflow"]] == ["maint.python-314-tensorflow"]
    pinned, free = score(kb, {"python_version": "py310"}), score(kb, {"python_version": "any"})
    assert pinned.ratings["jax"]["maintenance"] < free.ratings["jax"]["maintenance"]
    assert pinned.ratings["pytorch"]["maintenance"] == free.ratings["pytorch"]["maintenance"]


def test_every_base_rating_carries_rationale_confidence_sources_and_review(kb):
    for cand in kb.candidates:
        assert set(cand.base) == set(cand.base_rationale) == set(cand.base_confidence), cand.id
        assert cand.base_sources and cand.base_review_by is not None, cand.id
        for crit in cand.base:
            assert len(cand.base_rationale[crit]) > 30, (cand.id, crit)
    unrated = {"performance", "hardware_fit", "deployment", "team_fit"}
    assert not any(unrated & set(c.base) for c in kb.candidates), "these start neutral for everyone"


def test_every_point_names_its_rule_base_or_measurement(kb):
    s = score(kb, {"deploy_targets": ["mobile_ios", "browser"], "team_experience": ["keras"],
                   "existing_stack": "keras", "modality": "images", "training_hardware": "tpu",
                   "os": "linux", "purpose": "production"})
    rule_ids = {r.id for r in kb.rules}
    for cid in kb.candidate_ids:
        assert sum(p.points for p in s.parts[cid]) == pytest.approx(s.scores[cid])
        for p in s.parts[cid]:
            assert p.source in rule_ids or p.kind in ("base", "cap", "measurement"), p


@pytest.mark.parametrize("framework, floor", [("pytorch", 0.9), ("jax", 0.8), ("tensorflow", 0.8),
                                              ("sklearn", 0.9)])
def test_stack_loyalty_where_nothing_forces_a_switch(kb, framework, floor):
    """A team on its own stack keeps it (Keras 3 on that engine counts) in random consistent
    projects that have no hard reason to leave: no Hugging Face checkpoints, no generative, RL or
    scientific work, no special accelerator; scikit-learn on small and medium tables on one
    machine."""
    rng = random.Random(16)
    kept = seen = 0
    while seen < 40:
        fixed = {"team_experience": [framework], "existing_stack": framework,
                 "pretrained": rng.choice(["none", "vision_models"]),
                 "task": rng.choice(["deep_supervised", "classical_ml", "forecasting"]),
                 "training_hardware": rng.choice(["nvidia_gpu", "cpu_only"]), "os": "linux",
                 "scientific_computing": False}
        if framework == "sklearn":
            fixed.update(modality="tabular", dataset_size=rng.choice(["small", "medium"]),
                         scale="single_device", task="classical_ml")
            del fixed["pretrained"]
        answers = audit.random_answers(kb, rng, fixed)
        if answers is None:
            continue
        s = engine.score(kb, engine.Inputs(answers), detail=False)
        if s.vetoes[framework]:
            continue
        seen += 1
        kept += s.winner == framework or (s.winner == "keras" and framework in audit.KERAS_BACKENDS)
    assert kept / seen >= floor, f"{framework}: {kept}/{seen}"


def test_quick_scoring_equals_traced_scoring(kb):
    """Re-scoring without parts (robustness, audit) gives the same ratings, caps and order."""
    rng = random.Random(7)
    for i in range(60):
        answers = audit.random_answers(kb, rng)
        probe = {f"probe.deploy.{c}.{t}": rng.choice(["ok", "failed"])
                 for c in kb.candidate_ids for t in ("server", "mobile_android", "browser")
                 if i % 2 and rng.random() < 0.3}
        traced = engine.score(kb, engine.Inputs(answers, probe_facts=probe), detail=True)
        quick = engine.score(kb, engine.Inputs(answers, probe_facts=probe), detail=False)
        assert quick.order == traced.order and sorted(quick.caps) == sorted(traced.caps)
        for cid in kb.candidate_ids:
            assert quick.scores[cid] == pytest.approx(traced.scores[cid], abs=1e-9)
            assert quick.ratings[cid] == pytest.approx(traced.ratings[cid], abs=1e-9)
