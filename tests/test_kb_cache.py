"""The validated-knowledge cache: same knowledge base as a fresh validation, invalidated by any
change to a rules file, ignored when damaged, and the fast path imports no pydantic."""

from __future__ import annotations

import subprocess
import sys

from advisor.infra.resources import rules_dir
from advisor.kb import loader, model, schema
from tests.conftest import ROOT, cli_env


def copy_rules(tmp_path):
    dst = tmp_path / "rules"
    dst.mkdir()
    for src in rules_dir().glob("*.yaml"):
        (dst / src.name).write_text(src.read_text())
    return dst


def test_cached_kb_equals_fresh_validation(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    rules = copy_rules(tmp_path)
    fresh = loader.load(rules)  # validates, writes the cache
    assert list((tmp_path / "cache").glob("kb-*.json"))
    cached = loader.load(rules)  # rebuilt from the cache
    assert cached is not fresh
    for section in model.SECTIONS + ("meta", "files"):
        assert getattr(cached, section) == getattr(fresh, section), section
    assert [r.origin for r in cached.rules] == [r.origin for r in fresh.rules]
    assert {k: repr(v) for k, v in cached.conditions.items()} == {
        k: repr(v) for k, v in fresh.conditions.items()}
    # mappings compare equal in any order; what reports show follows their order too
    assert [[list(e.candidates or {}) for e in r.effects] for r in cached.rules] == [
        [list(e.candidates or {}) for e in r.effects] for r in fresh.rules]


def test_a_changed_rules_file_is_validated_again(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    rules = copy_rules(tmp_path)
    loader.load(rules)
    target = rules / "hardware.yaml"
    target.write_text(target.read_text().replace("id: hw.tpu\n", "id: hw.tpu\n    colour: red\n", 1))
    try:
        loader.load(rules)
    except loader.KBError as exc:
        assert "unknown key 'colour'" in str(exc)
    else:
        raise AssertionError("a stale cache hid a broken rules file")


def test_damaged_cache_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    rules = copy_rules(tmp_path)
    good = loader.load(rules)
    for path in (tmp_path / "cache").glob("kb-*.json"):
        path.write_text('{"key": "x", "sections": ')
    again = loader.load(rules)
    assert again.rules == good.rules


def test_the_schema_is_the_runtime_classes():
    """One definition: pydantic validates straight into the dataclasses the engine uses."""
    data = {"meta": {"kb_version": "1"},
            "rules": [{"id": "r", "when": "true", "rationale": "x", "review_by": "2026-05",
                       "effects": [{"rate": "speed", "candidates": {"a": 1}}]}]}
    parsed = schema.validate(data)
    assert isinstance(parsed, model.KBFile) and isinstance(parsed.rules[0], model.Rule)
    assert isinstance(parsed.rules[0].effects[0], model.Effect)
    assert parsed.rules[0].review_by.isoformat() == "2026-05-01"
    plain = model.to_plain(parsed.rules[0])
    assert model.from_plain(model.Rule, plain) == parsed.rules[0]
    props = schema.json_schema()["$defs"]["Rule"]["properties"]
    assert "origin" not in props and props["id"]["pattern"].startswith("^[a-z0-9]")


def test_recommend_fast_path_imports_no_pydantic():
    env = cli_env()
    cmd = [sys.executable, "-c",
           "import sys, io; from advisor.cli.app import main\n"
           "sys.stdout = io.StringIO()\n"
           "try:\n main(['recommend', '--defaults', '--format', 'json'])\n"
           "except SystemExit: pass\n"
           "sys.stdout = sys.__stdout__\n"
           "print('pydantic' in sys.modules)"]
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)  # warm the cache
    out = subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"


def test_next_steps_are_cached_like_the_knowledge_base(tmp_path, monkeypatch):
    from advisor.decision import next_steps

    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    source = rules_dir() / next_steps.NEXT_STEPS_FILE
    copy = tmp_path / "next_steps.yaml"
    copy.write_bytes(source.read_bytes())
    fresh = next_steps.load.__wrapped__(str(copy))  # validates, writes the cache
    assert len(list((tmp_path / "cache").glob("next-steps-*.json"))) == 1
    assert next_steps.load.__wrapped__(str(copy)) == fresh  # read back from the cache
    copy.write_text(source.read_text() + "\n# changed\n")  # new content: validated again
    assert next_steps.load.__wrapped__(str(copy)) == fresh
    assert len(list((tmp_path / "cache").glob("next-steps-*.json"))) == 2
