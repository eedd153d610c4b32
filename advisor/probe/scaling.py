"""The scaling probe (``advisor probe --scaling``): data-parallel cnn-digits with 1 and N workers.

Each framework row runs on the framework's OWN distributed engine, in fresh process groups
started through :func:`advisor.probe.runner.run_child` (argument lists, own session, whole tree
killed on timeout / Ctrl-C / exit, status instead of exceptions):

- ``pytorch``: DDP, gloo on the CPU, NCCL on NVIDIA GPUs. Two groups: 1 worker (the baseline),
  then N workers per node. One node: torch.multiprocessing (spawn) workers around a rendezvous
  store served on a socket bound to 127.0.0.1 (gloo bound to the loopback interface): nothing
  listens beyond loopback. Several nodes: torchrun (``python -m torch.distributed.run``) with
  ``--nnodes/--node-rank/--master-addr/--master-port`` passed through as they are (torchrun's
  store on node 0 listens on every interface: TCPStore has no bind address).
- Several nodes, ``tensorflow`` and ``jax``: the baseline is a 1-device process on this node, then
  one process per node joins the group through the framework's own multi-host start:
  ``TF_CONFIG`` (built here: :func:`tf_config`) + MultiWorkerMirroredStrategy, or
  ``jax.distributed.initialize`` with the coordinator at ``--master-addr:--master-port``.
  ``keras/jax`` stays single-node (see its ``multi_node_unavailable`` in probe/catalog.py).
- ``tensorflow``: tf.distribute.MirroredStrategy over N logical CPU devices (or the GPUs);
  ``jax``: jit with a NamedSharding over N host devices forced with
  ``--xla_force_host_platform_device_count=N`` (or the GPUs); ``keras/jax``:
  keras.distribution.DataParallel over the same devices. These engines live in one process:
  one fresh process measures the 1-device baseline, then the N-device group (same devices and
  thread settings for both).
- ``keras/tensorflow`` and ``keras/torch``: status ``unavailable`` (keras.distribution exists for
  the JAX backend only; those backends defer to tf.distribute and PyTorch DDP, measured above).

Each worker has one thread. Efficiency = throughput_N / (N x throughput_1), N = world size; its
interval comes from the quartiles of both runs' epoch throughputs (low = Q1_N / (N Q3_1), high =
Q3_N / (N Q1_1)). Knows nothing of the terminal; the parent never imports a framework.
"""

from __future__ import annotations

import ipaddress
import math
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.infra.errors import BadInput
from advisor.probe import catalog, policy, protocol
from advisor.probe.catalog import Row
from advisor.probe.model import ScalingRow, parse
from advisor.probe.runner import ChildResult, run_child

SCALING_ROWS = catalog.SCALING_ROWS
RUN_ORDER = catalog.SCALING_RUN_ORDER
DEFAULT_EPOCHS = 3  # timed epochs after the warm-up (Keras: two warm-up epochs)
STATUSES = ("ok", "missing", "broken", "timeout", "unavailable")


@dataclass
class ScalingOptions:
    frameworks: tuple[str, ...] = SCALING_ROWS
    workers: int | None = None  # per node; default: GPUs, else usable cores
    epochs: int = DEFAULT_EPOCHS
    timeout_s: float = 120.0
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int | None = None  # default: a free loopback port (single node only)

    def validate(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise BadInput("--workers must be at least 1")
        if self.epochs < 1:
            raise BadInput("scaling epochs must be at least 1")
        if self.nnodes < 1 or not 0 <= self.node_rank < self.nnodes:
            raise BadInput(f"--node-rank must be in 0..{self.nnodes - 1} for --nnodes "
                           f"{self.nnodes}")
        if self.nnodes > 1 and self.master_port is None:
            raise BadInput("--nnodes > 1 needs --master-port (the same on every node)")
        if self.master_port is not None and not 1 <= self.master_port <= 65535 - (self.nnodes - 1):
            raise BadInput(f"--master-port must be in 1..{65535 - (self.nnodes - 1)} (TensorFlow's "
                           "workers listen on --master-port + node rank)")
        if not self.master_addr or any(c.isspace() for c in self.master_addr):
            raise BadInput("--master-addr must be a host name or an IP address")
        if self.nnodes == 1 and not (is_loopback(self.master_addr)
                                     or self.master_addr == "localhost"):
            # on one node nothing listens beyond loopback; an address of the LAN would make
            # gloo listen on that interface
            raise BadInput(f"--master-addr {self.master_addr} is for --nnodes > 1; on one node "
                           "the workers meet on 127.0.0.1 only")
        if not math.isfinite(self.timeout_s) or self.timeout_s <= 0:
            raise BadInput(f"--timeout must be a positive number of seconds, not {self.timeout_s}")


@dataclass
class ScalingEvent:
    kind: str  # "start" | "done"
    name: str
    index: int
    total: int
    row: ScalingRow | None = None  # the finished row, typed


def default_workers(host: dict[str, Any], gpus: list[dict[str, Any]]) -> int:
    return len(gpus) if gpus else int(host.get("usable_cores") or 1)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on the loopback interface now (the launcher binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def is_loopback(addr: str) -> bool:
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_interface() -> str | None:
    """The name of the interface that holds 127.0.0.1 (``lo`` on Linux, ``lo0`` on macOS)."""
    try:
        import psutil

        for name, addrs in psutil.net_if_addrs().items():
            if any(getattr(a, "address", None) == "127.0.0.1" for a in addrs):
                return name
    except Exception:  # no psutil data: let gloo choose
        return None
    return None


def child_env(row: Row, workers: int, master_addr: str,
              base: dict[str, str] | None = None) -> dict[str, str]:
    """One thread per worker; forced host devices for XLA; gloo on loopback where it can be."""
    base = dict(os.environ if base is None else base)
    base.pop("TF_CONFIG", None)  # a multi-node TensorFlow group gets its own, built from options
    flags = [f for f in base.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    if not any("xla_cpu_multi_thread_eigen" in f for f in flags):
        flags.append("--xla_cpu_multi_thread_eigen=false")
    flags.append(f"--xla_force_host_platform_device_count={workers}")
    env = catalog.child_env(row, 1, base, xla_flags=" ".join(flags))
    assert row.scaling is not None
    if row.scaling.launcher == "torchrun" and is_loopback(master_addr):
        iface = loopback_interface()
        if iface:
            env["GLOO_SOCKET_IFNAME"] = iface
    return env


def torchrun_args(python: str, script: Path, *, nnodes: int, node_rank: int, nproc: int,
                  master_addr: str, master_port: int) -> list[str]:
    return [python, "-m", "torch.distributed.run", "--nnodes", str(nnodes),
            "--node-rank", str(node_rank), "--nproc-per-node", str(nproc),
            "--master-addr", master_addr, "--master-port", str(master_port),
            "--monitor-interval", "0.1", str(script)]


def tf_config(*, nnodes: int, node_rank: int, master_addr: str, master_port: int) -> str:
    """TF_CONFIG of one MultiWorkerMirroredStrategy task per node: worker i at master_addr:port+i
    (all nodes behind one address: one host, or the loopback test), this node's index = its rank."""
    import json

    host = f"[{master_addr}]" if ":" in master_addr and not master_addr.startswith("[") \
        else master_addr
    return json.dumps({"cluster": {"worker": [f"{host}:{master_port + i}" for i in range(nnodes)]},
                       "task": {"type": "worker", "index": node_rank}})


def multi_node_args(options: ScalingOptions) -> list[str]:
    """The group options a self-starting multi-host engine (JAX) takes on its command line."""
    return ["--node-rank", str(options.node_rank), "--master-addr", options.master_addr,
            "--master-port", str(options.master_port), "--no-baseline"]


RunChild = Callable[..., ChildResult]


def run_scaling(options: ScalingOptions, *, host: dict[str, Any], gpus: list[dict[str, Any]],
                folder: Path, python: str,
                is_installed: Callable[[str], bool],
                progress: Callable[[ScalingEvent], None] | None = None,
                runner: RunChild = run_child) -> dict[str, Any]:
    """Every selected scaling row; returns the probe JSON's ``scaling`` object."""
    options.validate()
    notify = progress or (lambda event: None)
    started = time.perf_counter()
    workers = options.workers or default_workers(host, gpus)
    order = [n for n in RUN_ORDER if n in options.frameworks]
    rows: dict[str, dict[str, Any]] = {}
    cache = tempfile.mkdtemp(prefix="advisor-scaling-")
    try:
        for index, name in enumerate(order, start=1):
            spec = catalog.ROWS[name]
            notify(ScalingEvent("start", name, index, len(order)))
            row = scale_row(spec, options, workers, folder=folder,
                            python=python, cache=cache, is_installed=is_installed, runner=runner,
                            gpus=len(gpus))
            rows[name] = row
            notify(ScalingEvent("done", name, index, len(order), row=parse(ScalingRow, row)))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return {
        "workload": "cnn-digits",
        "workers": workers,
        "nnodes": options.nnodes,
        "node_rank": options.node_rank,
        "world_size": workers * options.nnodes,
        "master_addr": options.master_addr if options.nnodes > 1 else "127.0.0.1",
        "threads_per_worker": 1,
        "batch_per_worker": protocol.BATCH["cnn-digits"],
        "epochs": {"warmup": 1, "timed": options.epochs},
        "noise_limit": policy.NOISE_LIMIT,
        "efficiency_definition": "throughput_N / (N x throughput_1), N = world size; interval "
                                 "[Q1_N / (N Q3_1), Q3_N / (N Q1_1)] from epoch throughputs",
        "wall_s": round(time.perf_counter() - started, 2),
        "rows": [rows[n] for n in SCALING_ROWS if n in rows],
    }


def _base_row(spec: Row, status: str, workers: int, nnodes: int) -> dict[str, Any]:
    assert spec.scaling is not None
    return {"name": spec.name, "status": status, "engine": spec.scaling.engine, "version": None,
            "workers": workers, "nnodes": nnodes, "world_size": workers * nnodes,
            "baseline": None, "parallel": None, "efficiency": None, "speedup": None,
            "start_s": None, "wall_s": 0.0, "flags": []}


def scale_row(spec: Row, options: ScalingOptions, workers: int, *,
              folder: Path, python: str, cache: str, is_installed: Callable[[str], bool],
              runner: RunChild = run_child, gpus: int = 0) -> dict[str, Any]:
    row = _base_row(spec, "ok", workers, options.nnodes)
    support = spec.scaling
    assert support is not None
    if support.unavailable:
        row.update(status="unavailable", error=support.unavailable)
        return row
    missing = [m for m in spec.modules if not is_installed(m)]
    if missing:
        row.update(status="missing", error=f"not installed: {', '.join(missing)}",
                   install_hint=spec.install_hint)
        return row
    if options.nnodes > 1 and not support.multi_node:
        row.update(status="unavailable", error=support.multi_node_unavailable or (
            f"{spec.name} has no multi-node start wired in the probe"))
        return row
    if options.nnodes > 1 and spec.name == "tensorflow" and workers > 1 and not gpus:
        row.update(status="unavailable",
                   error="MultiWorkerMirroredStrategy uses one CPU device per worker task (CPU:0): "
                         "multi-node TensorFlow on the CPU runs one worker per node "
                         "(pass --workers 1)")
        return row
    if workers * options.nnodes < 2:
        row.update(status="unavailable",
                   error="one worker in all: nothing to scale to (pass --workers 2 or more)")
        return row
    script = folder / support.script
    if not script.is_file():
        row.update(status="broken", error=f"probe script not found: {support.script}")
        return row
    common = ["--epochs", str(options.epochs), "--seed", "0", "--data-cache", cache,
              "--nnodes", str(options.nnodes)]
    env = child_env(spec, workers, options.master_addr)
    results: list[tuple[str, ChildResult]] = []
    plan: list[tuple[str, list[str], list[str], dict[str, str]]] = []
    if support.launcher == "torchrun":
        # Baseline: one worker started by torch.multiprocessing with its store on 127.0.0.1.
        # N workers: the same on one node; torchrun with the pass-through options across nodes.
        base_env = child_env(spec, 1, "127.0.0.1")
        spawn = [python, str(script), "--launcher", "spawn"]
        if options.nnodes > 1:
            group = torchrun_args(python, script, nnodes=options.nnodes,
                                  node_rank=options.node_rank, nproc=workers,
                                  master_addr=options.master_addr,
                                  master_port=int(options.master_port or 0))
        else:
            group = spawn
        plan = [("baseline", spawn, ["--workers", "1", "--nnodes", "1"], base_env),
                ("parallel", group, ["--workers", str(workers)], env)]
    elif options.nnodes > 1:
        # Baseline: a 1-device process on this node; then this node's process of the group,
        # started by the framework's own multi-host machinery (TF_CONFIG / jax.distributed).
        base_env = child_env(spec, 1, "127.0.0.1")
        if spec.name == "tensorflow":
            env["TF_CONFIG"] = tf_config(nnodes=options.nnodes, node_rank=options.node_rank,
                                         master_addr=options.master_addr,
                                         master_port=int(options.master_port or 0))
        script_args = [python, str(script)]
        plan = [("baseline", script_args, ["--workers", "1", "--nnodes", "1"], base_env),
                ("parallel", script_args, ["--workers", str(workers), *multi_node_args(options)],
                 env)]
    if plan:
        for label, launch, extra, child_env_ in plan:
            args = launch + common + extra + ["--t0", repr(time.time())]
            results.append((label, runner(args, env=child_env_, timeout=options.timeout_s)))
            if results[-1][1].status != "ok":
                break
    else:
        args = [python, str(script), *common, "--workers", str(workers), "--t0", repr(time.time())]
        results.append(("both", runner(args, env=env, timeout=options.timeout_s)))
    return pool_scaling(row, results, workers * options.nnodes)


def _run_view(run: dict[str, Any]) -> dict[str, Any]:
    keep = ("world_size", "workers", "nnodes", "engine", "start_s", "import_s", "init_s",
            "first_epoch_s", "epoch_s", "epochs", "samples_per_epoch", "samples_per_s",
            "accuracy", "global_batch", "devices", "backend")
    out = {k: run[k] for k in keep if k in run}
    sps = out.get("samples_per_s")
    if isinstance(sps, dict):
        out["samples_per_s"] = {k: _round(sps.get(k)) if k != "n" else sps.get(k)
                                for k in ("median", "iqr", "n")}
        out["samples_per_s"]["values"] = [_round(v) for v in sps.get("values", [])]
    return out


def pool_scaling(row: dict[str, Any], results: list[tuple[str, ChildResult]],
                 world: int) -> dict[str, Any]:
    """A scaling row from its children's results: the two runs, efficiency, flags, status."""
    row["wall_s"] = round(sum(r.wall_s for _, r in results), 3)
    runs: list[dict[str, Any]] = []
    for label, result in results:
        payload = result.payload or {}
        runs.extend(r for r in payload.get("runs", []) if isinstance(r, dict))
        if result.status != "ok":
            what = {"baseline": "1-worker group", "parallel": f"{world}-worker group"}.get(
                label, "scaling run")
            row.update(status=result.status if result.status in STATUSES else "broken",
                       error=f"{what}: {result.error or result.status}")
            if result.stderr_tail and result.status in ("broken", "timeout"):
                row["stderr_tail"] = result.stderr_tail[-2000:]
    baseline = next((r for r in runs if r.get("world_size") == 1), None)
    parallel = next((r for r in runs if r.get("world_size") == world), None)
    first = parallel or baseline or {}
    row["version"] = first.get("version")
    row["engine"] = first.get("engine") or row["engine"]
    row["ran_on"] = first.get("ran_on")
    row["baseline"] = _run_view(baseline) if baseline else None
    row["parallel"] = _run_view(parallel) if parallel else None
    if row["status"] == "ok" and (baseline is None or parallel is None):
        row.update(status="broken", error=f"the probe reported no {'1' if baseline is None else world}"
                                          "-worker run")
    if parallel:
        row["start_s"] = parallel.get("start_s")
    if row["status"] != "ok" or baseline is None or parallel is None:
        return row  # (an ok row has both runs: checked above)
    eff = efficiency(baseline["samples_per_s"].get("values", []),
                     parallel["samples_per_s"].get("values", []), world)
    row["efficiency"] = eff
    b, p = baseline["samples_per_s"].get("median"), parallel["samples_per_s"].get("median")
    row["speedup"] = round(p / b, 4) if b and p else None
    for label, run in (("baseline", baseline), ("parallel", parallel)):
        sps = run.get("samples_per_s") or {}
        if policy.is_noisy(sps.get("median"), sps.get("iqr")):
            row["flags"].append(f"noisy:{label}")
        acc = run.get("accuracy")
        if isinstance(acc, (int, float)) and not policy.learned("cnn-digits", acc):
            row["flags"].append(f"not-learned:{label}")
    return row


def quartiles(values: list[float]) -> tuple[float, float, float] | None:
    """Q1, median, Q3 of the positive throughputs (protocol.quartiles)."""
    return protocol.quartiles([float(v) for v in values
                               if isinstance(v, (int, float)) and v > 0])


def efficiency(one: list[float], many: list[float], world: int) -> dict[str, Any] | None:
    """Scaling efficiency from the epoch throughputs of the 1-worker and the N-worker runs.

    ``median`` = median_N / (N median_1); ``low``/``high`` = the interval the quartiles allow
    (slowest plausible N run over the fastest plausible baseline, and the reverse)."""
    a, b = quartiles(one), quartiles(many)
    if a is None or b is None or world < 1:
        return None
    (a1, a2, a3), (b1, b2, b3) = a, b
    return {
        "median": round(b2 / (world * a2), 4),
        "low": round(b1 / (world * a3), 4),
        "high": round(b3 / (world * a1), 4),
        "n": min(len(one), len(many)),
        "world_size": world,
    }


def _round(value: Any, digits: int = 3) -> Any:
    return round(value, digits) if isinstance(value, float) else value
