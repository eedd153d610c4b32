"""`advisor probe`: options in, ``run_probe`` called, progress and a summary on stderr.

Imports only typer and the standard library at module level; the core and rich are imported
when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.app import app


@app.command("probe")
def probe(
    frameworks: Annotated[str | None, typer.Option(
        "--frameworks", help="Comma-separated rows: pytorch, tensorflow, keras/tensorflow, "
        "keras/torch, keras/jax, jax, sklearn (default: all; with --quick, Keras on its "
        "configured backend only).")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Hard limit per row and run, in seconds.")] = 120.0,
    repeat: Annotated[int | None, typer.Option(
        "--repeat", min=1, help="Fresh processes per row, run in interleaved rounds; their "
        "blocks are pooled and the spread between them is reported (default: 2; 1 with "
        "--quick).")] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Only the mlp-digits workload, one process per row, and Keras on one "
        "backend unless --frameworks names rows: a faster, narrower probe.")] = False,
    python: Annotated[str | None, typer.Option(
        "--python", metavar="PATH", help="Measure the frameworks of another interpreter or "
        "virtual environment (a python executable or a venv folder); hardware is still "
        "detected here.")] = None,
    serial: Annotated[bool, typer.Option(
        "--serial", help="Start each row only after the previous one finished (slower). By "
        "default rows import side by side, one per usable core, and then train one at a "
        "time.")] = False,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Where to write the probe JSON (written atomically; an existing "
        "file is kept unless --force).")] = Path("probe.json"),
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing --out file (another run's results).")] = False,
    include_hostname: Annotated[bool, typer.Option(
        "--include-hostname", help="Record this machine's host name (off by default).")] = False,
    scaling: Annotated[bool, typer.Option(
        "--scaling", help="Also measure data-parallel cnn-digits with 1 and N workers on each "
        "framework's own engine (DDP, tf.distribute, JAX sharding, keras.distribution).")] = False,
    scaling_only: Annotated[bool, typer.Option(
        "--scaling-only", help="With --scaling: skip the single-process rows.")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Scaling: workers per node (default: the GPUs, else the usable "
        "cores); one thread each.")] = None,
    nnodes: Annotated[int, typer.Option(
        "--nnodes", min=1, help="Scaling: nodes in the group (PyTorch: torchrun --nnodes; "
        "TensorFlow: TF_CONFIG; JAX: jax.distributed).")] = 1,
    node_rank: Annotated[int, typer.Option(
        "--node-rank", min=0, help="Scaling: this node's rank (torchrun --node-rank, TF task "
        "index, JAX process_id).")] = 0,
    master_addr: Annotated[str, typer.Option(
        "--master-addr", help="Scaling: host of node 0 (torchrun --master-addr, JAX "
        "coordinator; TF workers at this host).")] = "127.0.0.1",
    master_port: Annotated[int | None, typer.Option(
        "--master-port", min=1, max=65535, help="Scaling: rendezvous port, the same on every node (TF: "
        "worker i at port + i; default on one node: a free loopback port).")] = None,
    deploy: Annotated[bool, typer.Option(
        "--deploy", help="Also export each row's trained models to the formats of --targets, "
        "run them in their runtimes and record size, batch-1 latency and parity "
        "(tools: pip install 'advisor[deploy]').")] = False,
    targets: Annotated[str | None, typer.Option(
        "--targets", help="With --deploy: comma-separated targets: server, desktop, edge_linux, "
        "mobile_android, mobile_ios, browser, microcontroller (default: server).")] = None,
) -> None:
    """Detect hardware and run the same short training in every installed framework.

    Results go to standard output (`advisor probe > probe.txt` keeps them) and to --out as
    JSON; live progress goes to standard error.
    """
    from advisor.cli.env import current
    from advisor.infra.atomic import check_writable, write_text
    from advisor.infra.errors import BadInput as BadUsage
    from advisor.infra.errors import ProbeFailed
    from advisor.probe.core import run_probe
    from advisor.probe.plan import ProbeOptions, parse_frameworks, resolve_python
    from advisor.probe.runner import kill_all_children
    from advisor.render.probe_view import ProbeView, render_summary

    scaling_options = None
    if scaling or scaling_only or workers is not None or nnodes > 1:
        from advisor.probe.scaling import ScalingOptions

        scaling_options = ScalingOptions(workers=workers, timeout_s=timeout, nnodes=nnodes,
                                         node_rank=node_rank, master_addr=master_addr,
                                         master_port=master_port)
        scaling_options.validate()
        if not scaling:
            raise BadUsage("--scaling-only, --workers and --nnodes need --scaling")
    deploy_options = None
    if deploy or targets is not None:
        from advisor.probe.deploy import DeployOptions, parse_targets

        if not deploy:
            raise BadUsage("--targets needs --deploy")
        deploy_options = DeployOptions(parse_targets(targets), timeout_s=timeout)
    options = ProbeOptions(frameworks=parse_frameworks(frameworks) if frameworks else None,
                           timeout_s=timeout, repeat=repeat, quick=quick,
                           include_hostname=include_hostname, scaling=scaling_options,
                           scaling_only=scaling_only, startup="serial" if serial else "staged",
                           deploy=deploy_options,
                           python=resolve_python(python) if python else sys.executable)
    options.validate()
    if out.is_file() and not force:  # a FIFO, /dev/stdout or a device is written through
        # Checked before measuring: a probe takes a while, and its result must not replace
        # another run's file unasked.
        raise BadUsage(f"{out} exists (results of another probe run); use --force to replace "
                       "it, or --out another file")
    check_writable(out)  # an unwritable --out is found now, not after the whole probe
    env = current()
    view = ProbeView(env.err_console())
    try:
        with view:
            report = run_probe(options, view.update)
    except KeyboardInterrupt:
        kill_all_children()
        raise
    # What was measured is written first: a summary that cannot be shown never loses it, and
    # when no row could run the file still holds the hardware and each row's failure.
    write_text(out, report.to_json())
    env.show(lambda console: render_summary(console, report))
    rows = list(report.frameworks) + (list(report.scaling.rows) if report.scaling else [])
    if not any(row.status == "ok" for row in rows):
        raise ProbeFailed(f"no framework row could run; see the table above (the hardware and "
                          f"each row's failure are in {out})")
    view.console.print(f"wrote {out}", markup=False)
