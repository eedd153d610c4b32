"""PyTorch probe: the idiomatic eager training loop (tensors resident on the device, index batches).

torch.compile is not measured: on the 2-core reference machine (CPU, inductor + gcc) compiling
the mlp-digits model's forward and backward took 19 s, plus 3.7 s to recompile for the partial
last batch (torch 2.13): half the 45 s budget of the whole seven-row probe for one workload of one
row, so it could only be a separate opt-in benchmark, not part of a one-minute probe.
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def load(config: harness.Config) -> dict[str, Any]:
    import torch
    import torch.nn
    import torch.optim
    import torch._dynamo  # noqa: F401  optim.Adam imports it on first use: part of getting ready

    torch.set_num_threads(config.threads)
    try:
        torch.set_num_interop_threads(config.threads)
    except RuntimeError:  # already set (only possible before any parallel work)
        pass
    use_cuda = config.device == "auto" and torch.cuda.is_available()
    devices = [{"kind": "cpu", "name": "cpu"}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            devices.append({"kind": "gpu", "name": torch.cuda.get_device_name(i)})
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append({"kind": "gpu", "name": "mps"})
    device = torch.device("cuda:0" if use_cuda else "cpu")
    if use_cuda:
        # TF32 tensor cores for float32 matmuls, as JAX and TensorFlow use by default on Ampere
        # and newer GPUs: what a careful PyTorch engineer switches on (PyTorch keeps full FP32).
        torch.set_float32_matmul_precision("high")
    info: dict[str, Any] = {
        "version": torch.__version__,
        "devices": devices,
        "ran_on": "gpu" if use_cuda else "cpu",
        "framework_threads": torch.get_num_threads(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "_device": device,
    }
    if use_cuda:
        info["_device_matmul_peak"] = lambda: _cuda_matmul_peak(torch, device)
        info["_device_peak_source"] = "torch-cuda-float32-matmul"
    return info


def _cuda_matmul_peak(torch: Any, device: Any, n: int = 4096) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    return harness.best_rate(lambda: a @ b, torch.cuda.synchronize, 2.0 * n**3)


def build(name: str, nn: Any) -> Any:
    if name == "mlp-digits":
        return nn.Sequential(
            nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
        )
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(4 * 4 * 64, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def run(name: str, config: harness.Config, data: harness.Data, info: dict[str, Any]):
    import torch
    from torch import nn

    device = info["_device"]
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(config.seed)
    x_tr, x_te = data.x_train, data.x_test
    if name == "cnn-digits":
        x_tr, x_te = data.images(x_tr), data.images(x_te)
    x = torch.from_numpy(x_tr).to(device)
    y = torch.from_numpy(data.y_train).to(device)
    model = build(name, nn).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=harness.LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    batch = harness.BATCH[name]
    n = data.n_train
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)

    def run_epoch(epoch: int) -> None:
        order = torch.from_numpy(harness.epoch_order(config.seed, epoch, n)).to(device)
        model.train()
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()

    times = harness.time_epochs(run_epoch, config.epochs, sync, min_block_s=config.min_block_s)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x_te).to(device)).cpu().numpy()
    pred = logits.argmax(1)
    accuracy = float((pred == data.y_test).mean())
    harness.save_trained(config, info["_row"], name, data, x_te, logits,
                         lambda folder: torch.save(model.cpu().state_dict(),
                                                   os.path.join(folder, "model.pt")))
    gpu_mb = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    return times, accuracy, gpu_mb


PROBE = harness.Probe("pytorch", "torch", "pip install torch", load, run)

if __name__ == "__main__":
    harness.main(PROBE)
