"""Hardware detection through fake command runners, fake cgroup trees and a fake pynvml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.probe import hardware as hw


class FakeRunner:
    """Answers commands from a table; records every call; unknown commands are absent."""

    def __init__(self, table: dict[str, tuple[int, str]]):
        self.table = table
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]):
        self.calls.append(args)
        return self.table.get(" ".join(args))


SMI_QUERY = "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits"
SMI_HEADER = """+-----------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15    Driver Version: 550.54.15    CUDA Version: 12.4     |
"""


def test_nvidia_smi_parsed_without_asking_for_identifiers():
    runner = FakeRunner({
        SMI_QUERY: (0, "NVIDIA H100 80GB HBM3, 81559, 550.54.15\nNVIDIA H100 80GB HBM3, 81559, "
                       "550.54.15\n"),
        "nvidia-smi": (0, SMI_HEADER),
    })
    gpus = hw.get_nvidia_gpus_smi(runner)
    assert [g.name for g in gpus] == ["NVIDIA H100 80GB HBM3"] * 2
    assert gpus[0].memory_bytes == 81559 * 2**20
    assert gpus[0].driver == "550.54.15" and gpus[0].cuda_version == "12.4"
    asked = " ".join(" ".join(c) for c in runner.calls).lower()
    assert "uuid" not in asked and "serial" not in asked


def test_nvidia_smi_failure_or_absence_is_none():
    assert hw.get_nvidia_gpus_smi(FakeRunner({})) is None
    assert hw.get_nvidia_gpus_smi(FakeRunner({SMI_QUERY: (9, "NVIDIA-SMI has failed")})) is None


class FakeNvml:
    def __init__(self, fail_init=False):
        self.fail_init = fail_init
        self.shutdown = False

    def nvmlInit(self):
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self):
        self.shutdown = True

    def nvmlSystemGetDriverVersion(self):
        return b"535.104.05"

    def nvmlSystemGetCudaDriverVersion(self):
        return 12020

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("handle", i)

    def nvmlDeviceGetName(self, handle):
        return "NVIDIA A100-SXM4-40GB"

    def nvmlDeviceGetMemoryInfo(self, handle):
        class Mem:
            total = 40 * 2**30
        return Mem()

    def nvmlDeviceGetUUID(self, handle):  # pragma: no cover - must never be called
        raise AssertionError("UUIDs are never read")

    def nvmlDeviceGetSerial(self, handle):  # pragma: no cover - must never be called
        raise AssertionError("serials are never read")


def test_nvml_first():
    nvml = FakeNvml()
    gpus = hw.get_gpus(FakeRunner({}), nvml=nvml, system="Linux")
    assert [g.to_dict() for g in gpus] == [{
        "vendor": "nvidia", "name": "NVIDIA A100-SXM4-40GB", "memory_bytes": 40 * 2**30,
        "driver": "535.104.05", "cuda_version": "12.2"}]
    assert nvml.shutdown


def test_nvml_unusable_falls_back_to_nvidia_smi():
    runner = FakeRunner({SMI_QUERY: (0, "Tesla T4, 15360, 470.82.01\n")})
    gpus = hw.get_gpus(runner, nvml=FakeNvml(fail_init=True), system="Linux")
    assert [(g.vendor, g.name, g.driver) for g in gpus] == [("nvidia", "Tesla T4", "470.82.01")]


ROCM_JSON = {
    "card0": {"Card series": "AMD Instinct MI250X", "VRAM Total Memory (B)": "68702699520"},
    "system": {"Driver version": "6.3.6"},
}


def test_rocm_smi_parsed():
    runner = FakeRunner({
        "rocm-smi --showproductname --showmeminfo vram --showdriverversion --json":
            (0, json.dumps(ROCM_JSON)),
    })
    gpus = hw.get_gpus(runner, nvml=FakeNvml(fail_init=True), system="Linux")
    assert [g.to_dict() for g in gpus] == [{
        "vendor": "amd", "name": "AMD Instinct MI250X", "memory_bytes": 68702699520,
        "driver": "6.3.6", "cuda_version": None}]


def test_rocm_smi_garbage_is_none():
    runner = FakeRunner({
        "rocm-smi --showproductname --showmeminfo vram --showdriverversion --json": (0, "oops"),
    })
    assert hw.get_amd_gpus(runner) is None


def test_apple_silicon_via_sysctl():
    runner = FakeRunner({
        "sysctl -n machdep.cpu.brand_string": (0, "Apple M2 Pro\n"),
        "sysctl -n hw.memsize": (0, "34359738368\n"),
    })
    gpus = hw.get_gpus(runner, nvml=FakeNvml(fail_init=True), system="Darwin")
    assert [(g.vendor, g.name, g.memory_bytes) for g in gpus] == [
        ("apple", "Apple M2 Pro GPU", 34359738368)]
    assert hw.get_cpu_model(runner, system="Darwin") == "Apple M2 Pro"


def test_intel_mac_has_no_apple_gpu():
    runner = FakeRunner({"sysctl -n machdep.cpu.brand_string": (0, "Intel(R) Core(TM) i9\n")})
    assert hw.get_apple_gpu(runner, system="Darwin") is None


def test_no_gpu_anywhere_is_an_empty_list():
    assert hw.get_gpus(FakeRunner({}), nvml=FakeNvml(fail_init=True), system="Linux") == []


def test_cpu_model_from_proc_cpuinfo(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: AMD EPYC 9654 96-Core\n")
    model = hw.get_cpu_model(FakeRunner({}), proc=tmp_path, system="Linux")
    assert model == "AMD EPYC 9654 96-Core"


def test_cpu_model_unknown_is_none(tmp_path):
    assert hw.get_cpu_model(FakeRunner({}), proc=tmp_path, system="Linux") is None


def cgroup_tree(tmp_path: Path, files: dict[str, str], own: str = "0::/\n") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    root.mkdir(exist_ok=True)
    self_cgroup = tmp_path / "self_cgroup"
    self_cgroup.write_text(own)
    return root, self_cgroup


def test_cgroup_v2_quota_of_two_cpus(tmp_path):
    root, own = cgroup_tree(tmp_path, {"cpu.max": "200000 100000\n"})
    quota = hw.get_cgroup_cpu_quota(root, own)
    assert quota == 2.0
    assert hw.usable_cores(64, 64, quota) == 2  # a container limited to 2 of 64 cores says 2


def test_cgroup_v2_unlimited(tmp_path):
    root, own = cgroup_tree(tmp_path, {"cpu.max": "max 100000\n"})
    assert hw.get_cgroup_cpu_quota(root, own) is None
    assert hw.usable_cores(8, 8, None) == 8


def test_cgroup_v2_nested_takes_the_tightest_and_rounds_up(tmp_path):
    root, own = cgroup_tree(tmp_path, {
        "cpu.max": "max 100000\n",
        "kubepods/pod1/cpu.max": "150000 100000\n",
        "kubepods/cpu.max": "400000 100000\n",
    }, own="0::/kubepods/pod1\n")
    quota = hw.get_cgroup_cpu_quota(root, own)
    assert quota == 1.5
    assert hw.usable_cores(64, 64, quota) == 2


def test_cgroup_v1_quota(tmp_path):
    root, own = cgroup_tree(tmp_path, {
        "cpu,cpuacct/cpu.cfs_quota_us": "300000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    }, own="4:cpu,cpuacct:/docker/abc\n")
    assert hw.get_cgroup_cpu_quota(root, own) == 3.0


def test_cgroup_v1_unlimited(tmp_path):
    root, own = cgroup_tree(tmp_path, {
        "cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n",
    })
    assert hw.get_cgroup_cpu_quota(root, own) is None


def test_affinity_limits_usable_cores():
    assert hw.usable_cores(logical=16, affinity=4, quota=None) == 4
    assert hw.usable_cores(logical=16, affinity=4, quota=8.0) == 4
    assert hw.usable_cores(logical=None, affinity=None, quota=None) == 1


def test_cgroup_memory_limit(tmp_path):
    (tmp_path / "memory.max").write_text("4294967296\n")
    assert hw.get_cgroup_memory_limit(tmp_path) == 4294967296
    (tmp_path / "memory.max").write_text("max\n")
    assert hw.get_cgroup_memory_limit(tmp_path) is None


def test_environment_keeps_what_changes_results_and_redacts():
    env = {
        "CUDA_VISIBLE_DEVICES": "GPU-8f2a4b1c-1111-2222-3333-444455556666",
        "OMP_NUM_THREADS": "4",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "XLA_FLAGS": f"--xla_dump_to={Path.home()}/dumps",
        "HOME": str(Path.home()),
        "AWS_SECRET_ACCESS_KEY": "do-not-record",
        "TF_CLI_CONFIG_FILE": "~/.terraformrc",  # Terraform, not TensorFlow
        "TF_VAR_db_password": "hunter2",
    }
    got = hw.get_environment(env)
    assert set(got) == {"CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "TF_ENABLE_ONEDNN_OPTS",
                        "XLA_FLAGS"}
    assert got["CUDA_VISIBLE_DEVICES"] == "<uuid>"
    assert got["XLA_FLAGS"] == "--xla_dump_to=~/dumps"


def test_redact_user_name():
    assert hw.redact("owned by maria in /x", home="/nonexistent", user="maria") == \
        "owned by <user> in /x"


def test_host_has_the_contract_keys_and_no_hostname_by_default():
    host = hw.get_host(FakeRunner({}))
    for key in ("cpu_model", "logical_cores", "usable_cores", "memory_bytes", "os", "python"):
        assert key in host
    assert "hostname" not in host
    assert host["usable_cores"] >= 1
    assert host["python"] == ".".join(map(str, sys.version_info[:3]))
    assert "hostname" in hw.get_host(FakeRunner({}), include_hostname=True)


def test_run_command_absent_and_hanging():
    assert hw.run_command(["definitely-not-a-command-xyz"]) is None
    assert hw.run_command([sys.executable, "-c", "import time; time.sleep(30)"],
                          timeout=0.5) is None
    assert hw.run_command([sys.executable, "-c", "print('hi')"]) == (0, "hi\n")


@pytest.mark.parametrize("system,expected", [("Linux", "linux"), ("Darwin", "macos"),
                                             ("Windows", "windows")])
def test_os_names_match_the_questionnaire(system, expected):
    assert hw.get_os(system) == expected


def test_hardware_detection_imports_no_framework():
    heavy = ("torch", "tensorflow", "jax", "keras", "sklearn", "numpy")
    code = ("import sys; from advisor.probe import hardware; hardware.get_host(); "
            "hardware.get_gpus(); hardware.get_environment(); "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(root)))
    assert done.stdout.strip() == "[]", done.stderr
