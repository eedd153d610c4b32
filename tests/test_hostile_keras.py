"""The probe controls and records the Keras configuration it measures (issue 15, item 12): a
user's keras.json with floatx float16 does not change the Keras rows, and a FIFO keras.json
never hangs the probe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from advisor.probe import catalog, kerasconf
from tests.conftest import ROOT, cli_env


def test_keras_children_get_a_private_float32_config(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "keras.json").write_text(json.dumps({"floatx": "float16", "backend": "torch",
                                                      "image_data_format": "channels_first"}))
    env = catalog.child_env(catalog.ROWS["keras/jax"], 1)
    assert env["KERAS_HOME"] != str(tmp_path)
    config = json.loads(open(os.path.join(env["KERAS_HOME"], "keras.json")).read())
    assert config == {**kerasconf.MEASURED, "backend": "jax"}
    assert "KERAS_HOME" not in catalog.child_env(catalog.ROWS["pytorch"], 1) or \
        catalog.child_env(catalog.ROWS["pytorch"], 1)["KERAS_HOME"] == str(tmp_path)
    record = kerasconf.record()
    assert record["measured"]["floatx"] == "float32"
    assert record["user_settings_not_used"] == {"floatx": "float16",
                                                "image_data_format": "channels_first"}


def test_a_fifo_keras_json_never_blocks(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    os.mkfifo(tmp_path / "keras.json")
    start = time.perf_counter()
    assert kerasconf.read_user_config() is None
    from advisor.probe.plan import keras_backend_setting

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert keras_backend_setting() == ("tensorflow", "Keras' default")
    assert time.perf_counter() - start < 2


@pytest.mark.probe
def test_float16_keras_json_does_not_change_what_is_measured(tmp_path):
    home = tmp_path / "keras"
    home.mkdir()
    (home / "keras.json").write_text(json.dumps({"floatx": "float16", "backend": "jax"}))
    out = tmp_path / "probe.json"
    proc = subprocess.run([sys.executable, "-m", "advisor", "probe", "--quick", "--frameworks",
                           "keras/jax", "--out", str(out)], capture_output=True, text=True,
                          env=cli_env(KERAS_HOME=str(home)), cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    row = data["frameworks"][0]
    assert row["status"] == "ok", row
    assert row["keras_config"]["floatx"] == "float32"
    assert data["run"]["keras_config"]["user_settings_not_used"] == {"floatx": "float16"}
    assert row["workloads"]["mlp-digits"]["accuracy"] > 0.9


@pytest.mark.probe
def test_fifo_keras_json_does_not_hang_probe_quick(tmp_path):
    home = tmp_path / "keras"
    home.mkdir()
    os.mkfifo(home / "keras.json")
    proc = subprocess.run([sys.executable, "-m", "advisor", "probe", "--quick", "--frameworks",
                           "keras/jax", "--out", str(tmp_path / "p.json")], capture_output=True,
                          text=True, env=cli_env(KERAS_HOME=str(home)), cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
