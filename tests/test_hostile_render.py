"""Reports are inert: strings from rules, answers or probe files cannot inject terminal escape
sequences, rich markup or Markdown/HTML into what advisor prints."""

from __future__ import annotations

import io

from rich.console import Console

from advisor.decision import engine
from advisor.infra.resources import rules_dir
from advisor.render import markdown, terminal
from advisor.service import recommend as core

ESCAPES = ["\x1b]0;pwned\x07", "\x1b[2J", "\x1b[5;38;5;201m", "\x9b31m", "\u202eevil"]
MARKUP = "[blink][link=file:///etc/passwd]click[/link][/blink]"
HTML = "<script>alert(1)</script><img src=x onerror=alert(1)>"
MD = "[phish](javascript:alert(1)) | col | ![img](http://evil/x.png) # heading"
HOSTILE = "".join(ESCAPES) + MARKUP + HTML + MD


def hostile_kb(tmp_path):
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    for src in rules_dir().glob("*.yaml"):
        text = src.read_text()
        (kb_dir / src.name).write_text(text)
    import json

    payload = json.dumps(HOSTILE)  # a valid YAML double-quoted scalar with \u escapes
    (kb_dir / "zz-hostile.yaml").write_text(
        "rules:\n"
        "  - id: hostile.rule\n"
        "    when: \"modality == 'images'\"\n"
        f"    effects:\n      - {{note: {payload}, candidate: jax}}\n"
        f"      - {{veto: sklearn, reason: {payload}}}\n"
        "      - {rate: ecosystem, candidates: {jax: 0.5}}\n"
        f"    rationale: {payload}\n"
        f"    sources: [{{url: \"https://example.org/a?b=<x>\", title: {payload}, date: '2026-11'}}]\n"
        "    review_by: 2030-01-01\n"
    )
    return kb_dir


def assessment(tmp_path):
    kb = core.load_kb(str(hostile_kb(tmp_path)))
    answer_set = core.gather(kb, None, ["modality=images", "os=linux", "training_hardware=cpu_only"],
                             use_defaults=True)
    probe = {
        "schema_version": 1,
        "host": {"cpu_model": HOSTILE, "logical_cores": 2, "usable_cores": 2, "memory_bytes": 1,
                 "os": HOSTILE, "python": HOSTILE},
        "gpus": [],
        "frameworks": [],
    }
    from advisor.probe.model import ProbeDocument

    inputs = core.build_inputs(kb, answer_set, ProbeDocument.from_dict(probe), HOSTILE)
    return engine.assess(kb, inputs)


def test_terminal_output_has_no_injected_escapes_or_markup(tmp_path):
    a = assessment(tmp_path)
    buf = io.StringIO()
    terminal.render(a, Console(file=buf, force_terminal=True, color_system="truecolor", width=120),
                    verbose=True)
    out = buf.getvalue()
    for seq in ESCAPES:
        assert seq not in out
    assert "\x07" not in out and "\u202e" not in out
    assert "\x1b]8;" not in out  # no hyperlink escape from [link=...] markup
    plain = io.StringIO()
    terminal.render(a, Console(file=plain, width=200, no_color=True), verbose=True)
    text = plain.getvalue()
    assert "[blink][link=file:///etc/passwd]click[/link][/blink]" in text.replace("\n", "")


def test_markdown_output_is_literal(tmp_path):
    """Rendered by a real CommonMark+tables renderer, hostile text stays text."""
    from markdown_it import MarkdownIt

    text = markdown.render(assessment(tmp_path))
    for seq in ESCAPES:
        assert seq not in text
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript:' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, not run
    assert "<h1>heading" not in html
