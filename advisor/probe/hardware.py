"""Hardware and environment detection. Imports no framework.

Like torch's collect_env, every getter takes its seams as parameters (a command runner, a file
reader, a root folder) and returns None when it cannot tell. Unlike it: argument lists, no shell,
short timeouts, and nothing identifying is recorded (no GPU UUIDs or serials, no user name, no
home path; the host name only when asked).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMAND_TIMEOUT_S = 5.0

# A runner takes an argument list and returns (returncode, stdout) or None when it could not run.
Runner = Callable[[list[str]], "tuple[int, str] | None"]


def run_command(args: list[str], timeout: float = COMMAND_TIMEOUT_S) -> tuple[int, str] | None:
    """Run a command (no shell, short timeout); None when it is absent, hangs or fails to start."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.returncode, done.stdout


def _ok_output(runner: Runner, args: list[str]) -> str | None:
    result = runner(args)
    if not result or result[0] != 0 or not result[1].strip():
        return None
    return result[1]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# ------------------------------------------------------------------------------------- redaction
from advisor.infra.privacy import redact  # noqa: E402  (the one redaction; runner imports it here)


# ------------------------------------------------------------------------------------------- CPU
def get_cpu_model(runner: Runner = run_command, proc: Path = Path("/proc"),
                  system: str | None = None) -> str | None:
    system = system or platform.system()
    if system == "Darwin":
        out = _ok_output(runner, ["sysctl", "-n", "machdep.cpu.brand_string"])
        return out.strip() if out else None
    if system == "Linux":
        text = _read(proc / "cpuinfo") or ""
        for key in ("model name", "Hardware", "Processor", "cpu model"):
            for line in text.splitlines():
                name, _, value = line.partition(":")
                if name.strip() == key and value.strip():
                    return value.strip()
        out = _ok_output(runner, ["lscpu"])
        if out:
            for line in out.splitlines():
                if line.startswith("Model name:"):
                    return line.split(":", 1)[1].strip()
        return None
    return platform.processor() or None


def get_affinity_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _cgroup_v2_quota(text: str) -> float | None:
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def get_cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup"),
                         proc_self_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """CPUs allowed by the cgroup CPU quota (v2 ``cpu.max`` or v1 ``cfs_quota_us``); None = none.

    Looks at this process' own cgroup and its parents and keeps the tightest limit.
    """
    limits: list[float] = []
    own = _read(proc_self_cgroup) or ""
    v2_paths = [line.split("::", 1)[1] for line in own.splitlines() if line.startswith("0::")]
    for rel in v2_paths + ["/"]:
        folder = root / rel.strip().lstrip("/")
        while True:
            text = _read(folder / "cpu.max")
            if text is not None:
                quota = _cgroup_v2_quota(text)
                if quota:
                    limits.append(quota)
            if folder == root or root not in folder.parents:
                break
            folder = folder.parent
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        quota_text = _read(root / name / "cpu.cfs_quota_us")
        period_text = _read(root / name / "cpu.cfs_period_us")
        if quota_text and period_text:
            try:
                quota, period = int(quota_text), int(period_text)
            except ValueError:
                continue
            if quota > 0 and period > 0:
                limits.append(quota / period)
    return min(limits) if limits else None


def usable_cores(logical: int | None, affinity: int | None, quota: float | None) -> int:
    """Cores this process can keep busy at once: affinity, then the quota rounded up."""
    cores = affinity or logical or 1
    if quota:
        cores = min(cores, max(1, math.ceil(quota - 1e-9)))
    return max(1, cores)


def get_memory_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # no driver, no library: not an error
        return None


def get_cgroup_memory_limit(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        text = (_read(path) or "").strip()
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return None


def get_os(system: str | None = None) -> str:
    system = system or platform.system()
    return {"Linux": "linux", "Darwin": "macos", "Windows": "windows"}.get(system, system.lower())


def get_os_release(system: str | None = None, etc: Path = Path("/etc")) -> str | None:
    system = system or platform.system()
    if system == "Linux":
        for line in (_read(etc / "os-release") or "").splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
                return f"{pretty} (kernel {platform.release()})"
        return f"Linux {platform.release()}"
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]}"
    return f"{system} {platform.release()}".strip() or None


def get_load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


# ------------------------------------------------------------------------------------------ GPUs
@dataclass
class Gpu:
    vendor: str
    name: str
    memory_bytes: int | None
    driver: str | None
    cuda_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def get_nvidia_gpus_nvml(library: Any | None = None) -> list[Gpu] | None:
    """NVIDIA GPUs through nvidia-ml-py (pynvml); None when NVML is not usable."""
    nvml: Any = library
    try:
        if nvml is None:
            import pynvml  # from nvidia-ml-py

            nvml = pynvml
        nvml.nvmlInit()
    except Exception:
        return None
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        cuda = None
        try:
            v = int(nvml.nvmlSystemGetCudaDriverVersion())
            cuda = f"{v // 1000}.{(v % 1000) // 10}"
        except Exception:
            pass
        gpus = []
        for i in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = _text(nvml.nvmlDeviceGetName(handle))
            memory = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
            gpus.append(Gpu("nvidia", name, memory, driver, cuda))
        return gpus
    except Exception:
        return None
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def get_nvidia_gpus_smi(runner: Runner = run_command) -> list[Gpu] | None:
    out = _ok_output(runner, [
        "nvidia-smi", "--query-gpu=name,memory.total,driver_version",
        "--format=csv,noheader,nounits",
    ])
    if out is None:
        return None
    cuda = None
    header = _ok_output(runner, ["nvidia-smi"])
    if header:
        match = re.search(r"CUDA Version:\s*([\d.]+)", header)
        cuda = match.group(1) if match else None
    gpus = []
    for line in out.strip().splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 3:
            continue
        name, memory, driver = fields[0], fields[1], fields[2]
        mib = float(memory) if re.fullmatch(r"[\d.]+", memory) else None
        gpus.append(Gpu("nvidia", name, int(mib * 2**20) if mib else None, driver or None, cuda))
    return gpus or None


def get_amd_gpus(runner: Runner = run_command) -> list[Gpu] | None:
    out = _ok_output(runner, [
        "rocm-smi", "--showproductname", "--showmeminfo", "vram", "--showdriverversion", "--json",
    ])
    if out is None:
        return None
    try:
        data = json.loads(out)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    driver = None
    system = data.get("system")
    if isinstance(system, dict):
        driver = system.get("Driver version")
    gpus = []
    for key in sorted(k for k in data if k.startswith("card")):
        card = data[key]
        if not isinstance(card, dict):
            continue
        name = (card.get("Card series") or card.get("Card model") or card.get("Device Name")
                or "AMD GPU")
        memory = str(card.get("VRAM Total Memory (B)"))
        gpus.append(Gpu("amd", str(name), int(memory) if memory.isdigit() else None,
                        driver or card.get("Driver version")))
    return gpus or None


def get_apple_gpu(runner: Runner = run_command, system: str | None = None) -> list[Gpu] | None:
    """Apple silicon: the GPU shares the machine's (unified) memory."""
    if (system or platform.system()) != "Darwin":
        return None
    brand = _ok_output(runner, ["sysctl", "-n", "machdep.cpu.brand_string"])
    if not brand or not brand.strip().startswith("Apple"):
        return None
    mem = _ok_output(runner, ["sysctl", "-n", "hw.memsize"])
    memory = int(mem.strip()) if mem and mem.strip().isdigit() else None
    return [Gpu("apple", f"{brand.strip()} GPU", memory, None)]


def get_gpus(runner: Runner = run_command, nvml: Any | None = None,
             system: str | None = None) -> list[Gpu]:
    nvidia = get_nvidia_gpus_nvml(nvml)
    if nvidia is None:
        nvidia = get_nvidia_gpus_smi(runner)
    gpus = list(nvidia or [])
    gpus += get_amd_gpus(runner) or []
    gpus += get_apple_gpu(runner, system) or []
    return gpus


# ------------------------------------------------------------------------------------ environment
ENV_NAMES = (
    "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "KMP_AFFINITY",
    "XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "JAX_PLATFORMS", "JAX_ENABLE_X64", "KERAS_BACKEND", "PYTORCH_CUDA_ALLOC_CONF",
    "CUBLAS_WORKSPACE_CONFIG",
)
# TensorFlow's own variables that change what the probe measures, by name: an allow-list, never
# a prefix. TF_ also names TensorFlow's TF_CONFIG (cluster host names), its file-system
# credentials (TF_HTTP_*, TF_ENCRYPTION_*, passphrases) and Terraform's TF_VAR_*/TF_TOKEN_*
# secrets; none of those is recorded (issue 15, item 10).
ENV_TENSORFLOW = (
    "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "TF_FORCE_GPU_ALLOW_GROWTH",
    "TF_GPU_ALLOCATOR", "TF_XLA_FLAGS", "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS",
    "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "TF_GPU_THREAD_MODE",
    "TF_GPU_THREAD_COUNT", "TF_USE_LEGACY_KERAS", "TF_ENABLE_AUTO_MIXED_PRECISION",
    "TF_USE_CUDNN_AUTOTUNE", "TF_CUDNN_USE_AUTOTUNE", "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS",
)


def get_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Variables that change results, by allow-list, as the user set them (values redacted)."""
    env = os.environ if environ is None else environ
    found = {k: v for k, v in env.items() if k in ENV_NAMES or k in ENV_TENSORFLOW}
    return {k: redact(v)[:300] for k, v in sorted(found.items())}


# ----------------------------------------------------------------------------------------- host
def get_host(runner: Runner = run_command, include_hostname: bool = False,
             cgroup_root: Path = Path("/sys/fs/cgroup")) -> dict[str, Any]:
    logical = os.cpu_count()
    affinity = get_affinity_cores()
    quota = get_cgroup_cpu_quota(cgroup_root)
    host: dict[str, Any] = {
        "cpu_model": get_cpu_model(runner),
        "arch": platform.machine() or None,
        "logical_cores": logical,
        "affinity_cores": affinity,
        "cpu_quota": round(quota, 3) if quota else None,
        "usable_cores": usable_cores(logical, affinity, quota),
        "memory_bytes": get_memory_bytes(),
        "memory_limit_bytes": get_cgroup_memory_limit(cgroup_root),
        "os": get_os(),
        "os_release": get_os_release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }
    if include_hostname:
        host["hostname"] = platform.node() or None
    return host

