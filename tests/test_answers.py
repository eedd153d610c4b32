"""Answers: one validation for every source, copier's precedence, files that replay."""

from __future__ import annotations

import pytest
import yaml

from advisor.infra.errors import AnswerError
from advisor.questionnaire import answers
from advisor.service import recommend as core


def test_set_overrides_file_and_file_overrides_defaults(kb, tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("purpose: research\nmodality: text\n")
    got = core.gather(kb, str(f), ["purpose=production"], use_defaults=True)
    assert got.values["purpose"] == "production" and got.origin["purpose"] == "set"
    assert got.values["modality"] == "text" and got.origin["modality"] == "file"
    assert got.values["scale"] == "single_device" and got.origin["scale"] == "default"


def test_many_valued_set_is_comma_separated(kb):
    got = answers.parse_sets(kb, ["deploy_targets=server, browser", "custom_research=yes"])
    assert got == {"deploy_targets": ["server", "browser"], "custom_research": True}


def test_written_file_reads_back_identically(kb, tmp_path):
    values = core.gather(kb, None, ["modality=audio", "deploy_targets=mobile_ios,server"],
                         use_defaults=True).values
    out = tmp_path / "answers.yaml"
    answers.write(kb, str(out), values)
    data = yaml.safe_load(out.read_text())
    assert data["schema_version"] == answers.ANSWERS_SCHEMA_VERSION
    assert data["kb_version"] == kb.meta.kb_version
    assert answers.load_file(kb, str(out)) == values


def test_bare_mapping_is_accepted(kb, tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("deploy_targets: browser\ncustom_research: false\n")
    assert answers.load_file(kb, str(f)) == {"deploy_targets": ["browser"], "custom_research": False}


def test_null_answer_means_unanswered(kb, tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("purpose: ~\nmodality: text\n")
    assert answers.load_file(kb, str(f)) == {"modality": "text"}


def test_skipped_questions_are_not_missing(kb):
    # pretrained is only asked when modality is not tabular
    missing = {q.id for q in answers.missing(kb, {"modality": "tabular"})}
    assert "pretrained" not in missing and "purpose" in missing


def test_unknown_id_error_lists_allowed(kb):
    with pytest.raises(AnswerError) as info:
        answers.parse_sets(kb, ["colour=red"])
    assert "allowed: purpose, modality, pretrained" in str(info.value)


def test_questions_without_a_default_are_optional_and_stay_unknown(kb):
    """Answers files written before a question existed stay complete: a question without a
    default is never 'missing', and Enter at its prompt leaves it unknown."""
    from advisor.questionnaire import flow

    optional = [q for q in kb.questions if q.default is None]
    assert optional, "the knowledge base has optional questions (the v2 questions)"
    example = answers.AnswerSet(answers.load_file(kb, "examples/image-classifier.yaml"))
    assert answers.missing(kb, example.values) == []
    q = optional[0]
    assert flow.parse_reply(q, "") is None
    assert "not sure" in flow.render_question(q, 1, 1)
    replies = iter([""] * len(kb.questions))
    done = flow.run(kb, example, ask=lambda prompt: next(replies), say=lambda text: None)
    assert all(o.id not in done.values for o in optional if o.id not in example.values)
