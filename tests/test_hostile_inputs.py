"""Untrusted files are data: random and mutated answers, rules and conditions give a result or a
clean exit-2 error — never a traceback, never a hang, never an object built from a tag."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.cli.app import main
from advisor.infra import safeyaml
from advisor.infra.errors import AdvisorError, ExitCode
from advisor.infra.resources import rules_dir
from advisor.kb import loader
from advisor.questionnaire import answers

VALID_ANSWERS = """\
purpose: research
modality: images
pretrained: vision_models
deploy_targets: [server, mobile_android]
training_hardware: nvidia_gpu
os: linux
scale: multi_gpu
dataset_size: large
team_experience: [pytorch, jax]
existing_stack: none
priority: performance
custom_research: true
"""

YAML_JUNK = st.sampled_from([
    "!!python/object/apply:os.system ['id']", "!!python/name:os.system", "&a [*a]", "*a", "<<: *b",
    "!!binary aGVsbG8=", "{", "}", "[", "]", ": ", "- ", "---", "...", "%YAML 1.1", "? ", "|", ">",
    "\t", "\x00", "'", '"', "#", "!", "&", "*", "\n  - x", "\nkey: [1, 2", "~", "1e999", "0x1F",
    "2026-11-27", ".inf", ".nan", "yes", "no", "null", "\ufeff", "\u202e",
])

KB = loader.load_bundled()
SETTINGS = settings(max_examples=300, deadline=1000,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@st.composite
def mutated(draw, base: str):
    text = base
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 6))
        text = text[:pos] + draw(st.one_of(YAML_JUNK, st.text(max_size=6))) + text[pos + cut:]
    return text


def _load_answers(kb, text: str):
    doc = safeyaml.load_string(text, "answers.yaml")
    return answers.from_document(kb, doc)


@SETTINGS
@given(text=mutated(VALID_ANSWERS))
def test_mutated_answers_give_result_or_clean_error(text):
    kb = KB
    start = time.perf_counter()
    try:
        got = _load_answers(kb, text)
    except AdvisorError as exc:
        assert exc.exit_code == ExitCode.BAD_INPUT
        assert "\n" not in str(exc).strip()
    else:
        assert isinstance(got, dict)
        for key, value in got.items():
            assert kb.question(key) is not None
            assert isinstance(value, (str, bool, list))
    assert time.perf_counter() - start < 1.0


@SETTINGS
@given(data=st.binary(max_size=400))
def test_random_bytes_as_answers_file(tmp_path_factory, data):
    kb = KB
    path = tmp_path_factory.mktemp("b") / "a.yaml"
    path.write_bytes(data)
    start = time.perf_counter()
    try:
        answers.load_file(kb, str(path))
    except AdvisorError as exc:
        assert exc.exit_code == ExitCode.BAD_INPUT
    assert time.perf_counter() - start < 1.0


RULES_TEXT = (rules_dir() / "hardware.yaml").read_text()


@settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(text=mutated(RULES_TEXT))
def test_mutated_rules_file_gives_kb_or_located_problems(tmp_path, text):
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir(exist_ok=True)
    for src in rules_dir().glob("*.yaml"):
        (kb_dir / src.name).write_text(src.read_text())
    (kb_dir / "hardware.yaml").write_text(text)
    start = time.perf_counter()
    kb, problems = loader.collect(kb_dir)
    assert time.perf_counter() - start < 3.0
    errors = [p for p in problems if p.severity == "error"]
    if kb is None:
        assert errors
        for p in errors:
            assert p.path.endswith(".yaml")
            assert "\n" not in p.message


@settings(max_examples=40, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated(VALID_ANSWERS))
def test_cli_never_prints_a_traceback(tmp_path, capsys, text):
    path = tmp_path / "answers.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    with pytest.raises(SystemExit) as exit_info:
        main(["recommend", "--answers", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert exit_info.value.code in (0, 2), err
    assert "Traceback" not in err
    if exit_info.value.code == 2:
        assert err.startswith("advisor: error: ") and err.count("\n") == 1


def test_yaml_tags_never_construct_objects(tmp_path):
    marker = tmp_path / "pwned"
    for payload in (
        f"purpose: !!python/object/apply:os.system ['touch {marker}']\n",
        f"!!python/object/new:os.system [touch {marker}]\n",
        "purpose: !!python/name:os.system\n",
        "purpose: !!binary cmVzZWFyY2g=\n",
        "purpose: !!set {research}\n",
    ):
        with pytest.raises(AdvisorError) as info:
            safeyaml.load_string(payload, "x.yaml")
        assert "not allowed" in str(info.value)
    assert not marker.exists()


def test_alias_bomb_is_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    start = time.perf_counter()
    with pytest.raises(AdvisorError) as info:
        safeyaml.load_string(bomb, "bomb.yaml")
    assert "runaway aliases" in str(info.value)
    # 10**10 nodes if expanded: hours. The bound only separates "refused" from "expanded" and
    # leaves room for a loaded 2-core machine (it took 2 s under a load average of 10).
    assert time.perf_counter() - start < 30.0


def test_size_limit_is_checked_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:  # sparse 1 GiB file: must be refused by its size, not read
        handle.truncate(1 << 30)
    start = time.perf_counter()
    with pytest.raises(AdvisorError) as info:
        safeyaml.read_text(big, max_bytes=1024)
    assert "limit" in str(info.value)
    assert time.perf_counter() - start < 1.0


def test_named_files_only_no_reaching_outside(tmp_path, kb):
    # an answers file cannot include or reference other files: keys are question ids, values are data
    f = tmp_path / "a.yaml"
    f.write_text("purpose: ../../etc/passwd\n")
    with pytest.raises(AdvisorError) as info:
        answers.load_file(kb, str(f))
    assert "allowed: research" in str(info.value)
    assert Path("/etc/passwd").read_text()  # untouched, unread by advisor


def test_atomic_write_keeps_old_file_on_failure_and_follows_umask(tmp_path, monkeypatch):
    import os

    from advisor.infra import atomic

    target = tmp_path / "report.md"
    target.write_text("old")
    real_replace = os.replace

    def boom(src, dst):
        raise KeyboardInterrupt  # Ctrl-C exactly between writing and renaming

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text(target, "new content")
    monkeypatch.setattr(os, "replace", real_replace)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temp file left behind
    old = os.umask(0o022)
    try:
        atomic.write_text(target, "new")
    finally:
        os.umask(old)
    assert target.read_text() == "new"
    assert (target.stat().st_mode & 0o777) == 0o644
