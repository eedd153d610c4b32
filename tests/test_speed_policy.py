"""The speed scoring policy (issue 12): which workload speaks for which project, probe/project
match, validity, and fairness to the unmeasured. Fixture probes, the bundled knowledge base."""

from __future__ import annotations

import copy
import json

import pytest

from advisor.kb import loader
from advisor.probe import facts
from tests.conftest import ROOT
from tests.reports_support import assessment, probe_data

H200 = str(ROOT / "examples" / "probe-h200.json")
LLM = ("modality=text", "pretrained=hf_transformers", "task=genai_finetune")


def _write(tmp_path, data, name="p.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _measured_parts(a):
    return [p for r in a.ranking for p in r.parts if p.kind == "measurement"]


def _tta(s, iqr=0.05, runs=3, reached=True):
    return {"target": 0.95, "reached": reached, "runs": runs, "reached_runs": runs if reached else 0,
            "s": s if reached else None, "iqr_s": iqr if reached else None, "epochs": 3,
            "best_accuracy": 0.97 if reached else 0.9}


def _wl(median, tta=None, iqr=None, accuracy=0.97):
    out = {"first_epoch_s": 0.5, "accuracy": accuracy, "peak_rss_mb": 100.0,
           "samples_per_s": {"median": median, "iqr": iqr if iqr is not None else median * 0.02,
                             "n": 10}}
    if tta is not None:
        out["time_to_accuracy"] = tta
    return out


def _row(name, workloads, repeats=3, ran_on="cpu"):
    return {"name": name, "status": "ok", "version": "1", "devices": [{"kind": "cpu"}],
            "ran_on": ran_on, "repeats": repeats, "workloads": workloads, "flags": []}


def _probe(rows, gpus=(), busy=False):
    return {"schema_version": 1, "host": {"cpu_model": "x", "logical_cores": 2, "usable_cores": 2,
                                          "memory_bytes": 2**33, "os": "linux", "python": "3.11"},
            "gpus": list(gpus), "frameworks": rows,
            "run": {"busy": busy, "load_avg_before": [3.5, 2.0, 1.0], "repeat": 3},
            "workloads": {"gbdt-digits": {"target_accuracy": 0.95}}}


def _tabular_probe():
    return _probe([
        _row("sklearn", {"mlp-digits": _wl(9000, _tta(0.4)), "gbdt-digits": _wl(700, _tta(2.0))}),
        _row("pytorch", {"mlp-digits": _wl(20000, _tta(0.5)), "cnn-digits": _wl(3000)}),
        _row("jax", {"mlp-digits": _wl(60000, _tta(4.0)), "cnn-digits": _wl(3100)}),
    ])


TABULAR = ("modality=tabular", "dataset_size=medium", "training_hardware=cpu_only")


# ------------------------------------------------------------------------------ relevance
def test_an_llm_project_is_never_scored_on_a_digits_workload():
    for sets in (LLM, LLM[:2], ("modality=text", "task=genai_finetune")):
        a = assessment(H200, sets)
        assert a.measurements == [] and _measured_parts(a) == [], sets
        assert a.measurement_notes[0].startswith("No probe workload represents this project"), sets
    text = assessment(H200, ("modality=text", "pretrained=none", "task=deep_supervised"))
    assert "kernel-launch overhead" in text.measurement_notes[0]  # attn-digits, but no GPU size


def test_scikit_learn_is_judged_on_gradient_boosting_for_tabular_data(tmp_path):
    a = assessment(_write(tmp_path, _tabular_probe()), TABULAR)
    by_cand = {m.candidate: m for m in a.measurements}
    assert by_cand["sklearn"].workload == "gbdt-digits"  # not its faster MLP
    assert by_cand["pytorch"].workload == by_cand["jax"].workload == "mlp-digits"
    assert "reaches 0.95 test accuracy on gbdt-digits in 2.00 s" in by_cand["sklearn"].detail
    # compared by time to accuracy: PyTorch 0.5 s, scikit-learn 2.0 s, JAX 4.0 s
    rating = {r.candidate: p.rating for r in a.ranking for p in r.parts
              if p.kind == "measurement"}
    assert rating["pytorch"] > 0 > rating["jax"]


def test_scikit_learn_without_gradient_boosting_numbers_is_unmeasured_not_judged_on_its_mlp(
        tmp_path):
    data = _tabular_probe()
    del data["frameworks"][0]["workloads"]["gbdt-digits"]  # an older or --quick probe
    a = assessment(_write(tmp_path, data), TABULAR)
    assert not any(m.candidate == "sklearn" for m in a.measurements)
    assert any("scikit-learn (not run in this probe)" in n
               for n in a.measurement_notes), a.measurement_notes


def test_the_knowledge_base_names_one_workload_per_project_or_none():
    """Over every answer combination that decides it, at most one workload item applies."""
    import itertools

    kb = loader.load_bundled()
    q = {x.id: x.values for x in kb.questions}
    keys = ("modality", "pretrained", "task", "model_size")
    for combo in itertools.product(*[q[k] + [None] for k in keys]):
        values = {k: v for k, v in zip(keys, combo) if v is not None}
        items = facts.matching_evidence(kb, values)
        named = {(i.workloads, i.measure) for i in items if i.workloads}
        assert len(named) <= 1, (values, [i.id for i in items])


def test_speed_evidence_is_validated_at_load(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    for f in (ROOT / "rules").glob("*.yaml"):
        (folder / f.name).write_text(f.read_text())
    bad = (folder / "measured.yaml").read_text().replace(
        "workloads: [cnn-digits]", "workloads: [resnet-digits]").replace(
        "when: \"modality == 'tabular'\"", "when: \"modality == 'tables'\"")
    (folder / "measured.yaml").write_text(bad)
    kb, problems = loader.collect(folder)
    messages = [str(p) for p in problems]
    assert kb is None
    assert any("measured.yaml:" in m and "unknown workload 'resnet-digits'" in m
               and "attn-digits" in m for m in messages), messages
    assert any("speed_evidence 'speed.tabular': when:" in m for m in messages), messages


# ---------------------------------------------------------------------------------- match
def test_a_cpu_probe_does_not_move_a_gpu_projects_scores_and_says_why(tmp_path):
    data = _probe([_row("pytorch", {"cnn-digits": _wl(500)}),
                   _row("tensorflow", {"cnn-digits": _wl(5000)}),
                   _row("jax", {"cnn-digits": _wl(5200)})])
    path = _write(tmp_path, data)
    moved = assessment(path, ("training_hardware=cpu_only",))
    assert _measured_parts(moved)  # the same probe does move a CPU project's scores
    for sets, says in ((("training_hardware=nvidia_gpu",), "without a GPU"),
                       (("training_hardware=tpu",), "without a GPU")):
        a = assessment(path, sets)
        assert _measured_parts(a) == [] and a.measurements == []
        assert says in a.measurement_notes[0] and "moves no score" in a.measurement_notes[0]


def test_one_gpu_for_a_multi_gpu_project_and_another_vendor_move_nothing(tmp_path):
    nvidia = [{"vendor": "nvidia", "name": "NVIDIA H200", "memory_bytes": 1, "driver": "1"}]
    data = _probe([_row("pytorch", {"cnn-digits": _wl(500)}),
                   _row("tensorflow", {"cnn-digits": _wl(5000)})], gpus=nvidia)
    path = _write(tmp_path, data)
    multi = assessment(path, ("training_hardware=nvidia_gpu", "scale=multi_gpu"))
    assert _measured_parts(multi) == [] and "one GPU" in multi.measurement_notes[0]
    amd = assessment(path, ("training_hardware=amd_gpu",))
    assert _measured_parts(amd) == [] and "an AMD GPU" in amd.measurement_notes[0]


def test_a_busy_probe_or_a_contended_row_moves_nothing(tmp_path):
    rows = [_row("pytorch", {"cnn-digits": _wl(500)}), _row("jax", {"cnn-digits": _wl(5000)})]
    busy = assessment(_write(tmp_path, _probe(copy.deepcopy(rows), busy=True)),
                      ("training_hardware=cpu_only",))
    assert _measured_parts(busy) == [] and "busy (load 3.5" in busy.measurement_notes[0]
    rows[1]["contended"] = True
    contended = assessment(_write(tmp_path, _probe(rows), "c.json"), ("training_hardware=cpu_only",))
    assert _measured_parts(contended) == []
    assert "jax trained (contended)" in contended.measurement_notes[0]


# -------------------------------------------------------------------------------- fairness
def test_speed_is_centred_and_the_unmeasured_are_named(tmp_path):
    data = _probe([_row("pytorch", {"cnn-digits": _wl(1000)}),
                   _row("jax", {"cnn-digits": _wl(4000)}),
                   {"name": "tensorflow", "status": "missing", "workloads": {}}])
    a = assessment(_write(tmp_path, data), ("training_hardware=cpu_only",))
    rating = {r.candidate: sum(p.rating for p in r.parts if p.kind == "measurement")
              for r in a.ranking}
    assert rating["jax"] == pytest.approx(1.0) and rating["pytorch"] == pytest.approx(-1.0)
    assert rating["tensorflow"] == 0.0
    note = next(n for n in a.measurement_notes if n.startswith("Not measured"))
    assert "TensorFlow (not installed - performance not measured)" in note


def test_one_process_per_row_cannot_separate_less_than_about_2x(tmp_path):
    rows = [_row("pytorch", {"cnn-digits": _wl(1000)}, repeats=1),
            _row("jax", {"cnn-digits": _wl(1900)}, repeats=1)]
    a = assessment(_write(tmp_path, _probe(rows)), ("training_hardware=cpu_only",))
    assert _measured_parts(a) == []
    assert "too close on cnn-digits to separate" in a.measurement_notes[0]
    # the spread between fresh processes: (max - min) / median of their medians
    rows[1]["workloads"]["cnn-digits"]["processes"] = {"n": 3, "spread": 0.06}
    rows[0]["workloads"]["cnn-digits"]["processes"] = {"n": 3, "spread": 0.04}
    rows[0]["repeats"] = rows[1]["repeats"] = 3
    b = assessment(_write(tmp_path, _probe(rows), "b.json"), ("training_hardware=cpu_only",))
    assert _measured_parts(b)  # with the spread between processes measured, 1.9x separates


def test_moves_no_score_is_never_said_beside_a_measured_reason(tmp_path):
    """Whatever the probe and project: a note that says speed moved no score comes with no
    measurement part in any score, and measurement parts come with no such note."""
    probes = [H200, _write(tmp_path, _tabular_probe())] + [
        _write(tmp_path, probe_data(n), f"{n}.json") for n in ("cpu-noisy", "nvidia-tf-blind")]
    answer_sets = [(), ("training_hardware=cpu_only",), TABULAR, LLM,
                   ("modality=text", "training_hardware=cpu_only"), ("modality=graph",)]
    for probe in probes:
        for sets in answer_sets:
            a = assessment(probe, sets)
            silent = any("moves no score" in n for n in a.measurement_notes)
            moved = _measured_parts(a)
            assert not (silent and moved), (probe, sets, a.measurement_notes)
            if silent:
                cited = [r for w in a.why_not for r in w.reasons
                         if any(str(rule).startswith("measured:") for rule in r.rules)]
                assert cited == [], (probe, sets)
