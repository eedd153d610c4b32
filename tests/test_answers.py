"""Answers: one validation for every source, copier's precedence, files that replay."""

from __future__ import annotations

import pytest
import yaml

from advisor.questionnaire import answers
from advisor.service import recommend as core
from advisor.infra.errors import AnswerError


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
