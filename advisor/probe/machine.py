"""Machine facts for `auto` answers, from a probe file or from this machine. Imports no framework."""

from __future__ import annotations

import os
import platform
from typing import Any

_OS = {"Linux": "linux", "Windows": "windows", "Darwin": "macos"}


def hardware_from_gpus(gpus: list[dict[str, Any]], os_name: str | None, arch: str | None) -> str:
    vendors = {str(g.get("vendor", "")).lower() for g in gpus}
    if "nvidia" in vendors:
        return "nvidia_gpu"
    if "amd" in vendors:
        return "amd_gpu"
    if "apple" in vendors or (os_name == "macos" and arch in ("arm64", "aarch64")):
        return "apple_silicon"
    return "cpu_only"


def facts_from_host(host: dict[str, Any], gpus: list[dict[str, Any]]) -> dict[str, Any]:
    """machine.* facts from a probe file's host and gpus sections."""
    os_text = str(host.get("os", "")).lower()
    os_name = next((v for k, v in _OS.items() if k.lower() in os_text or v in os_text), None)
    arch = str(host.get("machine") or host.get("arch") or "").lower() or None
    out: dict[str, Any] = {
        "machine.hardware": hardware_from_gpus(gpus, os_name, arch),
        "machine.gpu_count": len(gpus),
    }
    if os_name is not None:
        out["machine.os"] = os_name
    return out


def local_facts() -> dict[str, Any]:
    """machine.* facts for the machine advisor runs on (NVIDIA GPUs through NVML, if present)."""
    os_name = _OS.get(platform.system())
    gpus: list[dict[str, Any]] = []
    if not _nvidia_driver_present(os_name):
        return _facts(os_name, gpus)
    try:
        import pynvml  # nvidia-ml-py: a thin ctypes binding, no framework

        pynvml.nvmlInit()
        try:
            gpus = [{"vendor": "nvidia"} for _ in range(pynvml.nvmlDeviceGetCount())]
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no library: no NVIDIA GPU visible
        gpus = []
    return _facts(os_name, gpus)


def _nvidia_driver_present(os_name: str | None) -> bool:
    """Cheap check before loading NVML: the Linux driver exposes /proc/driver/nvidia."""
    if os_name == "linux":
        return os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidiactl")
    return os_name == "windows"


def _facts(os_name: str | None, gpus: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "machine.hardware": hardware_from_gpus(gpus, os_name, platform.machine().lower()),
        "machine.gpu_count": len(gpus),
    }
    if os_name is not None:
        out["machine.os"] = os_name
    return out
