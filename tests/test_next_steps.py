"""Next steps for the winner: the data is checked, applies to the answers and the machine, is in
every report, and its starter snippets really train (with the frameworks installed here)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from advisor.decision import next_steps
from advisor.infra.errors import SchemaError
from advisor.service import recommend as core
from tests.conftest import ROOT, cli_env, run_cli


def _assess(*sets: str, probe: str | None = None, answers: str | None = None):
    return core.recommend(rules=None, answers_file=answers, sets=list(sets), probe_file=probe,
                          use_defaults=True).assessment


def test_every_candidate_has_install_and_starter_with_sources(kb):
    data = next_steps.load()
    assert set(data["candidates"]) == set(kb.candidate_ids)
    for cid, entry in data["candidates"].items():
        assert "default" in entry["install"] and entry["starter"].strip(), cid
        for part in ("install", "deploy"):
            for key, item in (entry.get(part) or {}).items():
                assert item["sources"], (cid, part, key)


def test_install_follows_the_training_hardware_and_deploy_the_targets():
    a = _assess(answers="examples/image-classifier.yaml", probe="examples/probe-h200.json")
    gpu = next_steps.for_winner(a)
    assert gpu is not None and gpu.candidate == a.winner
    assert gpu.install.hardware == "nvidia_gpu" and "whl/cpu" not in gpu.install.command
    assert "cpu" not in gpu.install.command
    cpu = next_steps.for_winner(_assess("os=linux", "training_hardware=cpu_only",
                                        "deploy_targets=server,browser,mobile_ios"))
    assert cpu.install.hardware == "cpu_only" and "whl/cpu" in cpu.install.command
    assert [d.target for d in cpu.deploy] == ["server", "browser", "mobile_ios"]
    assert all(d.sources for d in cpu.deploy)


def test_a_broken_next_steps_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "next_steps.yaml"
    bad.write_text("schema_version: 1\nsources: {}\ncandidates:\n  pytorch:\n"
                   "    install: {default: {command: pip install torch, sources: [nowhere]}}\n"
                   "    starter: x\n")
    with pytest.raises(SchemaError) as info:
        next_steps.load.__wrapped__(str(bad))
    assert "sources must name ids" in str(info.value) and f"{bad}:5" in str(info.value)


def test_next_steps_in_the_table_json_and_run_folder(tmp_path):
    table = run_cli("recommend", "--defaults", "--set", "modality=tabular", "--set", "dataset_size=small")
    assert table.code == 0, table.err
    assert "Next steps with scikit-learn" in table.out and "pip install scikit-learn" in table.out
    data = json.loads(run_cli("recommend", "--defaults", "--format", "json").out)
    assert data["next_steps"]["candidate"] == data["winner"]
    assert data["next_steps"]["install"]["command"].startswith("pip install")
    folder = tmp_path / "r"
    res = run_cli("run", "--no-probe", "--defaults", "--out", str(folder))
    assert res.code == 0, res.err
    saved = json.loads((folder / "recommendation.json").read_text())
    assert saved["next_steps"]["candidate"] == saved["winner"]
    name = {"pytorch": "PyTorch", "keras": "Keras 3"}.get(saved["winner"], "")
    md = (folder / "report.md").read_text()
    assert f"## Next steps with {name}" in md and "~~~~python" in md
    html = (folder / "report.html").read_text()
    assert '<section id="next-steps">' in html and f"Next steps with {name}" in html


STARTER_DATA = {
    "pytorch": """
        import torch
        g = torch.Generator().manual_seed(0)
        xs, ys = torch.randn(64, 64, generator=g), torch.randint(0, 10, (64,), generator=g)
        loader = [(xs[i:i + 32], ys[i:i + 32]) for i in (0, 32)]
    """,
    "keras": """
        import numpy as np
        x_train = np.random.default_rng(0).normal(size=(64, 64)).astype("float32")
        y_train = np.arange(64) % 10
    """,
    "tensorflow": "",
    "jax": "",
    "sklearn": """
        from sklearn.datasets import load_iris
        X, y = load_iris(return_X_y=True)
    """,
}
CHECK = {  # after the starter ran: something that proves it built (and trained) a model
    "tensorflow": "import numpy as np; print(float(step(np.zeros((4, 64), 'float32'), np.zeros(4, 'int64'))))",
    "jax": "import jax.numpy as jnp; print(float(step(model, opt, jnp.zeros((4, 64)), jnp.zeros(4, 'int32'))))",
}
MODULES = {"pytorch": "torch", "keras": "keras", "tensorflow": "tensorflow", "jax": "flax",
           "sklearn": "sklearn"}


@pytest.mark.probe
@pytest.mark.parametrize("candidate", sorted(STARTER_DATA))
def test_starter_snippets_run(candidate):
    if importlib.util.find_spec(MODULES[candidate]) is None:
        pytest.skip(f"{MODULES[candidate]} is not installed here")
    starter = next_steps.load()["candidates"][candidate]["starter"]
    code = textwrap.dedent(STARTER_DATA[candidate]) + starter + "\n" + CHECK.get(candidate, "")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=cli_env(OMP_NUM_THREADS="1",
                                      **({"KERAS_BACKEND": "torch"} if candidate == "keras" else {})), cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
