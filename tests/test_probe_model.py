"""load_probe: validation, size limit, clear errors naming the file, version check."""

from __future__ import annotations

import copy
import json

import pytest

from advisor.infra.errors import FileProblem, ParseError, SchemaError, VersionError
from advisor.probe import model
from probe_fixtures import ok_payload

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
