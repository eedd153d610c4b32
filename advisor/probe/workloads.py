"""The probe's workloads as the rest of advisor sees them: one table, ``protocol.SPECS``.

The protocol module is standard library only and shared with the probe children (which may run
under another interpreter); this module only gives the parent's readers a name for it.
"""

from __future__ import annotations

from typing import Any

from advisor.probe import protocol

#: How a project's speed evidence compares candidates (``speed_evidence.measure`` in the rules).
MEASURES = ("samples_per_s", "time_to_accuracy")


def specs() -> dict[str, dict[str, Any]]:
    """Workload id -> its spec (family, batch size, accuracy gate, model)."""
    return protocol.SPECS


def known() -> tuple[str, ...]:
    return protocol.WORKLOADS


def gate(workload: str) -> float:
    """The test accuracy below which a row did not learn the workload (policy.accuracy_gate)."""
    from advisor.probe.policy import accuracy_gate

    return accuracy_gate(workload)
