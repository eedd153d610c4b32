"""load_probe: validation, size limit, clear errors naming the file, version check."""

from __future__ import annotations

import copy
import json

import pytest
from probe_fixtures import ok_payload

from advisor.infra.errors import FileProblem, ParseError, SchemaError, VersionError
from advisor.probe import model

HOST = {"cpu_model": "x", "logical_cores": 4, "usable_cores": 2, "memory_bytes": 1 << 30,
        "os": "linux", "python": "3.11.7"}


def probe_doc(**extra):
    row = ok_payload("pytorch")
    for w in row["workloads"].values():
        w.update(noisy=False, learned=True)
    doc = {"schema_version": 1, "host": copy.deepcopy(HOST), "gpus": [], "frameworks": [row],
           "workloads": {"mlp-digits": {}, "cnn-digits": {}}}
    doc.update(extra)
    return doc


def write(tmp_path, doc, name="probe.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_valid_file_round_trips(tmp_path):
    report = model.load_probe(write(tmp_path, probe_doc(future_key={"kept": True})))
    assert report.row("pytorch").workloads["mlp-digits"].samples_per_s.n == 5
    again = json.loads(report.to_json())
    assert again["future_key"] == {"kept": True}
    assert model.load_probe(write(tmp_path, report.to_json(), "again.json")) == report


def test_newer_schema_is_refused_by_version(tmp_path):
    with pytest.raises(VersionError, match="schema_version 2") as info:
        model.load_probe(write(tmp_path, probe_doc(schema_version=2)))
    assert "probe.json" in str(info.value)


def test_not_json_names_file_and_line(tmp_path):
    with pytest.raises(ParseError) as info:
        model.load_probe(write(tmp_path, '{\n  "schema_version": 1,\n  oops\n}'))
    assert info.value.line == 3 and "probe.json" in str(info.value)


def test_schema_problems_name_the_field(tmp_path):
    doc = probe_doc()
    del doc["host"]["usable_cores"]
    with pytest.raises(SchemaError, match="host.usable_cores"):
        model.load_probe(write(tmp_path, doc))
    doc = probe_doc()
    doc["frameworks"][0]["status"] = "great"
    with pytest.raises(SchemaError, match="status"):
        model.load_probe(write(tmp_path, doc))


def test_missing_version_and_non_object(tmp_path):
    with pytest.raises(SchemaError, match="schema_version"):
        model.load_probe(write(tmp_path, {"host": HOST}))
    with pytest.raises(SchemaError):
        model.load_probe(write(tmp_path, "[1, 2]"))


def test_size_limit_and_missing_file(tmp_path, monkeypatch):
    monkeypatch.setattr(model, "MAX_PROBE_BYTES", 100)
    with pytest.raises(FileProblem, match="too large"):
        model.load_probe(write(tmp_path, probe_doc()))
    with pytest.raises(FileProblem):
        model.load_probe(tmp_path / "absent.json")
    with pytest.raises(FileProblem):
        model.load_probe(tmp_path)


def test_not_utf8(tmp_path):
    path = tmp_path / "probe.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FileProblem, match="UTF-8"):
        model.load_probe(path)


# --------------------------------------------------------------- strict at the boundary
def _bad(tmp_path, text):
    with pytest.raises((SchemaError, ParseError)) as info:
        model.load_probe(write(tmp_path, text))
    message = str(info.value)
    assert message.startswith(str(tmp_path / "probe.json")) and "\n" not in message
    return message


def _with_median(value: str) -> str:
    text = json.dumps(probe_doc())
    return text.replace('"median": 1000.0', f'"median": {value}', 1)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e309", "-1e999"])
def test_non_finite_numbers_are_refused_naming_the_field(tmp_path, number):
    assert '"median": 1000.0' in json.dumps(probe_doc())
    message = _bad(tmp_path, _with_median(number))
    assert "frameworks[0].workloads.mlp-digits.samples_per_s.median" in message
    assert "not finite" in message


def test_numbers_at_the_edges_of_the_range_load_and_round_trip(tmp_path):
    for number in ("1e15", "1e-30", "-0.0", "0"):
        doc = model.load_probe(write(tmp_path, _with_median(number)))
        median = doc.row("pytorch").workloads["mlp-digits"].samples_per_s.median
        assert median == float(number)
        assert model.loads(doc.to_json()) == doc


@pytest.mark.parametrize("number", ["5e-324", "1e308", "1.1e15", "9e-31"])
def test_finite_numbers_outside_the_range_are_refused(tmp_path, number):
    message = _bad(tmp_path, _with_median(number))
    assert "samples_per_s.median" in message and number in message


def test_huge_integers_are_refused(tmp_path):
    doc = probe_doc()
    text = json.dumps(doc).replace('"memory_bytes": 1073741824', '"memory_bytes": ' + "9" * 40)
    assert "host.memory_bytes" in _bad(tmp_path, text)
    text = json.dumps(doc).replace('"memory_bytes": 1073741824', '"memory_bytes": ' + "9" * 5000)
    assert "host.memory_bytes" in _bad(tmp_path, text)


def test_bad_numbers_in_unknown_keys_are_refused_too(tmp_path):
    text = json.dumps(probe_doc(future={"deep": [1, 2]})).replace("[1, 2]", "[1, NaN]")
    assert "future.deep[1]" in _bad(tmp_path, text)


def test_lone_surrogates_are_refused(tmp_path):
    text = json.dumps(probe_doc()).replace('"cpu_model": "x"', '"cpu_model": "\\ud800"')
    assert "host.cpu_model" in _bad(tmp_path, text)
    text = json.dumps(probe_doc(note="ok")).replace('"note"', '"\\udfff"')
    assert "surrogate" in _bad(tmp_path, text)


def test_deep_nesting_is_refused_cleanly(tmp_path):
    assert "nested too deeply" in _bad(tmp_path, json.dumps(probe_doc(future=[[[[[]]]]] * 1))
                                       .replace("[[[[[]]]]]", "[" * 40 + "]" * 40))
    assert "nested too deeply" in _bad(tmp_path, "[" * 100_000 + "]" * 100_000)


def test_wrong_types_name_the_field(tmp_path):
    doc = probe_doc()
    doc["frameworks"][0]["workloads"]["mlp-digits"]["samples_per_s"]["n"] = 2.5
    assert "samples_per_s.n: expected an integer" in _bad(tmp_path, json.dumps(doc))
    doc = probe_doc(gpus={"vendor": "x"})
    assert "gpus: expected an array" in _bad(tmp_path, json.dumps(doc))


def test_every_shipped_probe_file_loads_and_round_trips():
    from tests.conftest import ROOT

    files = [ROOT / "examples" / "probe-h200.json",
             *(p for p in (ROOT / "tests" / "fixtures").glob("probe-*.json")
               if p.name != "probe-future.json")]
    for path in files:
        doc = model.load_probe(path)
        assert doc.frameworks, path
        assert model.loads(doc.to_json()) == doc


def test_behaviour_follows_the_one_policy(tmp_path):
    from advisor.probe import policy

    doc = model.load_probe(ROOT_FIXTURE("cpu-noisy"))
    best, ties = doc.fastest("cnn-digits")
    assert best.name == "tensorflow" and {r.name for r in ties} == {"pytorch", "keras/tensorflow",
                                                                    "jax"}
    wl = best.workloads["cnn-digits"]
    assert wl.noisy is (wl.samples_per_s.spread > policy.NOISE_LIMIT) is True
    assert wl.learned is (wl.accuracy >= policy.accuracy_gate("cnn-digits"))
    gpu = model.load_probe(ROOT_FIXTURE("nvidia-tf-blind"))
    assert gpu.has_gpu and gpu.row("pytorch").sees_gpu and not gpu.row("tensorflow").sees_gpu
    assert json.loads(gpu.to_json())["frameworks"][1]["sees_gpu"] is False


def ROOT_FIXTURE(name):
    from tests.conftest import ROOT

    return ROOT / "tests" / "fixtures" / f"probe-{name}.json"
