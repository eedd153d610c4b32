"""The probe's workloads as the rest of advisor sees them: one table, ``probes/harness.py: SPECS``.

The harness is standard library only and travels with the probe scripts (children may run under
another interpreter); the parent reads the same table by path, so a workload is defined once.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from typing import Any

from advisor.infra.resources import probes_dir

#: How a project's speed evidence compares candidates (``speed_evidence.measure`` in the rules).
MEASURES = ("samples_per_s", "time_to_accuracy")


@functools.lru_cache(maxsize=1)
def specs() -> dict[str, dict[str, Any]]:
    """Workload id -> its spec (family, batch size, accuracy gate, model) from the harness."""
    spec = importlib.util.spec_from_file_location("_advisor_workload_specs",
                                                  probes_dir() / "harness.py")
    if spec is None or spec.loader is None:  # pragma: no cover - the file is packaged
        raise RuntimeError(f"probe harness not found in {probes_dir()}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return {name: dict(value) for name, value in module.SPECS.items()}


def known() -> tuple[str, ...]:
    return tuple(specs())


def gate(workload: str) -> float:
    """The test accuracy below which a row did not learn the workload."""
    return float(specs().get(workload, {}).get("gate", 0.5))
