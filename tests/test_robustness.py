"""Honest robustness: labels need evidence, a tie band, a deterministic win probability, flips
ranked by margin with project changes apart, and a "why" that names what separated the winner
from the runner-up after the caps."""

from __future__ import annotations

import math

from advisor.decision import engine
from advisor.decision import robustness as robust
from advisor.service import recommend as core

MACHINE = {"machine.os": "linux", "machine.hardware": "cpu_only"}
#: Answer sets (over the defaults) among which the bundled knowledge base has at least one tie.
TIE_PROBES = [[], ["priority=deployment"], ["priority=ease_of_use"], ["modality=text"],
              ["modality=audio"], ["purpose=production"], ["purpose=learning"],
              ["team_experience=tensorflow"], ["team_experience=keras", "priority=deployment"]]


def assess(kb, *sets, defaults=False):
    answer_set = core.gather(kb, None, list(sets), use_defaults=defaults)
    return engine.assess(kb, engine.Inputs(answer_set.values, answer_set.origin, dict(MACHINE)))


def test_no_answers_is_never_decisive(kb):
    a = assess(kb)
    assert a.robustness.label == "no_evidence"
    assert a.robustness.label_text == "no evidence yet"
    assert "nothing is answered" in a.robustness.evidence


def test_label_rules():
    assert robust.label_for(None, 1) == "uncontested"
    assert robust.label_for(None, 0) == "none"
    assert robust.label_for(2.0, 3, p_win=1.0, fact_share=1.0, answered=False) == "no_evidence"
    assert robust.label_for(0.1, 3, p_win=0.99, fact_share=1.0) == "tie"
    assert robust.label_for(0.5, 3, p_win=0.55, fact_share=1.0) == "tie"
    assert robust.label_for(2.0, 3, p_win=1.0, fact_share=0.0) == "no_evidence"
    assert robust.label_for(2.0, 3, p_win=1.0, fact_share=0.3) == "clear"  # base ratings decide
    assert robust.label_for(2.0, 3, p_win=1.0, fact_share=0.8) == "decisive"
    assert robust.label_for(2.0, 3, p_win=0.9, fact_share=0.8) == "clear"
    assert robust.label_for(0.2, 3, p_win=0.9, fact_share=0.8) == "close"
    assert set(robust.LABEL_TEXT) <= set(robust.DEFINITIONS)


def test_separation_sums_to_the_margin_and_drops_shared_bonuses(kb):
    a = assess(kb, "modality=tabular", "dataset_size=small", "team_experience=sklearn",
               "existing_stack=sklearn", defaults=True)
    rob = a.robustness
    assert a.winner == "sklearn"
    assert math.isclose(sum(p.points for p in rob.separation), rob.margin, abs_tol=1e-9)
    assert all(abs(p.points) > 1e-9 for p in rob.separation)
    assert rob.label == "decisive" and rob.fact_share is not None and rob.fact_share >= 0.5
    # the why is the positive part of the separation, largest first
    assert [r.text for r in a.why] == [p.text for p in rob.separation if p.points > 0][: len(a.why)]


def test_a_bonus_lost_to_the_cap_separates_nothing(kb):
    """Two candidates both pushed past 10 on a criterion end equal there: no piece for it."""
    s = engine.score(kb, engine.Inputs(
        {"deploy_targets": ["server", "mobile_android", "browser"], "purpose": "production"},
        {}, dict(MACHINE)))
    for cid in s.order:
        eff = robust.effective_changes(s, cid)
        for crit in kb.criterion_ids:
            total = sum(v for (c, _), (_, v) in eff.items() if c == crit)
            assert math.isclose(total, s.ratings[cid][crit], abs_tol=1e-9), (cid, crit)


def test_win_probability_is_deterministic_and_sums_to_one(kb):
    a1 = assess(kb, "modality=images", "priority=ease_of_use", defaults=True)
    a2 = assess(kb, "modality=images", "priority=ease_of_use", defaults=True)
    p = a1.robustness.win_probability
    assert p == a2.robustness.win_probability
    assert math.isclose(sum(p.values()), 1.0)
    assert set(p) == {r.candidate for r in a1.ranking if not r.vetoed}


def test_tie_band_names_both_and_what_would_separate_them(kb):
    ties = [a for a in (assess(kb, *sets, defaults=True) for sets in TIE_PROBES)
            if a.robustness.label == "tie"]
    assert ties, "no tie among the probe answer sets: pick sets that tie under the current rules"
    for a in ties:
        rob = a.robustness
        assert rob.tie == [a.winner, rob.runner_up]
        assert rob.margin < robust.TIE_MARGIN or rob.win_probability[a.winner] < robust.TIE_PROBABILITY
        for sep in rob.separators:
            assert sep.kind == "answer" and sep.margin >= robust.CLEAR and sep.new_winner in rob.tie


def test_flips_are_consistent_ranked_and_project_changes_kept_apart(kb):
    a = assess(kb, "modality=images", defaults=True)
    rob = a.robustness
    margins = [f.margin for f in rob.flips]
    assert margins == sorted(margins, reverse=True)
    assert all(f.kind == "answer" and f.question != "modality" for f in rob.flips)
    assert rob.project_flips and all(f.question == "modality" for f in rob.project_flips)
    for f in rob.flips + rob.project_flips:
        assert f.new_winner != a.winner


def test_quick_rescoring_equals_the_traced_score(kb):
    """Flips, the win probability and the audit re-score without traced parts: same result."""
    import random

    from advisor.decision import audit

    rng = random.Random(11)
    for _ in range(150):
        answers = audit.random_answers(kb, rng)
        full = engine.score(kb, engine.Inputs(answers))
        quick = engine.score(kb, engine.Inputs(answers), detail=False)
        assert quick.order == full.order and quick.winner == full.winner
        for cid in full.scores:
            assert math.isclose(quick.scores[cid], full.scores[cid], abs_tol=1e-9)
            assert [v.rule for v in quick.vetoes[cid]] == [v.rule for v in full.vetoes[cid]]
        assert sorted(quick.caps) == sorted(full.caps)


def test_reports_show_label_words_probability_flip_groups_and_definitions(kb, tmp_path):
    import json

    from advisor.render import html, markdown

    a = assess(kb, "modality=tabular", "dataset_size=small", defaults=True)
    rob = a.robustness
    md_text = markdown.render(a)
    page = html.render(a, charts=False)
    for text in (md_text, page):
        assert "of plausible ratings" in text
        assert "What the labels mean" in text
        assert "Another project would go elsewhere" in text  # modality flips, kept apart
        assert "What separated" in text
    assert rob.label_text in md_text and rob.definitions["tie"].split(":")[0] in md_text
    data = json.loads(a.to_json())
    got = data["robustness"]
    assert got["label"] == rob.label and got["win_probability"] and got["definitions"]
    assert got["project_flips"] and all(f["kind"] == "project" for f in got["project_flips"])
    assert all(f["kind"] == "answer" for f in got["flips"])
    assert math.isclose(sum(p["points"] for p in got["separation"]), got["margin"], abs_tol=1e-9)
    json.dumps(data, allow_nan=False)


def test_a_tie_reads_as_no_clear_winner_everywhere(kb):
    from advisor.render import html, markdown
    from advisor.render.robust_text import robustness_text

    ties = [a for a in (assess(kb, *sets, defaults=True) for sets in TIE_PROBES)
            if a.robustness.label == "tie"]
    assert ties
    a = ties[0]
    head = robustness_text(a).headline
    assert head.startswith(f"{a.name_of(a.winner)} or {a.name_of(a.robustness.runner_up)}: no clear winner")
    assert head in markdown.render(a).replace("**", "")
    assert "no clear winner" in html.render(a, charts=False)
