"""The real scaling probe: PyTorch DDP (gloo) and JAX sharding with 1 and 2 workers, two
"nodes" on loopback through torchrun, through TF_CONFIG + MultiWorkerMirroredStrategy and
through jax.distributed, and Ctrl-C. Marked ``probe`` (about 70 s on 2 cores).

Every test runs ``python -m advisor probe --scaling`` as a user would, watches every process
under it while it runs (and every socket they listen on), and checks that none is left after.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import ROOT, cli_env, run_cli
from probe_fixtures import gone

from advisor.probe import plan
from advisor.probe.scaling import free_port

pytestmark = pytest.mark.probe


def need(*modules: str) -> None:
    missing = [m for m in modules if not plan.is_installed(m)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


class Watched:
    """A CLI process and everything seen under it, with the addresses they listened on."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "advisor", *args], cwd=ROOT,
                                     env=cli_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.seen: dict[int, float] = {}
        self.listening: set[tuple[str, int]] = set()

    def look(self) -> None:
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return
        for kid in kids:
            try:
                self.seen.setdefault(kid.pid, kid.create_time())
                for c in kid.net_connections(kind="inet"):
                    if c.status == psutil.CONN_LISTEN:
                        self.listening.add((c.laddr.ip, c.laddr.port))
            except psutil.Error:
                pass

    def wait(self, timeout: float = 120) -> tuple[int, str, str]:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.look()
            time.sleep(0.1)
        out, err = self.proc.communicate(timeout=max(1, deadline - time.monotonic()))
        return self.proc.returncode, out, err

    def assert_nothing_left(self) -> None:
        for pid, started in self.seen.items():
            try:
                alive = psutil.Process(pid).create_time() == started
            except psutil.Error:
                alive = False
            assert not alive or gone(pid), f"process {pid} left behind"

    def assert_loopback_only(self) -> None:
        for ip, port in self.listening:
            assert ipaddress.ip_address(ip).is_loopback, f"listened on {ip}:{port}"


def test_pytorch_ddp_and_jax_scale_for_real_on_loopback(tmp_path):
    need("torch", "jax")
    out = tmp_path / "probe.json"
    w = Watched("probe", "--scaling", "--scaling-only", "--frameworks", "pytorch,jax",
                "--workers", "2", "--timeout", "90", "--out", str(out))
    code, _, err = w.wait()
    assert code == 0, err
    w.assert_nothing_left()
    assert w.seen, "no worker process was seen"
    w.assert_loopback_only()
    data = json.loads(out.read_text())
    sc = data["scaling"]
    assert sc["workers"] == 2 and sc["world_size"] == 2 and sc["threads_per_worker"] == 1
    rows = {r["name"]: r for r in sc["rows"]}
    assert set(rows) == {"pytorch", "jax"}
    for name, row in rows.items():
        assert row["status"] == "ok", f"{name}: {row.get('error')} {row.get('stderr_tail', '')}"
        assert row["baseline"]["world_size"] == 1 and row["parallel"]["world_size"] == 2
        for run in (row["baseline"], row["parallel"]):
            assert run["samples_per_s"]["n"] == 3 and run["samples_per_s"]["median"] > 0
            assert run["accuracy"] > 0.5
            assert run["start_s"] > 0
        eff = row["efficiency"]
        assert 0 < eff["low"] <= eff["median"] <= eff["high"] < 2.5
        assert row["speedup"] == pytest.approx(eff["median"] * 2, rel=0.01)
    assert "gloo" in rows["pytorch"]["engine"] and "spawn" in rows["pytorch"]["engine"]
    assert "NamedSharding" in rows["jax"]["engine"]
    assert len(rows["jax"]["parallel"]["devices"]) == 2  # the forced host devices


def test_two_nodes_on_loopback_through_torchrun_and_compare(tmp_path):
    need("torch")
    port = str(free_port())
    nodes = [Watched("probe", "--scaling", "--scaling-only", "--frameworks", "pytorch",
                     "--workers", "1", "--nnodes", "2", "--node-rank", str(rank),
                     "--master-addr", "127.0.0.1", "--master-port", port, "--timeout", "90",
                     "--out", str(tmp_path / f"node{rank}.json")) for rank in (0, 1)]
    results = []
    deadline = time.monotonic() + 150
    while any(n.proc.poll() is None for n in nodes) and time.monotonic() < deadline:
        for n in nodes:
            n.look()
        time.sleep(0.1)
    for n in nodes:
        results.append(n.wait(timeout=10))
        n.assert_nothing_left()
    for code, _, err in results:
        assert code == 0, err
    for rank in (0, 1):
        sc = json.loads((tmp_path / f"node{rank}.json").read_text())["scaling"]
        assert sc["nnodes"] == 2 and sc["node_rank"] == rank and sc["world_size"] == 2
        row = sc["rows"][0]
        assert row["status"] == "ok", row.get("error")
        assert "torchrun" in row["engine"] and row["parallel"]["world_size"] == 2
        assert row["efficiency"]["median"] > 0
    cmp = run_cli("compare", str(tmp_path / "node0.json"), str(tmp_path / "node1.json"),
                  "-f", "markdown")
    assert cmp.code == 0, cmp.err
    assert "## Scaling efficiency" in cmp.out
    assert "over 2 nodes (this file: node 0)" in cmp.out
    assert "over 2 nodes (this file: node 1)" in cmp.out


def test_two_nodes_on_loopback_for_tensorflow_and_jax_and_compare(tmp_path):
    need("tensorflow", "jax")
    port = str(free_port())
    nodes = [Watched("probe", "--scaling", "--scaling-only", "--frameworks",
                     "tensorflow,jax,keras/jax", "--workers", "1", "--nnodes", "2",
                     "--node-rank", str(rank), "--master-addr", "127.0.0.1", "--master-port", port,
                     "--timeout", "90", "--out", str(tmp_path / f"node{rank}.json"))
             for rank in (0, 1)]
    deadline = time.monotonic() + 150
    while any(n.proc.poll() is None for n in nodes) and time.monotonic() < deadline:
        for n in nodes:
            n.look()
        time.sleep(0.1)
    results = [n.wait(timeout=10) for n in nodes]
    for n in nodes:
        n.assert_nothing_left()
        assert n.seen, "no worker process was seen"
    for code, _, err in results:
        assert code == 0, err
    for rank in (0, 1):
        sc = json.loads((tmp_path / f"node{rank}.json").read_text())["scaling"]
        assert sc["nnodes"] == 2 and sc["node_rank"] == rank and sc["world_size"] == 2
        rows = {r["name"]: r for r in sc["rows"]}
        assert rows["keras/jax"]["status"] == "unavailable"
        for name in ("tensorflow", "jax"):
            row = rows[name]
            assert row["status"] == "ok", f"{name}: {row.get('error')} {row.get('stderr_tail', '')}"
            assert row["baseline"]["world_size"] == 1 and row["parallel"]["world_size"] == 2
            assert row["parallel"]["nnodes"] == 2
            for run in (row["baseline"], row["parallel"]):
                assert run["samples_per_s"]["n"] == 3 and run["samples_per_s"]["median"] > 0
                assert run["accuracy"] > 0.5
            eff = row["efficiency"]
            assert 0 < eff["low"] <= eff["median"] <= eff["high"] < 2.5
        assert "MultiWorkerMirroredStrategy" in rows["tensorflow"]["engine"]
        assert "jax.distributed over 2 processes" in rows["jax"]["engine"]
        assert len(rows["jax"]["parallel"]["devices"]) == 2  # one per process, global mesh
    cmp = run_cli("compare", str(tmp_path / "node0.json"), str(tmp_path / "node1.json"),
                  "-f", "markdown")
    assert cmp.code == 0, cmp.err
    assert "## Scaling efficiency" in cmp.out
    assert "over 2 nodes (this file: node 1)" in cmp.out


def test_ctrl_c_during_the_scaling_probe_leaves_no_process(tmp_path):
    need("torch")
    w = Watched("probe", "--scaling", "--scaling-only", "--frameworks", "pytorch",
                "--workers", "2", "--out", str(tmp_path / "p.json"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the DDP workers exist
        w.look()
        if len(w.seen) >= 3:  # launcher + its 2 spawned workers (baseline: launcher + 1)
            break
        time.sleep(0.1)
    time.sleep(0.5)
    w.look()
    w.proc.send_signal(signal.SIGINT)
    code, _, err = w.wait(timeout=30)
    assert code == 130, err
    assert "Traceback" not in err
    w.assert_nothing_left()
    assert not (tmp_path / "p.json").exists()
