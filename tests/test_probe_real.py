"""Real probes: each installed framework runs both workloads for real (3 timed epochs).

Marked ``probe`` (slower: about a minute on 2 cores; run in CI). Checks the JSON contract of
docs/architecture.md, accuracy well above chance.
"""

from __future__ import annotations

import json

import pytest

from advisor.probe import core, plan
from advisor.probe.catalog import ROW_NAMES, ROWS
from advisor.probe.model import load_probe

pytestmark = pytest.mark.probe


@pytest.fixture(scope="module")
def report():
    installed = [name for name in ROW_NAMES
                 if all(plan.is_installed(m) for m in ROWS[name].modules)]
    if not installed:
        pytest.skip("no framework installed")
    # Both workloads with a tiny budget: 3 timed epochs in one process per row (two fresh
    # processes, the default, are tested for real in test_probe_contention.py).
    return core.run_probe(core.ProbeOptions(frameworks=tuple(installed), epochs=3, repeat=1,
                                            timeout_s=120))


def test_every_installed_row_runs_ok_and_learns(report):
    for row in report.frameworks:
        assert row.status == "ok", f"{row.name}: {row.error}"
        assert row.version and row.import_s is not None and row.import_s > 0
        assert any(d.kind == "cpu" for d in row.devices)
        expected = ROWS[row.name].workloads
        assert tuple(sorted(row.workloads)) == tuple(sorted(expected))
        for name, result in row.workloads.items():
            assert result.accuracy is not None and result.accuracy > 0.5, (row.name, name)
            assert result.first_epoch_s > 0
            stats = result.samples_per_s
            assert stats.n == 3 and stats.median > 0 and stats.iqr >= 0
            assert result.processes is not None and result.processes.n == 1
            assert len(result.contention) == 1  # the child's evidence, one per process
            assert result.peak_rss_mb > 10


def test_cnn_rows_report_achieved_and_peak_gflops(report):
    for row in report.frameworks:
        cnn = row.workloads.get("cnn-digits")
        if cnn is None:
            continue
        assert cnn.gflops > 0 and cnn.peak_gflops > 0
        assert 0 < cnn.fraction_of_peak < 5  # achieved vs a measured matmul peak


def test_report_is_valid_json_contract(report, tmp_path):
    path = tmp_path / "probe.json"
    path.write_text(report.to_json())
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1
    for key in ("cpu_model", "logical_cores", "usable_cores", "memory_bytes", "os", "python"):
        assert key in data["host"]
    assert isinstance(data["gpus"], list)
    for row in data["frameworks"]:
        for key in ("name", "status", "version", "devices", "import_s", "workloads"):
            assert key in row
        for result in row["workloads"].values():
            for key in ("first_epoch_s", "samples_per_s", "accuracy", "peak_rss_mb"):
                assert key in result
            assert set(result["samples_per_s"]) >= {"median", "iqr", "n"}
    assert load_probe(path).frameworks
