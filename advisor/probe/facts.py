"""Turn a probe file (the JSON `advisor probe` writes) into facts and measurements for the engine.

Facts are named ``probe.<candidate>.<fact>`` and ``machine.*``; the knowledge base declares them,
so rules read them like answers. Relative speed enters the `performance` criterion through
:func:`measurer`, under the speed scoring policy below (issue 12), in this order:

1. Relevance: the knowledge base's ``speed_evidence`` names the workload that speaks for the
   project (images -> cnn-digits, sequences -> attn-digits, tabular -> gbdt-digits vs
   mlp-digits by time to accuracy); no matching item, or an item without workloads (fine-tuning
   a pretrained transformer), means no speed effect, with a note that says so.
2. Match: a probe of other hardware than the project trains on (no GPU for a GPU project, one GPU
   for a multi-GPU project, another GPU vendor, a GPU for a CPU-only project) moves no score, and
   its note comes first.
3. Validity: a busy probe, or a contended row, moves no score.
4. Fairness: speed is relative to the measured candidates' geometric mean, so being measured is
   not a one-sided penalty, and candidates are grouped where their spreads overlap: a difference
   within the spread (between processes when the probe repeated rows; a wide default for one
   process per row, whose speed alone can vary 2x) moves nothing. Unmeasured candidates keep
   their knowledge-base ratings and are named as unmeasured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from advisor.decision.assessment import Measurement
from advisor.decision.engine import MeasuredDelta
from advisor.kb import expr
from advisor.kb.model import KnowledgeBase, SpeedEvidence
from advisor.probe.machine import facts_from_host
from advisor.probe.workloads import gate

POINTS_PER_DOUBLING = 1.0  # rating points (0-10 scale) per 2x faster or slower than the centre
MAX_POINTS = 3.0  # at most this many points either way (8x from the centre)
MIN_TIMED_BLOCKS = 3  # fewer timed blocks than this: the IQR means nothing, speed moves no score
# Relative spread (IQR / median) assumed at least. One process per row: issue 12 measured the same
# PyTorch loop at about 27k and 52k samples/s from one fresh process to the next on an idle
# machine, so one process cannot separate less than that; with repeats, the spread between the
# processes is measured, and small differences still are noise.
ONE_PROCESS_SPREAD = 1.0
MIN_SPREAD = 0.10
GPU_SIZE_SUFFIX = "@large"  # probe workload key of a workload's GPU size (harness.gpu_variants)
GPU_HARDWARE = {"nvidia_gpu": "nvidia", "amd_gpu": "amd", "apple_silicon": "apple", "tpu": "tpu"}
HARDWARE_LABEL = {"nvidia_gpu": "an NVIDIA GPU", "amd_gpu": "an AMD GPU",
                  "apple_silicon": "Apple silicon", "tpu": "a TPU", "cpu_only": "the CPU"}


def _rows(probe: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = probe.get("frameworks") or []
    return [r for r in rows if isinstance(r, Mapping)]


def _row_ok(row: Mapping[str, Any]) -> bool:
    return row.get("status") == "ok"


def _learned(row: Mapping[str, Any]) -> bool:
    for name, wl in (row.get("workloads") or {}).items():
        acc = wl.get("accuracy") if isinstance(wl, Mapping) else None
        if isinstance(acc, (int, float)) and acc < gate(name):
            return False
    return True


def _sees_gpu(row: Mapping[str, Any]) -> bool:
    devices = row.get("devices") or []
    for dev in devices:
        text = (dev if isinstance(dev, str) else str(dev.get("kind", dev))).lower()
        if any(k in text for k in ("gpu", "cuda", "rocm", "mps", "metal")):
            return True
    return False


def facts(kb: KnowledgeBase, probe: Mapping[str, Any]) -> dict[str, Any]:
    """probe.* facts per candidate (installed, sees_gpu, failed) plus machine.* facts."""
    out: dict[str, Any] = {"probe.given": True}
    host = probe.get("host") or {}
    gpus = [g for g in (probe.get("gpus") or []) if isinstance(g, Mapping)]
    out.update(facts_from_host(dict(host), [dict(g) for g in gpus]))
    rows = {str(r.get("name")): r for r in _rows(probe)}
    run: Mapping[str, Any] = probe["run"] if isinstance(probe.get("run"), Mapping) else {}
    skipped = {str(n.get("name")) for n in (run.get("not_run") or []) if isinstance(n, Mapping)}
    for cand in kb.candidates:
        mine = [rows[name] for name in cand.probe_rows if name in rows]
        if not mine:
            continue
        installed = [r for r in mine if r.get("status") != "missing"]
        out[f"probe.{cand.id}.installed"] = bool(installed)
        # a row left out on purpose (Keras on one backend: --quick, advisor run) may have worked
        # where the measured ones did not: "failed everywhere" / "sees no GPU" are not known then
        partial = any(name in skipped for name in cand.probe_rows)
        if installed:
            good = [r for r in installed if _row_ok(r) and _learned(r)]
            if good or not partial:
                out[f"probe.{cand.id}.failed"] = not good
            if gpus and cand.id != "sklearn":
                sees = any(_sees_gpu(r) for r in installed if _row_ok(r))
                if sees or not partial:
                    out[f"probe.{cand.id}.sees_gpu"] = sees
    return out


@dataclass(frozen=True)
class Speed:
    """One candidate's measured speed for the project: higher ``value`` is faster."""

    candidate: str
    row: str
    workload: str
    value: float  # samples/s, or 1 / seconds to the target accuracy
    spread: float  # relative spread (IQR / median) used to separate candidates
    between_processes: bool  # the spread is the one between fresh processes
    text: str  # e.g. "pytorch 12,000 samples/s on cnn-digits"

    @property
    def log2(self) -> float:
        return math.log2(self.value)

    @property
    def half_width(self) -> float:
        """Half the width of the value's band, in doublings."""
        return math.log2(1.0 + self.spread / 2.0)


@dataclass
class ProjectSpeed:
    """What the probe can say about the project's speed, and what keeps it from saying more."""

    item: SpeedEvidence | None
    speeds: dict[str, Speed]
    blockers: list[str]  # why speed moves no score (these notes lead)
    notes: list[str]

    @property
    def usable(self) -> bool:
        return not self.blockers and len(self.speeds) >= 2


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def matching_evidence(kb: KnowledgeBase, values: Mapping[str, Any]) -> list[SpeedEvidence]:
    """The knowledge base's speed_evidence items whose condition holds for these answers."""
    out = []
    for item in kb.speed_evidence:
        node = kb.evidence_conditions.get(item.id) or expr.parse(item.when)
        if expr.evaluate(node, values) is True:
            out.append(item)
    return out


def needed_workloads(kb: KnowledgeBase, values: Mapping[str, Any]) -> tuple[str, ...]:
    """The workloads a probe must run to speak for this project (empty: none represents it)."""
    items = matching_evidence(kb, values)
    if not items or any(not i.workloads for i in items):
        return ()
    return tuple(dict.fromkeys(w for i in items for w in i.workloads))


def project_workloads(answers: Mapping[str, Any],
                      kb: KnowledgeBase | None = None) -> tuple[str, ...] | None:
    """The workloads `advisor run` probes for this project: those its speed evidence names;
    mlp-digits alone (the cheapest: installed, learned, sees the GPU) when no workload represents
    it; None (every workload) when the answers do not say which project it is."""
    if kb is None:
        from advisor.kb.loader import load_bundled

        kb = load_bundled()
    if not matching_evidence(kb, answers):
        return None
    return needed_workloads(kb, answers) or ("mlp-digits",)


def _choose(kb: KnowledgeBase, values: Mapping[str, Any]) -> tuple[SpeedEvidence | None, str]:
    """The one item that speaks for the project, or None and the reason (a note)."""
    items = matching_evidence(kb, values)
    if not items:
        modality = values.get("modality")
        what = f"modality {modality}" if isinstance(modality, str) else "no modality answered"
        return None, (f"No probe workload represents this project ({what}), so measured speed "
                      "moves no score.")
    empty = [i for i in items if not i.workloads]
    if empty:
        return None, (f"No probe workload represents this project ({empty[0].id}): "
                      f"{empty[0].rationale} Measured speed moves no score.")
    kinds = {(i.workloads, i.measure) for i in items}
    if len(kinds) > 1:
        return None, ("The knowledge base names more than one workload for this project ("
                      + ", ".join(i.id for i in items) + "), so measured speed moves no score.")
    return items[0], ""


def machine_mismatch(probe: Mapping[str, Any], values: Mapping[str, Any]) -> str | None:
    """Why the probed machine does not stand for the project's training hardware, if it does not."""
    gpus = [g for g in (probe.get("gpus") or []) if isinstance(g, Mapping)]
    vendors = {str(g.get("vendor", "")).lower() for g in gpus}
    names = ", ".join(sorted({str(g.get("name") or g.get("vendor") or "?") for g in gpus}))
    hardware = values.get("training_hardware")
    label = HARDWARE_LABEL.get(hardware, str(hardware)) if isinstance(hardware, str) else ""
    if isinstance(hardware, str) and hardware in GPU_HARDWARE:
        if not gpus:
            return (f"The probe ran on a machine without a GPU, but the project trains on {label}: "
                    "its numbers do not measure that hardware, so measured speed moves no score. "
                    "Run `advisor probe` on the training machine.")
        if GPU_HARDWARE[hardware] not in vendors:
            return (f"The probe measured {names}, but the project trains on {label}: its "
                    "numbers do not measure that hardware, so measured speed moves no score.")
    if hardware == "cpu_only" and gpus and _ran_on_gpu(probe):
        return (f"The probe trained on a GPU ({names}), but the project trains on the CPU: "
                "measured speed moves no score. Probe with the GPU hidden "
                "(CUDA_VISIBLE_DEVICES=) or on the training machine.")
    scale = values.get("scale")
    if scale in ("multi_gpu", "multi_node") and len(gpus) < 2:
        probed = "one GPU" if len(gpus) == 1 else "no GPU"
        what = "multi-GPU" if scale == "multi_gpu" else "multi-node"
        return (f"The probe measured {probed} on one machine, but the project trains {what}: "
                "single-device speed does not measure that, so measured speed moves no score.")
    return None


def _ran_on_gpu(probe: Mapping[str, Any]) -> bool:
    return any(r.get("ran_on") == "gpu" for r in _rows(probe) if _row_ok(r))


def _contended(row: Mapping[str, Any]) -> bool:
    if row.get("contended") is True:
        return True
    return any(str(f).startswith("contended") for f in (row.get("flags") or []))


def _spread(wl: Mapping[str, Any], median: float, within_iqr: float | None,
            repeats: int) -> tuple[float, bool]:
    """The relative spread that separates candidates, and whether it is between processes."""
    between = wl.get("processes")  # the spread between fresh processes (--repeat; run engineer)
    if isinstance(between, Mapping):
        spread, n = _num(between.get("spread")), _num(between.get("n"))
        if spread is not None and n is not None and n >= 2:
            return max(spread, MIN_SPREAD), True
    within = (within_iqr or 0.0) / median if median else 0.0
    return max(within, ONE_PROCESS_SPREAD if repeats < 2 else MIN_SPREAD), False


def _throughput(row: Mapping[str, Any], workload: str) -> Speed | str | None:
    """The row's samples/s on the workload, a reason it does not count, or None (not run)."""
    wl = (row.get("workloads") or {}).get(workload)
    if not isinstance(wl, Mapping):
        return None
    sps = wl.get("samples_per_s")
    sps = sps if isinstance(sps, Mapping) else {}
    median = _num(sps.get("median"))
    if median is None or median <= 0:
        return None
    acc = _num(wl.get("accuracy"))
    name = str(row.get("name"))
    if acc is not None and acc < gate(workload):
        return f"{name} did not learn {workload} (accuracy {acc:.2f})"
    n = sps.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < MIN_TIMED_BLOCKS:
        return (f"{name} has fewer than {MIN_TIMED_BLOCKS} timed blocks on {workload}, so its "
                "spread is unknown")
    repeats: int = row["repeats"] if isinstance(row.get("repeats"), int) else 1
    spread, between = _spread(wl, median, _num(sps.get("iqr")), repeats)
    return Speed("", name, workload, median, spread, between,
                 f"{name} {median:,.0f} samples/s on {workload}")


def _time_to_accuracy(row: Mapping[str, Any], workload: str) -> Speed | str | None:
    wl = (row.get("workloads") or {}).get(workload)
    if not isinstance(wl, Mapping):
        return None
    name = str(row.get("name"))
    tta = wl.get("time_to_accuracy")
    if not isinstance(tta, Mapping):
        return f"{name} has no time-to-accuracy number on {workload} (probe from an older advisor)"
    target = _num(tta.get("target")) or 0.0
    seconds = _num(tta.get("s"))
    if not tta.get("reached") or seconds is None or seconds <= 0:
        best = _num(tta.get("best_accuracy"))
        got = f" (best {best:.3f})" if best is not None else ""
        return f"{name} did not reach {target:.2f} test accuracy on {workload}{got}"
    runs: int = tta["runs"] if isinstance(tta.get("runs"), int) else 1
    iqr = _num(tta.get("iqr_s"))
    if runs >= 2 and iqr is not None:
        spread, between = max(iqr / seconds, MIN_SPREAD), True
    else:
        spread, between = ONE_PROCESS_SPREAD, False
    return Speed("", name, workload, 1.0 / seconds, spread, between,
                 f"{name} reaches {target:.2f} test accuracy on {workload} in {seconds:.2f} s")


def evidence(kb: KnowledgeBase, probe: Mapping[str, Any],
             values: Mapping[str, Any]) -> ProjectSpeed:
    """What the probe says about the project's speed (see the module docstring)."""
    item, why_not = _choose(kb, values)
    if item is None:
        return ProjectSpeed(None, {}, [why_not], [])
    blockers: list[str] = []
    mismatch = machine_mismatch(probe, values)
    if mismatch:
        blockers.append(mismatch)
    run: Mapping[str, Any] = probe["run"] if isinstance(probe.get("run"), Mapping) else {}
    if run.get("busy") is True:
        load = run.get("load_avg_before")
        others = _num(run.get("others_cpu_before"))
        load_text = (f" (other processes used {others:.0%} of its cores before the run)"
                     if others is not None else
                     f" (load {load[0]:.1f} before the run)" if isinstance(load, list) and load
                     and _num(load[0]) is not None else "")
        blockers.append(f"The probe's machine was busy{load_text}: its speed numbers are not "
                        "valid, so measured speed moves no score. Probe again on a quiet machine.")
    elif run.get("quiet") is False and not any(_contended(r) for r in _rows(probe)):
        blockers.append("The probe was not measured quiet (other work competed for its cores): "
                        "its speed numbers are not valid, so measured speed moves no score.")
    measure = _time_to_accuracy if item.measure == "time_to_accuracy" else _throughput
    on_gpu = _ran_on_gpu(probe)
    if on_gpu and item.measure == "samples_per_s":
        large = [gpu_variant(w) for w in item.workloads]
        if not any(large[0] in (r.get("workloads") or {}) for r in _rows(probe) if _row_ok(r)):
            blockers.append(
                f"On a GPU, {item.workloads[0]} measures kernel-launch overhead, not training "
                f"speed, and this probe has no GPU-sized numbers ({large[0]}: `advisor probe` "
                "runs them on a GPU; this file is older), so measured speed moves no score.")
        item = _with_workloads(item, tuple(large))
    rows = {str(r.get("name")): r for r in _rows(probe) if _row_ok(r)}
    speeds: dict[str, Speed] = {}
    notes: list[str] = []
    unmeasured: list[str] = []
    contended: list[str] = []
    for cand in kb.candidates:
        best: Speed | None = None
        reasons: list[str] = []
        mine = speaks_for(cand.probe_rows, item.workloads)
        for name in cand.probe_rows:
            if name not in rows:
                continue
            for workload in mine:
                got = measure(rows[name], workload)
                if isinstance(got, str):
                    reasons.append(got)
                elif got is not None:
                    if _contended(rows[name]):
                        contended.append(name)
                    if best is None or got.value > best.value:
                        best = got
        if best is not None:
            speeds[cand.id] = Speed(cand.id, best.row, best.workload, best.value, best.spread,
                                    best.between_processes, best.text)
        else:
            unmeasured.append(f"{cand.name} ({reasons[0] if reasons else _absent(probe, cand, mine)})")
    if contended:
        blockers.append("Other work competed for the CPU while " + ", ".join(sorted(contended))
                        + " trained (contended): speed numbers are not valid, so measured speed "
                        "moves no score.")
    what = _what(probe, item)
    if unmeasured:
        notes.append(f"Not measured on {what}: " + "; ".join(unmeasured)
                     + ". Their performance ratings stay as the knowledge base has them.")
    if len(speeds) == 1:
        only = next(iter(speeds))
        blockers.append(f"Only {kb.candidate(only).name} was measured on {what}; relative speed "
                        "needs two, so measured speed moves no score.")
    elif not speeds and not blockers:
        blockers.append(f"This probe did not measure {what} for any candidate (a --quick probe "
                        "runs mlp-digits only), so measured speed moves no score; `advisor "
                        "probe` without --quick measures it.")
    return ProjectSpeed(item, speeds, blockers, notes)


def speaks_for(probe_rows: tuple[str, ...], workloads: tuple[str, ...]) -> tuple[str, ...]:
    """The workload that speaks for a candidate: the first of ``workloads`` (in the knowledge
    base's order of preference) that one of its rows runs (the probe catalogue says which).

    For tabular data that is gbdt-digits for scikit-learn (the family the knowledge base
    recommends) and mlp-digits for the deep-learning frameworks: scikit-learn is never judged on
    its MLP while its gradient-boosted trees are the measure, even when a probe lacks them.
    """
    from advisor.probe.catalog import ROWS

    for workload in workloads:
        base = workload.split("@")[0]
        if any(base in ROWS[r].workloads for r in probe_rows if r in ROWS):
            return (workload,)
    return ()


def gpu_variant(workload: str) -> str:
    """The compute-bound size of a workload that a probe runs on a GPU (float32)."""
    return f"{workload}{GPU_SIZE_SUFFIX}"


def _with_workloads(item: SpeedEvidence, workloads: tuple[str, ...]) -> SpeedEvidence:
    import dataclasses

    return dataclasses.replace(item, workloads=workloads)


def _target(probe: Mapping[str, Any], item: SpeedEvidence) -> str:
    described: Mapping[str, Any] = (probe["workloads"] if isinstance(probe.get("workloads"), Mapping)
                                    else {})
    for workload in item.workloads:
        desc = described.get(workload)
        target = _num(desc.get("target_accuracy")) if isinstance(desc, Mapping) else None
        if target is not None:
            return f"{target:.2f}"
    return "the target"


def _absent(probe: Mapping[str, Any], cand: Any, workloads: tuple[str, ...]) -> str:
    """Why a candidate has no number on the project's workload."""
    statuses = {str(r.get("name")): r.get("status") for r in _rows(probe)}
    mine = [statuses[r] for r in cand.probe_rows if r in statuses]
    if not mine:
        return "not in this probe"
    if all(s == "missing" for s in mine):
        return "not installed - performance not measured"
    if not any(s == "ok" for s in mine):
        return "its probe failed"
    return "not run in this probe" if workloads else "no such workload"


def clusters(speeds: Mapping[str, Speed]) -> list[list[Speed]]:
    """Candidates grouped, fastest first, where their bands overlap (a chain of overlaps)."""
    ordered = sorted(speeds.values(), key=lambda s: -s.log2)
    groups: list[list[Speed]] = []
    for speed in ordered:
        last = groups[-1][-1] if groups else None
        if last is not None and last.log2 - last.half_width <= speed.log2 + speed.half_width:
            groups[-1].append(speed)
        else:
            groups.append([speed])
    return groups


def ratings(speeds: Mapping[str, Speed]) -> dict[str, float]:
    """Rating change per measured candidate: its group's log2 speed against the centre (the mean
    over measured candidates), POINTS_PER_DOUBLING per doubling, within +/- MAX_POINTS."""
    groups = clusters(speeds)
    level = {s.candidate: sum(m.log2 for m in g) / len(g) for g in groups for s in g}
    centre = sum(level.values()) / len(level)
    return {c: round(max(-MAX_POINTS, min(MAX_POINTS, POINTS_PER_DOUBLING * (v - centre))), 3)
            for c, v in level.items()}


def speed_facts(kb: KnowledgeBase, probe: Mapping[str, Any],
                values: Mapping[str, Any]) -> dict[str, Any]:
    """probe.<candidate>.relative_speed (1.0 = fastest) and probe.fastest, only when the probe
    can speak for the project's speed at all (same policy as :func:`measurer`)."""
    ev = evidence(kb, probe, values)
    if not ev.usable:
        return {}
    top = max(ev.speeds.values(), key=lambda s: s.value)
    out: dict[str, Any] = {f"probe.{c}.relative_speed": s.value / top.value
                           for c, s in ev.speeds.items()}
    out["probe.fastest"] = top.candidate
    return out


def partly_measured_notes(kb: KnowledgeBase, probe: Mapping[str, Any]) -> list[str]:
    """A note per candidate whose rows the probe left out in part (a --quick probe runs Keras on
    one backend): the rows that ran speak for it, and a row that did not run may be faster."""
    run = probe.get("run")
    left_out = run.get("not_run") if isinstance(run, Mapping) else None
    if not isinstance(left_out, list):
        return []
    skipped = {str(i.get("name")) for i in left_out if isinstance(i, Mapping)}
    ran = {str(r.get("name")) for r in _rows(probe) if _row_ok(r)}
    notes = []
    for cand in kb.candidates:
        missing = [r for r in cand.probe_rows if r in skipped]
        measured = [r for r in cand.probe_rows if r in ran]
        if missing and measured:
            notes.append(f"{cand.name} was measured as {', '.join(measured)} only; "
                         f"{', '.join(missing)} did not run in this probe, and may be faster.")
    return notes


def measurer(probe: Mapping[str, Any]):
    """A callable for engine.Inputs: measured speed -> performance rating changes (see the
    module docstring for the policy)."""

    def measure(kb: KnowledgeBase, fact_values: Mapping[str, Any], weights: Mapping[str, float]):
        ev = evidence(kb, probe, fact_values)
        deltas: list[MeasuredDelta] = []
        measurements: list[Measurement] = []
        notes = list(ev.blockers) + partly_measured_notes(kb, probe) + ev.notes
        if not ev.usable:
            return deltas, measurements, notes
        assert ev.item is not None
        change = ratings(ev.speeds)
        centre = 2 ** (sum(s.log2 for s in ev.speeds.values()) / len(ev.speeds))
        groups = clusters(ev.speeds)
        if len(groups) == 1:
            one_process = not all(s.between_processes for s in ev.speeds.values())
            notes.insert(0, f"The measured candidates are too close on {_what(probe, ev.item)} "
                         "to separate (" + "; ".join(_band(kb, s) for s in groups[0])
                         + "), so measured speed moves no score."
                         + (" One process per row measured them (advisor run, --quick), and a "
                            "fresh process alone can vary 2x; `advisor probe` measures two per "
                            "row and `advisor run --probe FILE` uses them." if one_process
                            else ""))
        kind = ("between processes" if all(s.between_processes for s in ev.speeds.values())
                else "one process per row: a fresh process alone can vary 2x")
        for group in groups:
            for speed in group:
                rating = change[speed.candidate]
                rel = speed.value / centre
                ties = [kb.candidate(o.candidate).name for o in group if o is not speed]
                detail = (f"{speed.text} = {rel:.2f}x the measured candidates' geometric mean"
                          + (f"; within the spread of {', '.join(ties)}" if ties else ""))
                points = weights.get("performance", 0.0) * rating
                measurements.append(Measurement(
                    candidate=speed.candidate, criterion="performance", row=speed.row,
                    workload=speed.workload, value=rel, rating=rating, points=points,
                    detail=detail))
                if rating != 0.0:
                    deltas.append(MeasuredDelta(speed.candidate, "performance", rating,
                                                f"measured:{speed.workload}", detail))
        if deltas:
            notes.append(f"Speed on {ev.item.id.removeprefix('speed.')} "
                         f"({', '.join(ev.item.workloads)}) moved performance ratings, relative "
                         f"to the measured candidates' mean; spread: {kind}.")
        return deltas, measurements, notes

    return measure


def _band(kb: KnowledgeBase, speed: Speed) -> str:
    return f"{kb.candidate(speed.candidate).name}: {speed.text} +/- {speed.spread / 2:.0%}"


def _what(probe: Mapping[str, Any], item: SpeedEvidence) -> str:
    """What the project is measured on: a workload, or time to accuracy on some."""
    if item.measure == "time_to_accuracy":
        return f"time to {_target(probe, item)} test accuracy on {' / '.join(item.workloads)}"
    return item.workloads[0]


# ------------------------------------------------------------------------------- scaling


def _efficiency(row: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """(median, low, high) of an ok scaling row that learned; None otherwise."""
    if row.get("status") != "ok" or any(str(f).startswith("not-learned") for f in
                                        (row.get("flags") or [])):
        return None
    eff = row.get("efficiency")
    if not isinstance(eff, Mapping):
        return None
    vals = [eff.get(k) for k in ("median", "low", "high")]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               and v >= 0 for v in vals):
        return None
    med, low, high = (float(v) for v in vals if v is not None)
    return med, min(low, med), max(high, med)


def best_scaling_rows(kb: KnowledgeBase, probe: Mapping[str, Any]
                      ) -> dict[str, tuple[str, float, float, float]]:
    """candidate -> (row, median, low, high) of its best-scaling ok row in the probe's scaling."""
    scaling = probe.get("scaling")
    rows = scaling.get("rows") if isinstance(scaling, Mapping) else None
    by_name = {str(r.get("name")): r for r in (rows or []) if isinstance(r, Mapping)}
    out: dict[str, tuple[str, float, float, float]] = {}
    for cand in kb.candidates:
        for name in cand.probe_rows:
            got = _efficiency(by_name[name]) if name in by_name else None
            if got and (cand.id not in out or got[0] > out[cand.id][1]):
                out[cand.id] = (name, *got)
    return out


def scaling_facts(kb: KnowledgeBase, probe: Mapping[str, Any]) -> dict[str, Any]:
    """probe.<cand>.scaling_efficiency(_high) and probe.best_scaling (only when separated)."""
    best = best_scaling_rows(kb, probe)
    out: dict[str, Any] = {}
    for cand, (_, med, _low, high) in best.items():
        out[f"probe.{cand}.scaling_efficiency"] = round(med, 4)
        out[f"probe.{cand}.scaling_efficiency_high"] = round(high, 4)
    if len(best) >= 2:
        top = max(best, key=lambda c: best[c][1])
        if all(best[top][2] > best[c][3] for c in best if c != top):
            out["probe.best_scaling"] = top
    return out
