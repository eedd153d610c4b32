"""The other classes of issue 15: secrets and personal data (item 10), --master-addr and
--timeout (8), hostile CPU/GPU names and a probe where nothing ran (11), messages that quote input
(5), and the smaller ones (13): --traceback after the subcommand, bad environment variables."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from probe_fixtures import fake_probes_dir

from advisor.infra.clean import clean
from advisor.infra.privacy import redact, shown_path
from advisor.probe import hardware as hw
from tests.conftest import ROOT, cli_env

PROBE = ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json"


def cli(*args: str, env=None, cwd=ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True,
                          text=True, env=env or cli_env(), cwd=cwd, timeout=timeout)


def one_clean_line(proc: subprocess.CompletedProcess) -> None:
    assert proc.stderr.startswith("advisor: error: ") and proc.stderr.count("\n") == 1, \
        proc.stderr
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- item 10
SECRETS = {
    "TF_HTTP_PASSWORD": "hunter2", "TF_ENCRYPTION_PASSPHRASE": "s3cret",
    "TF_CONFIG": '{"cluster": {"worker": ["db.internal.example:2222"]}}',
    "TF_VAR_db_password": "pw", "TF_TOKEN_app_terraform_io": "tok", "AWS_SECRET_ACCESS_KEY": "k",
    "TF_HTTP_HEADER": "Authorization: Bearer abc",
}


def test_environment_is_recorded_by_allow_list():
    env = dict(SECRETS, TF_ENABLE_ONEDNN_OPTS="0", OMP_NUM_THREADS="2",
               XLA_FLAGS="--xla_dump_to=/home/alice/dump")
    got = hw.get_environment(env)
    assert set(got) == {"TF_ENABLE_ONEDNN_OPTS", "OMP_NUM_THREADS", "XLA_FLAGS"}
    for value in SECRETS.values():
        assert value not in json.dumps(got)


@given(user=st.from_regex(r"[a-z][a-z0-9]{3,10}", fullmatch=True),
       sep=st.sampled_from(["_", "-", ".", "/", " ", "@", ":"]))
@settings(max_examples=100, deadline=None)
def test_user_name_is_redacted_next_to_any_separator(user, sep):
    if user in ("root", "user", "runner", "ubuntu", "admin", "nobody"):
        return
    text = f"/tmp/{user}{sep}build and {sep}{user}"
    assert user not in redact(text, home="/home/x", user=user).lower()


def test_paths_in_reports_are_relative_or_under_home(tmp_path):
    home = tmp_path / "home" / "alice"
    (home / "work").mkdir(parents=True)
    probe = home / "work" / "probe.json"
    probe.write_text(PROBE.read_text())
    env = cli_env(HOME=str(home))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    outputs = [
        cli("recommend", "--defaults", "--probe", str(probe), "-f", "json", env=env,
            cwd=elsewhere).stdout,
        cli("recommend", "--defaults", "--probe", str(probe), "-f", "markdown", env=env,
            cwd=elsewhere).stdout,
        cli("compare", str(probe), "-f", "markdown", env=env, cwd=elsewhere).stdout,
    ]
    for text in outputs:
        assert text and str(home) not in text
    assert "~/work/probe.json" in outputs[2]
    os.chdir(home)
    try:
        assert shown_path(str(probe)) == "work/probe.json"
    finally:
        os.chdir(ROOT)


# ----------------------------------------------------------------------------- item 8
@pytest.mark.parametrize("args,says", [
    (["--timeout", "nan"], "--timeout"), (["--timeout", "inf"], "--timeout"),
    (["--timeout", "-1"], "--timeout"),
    (["--scaling", "--master-addr", "192.168.1.5"], "--nnodes > 1"),
    (["--scaling", "--master-addr", "0.0.0.0"], "--nnodes > 1"),
])
def test_probe_options_that_would_disable_safety_are_refused(tmp_path, args, says):
    out = tmp_path / "p.json"
    proc = cli("probe", "--quick", *args, "--out", str(out), timeout=60)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert not out.exists()


# ----------------------------------------------------------------------------- item 11
HOSTILE_NAMES = ["[/]", "[link=https://evil.example]x[/link]", "[bold", "\x1b]8;;http://e\x07x",
                 "\\[/]", "[/link]]]"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_cpu_and_gpu_names_are_shown_as_text(name):
    from rich.console import Console

    from advisor.probe.model import ProbeDocument
    from advisor.render.probe_view import render_summary

    data = json.loads(PROBE.read_text())
    data["host"]["cpu_model"] = f"CPU {name}"
    data["host"]["os"] = name
    data["gpus"] = [{"vendor": name, "name": f"GPU {name}", "memory_bytes": 1, "driver": name}]
    data["frameworks"][0]["name"] = name
    doc = ProbeDocument.from_dict(data, "x")
    buf = io.StringIO()
    render_summary(Console(file=buf, force_terminal=True, width=200), doc)
    out = buf.getvalue()
    assert "\x1b]8;" not in out  # no terminal hyperlink
    plain = io.StringIO()
    render_summary(Console(file=plain, width=400, no_color=True), doc)
    assert f"CPU {clean(name)}" in plain.getvalue()


def test_probe_where_nothing_ran_still_writes_its_file(tmp_path):
    folder = fake_probes_dir(tmp_path / "probes", {"probe_sklearn.py": "raise SystemExit(3)\n"})
    out = tmp_path / "probe.json"
    proc = cli("probe", "--quick", "--frameworks", "sklearn", "--out", str(out),
               env=cli_env(ADVISOR_PROBES_DIR=str(folder)))
    assert proc.returncode == 1, proc.stderr
    data = json.loads(out.read_text())
    assert data["host"]["logical_cores"] and data["frameworks"][0]["status"] == "broken"
    assert str(out) in proc.stderr


def test_unwritable_out_is_found_before_the_probe(tmp_path):
    (tmp_path / "file").write_text("x")
    proc = cli("probe", "--quick", "--out", str(tmp_path / "file" / "probe.json"), timeout=60)
    assert proc.returncode == 2
    one_clean_line(proc)


# ----------------------------------------------------------------------------- items 5, 13
def test_messages_quoting_input_are_cleaned(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text('"\\e]0;pwned\\a\\u202e\\u200bkey\\e[2J": 1\n')
    future = json.loads(PROBE.read_text())
    future.update(schema_version=99, advisor_version="\x1b]0;pwned\x07\u202e9.9")
    probe = tmp_path / "future.json"
    probe.write_text(json.dumps(future))
    for proc in (cli("recommend", "--defaults", "--rules", str(rules)),
                 cli("recommend", "--defaults", "--probe", str(probe)),
                 cli("compare", str(probe)),
                 cli("recommend", "--defaults", "--set", "purpose=\x1b[2J\u202e")):
        assert proc.returncode == 2
        one_clean_line(proc)
        for bad in ("\x1b", "\x07", "\u202e", "\u200b"):
            assert bad not in proc.stderr


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_clean_leaves_no_control_bidi_or_invisible_character(text):
    import unicodedata

    for ch in clean(text):
        assert ch in "\t\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")


def test_traceback_after_the_subcommand_is_not_the_debug_switch():
    proc = cli("recommend", "--traceback", timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("env", [{"ADVISOR_PROBE_MEMORY_LIMIT_MB": "²"},
                                 {"ADVISOR_PROBE_MEMORY_LIMIT_MB": "-5"},
                                 {"ADVISOR_PROBE_MEMORY_LIMIT_MB": "nan"},
                                 {"ADVISOR_PROBES_DIR": "/nonexistent/probes"}])
def test_bad_environment_variables_are_one_clean_line(tmp_path, env):
    proc = cli("probe", "--quick", "--frameworks", "sklearn", "--out", str(tmp_path / "p.json"),
               env=cli_env(**env), timeout=120)
    assert proc.returncode == 2, proc.stderr
    one_clean_line(proc)
    assert next(iter(env)) in proc.stderr


def test_no_thread_for_a_child_is_a_row_status_not_an_attribute_error(tmp_path, monkeypatch):
    """Under `ulimit -v` of about 300 MB a thread cannot start: the row says so."""
    import threading

    from advisor.probe.runner import run_child

    script = tmp_path / "sleepy.py"
    script.write_text("import time\ntime.sleep(60)  # advisor-no-thread-test\n")

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    result = run_child([sys.executable, str(script)], timeout=30)
    monkeypatch.undo()
    assert result.status == "broken" and "can't start new thread" in result.error
    import psutil

    time.sleep(0.3)
    left = [p for p in psutil.process_iter(["cmdline"])
            if str(script) in " ".join(p.info["cmdline"] or [])
            and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


@settings(max_examples=100, deadline=None)
@given(url=st.sampled_from(["https://evil.example/x?a=1", "http://e.x", "www.evil.example/path",
                            "bob@evil.example", "ftp://files.example", "HTTPS://EVIL.EXAMPLE"]),
       before=st.text(alphabet=" (*_~:", max_size=4), after=st.text(alphabet="ab .,)", max_size=4))
def test_bare_urls_are_not_auto_linked_in_markdown(url, before, after):
    """GFM viewers auto-link bare URLs after a space or one of ( * _ ~ :; in advisor's Markdown
    they are code spans (never links)."""
    import re as _re

    from markdown_it import MarkdownIt

    from advisor.render.text import md

    html = MarkdownIt("commonmark").render(md(before + url + after))
    outside_code = _re.sub(r"<code>.*?</code>", "", html)
    host = url.split("://")[-1].split("@")[-1].lower()[:8]
    assert host not in outside_code.lower(), html
    assert "<a " not in html
