"""Everyday conventions of the CLI: versions and -h, pipes, odd encodings, narrow terminals,
short "did you mean" errors, JSON for scripts. In-process through the Environment seam where a
terminal or a width is simulated; as a real subprocess where the operating system matters
(a closed pipe, the stream encoding)."""

from __future__ import annotations

import io
import json
import platform
import re
import subprocess
import sys

import pytest
import yaml

from advisor import __version__
from advisor.cli.app import run
from advisor.cli.env import Environment
from tests.conftest import ROOT, cli_env, run_cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TABULAR = ["--defaults", "--set", "modality=tabular", "--set", "dataset_size=small",
           "--set", "os=linux", "--set", "training_hardware=cpu_only"]


def invoke(*args: str, stdin: str = "", tty: bool = False, columns: int | None = None):
    """Run the real CLI in this process with fake streams; returns (code, stdout, stderr)."""
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      stdin_isatty=tty, stdout_isatty=tty, stderr_isatty=False, columns=columns)
    code = run(list(args), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def test_version_names_advisor_knowledge_base_and_python(kb):
    code, out, _ = invoke("--version")
    assert code == 0
    assert out.strip() == (f"advisor {__version__} (knowledge base {kb.meta.kb_version}, "
                           f"Python {platform.python_version()})")


def test_short_help_option_everywhere():
    for args in (["-h"], ["recommend", "-h"], ["rules", "check", "-h"]):
        result = run_cli(*args)
        assert result.code == 0 and result.out.startswith("Usage: advisor"), (args, result.err)
    assert "--install-completion" in run_cli("--help").out  # typer's shell completion is on


def test_closed_pipe_is_not_a_failure():
    """`advisor recommend ... | head -3`: exit 0 and nothing on stderr."""
    proc = subprocess.run(
        f"{sys.executable} -m advisor recommend --defaults --verbose | head -3; "
        "echo \"rc=${PIPESTATUS[0]}\" >&2",
        shell=True, executable="/bin/bash", capture_output=True, text=True, cwd=ROOT,
        env=cli_env(), timeout=120)
    assert len(proc.stdout.splitlines()) == 3
    assert proc.stderr.strip() == "rc=0", proc.stderr


def test_ascii_only_stdout_gets_no_traceback():
    for args in (["recommend", *TABULAR], ["recommend", *TABULAR, "--explain", "jax"],
                 ["recommend", *TABULAR, "--format", "markdown"]):
        result = run_cli(*args, env=cli_env(PYTHONIOENCODING="ascii"))
        assert result.code == 0, result.err
        assert "Traceback" not in result.err and ("scikit-learn" in result.out or "JAX" in result.out)
        result.out.encode("ascii")  # every character written is ASCII


def test_piped_output_is_whole_lines():
    """No hard wrap, no padding at line ends; --explain keeps rule ids and values whole."""
    result = run_cli("recommend", *TABULAR, "--explain", "jax", env=cli_env(COLUMNS="80"))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert all(line == line.rstrip() for line in lines)
    data = json.loads(run_cli("recommend", *TABULAR, "--format", "json").out)
    trace_lines = [line for line in lines if line.startswith("│ ")]
    for trace in data["trace"]:
        assert any(f"│ {trace['id']} " in line for line in trace_lines), trace["id"]
    table = run_cli("recommend", *TABULAR, env=cli_env(COLUMNS="80"))
    assert all(line == line.rstrip() for line in table.out.splitlines())
    assert any(len(line) > 80 for line in table.out.splitlines())  # not wrapped at 80


def test_at_60_columns_names_stay_whole_and_the_bar_yields():
    code, out, err = invoke("recommend", *TABULAR, tty=True, columns=60)
    assert code == 0, err
    text = ANSI.sub("", out)
    assert all(len(line) <= 60 for line in text.splitlines())
    ranking = text.split("Ranking")[1].split("Score breakdown")[0]
    for name in ("PyTorch", "Keras 3", "TensorFlow", "JAX", "scikit-learn"):
        assert name in ranking
    assert "…" not in ranking
    breakdown = text.split("Score breakdown")[1].split("\nWhy")[0]
    for label in ("criterion", "weight", "ease_of_use", "hardware_fit", "tensorflow", "sklearn"):
        assert label in breakdown
    assert "…" not in breakdown
    drivers = text.split("Decision drivers")[1].split("\n\n")[0]
    assert "…" not in drivers


def test_vetoed_candidate_shows_no_score_above_live_ones():
    code, out, _ = invoke("recommend", "--defaults", "--set", "os=linux", tty=True, columns=120)
    assert code == 0
    row = next(line for line in ANSI.sub("", out).splitlines() if "scikit-learn" in line
               and "vetoed by" in line)
    assert "#" not in row and not re.search(r"\d\.\d\d", row), row


def test_explain_effect_column_is_about_that_candidate_only():
    result = run_cli("recommend", "--defaults", "--set", "os=linux", "--explain", "jax")
    assert result.code == 0, result.err
    trace = result.out.split("Every rule considered")[1]
    row = next(line for line in trace.splitlines() if "deploy.server.serving" in line)
    effect = row.split("│")[-2]
    assert "jax" in effect and not any(c in effect for c in ("pytorch", "tensorflow", "keras",
                                                               "sklearn")), row


@pytest.mark.parametrize("args, expected", [
    (["--set", "modalty=images"], "unknown question id 'modalty'; did you mean 'modality'?"),
    (["--set", "modality=imags"], "'imags' is not allowed; did you mean 'images'?"),
    (["--explain", "pytorh"], "unknown candidate 'pytorh'; did you mean 'pytorch'?"),
])
def test_a_typo_gets_one_short_suggestion(args, expected):
    code, _, err = invoke("recommend", "--defaults", *args)
    assert code == 2
    assert err.count("\n") == 1 and expected in err and len(err) < 140, err


def test_hyphen_case_and_labels_name_their_values():
    code, out, err = invoke("ask", "--no-input", "--defaults", "--set", "scale=multi-gpu",
                            "--set", "modality=Images", "--set", "priority=ease of use",
                            "--set", "training_hardware=NVIDIA GPU", "--set", "Existing-Stack=none")
    assert code == 0, err
    data = yaml.safe_load(out)
    assert (data["scale"], data["modality"], data["priority"], data["training_hardware"],
            data["existing_stack"]) == ("multi_gpu", "images", "ease_of_use", "nvidia_gpu", "none")


def test_ask_and_run_share_one_flow_in_a_simulated_terminal(tmp_path, kb):
    """The questionnaire through the Environment seam: replies from a fake terminal, questions
    on stderr, the answers on stdout; the same prompts in `advisor run`."""
    replies = "\n" * (len(kb.questions) + 2)
    code, out, err = invoke("ask", "--set", "modality=tabular", stdin=replies, tty=True)
    assert code == 0, err
    assert "advisor questionnaire" in err and "[1/" in err
    assert yaml.safe_load(out)["modality"] == "tabular"
    folder = tmp_path / "r"
    code, out, err2 = invoke("run", "--no-probe", "--out", str(folder), "--set", "modality=tabular",
                             stdin=replies, tty=True)
    assert code == 0, err2
    assert err2.split("answer> ")[0] == err.split("answer> ")[0]  # the same first question
    assert (folder / "report.html").is_file()


def test_ask_at_end_of_input_keeps_answers_and_says_how_to_resume(tmp_path):
    out = tmp_path / "a.yaml"
    code, _, err = invoke("ask", "--out", str(out), stdin="2\ntext\n", tty=True)
    assert code == 130
    assert f"kept 2 answers in {out}; resume with `advisor ask --answers {out} --out {out}`" in err
    assert yaml.safe_load(out.read_text())["purpose"] == "production"


def test_probe_refuses_to_replace_another_runs_file(tmp_path):
    out = tmp_path / "probe.json"
    out.write_text("{}")
    code, _, err = invoke("probe", "-o", str(out), "--quick")
    assert code == 2 and "--force" in err and err.count("\n") == 1
    assert out.read_text() == "{}"


def test_rules_check_json_and_exit_codes(tmp_path):
    code, out, _ = invoke("rules", "check", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True and doc["errors"] == 0 and doc["problems"] == []
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "tests" / "kb_fixtures" / "duplicate.yaml").read_text())
    code, out, _ = invoke("rules", "check", str(bad), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False
    assert all({"path", "line", "severity", "message"} <= set(p) for p in doc["problems"])
    code, _, err = invoke("rules", "check", str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such file" in err


def test_compare_json_is_strict_and_complete():
    code, out, err = invoke("compare", "examples/probe-h200.json",
                            "tests/fixtures/probe-cpu-noisy.json", "--format", "json")
    assert code == 0, err
    doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert doc["schema_version"] == 1 and len(doc["machines"]) == 2
    rows = {r["name"]: r for r in doc["machines"][0]["frameworks"]}
    assert rows["pytorch"]["status"] == "ok"
    assert "median" in rows["pytorch"]["workloads"]["mlp-digits"]


def test_html_report_needs_no_plotting_library(tmp_path):
    """The charts are SVG written by advisor: rendering the report imports no matplotlib, and
    the same input gives the same bytes."""
    out = tmp_path / "r.html"
    code = ("import sys; from advisor.cli.app import run\n"
            f"rc = run(['recommend', '--answers', 'examples/image-classifier.yaml', '--probe', "
            f"'examples/probe-h200.json', '--format', 'html', '--out', {str(out)!r}])\n"
            "print(rc, 'matplotlib' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=cli_env(), cwd=ROOT, timeout=120)
    assert proc.stdout.split() == ["0", "False"], proc.stderr
    from advisor.render import charts

    first = charts.throughput(["pytorch", "jax"], ["mlp-digits"], [[1000.0], [2000.0]],
                              [[100.0], [None]], title="t")
    again = charts.throughput(["pytorch", "jax"], ["mlp-digits"], [[1000.0], [2000.0]],
                              [[100.0], [None]], title="t")
    assert first == again and "<svg" in first and first.rstrip().endswith("</svg>")
    assert first.count("<rect") >= 3  # background and two bars


def test_every_advisor_environment_variable_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    used: set[str] = set()
    for folder in ("advisor", "probes", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"ADVISOR_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    used.discard("ADVISOR_")
    missing = sorted(v for v in used if f"`{v}" not in readme)
    assert not missing, f"document these in the README's environment table: {missing}"


def test_diff_shows_what_one_changed_answer_changes():
    code, out, err = invoke("recommend", "--defaults", "--set", "os=linux", "--diff",
                            "--set", "modality=tabular", "--set", "dataset_size=small",
                            "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["changes"]["modality"] == {"before": "images", "after": "tabular"}
    assert d["winner_before"] == "pytorch" and d["winner_after"] == "sklearn"
    assert d["winner_changed"] is True
    sk = next(m for m in d["ranking"] if m["candidate"] == "sklearn")
    assert sk["vetoed_before"] is True and sk["vetoed_after"] is False and sk["rank_after"] == 1
    assert "eco.sklearn-not-deep-learning" in d["rules_no_longer_firing"]
    code, out, err = invoke("recommend", "--answers", "examples/image-classifier.yaml", "--diff",
                            "--set", "deploy_targets=mobile_ios")
    assert code == 0, err
    assert "deploy_targets: server -> mobile_ios" in out and "(unchanged)" in out
    assert "deploy.ios.coreml" in out.split("Rules that now fire")[1]
    code, _, err = invoke("recommend", "--defaults", "--diff")
    assert code == 2 and "--set" in err
