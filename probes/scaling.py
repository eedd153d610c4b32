"""Shared harness of the scaling probe's workers (standard library + numpy only).

``advisor probe --scaling`` measures data-parallel training of ``cnn-digits`` with 1 worker and
with N workers, each run in a fresh process group started by the parent, on each framework's OWN
distributed engine (scale_<framework>.py). This module holds what every scaling script shares:

- arguments: ``--workers N`` (workers on this node), ``--epochs``, ``--seed``, ``--data-cache``,
  ``--t0`` (the parent's ``time.time()`` just before it spawned the group: the group's start time
  is measured from it), ``--nnodes`` (how many nodes the group spans), and for engines that start
  their multi-host group themselves (JAX: ``jax.distributed.initialize``) ``--node-rank``,
  ``--master-addr`` and ``--master-port`` (TensorFlow reads its group from ``TF_CONFIG``, which
  the parent builds from the same options);
- the convention of data parallelism used everywhere: weak scaling, the per-worker batch is the
  workload's batch (128), so the global batch is 128 x world size; one epoch is one pass over the
  80 % training split, sharded across the workers (each sees 1/N of it per epoch);
- the result: ONE JSON object on the original stdout (framework chatter goes to stderr), printed
  by the process that is "rank 0 of this node"; the parent computes efficiency from two results.

Time to start the group (``start_s``) = from the parent's spawn to the moment every worker has
joined the group (rendezvous / strategy / mesh ready): process start + framework import +
initialisation. ``init_s`` is the initialisation alone (after the import).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

WORKLOAD = "cnn-digits"
BATCH_PER_WORKER = harness.BATCH[WORKLOAD]


@dataclass
class ScaleConfig:
    workers: int = 1
    epochs: int = 3
    seed: int = 0
    data_cache: str | None = None
    t0: float | None = None
    nnodes: int = 1
    device: str = "auto"
    no_baseline: bool = False
    launcher: str = "torchrun"  # PyTorch only: torchrun | spawn (torch.multiprocessing)
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int | None = None


def parse_args(argv: list[str] | None = None) -> ScaleConfig:
    parser = argparse.ArgumentParser(description="advisor scaling probe worker")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-cache", default=None)
    parser.add_argument("--t0", type=float, default=None)
    parser.add_argument("--nnodes", type=int, default=1)
    parser.add_argument("--device", choices=("auto", "cpu"), default="auto")
    parser.add_argument("--no-baseline", action="store_true",
                        help="single-process engines: measure only the N-device group")
    parser.add_argument("--launcher", choices=("torchrun", "spawn"), default="torchrun",
                        help="PyTorch: started by torchrun, or start the workers here with "
                             "torch.multiprocessing (rendezvous store bound to 127.0.0.1)")
    parser.add_argument("--node-rank", type=int, default=0)
    parser.add_argument("--master-addr", default="127.0.0.1")
    parser.add_argument("--master-port", type=int, default=None)
    ns = parser.parse_args(argv)
    if ns.workers < 1 or ns.epochs < 1 or ns.nnodes < 1:
        parser.error("workers, epochs and nnodes must be >= 1")
    if not 0 <= ns.node_rank < ns.nnodes:
        parser.error("--node-rank must be in 0..nnodes-1")
    return ScaleConfig(ns.workers, ns.epochs, ns.seed, ns.data_cache, ns.t0, ns.nnodes, ns.device,
                       ns.no_baseline, ns.launcher, ns.node_rank, ns.master_addr, ns.master_port)


def die_with_parent() -> None:
    """Linux: SIGKILL this process when the process that started it dies (belt and braces: the
    launcher puts workers in sessions of their own, out of reach of a process-group kill)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def epoch_indices(seed: int, epoch: int, n: int, world: int) -> Any:
    """The global sample order of one epoch, padded by wrapping around to a whole number of
    global batches (128 x world): every step of every worker has the same shape (no partial last
    batch, so no recompilation in XLA/TF), and 1 and N workers process a comparable epoch."""
    import numpy as np

    order = harness.epoch_order(seed, epoch, n)
    step = BATCH_PER_WORKER * world
    total = -(-n // step) * step
    reps = -(-total // n)
    return np.concatenate([order] * reps)[:total]


def shard(order: Any, rank: int, world: int) -> Any:
    """Rank's part of a padded epoch order (every world-th index, like DistributedSampler)."""
    return order[rank::world]


def start_seconds(config: ScaleConfig, plus: float = 0.0) -> float | None:
    """Seconds from the parent's spawn (``--t0``, wall clock) to now, plus ``plus`` (a group's
    own initialisation when it is built later in the same process); None without --t0."""
    if config.t0 is None:
        return None
    return round(max(0.0, time.time() - config.t0) + plus, 4)


def result(name: str, config: ScaleConfig, *, world: int, engine: str, version: str,
           devices: list[dict[str, Any]], import_s: float, init_s: float,
           start_s: float | None, times: harness.EpochTimes, samples_per_epoch: int,
           accuracy: float | None, ran_on: str, extra: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    rates = [samples_per_epoch / t for t in times.timed_s if t > 0]
    out: dict[str, Any] = {
        "name": name,
        "status": "ok",
        "engine": engine,
        "version": version,
        "devices": devices,
        "ran_on": ran_on,
        "workers": world // config.nnodes,
        "nnodes": config.nnodes,
        "world_size": world,
        "threads_per_worker": 1,
        "batch_per_worker": BATCH_PER_WORKER,
        "global_batch": BATCH_PER_WORKER * world,
        "import_s": round(import_s, 4),
        "init_s": round(init_s, 4),
        "start_s": start_s,
        "first_epoch_s": round(times.first_s, 4),
        "epochs": {"warmup": 1, "timed": len(times.timed_s)},
        "epoch_s": [round(t, 5) for t in times.timed_s],
        "samples_per_epoch": samples_per_epoch,
        "samples_per_s": harness.quantiles(rates),
        "accuracy": round(float(accuracy), 4) if accuracy is not None else None,
    }
    out.update(extra or {})
    return out


def report(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A child's one JSON object: the group size runs it measured (each made by :func:`result`)."""
    return {"name": name, "status": "ok", "runs": runs}


def worlds(config: ScaleConfig) -> list[int]:
    """Group sizes a single-process engine measures in its one process: the 1-device baseline
    first (unless --no-baseline), then N. Their devices exist from the start (forced host devices,
    logical CPUs), so the baseline runs with the same thread settings as the N-device group."""
    sizes = [] if config.no_baseline else [1]
    if config.workers not in sizes:
        sizes.append(config.workers)
    return sizes


def run(name: str, body: Any, argv: list[str] | None = None) -> None:
    """Run ``body(config) -> dict | None`` and exit; a dict is this node's one JSON result
    (None: this process is not the reporting one). Every failure becomes status "broken"."""
    import traceback

    harness.capture_stdout()
    die_with_parent()
    config = parse_args(argv)
    os.environ.update(harness.thread_env(1))
    code = 0
    try:
        out = body(config)
    except BaseException as exc:  # noqa: BLE001 - reported as a status
        traceback.print_exc(file=sys.stderr)
        out = {"name": name, "status": "broken", "error": harness.error_line(exc),
               "workers": config.workers}
        code = 1
    if out is not None:
        harness.emit(out)
    harness.exit_now(code)
