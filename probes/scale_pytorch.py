"""Scaling probe for PyTorch: DistributedDataParallel, launched the two ways users launch it.

- One machine (``--launcher spawn``, the default of ``advisor probe --scaling``): this process is
  the launcher: it binds a listening socket to 127.0.0.1, serves the rendezvous store
  (``torch.distributed.TCPStore`` on that socket: ``master_listen_fd``) and starts the workers
  with ``torch.multiprocessing.start_processes`` (start method "spawn", as in the DDP tutorial).
  Nothing listens beyond loopback: torchrun's store would listen on every interface (TCPStore has
  no bind address), and gloo is bound to the loopback interface by GLOO_SOCKET_IFNAME.
- Several machines (``--launcher torchrun``): the parent starts ``python -m torch.distributed.run
  --nnodes K --node-rank R --nproc-per-node W --master-addr A --master-port P scale_pytorch.py``
  (static rendezvous on A:P, node 0 serves the store) on every node.

Every worker joins the process group (gloo on the CPU, NCCL on NVIDIA GPUs), wraps cnn-digits in
DDP, takes its DistributedSampler-style shard of each epoch with the per-worker batch of 128, and
syncs gradients with DDP's bucketed all-reduce. Epochs are timed between barriers, so an epoch is
the slowest worker's. Local rank 0 of each node reports the node's result.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import scaling  # noqa: E402
from probe_pytorch import build  # noqa: E402  the same cnn-digits model as the plain probe


def body(config: scaling.ScaleConfig):
    if config.launcher == "spawn":
        return launch_spawn(config)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    return train(config, rank, world, local_rank, store=None, launcher="torchrun")


def launch_spawn(config: scaling.ScaleConfig):
    """Serve the store on a loopback-bound socket and spawn the workers; emit rank 0's result."""
    import json
    import socket
    import tempfile

    t_import = time.perf_counter()
    import torch.distributed as dist
    import torch.multiprocessing as mp

    launcher_import_s = time.perf_counter() - t_import
    world = config.workers
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(world + 4)
    port = sock.getsockname()[1]
    store = dist.TCPStore("127.0.0.1", port, world_size=world, is_master=True,
                          wait_for_workers=False, master_listen_fd=sock.detach(),
                          use_libuv=False)
    folder = tempfile.mkdtemp(prefix="advisor-ddp-")
    out_path = os.path.join(folder, "rank0.json")
    try:
        mp.start_processes(_spawned, args=(config, world, port, out_path), nprocs=world,
                           join=True, start_method="spawn")
        with open(out_path, encoding="utf-8") as f:
            result = json.load(f)
    finally:
        del store
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
    for run in result.get("runs", []):
        run["launcher_import_s"] = round(launcher_import_s, 4)
    return result


def _spawned(local_rank: int, config: scaling.ScaleConfig, world: int, port: int,
             out_path: str) -> None:
    """A worker started by torch.multiprocessing: joins the store on 127.0.0.1 as a client."""
    import json

    scaling.die_with_parent()
    os.environ.update(harness.thread_env(1))
    import torch.distributed as dist

    store = dist.TCPStore("127.0.0.1", port, world_size=world, is_master=False,
                          use_libuv=False)
    result = train(config, local_rank, world, local_rank, store=store, launcher="spawn")
    if result is not None:
        with open(out_path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(result, f)
        os.replace(out_path + ".tmp", out_path)


def train(config: scaling.ScaleConfig, rank: int, world: int, local_rank: int, *, store,
          launcher: str):
    t_import = time.perf_counter()
    import torch
    import torch.distributed as dist
    import torch.optim
    import torch._dynamo  # noqa: F401  optim.Adam imports it on first use: part of getting ready
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel as DDP

    import_s = time.perf_counter() - t_import
    torch.set_num_threads(1)
    cuda = config.device == "auto" and torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    device = torch.device(f"cuda:{torch.cuda.current_device()}" if cuda else "cpu")
    t_init = time.perf_counter()
    if store is None:
        dist.init_process_group(backend=backend, init_method="env://")
    else:
        dist.init_process_group(backend=backend, store=store, rank=rank, world_size=world)
    dist.barrier()
    init_s = time.perf_counter() - t_init
    start_s = scaling.start_seconds(config)
    try:
        data = harness.load_data(config.data_cache)
        torch.manual_seed(config.seed)
        x = torch.from_numpy(data.images(data.x_train)).to(device)
        y = torch.from_numpy(data.y_train).to(device)
        model = DDP(build(scaling.WORKLOAD, nn).to(device),
                    device_ids=[device.index] if cuda else None)
        opt = torch.optim.Adam(model.parameters(), lr=harness.LEARNING_RATE)
        loss_fn = nn.CrossEntropyLoss()
        batch = scaling.BATCH_PER_WORKER
        n = data.n_train
        per_epoch = len(scaling.epoch_indices(config.seed, 0, n, world))

        def run_epoch(epoch: int) -> None:
            mine = scaling.shard(scaling.epoch_indices(config.seed, epoch, n, world), rank, world)
            order = torch.from_numpy(mine).to(device)
            model.train()
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                opt.zero_grad(set_to_none=True)
                loss_fn(model(x[idx]), y[idx]).backward()  # DDP all-reduces in backward
                opt.step()

        def sync() -> None:
            if cuda:
                torch.cuda.synchronize()
            dist.barrier()

        times = harness.time_epochs(run_epoch, config.epochs, sync)
        accuracy = None
        if local_rank == 0:
            model.eval()
            with torch.no_grad():
                x_te = torch.from_numpy(data.images(data.x_test)).to(device)
                pred = model.module(x_te).argmax(1).cpu().numpy()
            accuracy = float((pred == data.y_test).mean())
        dist.barrier()
    finally:
        dist.destroy_process_group()
    if local_rank != 0:
        return None
    devices = [{"kind": "gpu" if cuda else "cpu", "name": torch.cuda.get_device_name(device)
                if cuda else "cpu"}]
    return scaling.report("pytorch", [scaling.result(
        "pytorch", config, world=world, engine=f"torch.distributed DDP ({backend}), "
        + ("torchrun" if launcher == "torchrun" else "torch.multiprocessing spawn"),
        version=torch.__version__, devices=devices, import_s=import_s, init_s=init_s,
        start_s=start_s, times=times, samples_per_epoch=per_epoch, accuracy=accuracy,
        ran_on="gpu" if cuda else "cpu",
        extra={"backend": backend, "launcher": launcher,
               "node_rank": int(os.environ.get("GROUP_RANK", "0")),
               "master_addr": os.environ.get("MASTER_ADDR", "127.0.0.1")},
    )])


if __name__ == "__main__":
    scaling.run("pytorch", body)
