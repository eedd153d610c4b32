"""Hostile probe files against `recommend`, `compare` and `run`: each gives a result or one clean
exit-2 line, never a traceback, and every JSON advisor writes is strict (no NaN, no Infinity).

The named cases are the ones an attack found (issue 15, items 3, 4 and 6); the hypothesis test
puts generated numbers, strings and shapes at random places of a valid probe file.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.cli.app import main
from tests.conftest import ROOT

BASE = json.loads((ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json").read_text())


def strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _median(doc, value, row=0, workload="mlp-digits"):
    doc["frameworks"][row]["workloads"][workload]["samples_per_s"]["median"] = value


def _every_number(doc, value):
    for row in doc["frameworks"]:
        for cell in row["workloads"].values():
            cell["samples_per_s"]["median"] = value
            cell["samples_per_s"]["iqr"] = value
            cell["first_epoch_s"] = value


def _scaling(doc, eff):
    doc["scaling"] = {"workers": 2, "world_size": 2, "rows": [{
        "name": "pytorch", "status": "ok", "workers": 2, "world_size": 2,
        "efficiency": {"median": eff, "low": eff, "high": eff, "n": 3}, "speedup": eff,
        "baseline": {"world_size": 1, "samples_per_s": {"median": 1000.0, "iqr": 1.0, "n": 3}},
        "parallel": {"world_size": 2, "samples_per_s": {"median": 1e15, "iqr": 1.0, "n": 3}}}]}


def _many_workloads(doc, n):
    cell = doc["frameworks"][0]["workloads"]["mlp-digits"]
    for i in range(n):
        doc["frameworks"][0]["workloads"][f"w{i:04d}"] = cell


def _many_rows(doc, n):
    row = doc["frameworks"][0]
    doc["frameworks"] = [dict(row, name=f"row{i}") for i in range(n)]


def variant(change) -> str:
    doc = copy.deepcopy(BASE)
    out = change(doc)
    return out if isinstance(out, str) else json.dumps(doc)


RAW = json.dumps(BASE)
CASES = {
    "5e-324 against 1e308": lambda d: (_median(d, 5e-324, 0), _median(d, 1e308, 1)),
    "integer 10**400": lambda d: _median(d, 10**400),
    "memory 10**30": lambda d: d["host"].update(memory_bytes=10**30),
    "run.not_run a string": lambda d: d.setdefault("run", {}).update(not_run="pytorch"),
    "run.not_run a dict": lambda d: d.setdefault("run", {}).update(not_run={"a": [1]}),
    "run a list": lambda d: d.update(run=[1, 2]),
    "medians near 1.7e308": lambda d: _every_number(d, 1.7e308),
    "medians 1e15": lambda d: _every_number(d, 1e15),
    "medians 1e-30": lambda d: _every_number(d, 1e-30),
    "NaN median": lambda d: RAW.replace('"median": 9000', '"median": NaN', 1),
    "Infinity median": lambda d: RAW.replace('"median": 9000', '"median": Infinity', 1),
    "-Infinity iqr": lambda d: RAW.replace('"iqr": 2600', '"iqr": -Infinity', 1),
    "1e999 literal": lambda d: RAW.replace('"median": 9000', '"median": 1e999', 1),
    "infinite scaling efficiency": lambda d: (_scaling(d, 1e15),) and json.dumps(d).replace(
        '"speedup": 1000000000000000.0', '"speedup": Infinity'),
    "huge scaling efficiency": lambda d: _scaling(d, 1e15),
    "negative medians": lambda d: _every_number(d, -5),
    "zero medians": lambda d: _every_number(d, 0),
    "2,000 levels of nesting": lambda d: RAW[:-1] + ', "x": ' + "[" * 2000 + "]" * 2000 + "}",
    "40 levels of nesting": lambda d: RAW[:-1] + ', "x": ' + "[" * 40 + "]" * 40 + "}",
    "5,000-digit integer": lambda d: RAW[:-1] + ', "x": ' + "9" * 5000 + "}",
    "lone surrogate": lambda d: RAW.replace('"Intel', '"\\ud800 Intel', 1),
    "duplicate key": lambda d: RAW[:-1] + ', "host": {}}',
    "duplicate row names": lambda d: d["frameworks"].append(copy.deepcopy(d["frameworks"][0])),
    "1,000 workload names": lambda d: _many_workloads(d, 1000),
    "30 workload names": lambda d: _many_workloads(d, 30),
    "2,000 rows": lambda d: _many_rows(d, 2000),
    "markup in names": lambda d: (d["host"].update(cpu_model="[/] [link=https://e.x]x[/link]"),
                                  d["frameworks"][0].update(version="[/]\x1b[2J")),
    "escapes in advisor_version": lambda d: d.update(schema_version=9,
                                                     advisor_version="\x1b]0;pwn\x07 9.0"),
    "frameworks not a list": lambda d: d.update(frameworks={"pytorch": {}}),
    "a workload not an object": lambda d: d["frameworks"][0]["workloads"].update(x=[1]),
    "empty object": lambda d: "{}",
    "a bare list": lambda d: "[]",
}

COMMANDS = {
    "recommend-json": lambda p, tmp: ["recommend", "--defaults", "--probe", p, "-f", "json"],
    "recommend-html": lambda p, tmp: ["recommend", "--defaults", "--probe", p, "-f", "html"],
    "recommend-md": lambda p, tmp: ["recommend", "--defaults", "--probe", p, "-f", "markdown"],
    "recommend-table": lambda p, tmp: ["recommend", "--defaults", "--probe", p, "-v"],
    "compare-table": lambda p, tmp: ["compare", p, str(ROOT / "tests/fixtures/probe-cpu-noisy.json")],
    "compare-html": lambda p, tmp: ["compare", p, p, "-f", "html"],
    "compare-md": lambda p, tmp: ["compare", p, "-f", "markdown"],
    "run": lambda p, tmp: ["run", "--defaults", "--no-input", "--probe", p, "-o", str(tmp / "rep")],
}


def run_main(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def check_outcome(args, code, out, err, tmp: Path) -> None:
    assert code in (0, 2), (code, err[-2000:])
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        assert err.startswith("advisor: error: ") and err.count("\n") == 1, err
        assert "\x1b" not in err and "\x07" not in err
        return
    if "json" in args:
        strict_json(out)
    if args[0] == "run":
        for name in ("recommendation.json", "probe.json"):
            strict_json((tmp / "rep" / name).read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_named_hostile_probe_file(tmp_path, capsys, case):
    path = tmp_path / "probe.json"
    path.write_bytes(variant(CASES[case]).encode("utf-8"))
    refused = False
    for command, make in COMMANDS.items():
        if refused and command not in ("compare-md", "run"):
            continue  # a refused file: check every reader refuses it, without rendering twice
        args = make(str(path), tmp_path)
        start = time.perf_counter()
        code, out, err = run_main(args, capsys)
        check_outcome(args, code, out, err, tmp_path)
        assert time.perf_counter() - start < 60, (case, command)  # a loaded 2-core machine
        refused = refused or (command == "recommend-json" and code == 2)


def test_what_is_out_of_bounds_is_refused_quickly(tmp_path, capsys):
    """Work is bounded by the file's size: 1,000 workload names or 2,000 rows are refused by
    their count before anything renders (they took minutes as HTML or in compare)."""
    for case in ("1,000 workload names", "2,000 rows", "2,000 levels of nesting"):
        path = tmp_path / "p.json"
        path.write_text(variant(CASES[case]))
        start = time.perf_counter()
        code, _, err = run_main(["compare", str(path), str(path), "-f", "html"], capsys)
        assert code == 2 and "at most" in err or "nested" in err, err
        assert time.perf_counter() - start < 5


def test_largest_accepted_file_renders_in_bounded_time(tmp_path, capsys):
    """At the limits (64 rows x 32 workloads, 32 files) compare and the reports stay fast
    (compare was cubic: 2,000 rows x 2,000 workloads took minutes). HTML charts are bounded
    separately (render.charts.MAX_WORKLOAD_CHARTS; the "30 workload names" case)."""
    doc = copy.deepcopy(BASE)
    cell = doc["frameworks"][0]["workloads"]["mlp-digits"]
    doc["frameworks"] = [dict(doc["frameworks"][0], name=f"row{i}",
                              workloads={f"w{j}": cell for j in range(32)}) for i in range(64)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    for args in (["compare", *[str(path)] * 32, "-f", "markdown"],
                 ["recommend", "--defaults", "--probe", str(path), "-f", "markdown"]):
        start = time.perf_counter()
        code, _, err = run_main(args, capsys)
        assert code == 0, err
        assert time.perf_counter() - start < 60, args  # a loaded 2-core machine
    code, _, err = run_main(["compare", *[str(path)] * 33], capsys)
    assert code == 2 and "at most 32" in err


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -0.0, 5e-324, 1e-30, 1e15, 1.7e308, 2**63, -1, 1, True, None]),
)
VALUES = st.one_of(NUMBERS, st.text(max_size=12), st.lists(NUMBERS, max_size=3),
                   st.dictionaries(st.text(max_size=4), NUMBERS, max_size=2))


def _paths(doc, prefix=()):
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield prefix + (i,)
            yield from _paths(value, prefix + (i,))


PATHS = list(_paths(BASE))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=4))
def test_generated_hostile_values(tmp_path, capsys, changes):
    doc = copy.deepcopy(BASE)
    for where, value in changes:
        target = doc
        try:
            for part in where[:-1]:
                target = target[part]
            target[where[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change replaced a parent
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(doc))  # json.dumps writes NaN/Infinity as Python does
    for args in (["recommend", "--defaults", "--probe", str(path), "-f", "json"],
                 ["recommend", "--defaults", "--probe", str(path), "-f", "html"],
                 ["compare", str(path), "-f", "markdown"]):
        code, out, err = run_main(args, capsys)
        check_outcome(args, code, out, err, tmp_path)
