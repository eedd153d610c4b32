"""Property tests of the robustness analysis against an independent recomputation.

For random answer sets the reported weight interval of every criterion is checked from first
principles: the scores are recomputed from the Assessment's final ratings (`ranking[i].ratings`)
and weights, with the criterion's weight set to t and the other weights rescaled proportionally
so they still sum to 1. Just inside the interval the winner must hold; just outside (where the
bound is not 0 or 1) some live rival must beat it. A wrong closed form in advisor/robustness.py
- too narrow, too wide, or off by a rescaling - fails one of the two.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from advisor.decision import engine
from advisor.questionnaire.answers import AnswerSet
from advisor.service import recommend as core

ROOT = Path(__file__).resolve().parents[1]
KB = core.load_kb(str(ROOT / "rules"))
TOL = 1e-9


def _value_strategy(question):
    if question.type == "bool":
        return st.booleans()
    values = [v for v in question.values if v != "auto"]
    if question.type == "one":
        return st.sampled_from(values)
    real = [v for v in values if v != "none"]
    subsets = st.lists(st.sampled_from(real), min_size=1, max_size=4, unique=True)
    return st.one_of(subsets, st.just(["none"])) if "none" in values else subsets


@st.composite
def answer_sets(draw):
    answers: dict = {}
    for question in KB.questions:
        # mostly answered, sometimes left unknown (three-valued logic must hold up too)
        if draw(st.integers(0, 9)) == 0:
            continue
        answers[question.id] = draw(_value_strategy(question))
    return answers


def _assess(answers: dict):
    answer_set = AnswerSet()
    for qid, value in answers.items():
        answer_set.put(qid, value, "test")
    inputs = core.build_inputs(KB, answer_set)
    inputs.machine = {}  # the test machine answers nothing
    return engine.assess(KB, inputs)


def _scores_at(a, criterion: str, t: float) -> dict[str, float]:
    """Scores of the live candidates with `criterion`'s weight moved to t, others rescaled."""
    weights = {w.criterion: w.weight for w in a.weights}
    w_i = weights[criterion]
    scale = (1.0 - t) / (1.0 - w_i)
    moved = {c: (t if c == criterion else w * scale) for c, w in weights.items()}
    assert sum(moved.values()) == pytest.approx(1.0)
    return {
        r.candidate: sum(moved[c] * r.ratings[c] for c in moved)
        for r in a.ranking
        if not r.vetoed
    }


def _winner_holds(a, criterion: str, t: float) -> bool:
    scores = _scores_at(a, criterion, t)
    best = scores.pop(a.winner)
    return all(best >= s - TOL for s in scores.values())


def _winner_loses(a, criterion: str, t: float) -> bool:
    scores = _scores_at(a, criterion, t)
    best = scores.pop(a.winner)
    return any(s > best + 1e-12 for s in scores.values())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_sets())
def test_weight_intervals_are_exact(answers):
    a = _assess(answers)
    assume(a.winner is not None and a.robustness.runner_up is not None)
    assume(a.robustness.margin is not None and a.robustness.margin > 1e-6)  # no exact ties
    weights = {w.criterion: w.weight for w in a.weights}
    # the recomputed scores at the current weights are the reported ones
    now = _scores_at(a, a.weights[0].criterion, a.weights[0].weight)
    for r in a.ranking:
        if not r.vetoed:
            assert now[r.candidate] == pytest.approx(r.score, abs=1e-9)
    assert {i.criterion for i in a.robustness.weight_intervals} == set(weights)

    for interval in a.robustness.weight_intervals:
        crit, low, high = interval.criterion, interval.low, interval.high
        w_i = weights[crit]
        if 1.0 - w_i < 1e-12:
            continue
        assert 0.0 <= low <= w_i + 1e-9 and w_i - 1e-9 <= high <= 1.0, interval
        width = high - low
        eps = min(1e-4, width / 4) if width > 0 else 0.0
        # inside: at both ends (nudged in), at the current weight and in the middle
        for t in (low + eps, high - eps, w_i, (low + high) / 2):
            if 1.0 - t > 1e-12:
                assert _winner_holds(a, crit, t), (crit, t, interval)
        # outside: just past each bound that is not the end of the scale
        step = 1e-4
        if low > 1e-9:
            assert _winner_loses(a, crit, max(0.0, low - step)), (crit, "below", interval)
            taker = interval.limited_by_low
            scores = _scores_at(a, crit, max(0.0, low - step))
            assert taker is not None and scores[taker] > scores[a.winner], interval
        if high < 1.0 - 1e-9:
            t = min(high + step, 1.0 - 1e-9)
            assert _winner_loses(a, crit, t), (crit, "above", interval)
            taker = interval.limited_by_high
            scores = _scores_at(a, crit, t)
            assert taker is not None and scores[taker] > scores[a.winner], interval


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_sets())
def test_contributions_sum_to_score(answers):
    a = _assess(answers)
    weights = {w.criterion: w.weight for w in a.weights}
    assert sum(weights.values()) == pytest.approx(1.0)
    for r in a.ranking:
        assert sum(r.contributions.values()) == pytest.approx(r.score, abs=1e-9)
        assert sum(p.points for p in r.parts) == pytest.approx(r.score, abs=1e-9)
        for crit, points in r.contributions.items():
            # each criterion's points are its weight times the final (capped) rating
            assert points == pytest.approx(weights[crit] * r.ratings[crit], abs=1e-9)
            assert 0.0 <= r.ratings[crit] <= 10.0
    live = [r for r in a.ranking if not r.vetoed]
    if live:
        assert a.winner == live[0].candidate
        assert all(live[0].score >= r.score - 1e-9 for r in live)
    else:
        assert a.winner is None


def test_interval_check_would_catch_a_wrong_interval():
    """The checks above are not vacuous: a deliberately widened interval fails them."""
    answers = {
        "purpose": "production", "modality": "images", "pretrained": "none",
        "deploy_targets": ["mobile_android"], "training_hardware": "nvidia_gpu", "os": "linux",
        "scale": "single_device", "dataset_size": "medium", "team_experience": ["tensorflow", "keras"],
        "existing_stack": "none", "priority": "deployment", "custom_research": False,
    }
    a = _assess(answers)
    bounded = [i for i in a.robustness.weight_intervals if i.high < 1.0 - 1e-9 or i.low > 1e-9]
    assert bounded, "this close call must have at least one finite bound"
    for i in bounded:
        if i.high < 1.0 - 1e-9:
            assert not _winner_holds(a, i.criterion, min(i.high + 0.05, 1.0 - 1e-9))
        if i.low > 1e-9:
            assert not _winner_holds(a, i.criterion, max(i.low - 0.05, 0.0))
