"""Deployment facts for the decision, from the ``deploy`` rows of a probe file.

``advisor probe --deploy`` (advisor/probe/deploy.py) measures the paths; this module reads what it
measured for the engine: the facts ``probe.deploy.<candidate>.<target>`` that rules read, and the
measurer that lists the measured paths in the recommendation (docs/deploy.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.probe.deploy import TARGETS, targets_from_answers


def _deploy_rows(probe: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    deploy = probe.get("deploy")
    rows = deploy.get("rows") if isinstance(deploy, Mapping) else None
    return [r for r in rows or [] if isinstance(r, Mapping)]


def path_status(kb: Any, probe: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, list[Mapping[str, Any]]]]:
    """(candidate, target) -> ("ok" | "failed", the rows that decided it); absent: unknown."""
    rows = _deploy_rows(probe)
    run: Mapping[str, Any] = probe["run"] if isinstance(probe.get("run"), Mapping) else {}
    skipped = {str(n.get("name")) for n in (run.get("not_run") or []) if isinstance(n, Mapping)}
    out: dict[tuple[str, str], tuple[str, list[Mapping[str, Any]]]] = {}
    for cand in kb.candidates:
        # a row left out on purpose (Keras on one backend) may reach the target: no "failed"
        partial = any(name in skipped for name in cand.probe_rows)
        for target in TARGETS:
            mine = [r for r in rows if r.get("row") in cand.probe_rows
                    and r.get("target") == target]
            ok = [r for r in mine if r.get("status") == "ok"]
            failed = [r for r in mine if r.get("status") == "failed"]
            if ok:
                out[(cand.id, target)] = ("ok", ok)
            elif failed and not partial:
                out[(cand.id, target)] = ("failed", failed)
    return out


def deploy_facts(kb: Any, probe: Mapping[str, Any]) -> dict[str, str]:
    """``probe.deploy.<candidate>.<target>`` for every measured path the knowledge base declares."""
    declared = {f.id for f in getattr(kb, "facts", ())}
    out = {}
    for (cand, target), (status, _rows) in path_status(kb, probe).items():
        name = f"probe.deploy.{cand}.{target}"
        if name in declared:
            out[name] = status
    return out


OK_RATING = 1.0  # deployment rating points for a path measured ok (per answered target)
# A target every tried path of a candidate failed to reach is scored by the knowledge base's
# per-target rule (deploy.measured.<candidate>.<target>.failed in rules/deployment.yaml), so that
# it bounds the criterion like any weak target; here it is listed, not scored a second time.


def measurer(inner: Any, probe: Mapping[str, Any]) -> Any:
    """Wrap the speed measurer: add the measured deployment paths of the answered targets.

    Each answered target with a path measured ok moves the candidate's ``deployment`` rating by
    ``OK_RATING`` divided by the number of answered targets (so a project
    with many targets is not pushed to the end of the scale by measurements alone). The rules
    rate what is known in general; this is what happened on this machine.
    """

    def measure(kb: Any, fact_values: Mapping[str, Any], weights: Mapping[str, float]):
        from advisor.decision.assessment import Measurement
        from advisor.decision.engine import MeasuredDelta

        deltas, measurements, notes = (inner(kb, fact_values, weights) if inner is not None
                                       else ([], [], []))
        deltas, measurements, notes = list(deltas), list(measurements), list(notes)
        if not _deploy_rows(probe) or "deployment" not in weights:
            return deltas, measurements, notes
        answered = fact_values.get("deploy_targets")
        targets = targets_from_answers(answered if isinstance(answered, list) else [])
        if not targets:
            return deltas, measurements, notes
        decided = path_status(kb, probe)
        measured_targets: list[str] = []
        rule_targets: list[str] = []
        for target in targets:
            found = False
            for cand in kb.candidates:
                got = decided.get((cand.id, target))
                if got is None:
                    continue
                found = True
                status, rows = got
                detail = describe(rows, target)
                if status == "ok":
                    rating = round(OK_RATING / len(targets), 3)
                else:  # scored per target by the rule that reads the fact: counted once, there
                    rating = 0.0
                    detail += f" (scored by rule deploy.measured.{cand.id}.{target}.failed)"
                measurements.append(Measurement(
                    candidate=cand.id, criterion="deployment",
                    row=",".join(sorted({str(r.get("row")) for r in rows})),
                    workload=",".join(sorted({str(r.get("format")) for r in rows})),
                    value=1.0 if status == "ok" else 0.0, rating=rating,
                    points=weights.get("deployment", 0.0) * rating, detail=detail))
                if rating:
                    deltas.append(MeasuredDelta(cand.id, "deployment", rating,
                                                f"measured:deploy:{target}", detail))
            (measured_targets if found else rule_targets).append(target)
        if measured_targets:
            notes.append("Deployment measured on the probed machine for: "
                         f"{', '.join(measured_targets)} (export, runtime and parity of the "
                         "trained micro-models; see the deployment matrix).")
        if rule_targets:
            notes.append("Deployment to " + ", ".join(rule_targets) + " comes from the rules "
                         "only: no path to it was measured (run `advisor probe --deploy "
                         f"--targets {','.join(rule_targets)}`).")
        return deltas, measurements, notes

    return measure


def describe(rows: list[Mapping[str, Any]], target: str) -> str:
    """One line for a measurement: the best path's numbers, or the first error."""
    first = rows[0]
    if first.get("status") != "ok":
        return f"{first.get('row')} -> {target}: every tried path failed, e.g. " \
               f"{first.get('format')}: {first.get('reason')}"
    lat = first.get("latency_ms") or {}
    par = first.get("parity") or {}
    size = first.get("size_bytes")
    bits = [f"{first.get('row')} -> {target} via {first.get('format')} ok"]
    if isinstance(lat.get("p50"), (int, float)):
        bits.append(f"p50 {lat['p50']:.3g} ms")
    if isinstance(size, int):
        bits.append(f"{size / 1024:,.0f} KiB")
    if isinstance(par.get("top1_agreement"), (int, float)):
        bits.append(f"top-1 parity {par['top1_agreement']:.3f}")
    return ", ".join(bits)
