"""Pool a row's fresh-process runs into the probe document's numbers, and judge them.

- ``pool_row`` / ``pool_workload``: the blocks of every process pooled (median, IQR, n), the
  spread between processes (their medians) next to the spread within them, the accuracy gate;
- ``mark_contention``: whether another process competed with a row while it trained. Each
  child measures, around every workload, the CPU time everything else used on its cores
  (``others_cpu_share``, from /proc/stat) and a fixed calibration kernel before and after
  (``protocol.ContentionWindow``). A row is ``contended`` when others took more than
  ``OTHERS_CPU_LIMIT`` of its cores' time, or when its median calibration reading was more
  than ``CALIBRATION_LIMIT`` times the run's fastest reading (its own baseline). A contended or busy
  measurement moves no score (advisor.probe.facts reads ``contended`` and ``run.quiet``);
- ``apply_cpu_peak``: one CPU matmul reference per run.
"""

from __future__ import annotations

import statistics
from typing import Any

from advisor.probe import policy, protocol
from advisor.probe.catalog import Row
from advisor.probe.runner import ChildResult

# The thresholds (noise, accuracy gate, busy, contention) are the measurement policy's.
OTHERS_CPU_LIMIT = policy.OTHERS_CPU_LIMIT
CALIBRATION_LIMIT = policy.CALIBRATION_LIMIT
WORKLOADS = protocol.WORKLOADS


is_busy = policy.is_busy


def workload_descriptions(frameworks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What each workload is (protocol.SPECS), recorded in the probe file."""
    common = {"dataset": "sklearn digits (bundled)", "split": "80/20 stratified, random_state=0",
              "scaling": "StandardScaler fit on train", "dtype": "float32",
              "target_accuracy": protocol.TARGET_ACCURACY}
    neural = {"optimizer": "Adam lr 1e-3", "loss": "cross-entropy"}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in protocol.SPECS.items():
        out[name] = {**common, **({} if spec["family"] == "gbdt" else neural),
                     "family": spec["family"], "model": spec["model"],
                     "batch_size": spec["batch_size"], "accuracy_gate": spec["gate"],
                     "train_flops_per_sample": _flops(frameworks, name)}
    return out


def _flops(frameworks: list[dict[str, Any]], workload: str) -> int | None:
    """Training FLOPs per sample of a workload, as the children that ran it count them."""
    return next((r["workloads"][workload]["train_flops_per_sample"] for r in frameworks
                 if r.get("workloads", {}).get(workload, {}).get("train_flops_per_sample")),
                None)


def pool_row(spec: Row, results: list[ChildResult],
             selected: tuple[str, ...] = WORKLOADS, host_has_gpu: bool = False) -> dict[str, Any]:
    """One row from N fresh-process runs: samples pooled, any failed run makes the row fail."""
    failed = next((r for r in results if r.status != "ok"), None)
    payloads = [r.payload for r in results if r.status == "ok" and r.payload]
    first = (failed.payload if failed and failed.payload else None) or (payloads[0] if payloads
                                                                        else {})
    row: dict[str, Any] = {
        "name": spec.name,
        "status": failed.status if failed else "ok",
        "version": first.get("version"),
        "devices": first.get("devices", []),
        "sees_gpu": any(d.get("kind") == "gpu" for d in first.get("devices", [])),
        "ran_on": first.get("ran_on"),
        "import_s": _median([p.get("import_s") for p in payloads]),
        "threads": first.get("threads"),
        "framework_threads": first.get("framework_threads"),
        "seed": first.get("seed"),
        "repeats": len(results),  # fresh processes
        "contended": False,  # mark_contention decides, once every row has run
        "wall_s": round(sum(r.wall_s for r in results), 3),
        "workloads": {},
        "flags": [],
    }
    for key in ("backend", "backend_version", "float32_matmul_precision", "keras_config"):
        if key in first:
            row[key] = first[key]
    if failed:
        attempt = results.index(failed) + 1
        prefix = f"run {attempt}/{len(results)}: " if len(results) > 1 else ""
        row["error"] = prefix + (failed.error or failed.status)
        if failed.status == "missing":
            row["install_hint"] = (failed.payload or {}).get("install_hint", spec.install_hint)
        if failed.stderr_tail and failed.status in ("broken", "timeout"):
            row["stderr_tail"] = failed.stderr_tail[-2000:]
        return row
    for base in (w for w in spec.workloads if w in selected):
        # the workload, then its GPU sizes (``cnn-digits@large``...), which only a GPU row runs
        keys = [base] + sorted({k for p in payloads for k in p.get("workloads", {})
                                if k.startswith(base + "@")})
        for workload in keys:
            parts = [p["workloads"][workload] for p in payloads
                     if isinstance(p.get("workloads", {}).get(workload), dict)]
            good = [p for p in parts if "samples_per_s" in p]
            if good:
                row["workloads"][workload] = pool_workload(workload, good)
            elif parts:  # a GPU size that failed in the child (its error, not the row's)
                row.setdefault("size_errors", {})[workload] = parts[0].get("error")
    if host_has_gpu and not row["sees_gpu"] and spec.name != "sklearn":
        row["flags"].append("gpu-not-visible")  # the host has a GPU this framework cannot use
    for workload, result in row["workloads"].items():
        if result["noisy"]:
            row["flags"].append(f"noisy:{workload}")
        if not result["learned"]:
            row["flags"].append(f"not-learned:{workload}")
    return row


def pool_workload(name: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One workload of a row from its processes (``parts``, one per process, in run order)."""
    values = [v for p in parts for v in p["samples_per_s"].get("values", [])]
    stats = policy.summary(values)
    median, iqr = stats["median"], stats["iqr"]
    accuracy = _median([p.get("accuracy") for p in parts])
    out: dict[str, Any] = {
        "first_epoch_s": _median([p.get("first_epoch_s") for p in parts]),
        "samples_per_s": {"median": _round(median), "iqr": _round(iqr), "n": stats["n"],
                          "values": [_round(v) for v in values]},
        "processes": between_processes(parts),
        "accuracy": accuracy,
        "peak_rss_mb": max((p.get("peak_rss_mb") or 0 for p in parts), default=None) or None,
        "rss_scope": parts[0].get("rss_scope"),
        "peak_gpu_mb": max((p.get("peak_gpu_mb") or 0 for p in parts), default=0) or None,
        "epochs": parts[0].get("epochs"),
        "batch_size": parts[0].get("batch_size"),
        "precision": parts[0].get("precision", "float32"),
        "wall_s": _median([p.get("wall_s") for p in parts]),
        "train_flops_per_sample": parts[0].get("train_flops_per_sample"),
        "contention": [p["contention"] for p in parts if isinstance(p.get("contention"), dict)],
        "noisy": policy.is_noisy(median, iqr),
        "learned": policy.learned(name, accuracy),
    }
    tta = pool_time_to_accuracy([p.get("time_to_accuracy") for p in parts])
    if tta is not None:
        out["time_to_accuracy"] = tta
    if any("peak_source" in p for p in parts):  # judged against a matmul peak (harness)
        peak = max((p.get("peak_gflops") or 0 for p in parts), default=0) or None
        flops = parts[0].get("train_flops_per_sample")
        achieved = median * flops / 1e9 if median and flops else None
        out.update({
            "gflops": _round(achieved),
            "peak_gflops": _round(peak),
            "peak_source": parts[0].get("peak_source"),
            "fraction_of_peak": round(achieved / peak, 4) if achieved and peak else None,
        })
    return out


def pool_time_to_accuracy(parts: list[Any]) -> dict[str, Any] | None:
    """Time to accuracy over N fresh-process runs: reached only when every run reached it; the
    median and IQR of the runs' seconds (the spread between processes)."""
    runs = [p for p in parts if isinstance(p, dict)]
    if not runs:
        return None
    reached = [float(p["s"]) for p in runs
               if p.get("reached") and isinstance(p.get("s"), (int, float))]
    stats = policy.summary(reached) if len(reached) == len(runs) else None
    return {
        "target": runs[0].get("target"),
        "reached": stats is not None,
        "runs": len(runs),
        "reached_runs": len(reached),
        "s": _round(stats["median"], 4) if stats else None,
        "iqr_s": _round(stats["iqr"], 4) if stats else None,
        "values_s": [round(v, 4) for v in reached],
        "epochs": _median([p.get("epochs") for p in runs if p.get("reached")]),
        "best_accuracy": max((p.get("best_accuracy") or 0.0 for p in runs), default=None),
    }


def between_processes(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The spread BETWEEN fresh processes next to the spread within them (pyperf's workers).

    ``medians``: each process's median samples/s; ``spread``: (max - min) / median of those
    medians (None with one process: unknown, not zero); ``within``: the median of the
    processes' own IQR / median.
    """
    medians = [float(p["samples_per_s"]["median"]) for p in parts
               if isinstance(p.get("samples_per_s", {}).get("median"), (int, float))]
    within = [p["samples_per_s"]["iqr"] / p["samples_per_s"]["median"] for p in parts
              if p.get("samples_per_s", {}).get("median")
              and isinstance(p["samples_per_s"].get("iqr"), (int, float))]
    centre = statistics.median(medians) if medians else None
    spread = ((max(medians) - min(medians)) / centre
              if len(medians) > 1 and centre else None)
    return {"n": len(medians), "medians": [_round(m) for m in medians],
            "spread": round(spread, 4) if spread is not None else None,
            "within": round(statistics.median(within), 4) if within else None}


def mark_contention(frameworks: list[dict[str, Any]]) -> dict[str, Any]:
    """Mark every row that shared its cores while it trained; the run's contention summary.

    The baseline is the fastest calibration reading of the whole run (every row, every process,
    before and after each workload).
    """
    readings = [c for row in frameworks for w in row.get("workloads", {}).values()
                for ev in w.get("contention", []) for c in ev.get("calibration_s") or []
                if isinstance(c, (int, float)) and c > 0]
    baseline = min(readings) if readings else None
    contended: list[str] = []
    for row in frameworks:
        evidence = [ev for w in row.get("workloads", {}).values()
                    for ev in w.get("contention", [])]
        if not evidence:
            continue
        others = [ev["others_cpu_share"] for ev in evidence
                  if isinstance(ev.get("others_cpu_share"), (int, float))]
        ratios = [c / baseline for ev in evidence for c in ev.get("calibration_s") or []
                  if baseline and isinstance(c, (int, float)) and c > 0]
        worst_others = max(others) if others else None
        # the row's typical reading, not its worst: one slow reading right after training is the
        # framework's own threads still spinning (policy.CALIBRATION_LIMIT)
        worst_ratio = statistics.median(ratios) if ratios else None
        why = []
        if worst_others is not None and worst_others > OTHERS_CPU_LIMIT:
            why.append(f"other processes used {worst_others:.0%} of its cores' time while it "
                       f"trained (limit {OTHERS_CPU_LIMIT:.0%})")
        # the calibration kernel by the row's median, above the idle readings of a framework's
        # own spinning threads (policy.CALIBRATION_LIMIT)
        if worst_ratio is not None and worst_ratio > CALIBRATION_LIMIT:
            why.append(f"the calibration kernel ran {worst_ratio:.1f}x slower than the run's "
                       f"fastest reading (its median; limit {CALIBRATION_LIMIT:g}x)")
        row["contention"] = {"others_cpu_share": worst_others,
                             "calibration_ratio": round(worst_ratio, 3) if worst_ratio else None,
                             "why": why}
        row["contended"] = bool(why)
        if why:
            contended.append(row["name"])
            if "contended" not in row["flags"]:
                row["flags"].append("contended")
    return {"rows": contended, "baseline_calibration_s": baseline,
            "others_cpu_limit": OTHERS_CPU_LIMIT, "calibration_limit": CALIBRATION_LIMIT,
            "method": "per workload, in the child: other processes' CPU time on its cores "
                      "(/proc/stat) and a calibration kernel before and after (the row's median "
                      "reading against the run's fastest)"}


CPU_PEAK_SOURCE = "numpy-float32-matmul-cpu"


def apply_cpu_peak(frameworks: list[dict[str, Any]]) -> float | None:
    """One CPU reference per run: the best numpy matmul rate any row measured.

    Every cnn-digits and attn-digits row on the CPU is then judged against the same number.
    """
    judged = [wl for r in frameworks for wl in r["workloads"].values()
              if isinstance(wl, dict) and "peak_source" in wl]
    cpu = [w for w in judged if w.get("peak_source") == CPU_PEAK_SOURCE and w.get("peak_gflops")]
    if not cpu:
        return None
    peak = max(w["peak_gflops"] for w in cpu)
    for w in cpu:
        w["peak_gflops"] = peak
        w["fraction_of_peak"] = round(w["gflops"] / peak, 4) if w.get("gflops") else None
    return peak


def _median(values: list[Any]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, (int, float))]
    return round(statistics.median(nums), 4) if nums else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None
