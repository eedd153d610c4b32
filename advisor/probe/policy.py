"""The measurement policy: when a number is noisy, when a row learned, how spreads compare.

One home for every threshold the probe, the decision and the reports apply to measured numbers
(docs/architecture.md, "Where each concept lives"). Stdlib only (and the stdlib protocol module), so
the probe parent, the scoring and every renderer can read it without cost.

Quantiles come from ``advisor.probe.protocol``, the stdlib module the probe children load by path
too (they may run under another Python, ``--python``): one interpolation for both sides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from advisor.probe import protocol

#: IQR / median of a row's timed blocks above this: the row is flagged noisy, in the probe
#: summary and in every report alike. 10 % is pyperf's own stability warning (its standard
#: deviation check warns above 10 % of the mean); the reports used 25 % until 0.2, which let a
#: row the probe had flagged read clean in Markdown, HTML and `compare`.
NOISE_LIMIT = 0.10

#: Fewer timed blocks than this and an IQR means nothing: the spread is unknown, so the numbers
#: cannot separate two frameworks (speed moves no score) and the reports call the row noisy.
MIN_SAMPLES = 3

#: Test accuracy a workload must reach after its fixed epochs for its speed to mean anything,
#: from the workload table (protocol.SPECS: 0.80, attn-digits 0.70 after its few epochs; chance
#: is 0.10). A workload's GPU sizes (``@large``) train a few wide steps only: they must merely
#: beat chance clearly (protocol.VARIANT_GATE).
ACCURACY_GATE: Mapping[str, float] = {name: spec["gate"] for name, spec in protocol.SPECS.items()}
DEFAULT_ACCURACY_GATE = 0.80

#: Where other processes' CPU share cannot be sampled (no /proc/stat): the 1-minute load
#: average before the run above this x the usable cores is a busy machine. The load average
#: remembers work that already ended (a probe that just finished reads about 1.3 on 2 cores
#: for a minute), so where the share can be sampled it decides instead (OTHERS_CPU_LIMIT).
BUSY_LOAD_PER_CORE = 0.5

#: Other processes used more than this share of a row's cores while it trained: the row is
#: contended (advisor.probe.pool.mark_contention). Two busy loops on two cores read about 0.9.
OTHERS_CPU_LIMIT = 0.20

#: A row's median calibration reading more than this times the run's fastest reading: its cores
#: were shared. The second signal next to others' CPU share, and the only one where /proc/stat
#: cannot be read (macOS, Windows); it also sees what /proc/stat does not (a hyperthread sibling,
#: a container's CPU quota, memory-bandwidth hogs). By the median, and above 1.5x, because the
#: kernel also reads the row's own framework: on an idle 2-core Linux machine (others' share
#: 1-4 %) TensorFlow rows read up to 1.51x by their median, and single readings next to a
#: framework's still-spinning worker threads 1.6-1.8x, which flagged idle probes contended when
#: the worst reading decided at 1.5x. Two busy loops slow every reading about 2x.
CALIBRATION_LIMIT = 1.75

#: Device kinds (as the probe children name them, any case) that are an accelerator.
GPU_KINDS = frozenset({"gpu", "cuda", "rocm", "mps", "metal"})


def finite(value: Any) -> float | None:
    """A real, finite number as float; anything else (bool, str, NaN, inf, None) as None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def quantiles(values: Sequence[float]) -> tuple[float, float, float] | None:
    """(Q1, median, Q3), linear interpolation (numpy's default); None for no values."""
    return protocol.quartiles(values)


def summary(values: Sequence[float]) -> dict[str, Any]:
    """``{median, iqr, n, values}`` as the probe file stores a measured rate."""
    return protocol.quantiles(values)


def spread(median: float | None, iqr: float | None) -> float | None:
    """IQR / median, or None when it cannot be computed."""
    if median is None or iqr is None or median <= 0:
        return None
    return iqr / median


def is_noisy(median: float | None, iqr: float | None) -> bool:
    """True when the spread of the timed blocks is above :data:`NOISE_LIMIT`."""
    s = spread(median, iqr)
    return s is not None and s > NOISE_LIMIT


def accuracy_gate(workload: str) -> float:
    if "@" in workload:  # a GPU size: "cnn-digits@large", "cnn-digits@large-bf16"
        return protocol.VARIANT_GATE
    return ACCURACY_GATE.get(workload, DEFAULT_ACCURACY_GATE)


def learned(workload: str, accuracy: float | None) -> bool:
    """Did the model learn: test accuracy at or above the workload's gate (unknown: no)."""
    return accuracy is not None and accuracy >= accuracy_gate(workload)


def overlaps(a_median: float, a_iqr: float | None, b_median: float, b_iqr: float | None) -> bool:
    """Do two measured rates overlap within half their IQRs (median ± IQR/2)?

    Two such rates cannot be told apart: neither is faster on this evidence."""
    a_half, b_half = (a_iqr or 0.0) / 2, (b_iqr or 0.0) / 2
    return a_median + a_half >= b_median - b_half and b_median + b_half >= a_median - a_half


def sees_gpu(device_kinds: Iterable[str]) -> bool:
    """Does a framework see an accelerator, given the kinds of the devices it listed?"""
    return any(str(kind).lower() in GPU_KINDS for kind in device_kinds)


def is_busy(load: Sequence[float] | None, cores: int, others_share: float | None = None) -> bool:
    """Other work was competing for the cores the probe uses: its numbers are unreliable.

    ``others_share`` (other processes' share of the cores, sampled right before the run)
    decides where it was measured; else the 1-minute load average."""
    if others_share is not None:
        return others_share > OTHERS_CPU_LIMIT
    return bool(load) and load is not None and load[0] > BUSY_LOAD_PER_CORE * cores
