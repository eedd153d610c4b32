"""The Markdown decision record: complete, with measured numbers and spread, sources, escaped."""

from __future__ import annotations

from tests.reports_support import EVIL, assessment


def test_markdown_is_a_complete_decision_record():
    from advisor.render import markdown

    a = assessment("nvidia-tf-blind")
    doc = markdown.render(a)
    winner = next(r.name for r in a.ranking if r.candidate == a.winner)
    for heading in (f"# Framework decision: {winner}", "## Context", "## Decision drivers",
                    "## Options considered", f"## Why {winner}", "## Why not the others",
                    "## Robustness", "## Measured numbers", "## Rules that fired, and their sources",
                    "## Sources"):
        assert heading in doc, heading
    assert "- CPU: AMD Ryzen 9 5950X 16-Core Processor" in doc
    assert "| TensorFlow | `tensorflow` | cnn-digits | 0.29x | Training performance -1.77 | -0.33 |" in doc
    assert "48,000 ± 750 (n=5)" in doc  # median with spread and n
    assert "| `keras/jax` | missing" in doc
    assert "- Fastest on cnn-digits: `pytorch`" in doc
    assert "](https://" in doc  # sources are links
    assert a.kb_version in doc


def test_markdown_says_when_numbers_are_too_noisy():
    from advisor.render import markdown

    doc = markdown.render(assessment("cpu-noisy"))
    assert "too close on cnn-digits to separate" in doc
    assert "noisy" in doc and "too close to separate" in doc


def test_markdown_hostile_probe_is_literal_text():
    from advisor.render import markdown

    doc = markdown.render(assessment("hostile"))
    assert "<script" not in doc.replace("`<b>evil-row</b>`", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "[link](javascript" not in doc and "\x1b" not in doc
    assert "`<b>evil-row</b>`" in doc  # inside a code span: shown literally by CommonMark
    assert EVIL not in doc
