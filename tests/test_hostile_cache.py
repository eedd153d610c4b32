"""The knowledge-base cache is verified, never trusted (issue 15, item 9; HOME and XDG of 13):
a tampered entry (a fake veto) is rebuilt, a damaged one never crashes, a FIFO never blocks, a
folder others can write is not used, and no cache folder is invented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.kb import loader
from tests.conftest import ROOT, cli_env
from tests.test_kb_cache import copy_rules

VETO = {"candidate": None, "candidates": None, "factor": None, "note": None, "rate": None,
        "reason": "forged", "veto": "pytorch", "weight": None}


def forge(body: str) -> str:
    """The attack of the issue: a veto added to every rule of a sealed entry, the key kept."""
    payload = json.loads(body)
    for entry in payload["sections"]["rules"]:
        entry["data"]["effects"].insert(0, VETO)
    return json.dumps(payload, sort_keys=True)


@pytest.fixture
def cached(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(cache))
    rules = copy_rules(tmp_path)
    fresh = loader.load(rules)
    (entry,) = cache.glob("kb-*.json")
    return rules, fresh, entry


def test_tampered_cache_with_a_fake_veto_is_rebuilt(cached):
    rules, fresh, entry = cached
    seal, body = entry.read_text().split("\n", 1)
    forged = forge(body)
    entry.write_text(f"{seal}\n{forged}")
    again = loader.load(rules)
    assert again.rules == fresh.rules
    assert "forged" not in repr(again.rules)
    assert "forged" not in entry.read_text()  # rebuilt with the verified knowledge


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cut=st.integers(0, 10_000), junk=st.binary(max_size=40))
def test_damaged_cache_never_crashes(cached, cut, junk):
    rules, fresh, entry = cached
    data = entry.read_bytes()
    pos = min(cut, len(data))
    entry.write_bytes(data[:pos] + junk + data[pos + len(junk):])
    assert loader.load(rules).rules == fresh.rules


def test_a_seal_with_non_ascii_characters_is_not_ours(cached):
    # hmac.compare_digest raises TypeError for str with non-ASCII characters: found by the test
    # above (a UTF-8 junk byte pair in the seal line), a traceback on every later command
    rules, fresh, entry = cached
    seal, body = entry.read_text().split("\n", 1)
    entry.write_text("é" + seal[1:] + "\n" + body)
    assert loader.load(rules).rules == fresh.rules


def test_fifo_in_the_cache_never_blocks(cached):
    rules, fresh, entry = cached
    entry.unlink()
    os.mkfifo(entry)
    start = time.perf_counter()
    assert loader.load(rules).rules == fresh.rules
    assert time.perf_counter() - start < 30
    assert entry.is_fifo() if hasattr(entry, "is_fifo") else True  # left alone, not written


def test_symlinked_entry_is_not_followed(cached, tmp_path):
    rules, fresh, entry = cached
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(elsewhere)
    assert loader.load(rules).rules == fresh.rules
    assert entry.is_symlink()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX modes")
def test_a_cache_others_can_write_is_not_used(cached):
    rules, fresh, entry = cached
    folder = entry.parent
    seal, body = entry.read_text().split("\n", 1)
    os.chmod(folder, 0o777)
    entry.unlink()  # a planted entry in a world-writable folder, sealed by its forger
    forged = forge(body)
    key = json.loads(body)["key"]
    entry.write_text(f"{loader._seal(key, forged)}\n{forged}\n")
    assert "forged" not in repr(loader.load(rules).rules)
    os.chmod(folder, 0o700)
    os.chmod(entry, 0o666)  # the entry itself writable by others
    assert "forged" not in repr(loader.load(rules).rules)


def test_no_cache_folder_is_invented(tmp_path):
    """A HOME that does not exist is not created; a relative XDG_CACHE_HOME (or
    ADVISOR_CACHE_DIR) does not write into the current folder."""
    env = cli_env(HOME=str(tmp_path / "no-such-home"), XDG_CACHE_HOME="relative-cache")
    env.pop("ADVISOR_CACHE_DIR", None)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-m", "advisor", "recommend", "--defaults", "-f",
                           "json"], capture_output=True, text=True, env=env, cwd=work,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "no-such-home").exists()
    assert list(work.iterdir()) == []
    env = cli_env(ADVISOR_CACHE_DIR="rel-cache")
    proc = subprocess.run([sys.executable, "-m", "advisor", "recommend", "--defaults", "-f",
                           "json"], capture_output=True, text=True, env=env, cwd=work,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert list(work.iterdir()) == []


def test_rules_check_reads_the_files_not_the_cache(cached):
    rules, fresh, entry = cached
    seal, body = entry.read_text().split("\n", 1)
    entry.write_text(seal + "\n" + forge(body))
    proc = subprocess.run([sys.executable, "-m", "advisor", "rules", "check", str(rules)],
                          capture_output=True, text=True, env=cli_env(
                              ADVISOR_CACHE_DIR=str(entry.parent)), cwd=ROOT, timeout=300)
    assert "Traceback" not in proc.stderr and "forged" not in proc.stdout + proc.stderr
