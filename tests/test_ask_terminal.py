"""The questionnaire driven in a real pseudo-terminal (pexpect), as a person would."""

from __future__ import annotations

import sys

import pexpect
import pytest
import yaml

from tests.conftest import ROOT, cli_env, run_cli

pytestmark = pytest.mark.terminal


def spawn(*args: str) -> pexpect.spawn:
    env = cli_env(COLUMNS="100", LINES="40")
    child = pexpect.spawn(sys.executable, ["-m", "advisor", *args], cwd=str(ROOT), env=env,
                          encoding="utf-8", timeout=30, dimensions=(40, 100))
    return child


def test_enter_accepts_every_default(tmp_path, kb):
    out = tmp_path / "answers.yaml"
    child = spawn("ask", "--out", str(out))
    asked = 0
    while True:
        idx = child.expect([r"answer> ", pexpect.EOF])
        if idx == 1:
            break
        asked += 1
        child.sendline("")
    child.close()
    assert child.exitstatus == 0, child.before
    data = yaml.safe_load(out.read_text())
    assert asked == len(kb.questions)
    for q in kb.questions:  # a question without a default is left unanswered (unknown)
        assert data.get(q.id) == q.default, q.id


def test_shows_text_help_choices_and_default(tmp_path, kb):
    child = spawn("ask", "--out", str(tmp_path / "a.yaml"))
    child.expect("answer> ")
    screen = child.before
    assert f"[1/{len(kb.questions)}] What is the project for?" in screen
    assert "1) research" in screen and "4) prototype" in screen
    assert "(default: prototype)" in screen
    assert "Research explores new ideas" in screen  # the help line
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()


def test_invalid_input_is_reasked_with_what_is_allowed(tmp_path):
    out = tmp_path / "a.yaml"
    child = spawn("ask", "--out", str(out), "--set", "modality=tabular")
    child.expect("answer> ")
    child.sendline("99")
    child.expect("not a number from 1 to 4")
    child.expect("answer> ")
    child.sendline("space travel")
    child.expect("answer> ")
    said = " ".join(child.before.split())  # the terminal wraps the line
    # the allowed values, once per error
    assert said.count("research, production, learning, prototype") == 1, said
    assert "type a number 1-4" in said
    child.sendline("1")
    # pretrained is skipped for tabular data (its `when`), so the next question is deploy_targets
    child.expect("answer> ")
    assert "Where will the trained model run?" in child.before
    assert "pretrained" not in child.before.lower()
    child.sendline("2,browser")
    for _ in range(20):
        if child.expect(["answer> ", pexpect.EOF]) == 1:
            break
        child.sendline("")
    child.close()
    assert child.exitstatus == 0
    data = yaml.safe_load(out.read_text())
    assert data["purpose"] == "research"
    assert data["deploy_targets"] == ["mobile_android", "browser"]
    assert "pretrained" not in data


def test_ctrl_c_exits_130_keeps_answers_and_resumes(tmp_path):
    out = tmp_path / "a.yaml"
    child = spawn("ask", "--out", str(out))
    child.expect("answer> ")
    child.sendline("2")  # production
    child.expect("answer> ")
    child.sendline("text")
    child.expect("answer> ")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    said = child.before
    assert "Traceback" not in said
    assert "interrupted; kept 2 answers" in said
    data = yaml.safe_load(out.read_text())
    assert data["purpose"] == "production" and data["modality"] == "text"
    # resume: only the remaining questions are asked
    child = spawn("ask", "--answers", str(out), "--out", str(out))
    child.expect("answer> ")
    assert "Will you start from pretrained models?" in child.before
    assert "What is the project for?" not in child.before
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130


def test_without_a_terminal_it_never_hangs():
    result = run_cli("ask", timeout=30)
    assert result.code == 2
    assert "not a terminal" in result.err and "--answers" in result.err


def test_no_input_lists_every_missing_answer(tmp_path):
    result = run_cli("ask", "--no-input", "--set", "purpose=research")
    assert result.code == 2
    assert "missing answers (--no-input): modality, pretrained, deploy_targets" in result.err
    out = tmp_path / "a.yaml"
    ok = run_cli("ask", "--no-input", "--defaults", "--set", "purpose=research", "--out", str(out))
    assert ok.code == 0, ok.err
    assert yaml.safe_load(out.read_text())["purpose"] == "research"
    rec = run_cli("recommend", "--answers", str(out), "--format", "json")
    assert rec.code == 0, rec.err


def test_run_asks_in_a_real_terminal_then_writes_every_report(tmp_path, kb):
    """`advisor run` without --answers asks the questionnaire, then writes the reports."""
    out = tmp_path / "reports"
    child = spawn("run", "--no-probe", "--out", str(out), "--set", "modality=tabular",
                  "--set", "dataset_size=small", "--set", "os=linux", "--set", "training_hardware=cpu_only")
    for _ in range(len(kb.questions) + 2):
        if child.expect(["answer> ", pexpect.EOF], timeout=60) == 1:
            break
        child.sendline("")
    child.close()
    assert child.exitstatus == 0, child.before
    for name in ("report.html", "report.md", "recommendation.json", "answers.yaml"):
        assert (out / name).is_file(), name
    assert (out / "report.md").read_text().startswith("# Framework decision: scikit")


def test_each_label_once_numbers_that_do_not_jump_and_labels_as_replies(tmp_path):
    """A skipped question does not leave a gap in the numbers; a label or a hyphenated value
    typed at the prompt names its choice."""
    out = tmp_path / "a.yaml"
    child = spawn("ask", "--out", str(out))
    child.expect("answer> ")
    first = child.before
    assert "research - research" not in first and "1) research - new architectures" in first
    child.sendline("Prototype")
    child.expect("answer> ")
    assert "[2/" in child.before
    child.sendline("tabular")  # skips the pretrained-models question
    child.expect("answer> ")
    third = child.before
    assert "[3/" in third and "Where will the trained model run?" in third, third
    child.sendline("server / cloud API")
    numbers = []
    for _ in range(20):
        if child.expect(["answer> ", pexpect.EOF]) == 1:
            break
        numbers.append(child.before)
        child.sendline("")
    child.close()
    assert child.exitstatus == 0, child.before
    data = yaml.safe_load(out.read_text())
    assert data["purpose"] == "prototype" and data["modality"] == "tabular"
    assert data["deploy_targets"] == ["server"]
    import re

    seen = [int(m.group(1)) for text in numbers for m in [re.search(r"\[(\d+)/\d+\]", text)] if m]
    assert seen == list(range(4, 4 + len(seen))), seen


def test_run_keeps_the_answers_when_its_probe_is_interrupted(tmp_path):
    """Ctrl-C during `advisor run`'s probe loses no answer: they were saved before probing
    (beside the report folder), and the message says the command that resumes; a run that
    finishes leaves no such file."""
    out = tmp_path / "reports"
    child = spawn("run", "--out", str(out), "--set", "modality=text", "--set", "purpose=research")
    for _ in range(30):
        if child.expect(["answer> ", "probing this machine"], timeout=60) == 1:
            break
        child.sendline("")
    child.sendintr()
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    said = " ".join(child.before.split())
    assert child.exitstatus == 130, said
    assert "Traceback" not in said
    kept = tmp_path / "reports.answers.yaml"  # beside the folder: the folder is one unit
    assert not out.exists() or not (out / "answers.yaml").exists()
    assert f"resume with `advisor run --answers {kept} --out {out}`" in said, said
    data = yaml.safe_load(kept.read_text())
    assert data["modality"] == "text" and data["purpose"] == "research"
    done = run_cli("run", "--no-probe", "--defaults", "--out", str(tmp_path / "other"))
    assert done.code == 0 and not (tmp_path / "other.answers.yaml").exists()
