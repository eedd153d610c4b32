"""The engine: vetoes first, exact decomposition, unknown answers, robustness."""

from __future__ import annotations

import math

from advisor.decision import engine
from advisor.decision.robustness import weight_interval
from advisor.service import recommend as core


def assess(kb, *sets, defaults=True):
    answer_set = core.gather(kb, None, list(sets), use_defaults=defaults)
    inputs = engine.Inputs(answer_set.values, answer_set.origin, {"machine.os": "linux",
                           "machine.hardware": "cpu_only"})
    return engine.assess(kb, inputs)


def test_contributions_sum_exactly_to_score(kb):
    a = assess(kb, "modality=text", "pretrained=hf_transformers")
    for r in a.ranking:
        assert math.isclose(sum(r.contributions.values()), r.score, abs_tol=1e-12)
        assert math.isclose(sum(p.points for p in r.parts), r.score, abs_tol=1e-9)
        weights = {w.criterion: w.weight for w in a.weights}
        for crit, rating in r.ratings.items():
            assert math.isclose(rating * weights[crit], r.contributions[crit], abs_tol=1e-9)
    assert math.isclose(sum(w.weight for w in a.weights), 1.0)


def test_vetoed_candidates_rank_last_and_keep_their_rule(kb):
    a = assess(kb, "os=windows", "training_hardware=nvidia_gpu", "team_experience=tensorflow")
    tf = a.result("tensorflow")
    assert tf.vetoed and tf.vetoes[0].rule == "hw.windows-gpu.tensorflow"
    alive = [r for r in a.ranking if not r.vetoed]
    assert a.ranking[: len(alive)] == alive
    assert a.winner != "tensorflow"


def test_unanswered_question_does_not_fire_rules(kb):
    a = assess(kb, "purpose=research", "scientific_computing=false", "training_hardware=nvidia_gpu",
               defaults=False)
    fired = {r.id for r in a.fired_rules}
    assert "eco.research-code-pytorch" in fired
    # modality unanswered -> tabular rules are unknown, not false-then-negated
    trace = {t.id: t for t in a.trace}
    assert trace["tab.trees-state-of-the-art"].result == "unknown"
    assert "modality" in a.unanswered


def test_auto_answers_resolve_from_machine(kb):
    a = assess(kb, "training_hardware=auto", "os=auto")
    assert a.resolved["training_hardware"] == {"value": "cpu_only", "source": "this machine"}
    assert "hw.cpu-only" in {r.id for r in a.fired_rules}


def test_every_point_is_traced(kb):
    a = assess(kb, "modality=tabular", "dataset_size=small")
    rule_ids = {r.id for r in a.fired_rules}
    for r in a.ranking:
        for p in r.parts:
            assert p.kind in ("base", "rule", "measurement", "cap")
            if p.kind == "rule":
                assert p.source in rule_ids


def test_weight_interval_bounds_are_tight(kb):
    """Just inside each bound the winner holds; just outside a rival takes over."""
    inputs_set = core.gather(kb, None, ["modality=images", "priority=deployment"], use_defaults=True)
    inputs = engine.Inputs(inputs_set.values, inputs_set.origin, {"machine.os": "linux",
                           "machine.hardware": "nvidia_gpu"})
    s = engine.score(kb, inputs)
    for crit in kb.criterion_ids:
        low, high, _, _ = weight_interval(s, crit, kb.criterion_ids)
        for t, expect_same in ((low + 1e-6, True), (high - 1e-6, True), (low - 1e-4, False), (high + 1e-4, False)):
            if not 0 <= t <= 1 or (not expect_same and (low <= 1e-9 and t < low or high >= 1 - 1e-9 and t > high)):
                continue
            w = s.weights[crit]
            scale = (1 - t) / (1 - w)
            new = {c: sum((t if k == crit else s.weights[k] * scale) * s.ratings[c][k] for k in kb.criterion_ids)
                   for c in s.order if not s.vetoes[c]}
            best = max(new, key=new.get)
            assert (best == s.winner) is expect_same, (crit, t, low, high, best)


def test_flips_are_real(kb):
    a = assess(kb, "modality=images")
    assert a.robustness.flips, "a default image project must have some answer that flips it"
    for flip in a.robustness.flips:
        b = assess(kb, "modality=images", f"{flip.question}={','.join(flip.value) if isinstance(flip.value, list) else str(flip.value).lower()}")
        assert b.winner == flip.new_winner, flip
