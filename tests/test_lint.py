"""`advisor rules check` on small, deliberately broken knowledge bases (tests/kb_fixtures/).

Every fixture is valid.yaml plus one defect; each defect must be reported as an error (or, for
review dates, a warning) that names the file and the line of the offending rule or question, both
by advisor.kb.lint.check and by the CLI (exit 2, one line per problem on stderr).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.kb import lint

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "kb_fixtures"
TODAY = dt.date(2026, 11, 30)


def _line_of(path: Path, text: str) -> int:
    """1-based line of the first line containing `text` (the '- id: X' line of an item)."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def _errors(problems):
    return [p for p in problems if p.severity == "error"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "advisor", "rules", "check", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


# fixture -> (words the message must contain, the item whose '- id:' line it must name)
DEFECTS = {
    "never_fires": (["impossible", "can never fire"], "- id: impossible"),
    "duplicate": (["red-likes-alpha-again", "duplicates", "red-likes-alpha"], "- id: red-likes-alpha-again"),
    "contradictory": (["red-dislikes-alpha", "contradicts", "red-likes-alpha"], "- id: red-dislikes-alpha"),
    "unread_question": (["'size'", "read by no rule"], "- id: size"),
    "no_sources": (["blue-fact", "no sources"], "- id: blue-fact"),
    "unknown_probe_row": (["'beta'", "'pytroch'", "no probe row", "did you mean 'pytorch'"],
                          "- {id: beta"),
    "veto_all": (["veto every candidate", "color=green", "fast=True", "green-vetoes-alpha"], "- id: green-vetoes-alpha"),
}


def test_the_base_fixture_is_clean():
    assert _errors(lint.check(FIXTURES / "valid.yaml", today=TODAY)) == []
    proc = _cli(str(FIXTURES / "valid.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "0 errors" in proc.stdout


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_is_reported_with_file_and_line(name):
    path = FIXTURES / f"{name}.yaml"
    words, anchor = DEFECTS[name]
    errors = _errors(lint.check(path, today=TODAY))
    assert len(errors) == 1, errors  # the defect, and nothing else
    problem = errors[0]
    assert all(w in problem.message for w in words), problem.message
    assert Path(problem.path).name == path.name
    if anchor is not None:
        assert problem.line == _line_of(path, anchor)
    else:  # a combination of answers has no single line; the file is named
        assert problem.line is None


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_cli_exits_1_with_one_line_per_problem(name):
    # findings exit 1 (usage errors exit 2), as linters do
    path = FIXTURES / f"{name}.yaml"
    words, anchor = DEFECTS[name]
    proc = _cli(str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, lines
    assert all(w in errors[0] for w in words), errors[0]
    where = f"{path}:{_line_of(path, anchor)}: error: " if anchor else f"{path}: error: "
    assert errors[0].startswith(where), errors[0]
    # every problem is one line: each line is a problem or the closing count
    problems = lint.check(path)
    assert len(lines) == len(problems) + 1 and lines[-1].startswith("1 errors,"), lines
    assert "Traceback" not in proc.stderr


def test_past_review_date_is_a_warning_relative_to_today():
    path = FIXTURES / "past_review.yaml"
    stale = [p for p in lint.check(path, today=TODAY) if "past its review date" in p.message]
    assert len(stale) == 1
    assert stale[0].severity == "warning"
    assert stale[0].line == _line_of(path, "- id: stale")
    assert "2025-06-30" in stale[0].message
    # before the review date nothing is stale
    assert not [p for p in lint.check(path, today=dt.date(2025, 6, 30)) if "review date" in p.message]
    assert _errors(lint.check(path, today=TODAY)) == []


def test_cli_reports_past_review_and_fails_it_with_strict():
    path = FIXTURES / "past_review.yaml"
    plain = _cli(str(path))
    assert plain.returncode == 0
    assert f"{path}:{_line_of(path, '- id: stale')}: warning: rule 'stale' is past its review date" in plain.stderr
    strict = _cli(str(path), "--strict")
    assert strict.returncode == 1


def test_the_real_knowledge_base_is_clean():
    problems = lint.check(ROOT / "rules", today=TODAY)
    assert problems == [], "\n".join(map(str, problems))
    proc = _cli(str(ROOT / "rules"))
    assert proc.returncode == 0 and "0 errors, 0 warnings" in proc.stdout, proc.stderr


def test_every_fact_rule_has_dated_sources_and_every_rule_a_future_review():
    from advisor.service.recommend import load_kb

    kb = load_kb(str(ROOT / "rules"))
    for rule in kb.rules:
        assert rule.review_by is not None and rule.review_by > TODAY, rule.id
        if rule.basis == "fact":
            assert rule.sources, rule.id
            assert all(s.date for s in rule.sources), rule.id
        if rule.unconfirmed:
            assert rule.confidence != "high", f"{rule.id}: an unconfirmed rule cannot be high confidence"
