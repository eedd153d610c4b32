"""A pile of malformed files: each is one clear line on stderr, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""

CASES = {
    # name: (file bytes, expected fragment, expected line or None)
    "malformed": (b"purpose: research\nmodality: [images\n", "malformed YAML", None),
    "python-tag": (b"purpose: !!python/object/apply:os.system ['touch /tmp/pwned']\n", "is not allowed", 1),
    "custom-tag": (b"modality: images\npurpose: !research x\n", "is not allowed", 2),
    "list": (b"- purpose\n- research\n", "expected a mapping", 1),
    "scalar": (b"just text\n", "expected a mapping", 1),
    "unknown-id": (b"purpose: research\nframework: pytorch\n", "unknown question id 'framework'; allowed: purpose, modality", 2),
    "unknown-value": (b"purpose: research\nmodality: video\n", "allowed: images, text, tabular", 2),
    "many-bad-item": (b"deploy_targets: [server, toaster]\n", "'toaster' is not allowed", 1),
    "none-combined": (b"deploy_targets: [server, none]\n", "'none' cannot be combined", 1),
    "bool-bad": (b"custom_research: maybe\n", "is not true or false", 1),
    "not-utf8": (b"purpose: research\nmodality: \xff\xfe images\n", "not valid UTF-8", 2),
    "nul-byte": (b"purpose: research\x00\n", "NUL byte", None),
    "alias-bomb": (BOMB.encode(), "runaway aliases", None),
    "duplicate-key": (b"purpose: research\npurpose: learning\n", "duplicate key 'purpose'", 2),
    "merge-key": (b"base: &b {purpose: research}\n<<: *b\n", "merge keys", None),
    "deep": (("a: " + "[" * 200 + "]" * 200 + "\n").encode(), "", None),
    "newer-version": (b"schema_version: 99\npurpose: research\n", "schema_version 99 is not supported", 1),
}


def check_one_line_error(result, path: Path, fragment: str, line: int | None):
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("advisor: error: ")
    assert str(path) in lines[0]
    if line is not None:
        assert f"{path}:{line}:" in lines[0]
    assert fragment in lines[0]
    assert result.out == ""


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_answers_file(tmp_path, name):
    data, fragment, line = CASES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(data)
    result = run_cli("recommend", "--answers", str(path), "--format", "json")
    check_one_line_error(result, path, fragment, line)
    assert not Path("/tmp/pwned").exists()


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    check_one_line_error(run_cli("recommend", "--answers", str(path)), path, "no such file", None)


def test_directory_instead_of_file(tmp_path):
    check_one_line_error(run_cli("recommend", "--answers", str(tmp_path)), tmp_path, "is a directory", None)


def test_unreadable_file():
    # /proc/self/mem exists but reading it fails (EIO), even for root
    path = Path("/proc/self/mem")
    if not path.exists():
        pytest.skip("no /proc on this system")
    result = run_cli("recommend", "--answers", str(path))
    check_one_line_error(result, path, "cannot read", None)


def test_huge_file(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * (300 * 1024) + b"\npurpose: research\n")
    check_one_line_error(run_cli("recommend", "--answers", str(path)), path, "the limit is", None)


def test_bad_set_value():
    result = run_cli("recommend", "--defaults", "--set", "priority=speed")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "advisor: error: --set: priority: 'speed' is not allowed; allowed: "
        "ease_of_use, flexibility, performance, deployment, ecosystem"
    ]


def test_bad_set_syntax():
    result = run_cli("recommend", "--defaults", "--set", "priority")
    assert result.code == 2 and "expected id=value" in result.err


def test_usage_error_is_exit_2():
    result = run_cli("recommend", "--format", "pdf")
    assert result.code == 2
    assert "Traceback" not in result.err


def test_traceback_flag_shows_it(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("purpose: nope\n")
    result = run_cli("--traceback", "recommend", "--answers", str(path))
    assert result.code != 0 and "Traceback" in result.err


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("rules: [{id: x, when: \"purpose == 'nope'\", effects: [{note: hi}], rationale: r}]\n",
         "'nope' is not a value of 'purpose'"),
        ("rules: [{id: x, when: \"colour == 'red'\", effects: [{note: hi}], rationale: r}]\n",
         "unknown name 'colour'"),
        ("rules: [{id: x, when: \"purpose ==\", effects: [{note: hi}], rationale: r}]\n",
         "expected a name"),
        ("rules: [{id: x, when: \"purpose == 'research'\", effects: [{rate: speed, candidates: {pytorch: 1}}], rationale: r}]\n",
         "unknown criterion 'speed'"),
        ("rules: [{id: x, when: \"purpose == 'research'\", effects: [{veto: caffe, reason: old}], rationale: r}]\n",
         "unknown candidate 'caffe'"),
        ("rules: [{id: x, when: \"purpose == 'research'\", effects: [{veto: jax}], rationale: r}]\n",
         "a veto needs a reason"),
        ("rules: [{id: x, when: \"purpose == 'research'\", effects: [], rationale: r}]\n",
         "at least 1 item"),
        ("rules: [{id: x, when: \"purpose == 'research'\", effects: [{note: hi}], rationale: r, colour: red}]\n",
         "unknown key 'colour'"),
        ("rules: {a: 1}\n", "rules"),
    ],
)
def test_bad_rules_file_names_file_and_line(tmp_path, text, fragment):
    from advisor.infra.resources import rules_dir

    kb = tmp_path / "kb"
    kb.mkdir()
    for src in rules_dir().glob("*.yaml"):
        (kb / src.name).write_text(src.read_text())
    bad = kb / "zz-extra.yaml"
    bad.write_text(text)
    result = run_cli("recommend", "--rules", str(kb), "--defaults", "--format", "json")
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert f"{bad}:1:" in lines[0]
    assert fragment in lines[0]
    check = run_cli("rules", "check", str(kb))
    assert check.code == 1  # a finding of the linter, not a usage error
    assert any(str(bad) in ln and fragment in ln for ln in check.err.splitlines())
