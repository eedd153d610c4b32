"""``run_probe``: hardware, then every framework row in fresh processes; one probe document.

The three steps live in their own modules: plan.py (what to run: rows, workloads, processes,
start-up, each child's argument list), supervise.py (running it: interleaved rounds of fresh
processes, one row training at a time) and pool.py (the numbers: pooled blocks, the spread
between processes, contention). The probe catalogue (catalog.py) names the rows; protocol.py is
what parent and children agree on. Hardware is detected here, in the parent, never by a child
(with ``--python`` the children run another interpreter on the same machine).

Knows nothing of the terminal: progress goes to a callback, the result is a ``ProbeDocument``.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from advisor import __version__
from advisor.probe import catalog, hardware, kerasconf, policy, protocol
from advisor.probe.catalog import ROW_NAMES, ROWS
from advisor.probe.model import SCHEMA_VERSION, FrameworkRow, ProbeDocument, parse
from advisor.probe.plan import (
    SEED,
    ProbeOptions,
    choose_startup,
    installed_checker,
    own_interpreter,
    plan_rows,
    scripts_dir,
    worker_args,
)
from advisor.probe.pool import (
    apply_cpu_peak,
    is_busy,
    mark_contention,
    pool_row,
    workload_descriptions,
)
from advisor.probe.runner import ChildResult
from advisor.probe.supervise import Job, ProgressCallback, ProgressEvent, supervise

__all__ = ["ProbeOptions", "ProgressEvent", "run_probe"]

#: Seconds the parent samples other processes' CPU share before the first row (run.busy).
BUSY_SAMPLE_S = 0.5


def typed(row: dict[str, Any]) -> FrameworkRow:
    """A pooled row as the probe document holds it (validated like a probe file's rows)."""
    return parse(FrameworkRow, row, f"row {row.get('name')}")


def run_probe(options: ProbeOptions, progress: ProgressCallback | None = None) -> ProbeDocument:
    options.validate()
    notify = progress or (lambda event: None)
    started_wall = time.perf_counter()
    started = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    load_before = hardware.get_load_average()
    host = hardware.get_host(include_hostname=options.include_hostname)
    gpus = [g.to_dict() for g in hardware.get_gpus()]
    environment = hardware.get_environment()
    threads = options.threads or host["usable_cores"]
    # what else keeps the cores busy right now (the load average remembers work already ended)
    others_before = protocol.others_cpu_share(BUSY_SAMPLE_S)
    folder = options.scripts or scripts_dir()
    selected = options.selected_workloads()
    processes = options.processes()
    is_installed = installed_checker(options.python)
    order, not_run = plan_rows(options, is_installed)
    rows: dict[str, dict[str, Any]] = {}
    runnable: list[str] = []
    for index, name in enumerate(order, start=1):
        spec = ROWS[name]
        missing = [m for m in spec.modules if not is_installed(m)]
        if missing:
            rows[name] = {"name": name, "status": "missing", "version": None, "devices": [],
                          "import_s": None, "workloads": {}, "install_hint": spec.install_hint,
                          "error": f"not installed: {', '.join(missing)}", "flags": []}
            notify(ProgressEvent("done", name, index, len(order), row=typed(rows[name])))
        elif not (folder / spec.script).is_file():
            failed = [ChildResult("broken", None, f"probe script not found: {spec.script}",
                                  None, 0)]
            rows[name] = pool_row(spec, failed, selected, bool(gpus))
            notify(ProgressEvent("done", name, index, len(order), row=typed(rows[name])))
        else:
            runnable.append(name)
    startup, startup_reason = choose_startup(options.startup, len(runnable),
                                             host["usable_cores"] or 1)
    window = max(1, min(host["usable_cores"] or 1, len(runnable)))
    cache = tempfile.mkdtemp(prefix="advisor-probe-")
    models = os.path.join(cache, "models") if options.deploy is not None else None  # --deploy

    def job_for(name: str) -> Job:
        return Job(worker_args(options, ROWS[name], folder, threads, cache, selected, models),
                   catalog.child_env(ROWS[name], threads))

    def finish_row(name: str, results: list[ChildResult]) -> None:
        rows[name] = pool_row(ROWS[name], results, selected, host_has_gpu=bool(gpus))
        notify(ProgressEvent("done", name, order.index(name) + 1, len(order),
                             row=typed(rows[name])))

    try:
        supervise(runnable, job_for, processes=processes, startup=startup, window=window,
                  timeout_s=options.timeout_s, order=order, notify=notify,
                  finish_row=finish_row)
        deploy_report = None
        if options.deploy is not None and models is not None:
            from advisor.probe import deploy

            deploy_report = deploy.run_deploy(
                options.deploy, rows=rows, models=Path(models), folder=folder,
                python=options.python, threads=threads, usable_cores=host["usable_cores"] or 1,
                installed=is_installed, notify=lambda kind, what, summary: notify(ProgressEvent(
                    "deploy" if kind == "start" else "done", f"deploy {what}", 0, 0,
                    row=None if kind == "start" else FrameworkRow(name=what, status="ok",
                                                                  error=summary))))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    scaling_report = None
    if options.scaling is not None:
        from advisor.probe import scaling

        sc_opts = options.scaling
        sc_opts.frameworks = tuple(n for n in sc_opts.frameworks
                                   if n in options.requested_rows())

        def relay(event: scaling.ScalingEvent) -> None:
            notify(ProgressEvent(event.kind, f"scaling {event.name}", event.index, event.total,
                                 row=event.row))

        scaling_report = scaling.run_scaling(
            sc_opts, host=host, gpus=gpus, folder=folder,
            python=options.python, is_installed=is_installed, progress=relay)
    frameworks = [rows[n] for n in ROW_NAMES if n in rows]
    cpu_peak = apply_cpu_peak(frameworks)
    contention = mark_contention(frameworks)
    busy = is_busy(load_before, threads, others_before)
    report = {
        "schema_version": SCHEMA_VERSION,
        "advisor_version": __version__,
        "created": started.isoformat().replace("+00:00", "Z"),
        "host": host,
        "gpus": gpus,
        "environment": environment,
        "run": {
            "threads": threads,
            "seed": SEED,
            "epochs": {"warmup": 1, "timed": options.blocks(), "unit": "blocks of whole epochs",
                       "min_block_s": protocol.MIN_BLOCK_S, "per": "process"},
            "quick": options.quick,
            "workloads": list(selected),
            "rows": order,
            "not_run": not_run,
            "startup": {"mode": startup, "why": startup_reason,
                        "window": window if startup == "staged" else 1},
            "repeat": processes,  # fresh processes per row, in interleaved rounds
            "processes": {"per_row": processes, "interleaved": True,
                          "blocks_per_process": options.blocks()},
            "python": ("advisor's own" if own_interpreter(options.python)
                       else hardware.redact(options.python)),
            "timeout_s": options.timeout_s,
            "load_avg_before": load_before,
            "load_avg_after": hardware.get_load_average(),
            "others_cpu_before": others_before,
            "busy": busy,
            "contention": contention,
            "contended": bool(contention["rows"]),
            # measured quiet: not busy before the run, and no row shared its cores meanwhile
            "quiet": not busy and not contention["rows"],
            "noise_limit": policy.NOISE_LIMIT,
            "cpu_matmul_peak_gflops": cpu_peak,
            "accuracy_gate": dict(policy.ACCURACY_GATE),
            "keras_config": kerasconf.record(),
            "wall_s": round(time.perf_counter() - started_wall, 2),
            "child_env": {k: hardware.redact(v)
                          for k, v in catalog.child_env(ROWS["jax"], threads).items()
                          if (k not in os.environ or os.environ[k] != v)
                          and k != protocol.ENV_PROTOCOL},
        },
        "frameworks": frameworks,
        "workloads": workload_descriptions(frameworks),
    }
    if scaling_report is not None:
        report["scaling"] = scaling_report
    if deploy_report is not None:
        report["deploy"] = deploy_report
    return ProbeDocument.from_dict(report, "the probe's result")
