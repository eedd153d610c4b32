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


def build(name: str, nn: Any, width: int = 1) -> Any:
    """The workload's model; ``width`` multiplies every hidden width (GPU sizes)."""
    w = width
    if name == "mlp-digits":
        return nn.Sequential(
            nn.Linear(64, 128 * w), nn.ReLU(), nn.Linear(128 * w, 64 * w), nn.ReLU(),
            nn.Linear(64 * w, 10)
        )
    if name == "attn-digits":
        return _attention_model(nn, w)
    return nn.Sequential(
        nn.Conv2d(1, 32 * w, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32 * w, 64 * w, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(4 * 4 * 64 * w, 128 * w), nn.ReLU(), nn.Linear(128 * w, 10),
    )


def _attention_model(nn: Any, width: int = 1) -> Any:
    """attn-digits (protocol.SPECS): PyTorch's own TransformerEncoder, as a PyTorch user writes
    it (4 heads; ``width`` multiplies d_model and the feed-forward width)."""
    import torch

    d = 64 * width

    class RowTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(8, d)
            self.pos = nn.Parameter(torch.randn(1, 8, d) * 0.02)
            layer = nn.TransformerEncoderLayer(d, 4, dim_feedforward=2 * d, dropout=0.0,
                                               activation="gelu", layer_norm_eps=1e-5,
                                               batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(d, 10)

        def forward(self, x: Any) -> Any:
            return self.head(self.encoder(self.embed(x) + self.pos).mean(dim=1))

    return RowTransformer()


def shaped(name: str, x: Any) -> Any:
    """The (n, 64) digits as the workload reads them."""
    if name == "cnn-digits":
        return x.reshape(-1, 1, 8, 8)
    if name == "attn-digits":
        return x.reshape(-1, 8, 8)  # 8 tokens (pixel rows) of 8 features
    return x


def run_variant(name: str, variant: harness.Variant, config: harness.Config,
                data: harness.Data, info: dict[str, Any]):
    """A GPU size (harness.gpu_variants): wider, larger batches, float32 or bf16 autocast."""
    return run(name, config, data, info, variant)


def run(name: str, config: harness.Config, data: harness.Data, info: dict[str, Any],
        variant: harness.Variant | None = None):
    import contextlib

    import torch
    from torch import nn

    device = info["_device"]
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(config.seed)
    x = torch.from_numpy(shaped(name, data.x_train)).to(device)
    y = torch.from_numpy(data.y_train).to(device)
    x_test = torch.from_numpy(shaped(name, data.x_test)).to(device)
    model = build(name, nn, variant.width if variant else 1).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=harness.LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    batch = harness.batch_of(name, variant)

    def precision() -> Any:  # bf16 mixed precision: autocast, float32 master weights
        if variant is not None and variant.bf16:
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    n = data.n_train
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)

    def run_epoch(epoch: int) -> None:
        order = torch.from_numpy(harness.epoch_order(config.seed, epoch, n)).to(device)
        model.train()
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            opt.zero_grad(set_to_none=True)
            with precision():
                loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()

    def evaluate() -> float:
        model.eval()
        with torch.no_grad(), precision():
            pred = model(x_test).argmax(1).cpu().numpy()
        return float((pred == data.y_test).mean())

    times = harness.time_epochs(run_epoch, config.epochs, sync, min_block_s=config.min_block_s,
                                evaluate=evaluate,
                                extra_s=0.0 if variant else harness.chase_s(name))
    accuracy = evaluate()
    gpu_mb = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    if variant is None:  # --save-model: the deploy probe exports what was trained here
        model.eval()
        with torch.no_grad():
            logits = model(x_test).float().cpu().numpy()
        harness.save_trained(config, info["_row"], name, data, shaped(name, data.x_test), logits,
                             lambda folder: torch.save(model.cpu().state_dict(),
                                                       os.path.join(folder, "model.pt")))
    return times, accuracy, gpu_mb


PROBE = harness.Probe("pytorch", "torch", "pip install torch", load, run,
                      run_variant=run_variant, bf16=True)

if __name__ == "__main__":
    harness.main(PROBE)
