"""Helpers for the probe tests: fake probe children and a process-leak check."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PROBES = ROOT / "probes"
# A copied harness (fake_probes_dir) is away from advisor/: it finds the protocol as a child of
# `advisor probe` does, through the environment.
os.environ.setdefault("ADVISOR_PROBE_PROTOCOL", str(ROOT / "advisor" / "probe" / "protocol.py"))


def write_script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def ok_payload(name: str, *, rates=(1000.0, 1010.0, 990.0, 1005.0, 995.0), accuracy=0.95,
               cnn: bool = True) -> dict:
    def workload(extra: dict) -> dict:
        return {"first_epoch_s": 0.5, "accuracy": accuracy, "peak_rss_mb": 100.0,
                "rss_scope": "workload", "peak_gpu_mb": None, "epochs": {"warmup": 1, "timed": 5},
                "batch_size": 32, "wall_s": 1.0,
                "samples_per_s": {"median": sorted(rates)[len(rates) // 2], "iqr": 1.0,
                                  "n": len(rates), "values": list(rates)}, **extra}

    workloads = {"mlp-digits": workload({"train_flops_per_sample": 102_144})}
    if cnn:
        workloads["cnn-digits"] = workload({"peak_gflops": 100.0, "peak_source": "fake",
                                            "train_flops_per_sample": 7_982_592})
    return {"name": name, "status": "ok", "version": "1.0", "import_s": 0.1,
            "devices": [{"kind": "cpu", "name": "cpu"}], "ran_on": "cpu", "threads": 1,
            "seed": 0, "workloads": workloads}


def fake_probes_dir(folder: Path, bodies: dict[str, str]) -> Path:
    """A probes folder: the real harness plus the given scripts (file name -> source)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROBES / "harness.py", folder / "harness.py")
    for name, body in bodies.items():
        write_script(folder, name, body)
    return folder


def printing_script(payload: dict) -> str:
    return f"import json\nprint({json.dumps(json.dumps(payload))})\n"


def gone(pid: int, wait_s: float = 3.0) -> bool:
    """True when ``pid`` no longer runs (exited, or a zombie about to be reaped)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def read_pids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(x) for x in path.read_text().split()]


PY = sys.executable
ENV = dict(os.environ)
