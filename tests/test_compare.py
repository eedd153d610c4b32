"""`advisor compare`: machines side by side, in every format; other probe versions refused clearly."""

from __future__ import annotations

from tests.reports_support import EVIL, probe_path
from tests.test_report_html import assert_inert

GPU, CPU = probe_path("nvidia-tf-blind"), probe_path("cpu-noisy")


def test_compare_model_fastest_per_workload_with_ties():
    from advisor.service.compare import compare

    cmp = compare([GPU, CPU])
    assert [m.label for m in cmp.machines] == ["probe-nvidia-tf-blind", "probe-cpu-noisy"]
    assert cmp.workloads == ["mlp-digits", "cnn-digits"]
    assert cmp.fastest[0]["cnn-digits"].row == "pytorch" and not cmp.fastest[0]["cnn-digits"].ties
    noisy = cmp.fastest[1]["cnn-digits"]
    assert noisy.row == "tensorflow" and set(noisy.ties) == {"pytorch", "keras/tensorflow", "jax"}
    assert cmp.machines[1].facts["GPUs"] == "none detected"
    assert "NVIDIA RTX A4000" in cmp.machines[0].facts["GPUs"]


def test_compare_table_and_markdown(cli):
    res = cli("compare", GPU, CPU)
    assert res.code == 0, res.err
    for text in ("Machines", "AMD Ryzen 9 5950X", "48,000 ± 750 (n=5) *", "tied with", "missing"):
        assert text in res.out, text
    md = cli("compare", GPU, CPU, "--format", "markdown")
    assert md.code == 0
    assert "## cnn-digits: training samples/s" in md.out
    assert "| `pytorch` | **48,000 ± 750 (n=5)** |" in md.out


def test_compare_html_is_inert_with_a_hostile_probe(tmp_path, cli):
    out = tmp_path / "c.html"
    res = cli("compare", GPU, CPU, probe_path("hostile"), "--format", "html", "--out", str(out))
    assert res.code == 0, res.err
    doc = out.read_text()
    p = assert_inert(doc)
    assert EVIL in "".join(p.text)
    assert sum(1 for t, _ in p.tags if t == "img") == 2  # one throughput chart per workload


def test_compare_refuses_another_schema_naming_the_version(cli):
    res = cli("compare", CPU, probe_path("future"))
    assert res.code == 2
    assert res.err.count("\n") == 1 and "Traceback" not in res.err
    assert "schema_version 2" in res.err and "advisor 9.1.0" in res.err and "probe-future.json" in res.err


def test_compare_reads_a_compatible_file_from_another_advisor_version(tmp_path, cli):
    import json

    data = json.loads(open(CPU).read())
    data["advisor_version"] = "0.0.7"
    old = tmp_path / "old-laptop.json"
    old.write_text(json.dumps(data))
    res = cli("compare", GPU, str(old), "--format", "markdown")
    assert res.code == 0, res.err
    assert "by advisor 0.0.7" in res.out and "old-laptop" in res.out


def test_rows_a_quick_probe_left_out_read_as_not_run(tmp_path):
    import json

    from advisor.service.compare import compare
    from tests.reports_support import probe_data

    data = probe_data("cpu-noisy")
    data["frameworks"] = [r for r in data["frameworks"] if r["name"] != "keras/torch"]
    data["run"] = {"not_run": [{"name": "keras/torch", "reason": "--quick measures Keras on one "
                                "backend"}]}
    quick = tmp_path / "quick.json"
    quick.write_text(json.dumps(data))
    cmp = compare([str(quick), GPU, "examples/probe-h200.json"])
    assert cmp.machines[0].row("keras/torch").status == "not run"
    assert cmp.machines[1].row("keras/torch").status == "ok"  # a full probe has the row
    assert cmp.machines[2].row("keras/torch").status == "ok"
