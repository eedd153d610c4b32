"""Turn a probe file (the JSON `advisor probe` writes) into facts and measurements for the engine.

Facts are named ``probe.<candidate>.<fact>`` and ``machine.*``; the knowledge base declares them,
so rules read them like answers. Relative speed enters the `performance` criterion through
:func:`measurer`, and only where the difference is larger than the measured spread.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from advisor.decision.assessment import Measurement
from advisor.decision.engine import MeasuredDelta
from advisor.kb.model import KnowledgeBase
from advisor.probe.machine import facts_from_host

#: The workload that resembles each kind of data: per-step overhead (small MLP batches) or
#: compute (convolutions).
WORKLOAD_FOR_MODALITY = {
    "images": "cnn-digits",
    "audio": "cnn-digits",
    "multimodal": "cnn-digits",
    "graph": "mlp-digits",
    "text": "mlp-digits",
    "tabular": "mlp-digits",
    "time_series": "mlp-digits",
    "other": "mlp-digits",
}


def project_workloads(answers: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The workloads whose speed can move this project's scores (what `advisor run` probes);
    None when the answers do not say (then every workload)."""
    modality = answers.get("modality")
    workload = WORKLOAD_FOR_MODALITY.get(modality) if isinstance(modality, str) else None
    return (workload,) if workload else None


MAX_PENALTY = 4.0  # rating points on the 0-10 scale for a framework 16x slower than the fastest
ACCURACY_GATE = {"mlp-digits": 0.8, "cnn-digits": 0.8}
MIN_TIMED_BLOCKS = 3  # fewer timed blocks than this: the IQR means nothing, speed moves no score


def _rows(probe: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = probe.get("frameworks") or []
    return [r for r in rows if isinstance(r, Mapping)]


def _row_ok(row: Mapping[str, Any]) -> bool:
    return row.get("status") == "ok"


def _learned(row: Mapping[str, Any]) -> bool:
    for name, wl in (row.get("workloads") or {}).items():
        acc = wl.get("accuracy") if isinstance(wl, Mapping) else None
        if isinstance(acc, (int, float)) and acc < ACCURACY_GATE.get(name, 0.5):
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
    for cand in kb.candidates:
        mine = [rows[name] for name in cand.probe_rows if name in rows]
        if not mine:
            continue
        installed = [r for r in mine if r.get("status") != "missing"]
        out[f"probe.{cand.id}.installed"] = bool(installed)
        if installed:
            good = [r for r in installed if _row_ok(r) and _learned(r)]
            out[f"probe.{cand.id}.failed"] = not good
            if gpus and cand.id != "sklearn":
                out[f"probe.{cand.id}.sees_gpu"] = any(_sees_gpu(r) for r in installed if _row_ok(r))
    return out


def _throughput(row: Mapping[str, Any], workload: str) -> tuple[float, float] | None:
    wl = (row.get("workloads") or {}).get(workload)
    if not isinstance(wl, Mapping):
        return None
    sps = wl.get("samples_per_s")
    if not isinstance(sps, Mapping):
        return None
    median, iqr = sps.get("median"), sps.get("iqr", 0.0)
    if not isinstance(median, (int, float)) or median <= 0 or not math.isfinite(median):
        return None
    acc = wl.get("accuracy")
    if isinstance(acc, (int, float)) and acc < ACCURACY_GATE.get(workload, 0.5):
        return None  # did not learn: its speed means nothing
    iqr = float(iqr) if isinstance(iqr, (int, float)) and math.isfinite(iqr) else 0.0
    return float(median), max(iqr, 0.0)


def best_rows(
    kb: KnowledgeBase, probe: Mapping[str, Any], workload: str
) -> dict[str, tuple[str, float, float]]:
    """candidate -> (row name, median samples/s, IQR) of its fastest ok row on the workload."""
    rows = {str(r.get("name")): r for r in _rows(probe) if _row_ok(r)}
    out: dict[str, tuple[str, float, float]] = {}
    for cand in kb.candidates:
        best: tuple[str, float, float] | None = None
        for name in cand.probe_rows:
            if name not in rows:
                continue
            got = _throughput(rows[name], workload)
            if got and (best is None or got[0] > best[1]):
                best = (name, got[0], got[1])
        if best is not None:
            out[cand.id] = best
    return out


def speed_facts(kb: KnowledgeBase, probe: Mapping[str, Any], modality: str | None) -> dict[str, Any]:
    workload = WORKLOAD_FOR_MODALITY.get(modality or "", "cnn-digits")
    best = best_rows(kb, probe, workload)
    if not best:
        return {}
    top = max(best.values(), key=lambda b: b[1])[1]
    out: dict[str, Any] = {f"probe.{c}.relative_speed": v[1] / top for c, v in best.items()}
    out["probe.fastest"] = max(best, key=lambda c: best[c][1])
    return out


def _timed_blocks(probe: Mapping[str, Any], row_name: str, workload: str) -> int:
    """How many timed blocks (of whole epochs) a row's median rests on (0: the file does not say)."""
    for row in _rows(probe):
        if row.get("name") == row_name:
            wl = (row.get("workloads") or {}).get(workload)
            sps = wl.get("samples_per_s") if isinstance(wl, Mapping) else None
            n = sps.get("n") if isinstance(sps, Mapping) else None
            return n if isinstance(n, int) and not isinstance(n, bool) else 0
    return 0


def not_quiet(probe: Mapping[str, Any], rows: list[str]) -> str | None:
    """Why these rows' speeds were not measured quiet (a busy machine, a contended row), or None.

    A busy or contended measurement moves no score (DESIGN.md "Probes").
    """
    run = probe.get("run") if isinstance(probe.get("run"), Mapping) else {}
    assert isinstance(run, Mapping)
    if run.get("busy") is True:
        load = run.get("load_avg_before")
        at = f" (load {load[0]:.1f})" if isinstance(load, list) and load else ""
        return f"the machine was busy before the probe{at}"
    by_name = {str(r.get("name")): r for r in _rows(probe)}
    contended = [n for n in rows if by_name.get(n, {}).get("contended") is True]
    if contended:
        return (f"{', '.join(contended)} shared {'its' if len(contended) == 1 else 'their'} "
                "cores with other processes while training (contended)")
    return None


def _between(probe: Mapping[str, Any], row_name: str, workload: str) -> float:
    """The relative spread between a row's fresh processes on a workload (0: unknown)."""
    for row in _rows(probe):
        if row.get("name") == row_name:
            wl = (row.get("workloads") or {}).get(workload)
            procs = wl.get("processes") if isinstance(wl, Mapping) else None
            spread = procs.get("spread") if isinstance(procs, Mapping) else None
            if isinstance(spread, (int, float)) and math.isfinite(spread) and spread > 0:
                return float(spread)
    return 0.0


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
    """A callable for engine.Inputs: measured speed -> performance rating changes, noise-aware."""

    def measure(kb: KnowledgeBase, fact_values: Mapping[str, Any], weights: Mapping[str, float]):
        modality = fact_values.get("modality")
        workload = WORKLOAD_FOR_MODALITY.get(modality if isinstance(modality, str) else "", "cnn-digits")
        best = best_rows(kb, probe, workload)
        deltas: list[MeasuredDelta] = []
        measurements: list[Measurement] = []
        notes: list[str] = partly_measured_notes(kb, probe)
        why = not_quiet(probe, [row for row, _, _ in best.values()])
        if why:
            top = max((b[1] for b in best.values()), default=0.0)
            for cand, (row, med, _iqr) in best.items():
                measurements.append(Measurement(
                    candidate=cand, criterion="performance", row=row, workload=workload,
                    value=med / top if top else 0.0, rating=0.0, points=0.0,
                    detail=f"{row} {med:,.0f} samples/s on {workload} (not measured quiet)"))
            notes.insert(0, f"Measured speed moves no score: {why}, so the numbers may show "
                            "the other work rather than the frameworks. Probe again on a quiet "
                            "machine.")
            return deltas, measurements, notes
        if len(best) < 2:
            if best:
                notes.append(f"Only one framework was measured on {workload}; speed moves no score.")
            else:
                others = [w for w in sorted(set(WORKLOAD_FOR_MODALITY.values()))
                          if w != workload and len(best_rows(kb, probe, w)) >= 2]
                if others:
                    notes.append(
                        f"The project's data matches {workload}, which this probe did not measure "
                        f"(it has {', '.join(others)} only, as a --quick probe does), so speed "
                        f"moves no score; run `advisor probe` without --quick to include it.")
            return deltas, measurements, notes
        fastest = max(best, key=lambda c: best[c][1])
        f_row, f_med, f_iqr = best[fastest]
        f_n = _timed_blocks(probe, f_row, workload)
        for cand, (row, med, iqr) in best.items():
            rel = med / f_med
            # apart only beyond both the blocks' spread and the spread between fresh processes
            between = max(_between(probe, row, workload), _between(probe, f_row, workload))
            overlap = med + iqr / 2 >= f_med - f_iqr / 2 or 1 - rel <= between
            n = _timed_blocks(probe, row, workload)
            if cand != fastest and not overlap and min(n, f_n) < MIN_TIMED_BLOCKS:
                # Without enough timed blocks the spread itself is unknown: say so, move nothing.
                measurements.append(Measurement(
                    candidate=cand, criterion="performance", row=row, workload=workload, value=rel,
                    rating=0.0, points=0.0,
                    detail=(f"{row} {med:,.0f} samples/s on {workload} = {rel:.2f}x the fastest, "
                            f"but only {min(n, f_n)} timed blocks: spread unknown")))
                notes.append(
                    f"{kb.candidate(cand).name} and {kb.candidate(fastest).name} cannot be separated "
                    f"on {workload}: fewer than {MIN_TIMED_BLOCKS} timed blocks, so the spread is "
                    "unknown; speed moves no score."
                )
                continue
            if cand == fastest or overlap:
                rating = 0.0
                detail = (f"{row} {med:,.0f} samples/s on {workload}"
                          + ("" if cand == fastest else f", within the measured spread of {f_row}"))
                if cand != fastest:
                    notes.append(
                        f"{kb.candidate(cand).name} and {kb.candidate(fastest).name} are too close "
                        f"on {workload} to separate ({med:,.0f} +/- {iqr:,.0f} vs "
                        f"{f_med:,.0f} +/- {f_iqr:,.0f} samples/s"
                        + (f"; fresh processes differed by {between:.0%}" if between else "")
                        + ")."
                    )
            else:
                rating = max(-MAX_PENALTY, MAX_PENALTY / 4 * math.log2(rel))
                rating = round(rating, 3)
                detail = (f"{row} {med:,.0f} samples/s on {workload} = {rel:.2f}x the fastest "
                          f"({f_row} {f_med:,.0f})")
            points = weights.get("performance", 0.0) * rating
            measurements.append(Measurement(candidate=cand, criterion="performance", row=row,
                                            workload=workload, value=rel, rating=rating,
                                            points=points, detail=detail))
            if rating != 0.0:
                deltas.append(MeasuredDelta(cand, "performance", rating,
                                            f"measured:{workload}", detail))
        return deltas, measurements, notes

    return measure


# ------------------------------------------------------------------------------- scaling
SCALING_ACCURACY_GATE = 0.8


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
    med, low, high = (float(v) for v in vals)
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
