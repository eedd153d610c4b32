"""The probe document: the JSON `advisor probe` writes, typed, immutable, validated once.

Every reader (the facts for the engine, the reports, `compare`, the live view) gets a
:class:`ProbeDocument` from :func:`load_probe`, and nothing else reads probe JSON. The classes
own their format (like pyperf's ``Run``/``Benchmark``): :func:`load_probe` / :meth:`ProbeDocument.
from_dict` validate at the boundary, :meth:`ProbeDocument.to_dict` / ``to_json`` write it back.
Stdlib only (dataclasses, and the one converter of advisor.infra.typedjson), so reading a probe
costs no pydantic.

Validation at the boundary: the file's size and its bounds (rows, workloads, lists: here), then
typedjson's strict JSON (no NaN or infinity, numbers 0 or of magnitude 1e-30..1e15, no lone
surrogate, bounded nesting) and every known field's type. Each problem is one
:class:`~advisor.infra.errors.BadInput` line naming the file and the field. Keys this advisor
does not know are kept (``extra``) and written back, so an older advisor reads a newer file of
the same major version; a newer major version is refused by name.

To extend the format, add a field with a default to the class that holds it (the converter reads
the type annotations): ``Run`` for how the probe ran, ``WorkloadResult`` for a new measurement,
``DeployRow`` for deployment. A new workload needs no change here (``workloads`` is a mapping).

Format history (``schema_version``; a new optional key keeps the version, a changed meaning or a
removed key bumps it, with a migration in ``from_dict``):
  1  advisor 0.1: ``host``, ``gpus``, ``frameworks[]`` (status, devices, import_s, ``workloads``
     {``mlp-digits``, ``cnn-digits``}: first_epoch_s, samples_per_s {median, iqr, n, values},
     accuracy, peak_rss_mb, peak_gpu_mb, noisy, learned), ``run``, ``workloads`` (descriptions).
     Added since, still version 1: ``environment``; ``run.startup``, ``run.not_run``,
     ``run.epochs.min_block_s`` (timed blocks of whole epochs); ``scaling`` (``--scaling``);
     ``deploy`` (``--deploy``, rows per row x workload x target x format); fresh processes per
     row and contention: ``run.processes``, ``run.contention``, ``run.quiet``, ``run.python``,
     ``run.others_cpu_before``, ``frameworks[].contended`` / ``.contention``, ``workloads.*.
     processes`` / ``.contention`` (without them: not measured for contention, ``quiet`` None).
See docs/architecture.md for the whole data flow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from advisor.infra import typedjson
from advisor.infra.errors import FileProblem, SchemaError, VersionError
from advisor.probe import policy

T = TypeVar("T")

SCHEMA_VERSION = 1
MAX_PROBE_BYTES = 8 * 1024 * 1024
# What a probe file may hold, bounded so that rendering and comparing stay fast (issue 15.6).
MAX_ROWS = 64
MAX_WORKLOADS = 32  # distinct workload names in one file
MAX_LIST = 256  # gpus, devices, flags, scaling rows
#: What a recommendation keeps of ``run``: how the rows ran, not the environment or timings.
SUMMARY_RUN_KEYS = ("threads", "epochs", "startup", "not_run", "processes", "busy",
                    "load_avg_before", "others_cpu_before", "quiet", "contention")
Status = Literal["ok", "missing", "broken", "timeout"]
ScalingStatus = Literal["ok", "missing", "broken", "timeout", "unavailable"]
DeployStatus = Literal["ok", "failed", "unavailable", "timeout"]

def _extra() -> Any:
    return field(default_factory=dict, repr=False)


# ------------------------------------------------------------------------------- the document
@dataclass(frozen=True, kw_only=True)
class Host:
    cpu_model: str | None
    logical_cores: int | None
    usable_cores: int
    memory_bytes: int | None
    os: str
    python: str
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class Gpu:
    vendor: str
    name: str
    memory_bytes: int | None
    driver: str | None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class Device:
    kind: str = ""
    name: str | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class Stats:
    """A measured rate over timed blocks: median, IQR and how many blocks (n)."""

    median: float | None
    iqr: float | None
    n: int
    values: tuple[float, ...] = ()
    extra: Mapping[str, Any] = _extra()

    @property
    def spread(self) -> float | None:
        """IQR / median."""
        return policy.spread(self.median, self.iqr)

    @property
    def noisy(self) -> bool:
        return policy.is_noisy(self.median, self.iqr)

    @property
    def enough(self) -> bool:
        """Enough timed blocks for the IQR to mean something."""
        return self.n >= policy.MIN_SAMPLES

    def overlaps(self, other: Stats) -> bool:
        """Within each other's measured spread (neither is faster on this evidence)."""
        if self.median is None or other.median is None:
            return False
        return policy.overlaps(self.median, self.iqr, other.median, other.iqr)


@dataclass(frozen=True, kw_only=True)
class Processes:
    """One workload of a row over its fresh processes (pyperf's worker processes)."""

    n: int = 0  # processes with a median
    medians: tuple[float, ...] = ()  # each process's median samples/s, in run order
    spread: float | None = None  # (max - min) / median of the medians; None with one process
    within: float | None = None  # the median of each process's own IQR / median
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class RowContention:
    """Why a row counts as contended (other processes competed for its cores while it trained)."""

    others_cpu_share: float | None = None  # worst share of its cores' time other processes used
    calibration_ratio: float | None = None  # median calibration reading / the run's fastest
    why: tuple[str, ...] = ()
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class WorkloadResult:
    """One framework row on one workload. ``noisy`` and ``learned`` follow the policy."""

    KEY: ClassVar[str] = "name"  # filled from its key in ``FrameworkRow.workloads``
    DERIVED: ClassVar[tuple[str, ...]] = ("noisy", "learned")  # written, never read back

    name: str = ""
    first_epoch_s: float | None
    samples_per_s: Stats
    accuracy: float | None
    peak_rss_mb: float | None
    peak_gpu_mb: float | None = None
    gflops: float | None = None
    peak_gflops: float | None = None
    fraction_of_peak: float | None = None
    processes: Processes | None = None  # the spread between fresh processes (absent: older file)
    contention: tuple[Mapping[str, Any], ...] = ()  # the children's evidence, one per process
    extra: Mapping[str, Any] = _extra()

    @property
    def noisy(self) -> bool:
        return self.samples_per_s.noisy

    @property
    def between_spread(self) -> float:
        """How far this workload's fresh processes differed ((max - min) / median; 0: unknown).
        A speed difference no larger than this is no difference."""
        spread = self.processes.spread if self.processes is not None else None
        return spread if spread is not None and spread > 0 else 0.0

    @property
    def learned(self) -> bool:
        return policy.learned(self.name, self.accuracy)

    @property
    def rate(self) -> Stats | None:
        """The throughput, when it means something: a positive median and a model that learned."""
        sps = self.samples_per_s
        if sps.median is None or sps.median <= 0 or not self.learned:
            return None
        return sps


@dataclass(frozen=True, kw_only=True)
class FrameworkRow:
    name: str
    status: Status
    version: str | None = None
    devices: tuple[Device, ...] = ()
    import_s: float | None = None
    error: str | None = None
    install_hint: str | None = None
    ran_on: str | None = None
    repeats: int | None = None  # fresh processes
    flags: tuple[str, ...] = ()
    contended: bool = False  # its numbers move no score (see RowContention)
    contention: RowContention | None = None
    workloads: Mapping[str, WorkloadResult] = field(default_factory=dict)
    extra: Mapping[str, Any] = _extra()
    DERIVED: ClassVar[tuple[str, ...]] = ("sees_gpu",)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def installed(self) -> bool:
        return self.status != "missing"

    @property
    def sees_gpu(self) -> bool:
        return policy.sees_gpu(d.kind for d in self.devices)

    @property
    def learned(self) -> bool:
        """Every workload it ran learned (a row with none measured counts as learned)."""
        return all(w.learned for w in self.workloads.values())

    def rate(self, workload: str) -> Stats | None:
        """This row's meaningful throughput on a workload (see ``WorkloadResult.rate``)."""
        result = self.workloads.get(workload) if self.ok else None
        return result.rate if result is not None else None


@dataclass(frozen=True, kw_only=True)
class Epochs:
    warmup: int | None = None
    timed: int | None = None
    unit: str | None = None
    min_block_s: float | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class Startup:
    mode: str | None = None  # staged | serial
    why: str | None = None
    window: int | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class NotRun:
    name: str
    reason: str | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class RunProcesses:
    per_row: int | None = None
    interleaved: bool = False
    blocks_per_process: int | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class RunContention:
    rows: tuple[str, ...] = ()  # the contended rows
    baseline_calibration_s: float | None = None
    others_cpu_limit: float | None = None
    calibration_limit: float | None = None
    method: str | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class Run:
    """How the probe measured. Every field is optional: older files say less."""

    threads: int | None = None
    seed: int | None = None
    epochs: Epochs | None = None
    quick: bool = False
    workloads: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    not_run: tuple[NotRun, ...] = ()
    startup: Startup | None = None
    repeat: int | None = None
    timeout_s: float | None = None
    load_avg_before: tuple[float, ...] | None = None
    load_avg_after: tuple[float, ...] | None = None
    others_cpu_before: float | None = None  # others' share of the cores just before the run
    busy: bool = False
    # quiet: not busy and no row contended; None in files from before it was measured
    quiet: bool | None = None
    contention: RunContention | None = None
    processes: RunProcesses | None = None
    python: str | None = None  # "advisor's own", or the --python interpreter
    noise_limit: float | None = None
    cpu_matmul_peak_gflops: float | None = None
    accuracy_gate: Mapping[str, float] = field(default_factory=dict)
    wall_s: float | None = None
    child_env: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = _extra()

    @property
    def contended_rows(self) -> tuple[str, ...]:
        return self.contention.rows if self.contention is not None else ()

    @property
    def busy_evidence(self) -> str:  # ' (other processes used 45% of its cores)'
        load, others = self.load_avg_before, self.others_cpu_before  # else ' (1-minute load 3.1)'
        return (f" (other processes used {others:.0%} of its cores)" if others is not None
                else f" (1-minute load {load[0]:.1f})" if load else "")

    @property
    def not_quiet(self) -> str:
        """'' unless the run is known not to be quiet; else why (busy, contended rows): a busy
        or contended measurement moves no score."""
        why = []
        if self.busy:
            why.append("the machine was busy before the probe" + self.busy_evidence)
        if self.contended_rows:
            why.append(f"other processes competed for the cores while "
                       f"{', '.join(self.contended_rows)} trained (contended)")
        return "; ".join(why)


# ----------------------------------------------------------------------------- scaling
@dataclass(frozen=True, kw_only=True)
class ScalingRun:
    """One process group of the scaling probe (1 worker, or N workers)."""

    world_size: int
    start_s: float | None = None  # parent's spawn -> every worker joined the group
    init_s: float | None = None  # rendezvous / strategy / mesh alone
    import_s: float | None = None
    first_epoch_s: float | None = None
    samples_per_s: Stats
    accuracy: float | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class Efficiency:
    median: float
    low: float
    high: float
    n: int
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class ScalingRow:
    name: str
    status: ScalingStatus
    engine: str | None = None
    version: str | None = None
    workers: int | None = None  # per node
    nnodes: int = 1
    world_size: int | None = None
    baseline: ScalingRun | None = None
    parallel: ScalingRun | None = None
    efficiency: Efficiency | None = None
    speedup: float | None = None
    start_s: float | None = None
    error: str | None = None
    flags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = _extra()

    @property
    def learned(self) -> bool:
        return not any(f.startswith("not-learned") for f in self.flags)


@dataclass(frozen=True, kw_only=True)
class Scaling:
    """``advisor probe --scaling``: data-parallel cnn-digits on each framework's own engine."""

    workers: int
    nnodes: int = 1
    node_rank: int = 0
    world_size: int
    wall_s: float | None = None
    rows: tuple[ScalingRow, ...] = ()
    extra: Mapping[str, Any] = _extra()

    def row(self, name: str) -> ScalingRow | None:
        return next((r for r in self.rows if r.name == name), None)


# -------------------------------------------------------------------------------- deploy
@dataclass(frozen=True, kw_only=True)
class Latency:
    p50: float | None = None
    p99: float | None = None
    n: int = 0
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class Parity:
    top1_agreement: float | None = None
    max_abs_diff: float | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, kw_only=True)
class DeployRow:
    """One (row, workload, target, format): exported, loaded in its runtime, compared."""

    row: str
    workload: str
    target: str
    format: str
    runtime: str | None = None
    status: DeployStatus
    reason: str | None = None
    export_s: float | None = None
    size_bytes: int | None = None
    load_s: float | None = None
    latency_ms: Latency | None = None
    parity: Parity | None = None
    quantized: bool = False
    accuracy_drop: float | None = None
    extra: Mapping[str, Any] = _extra()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True, kw_only=True)
class Deploy:
    """``advisor probe --deploy``."""

    rows: tuple[DeployRow, ...] = ()
    extra: Mapping[str, Any] = _extra()


# ------------------------------------------------------------------------------ the whole
@dataclass(frozen=True, kw_only=True)
class ProbeDocument:
    OMIT_NONE: ClassVar[tuple[str, ...]] = ("run", "scaling", "deploy", "advisor_version",
                                            "created")

    schema_version: int = SCHEMA_VERSION
    advisor_version: str | None = None
    created: str | None = None
    host: Host
    gpus: tuple[Gpu, ...] = ()
    environment: Mapping[str, Any] = field(default_factory=dict)
    run: Run | None = None
    frameworks: tuple[FrameworkRow, ...] = ()
    workloads: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # descriptions
    scaling: Scaling | None = None  # only with --scaling (absent from the file otherwise)
    deploy: Deploy | None = None  # only with --deploy
    extra: Mapping[str, Any] = _extra()

    # behaviour
    def row(self, name: str) -> FrameworkRow | None:
        return next((r for r in self.frameworks if r.name == name), None)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    @property
    def busy(self) -> bool:
        return self.run is not None and self.run.busy

    @property
    def not_run(self) -> tuple[NotRun, ...]:
        return self.run.not_run if self.run is not None else ()

    def measured_workloads(self) -> list[str]:
        """Workloads some row measured, the contract's first, then in first-seen order."""
        seen: list[str] = []
        for r in self.frameworks:
            seen.extend(w for w in r.workloads if w not in seen)
        return sorted(seen, key=lambda w: (w not in policy.ACCURACY_GATE, seen.index(w)))

    def fastest(self, workload: str) -> tuple[FrameworkRow | None, list[FrameworkRow]]:
        """The fastest row with a meaningful rate on a workload, and the rows whose spread
        overlaps it (a tie)."""
        rated = [(r, s) for r in self.frameworks if (s := r.rate(workload)) is not None]
        if not rated:
            return None, []
        best, top = max(rated, key=lambda rs: rs[1].median or 0.0)
        return best, [r for r, s in rated if r is not best and s.overlaps(top)]

    def summary(self, path: str | None) -> dict[str, Any]:
        """What a recommendation carries of its probe (``probe`` in recommendation.json)."""
        data = self.to_dict()
        run = data.get("run")
        return {
            "file": path,
            **{k: data.get(k) for k in ("schema_version", "advisor_version", "created", "host",
                                        "gpus", "frameworks", "scaling", "deploy")},
            "run": {k: run[k] for k in SUMMARY_RUN_KEYS if k in run} if run else None,
        }

    # the format
    @classmethod
    def from_dict(cls, data: Any, where: str = "<probe>") -> ProbeDocument:
        """Validate parsed JSON (version first) and build the document; errors name ``where``."""
        if not isinstance(data, dict):
            raise SchemaError("a probe file holds one JSON object", path=where)
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise SchemaError("missing or non-integer 'schema_version'", path=where)
        if version > SCHEMA_VERSION:
            writer = data.get("advisor_version")
            by = f", written by advisor {writer}" if isinstance(writer, str) else ""
            raise VersionError(
                f"probe schema_version {version}{by} is newer than this advisor "
                f"reads (schema_version {SCHEMA_VERSION}); upgrade advisor", path=where,
            )
        if version < 1:
            raise VersionError(f"unknown probe schema version {version}", path=where)
        check_bounds(data, where)
        return typedjson.build(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        return typedjson.dump(self)

    def to_json(self) -> str:
        from advisor.infra import jsonio  # strict JSON: a NaN measured is written as null

        return jsonio.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"




def load_probe(path: str | Path) -> ProbeDocument:
    """Read and validate a probe file; every error is one line naming the file (and field)."""
    where = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise FileProblem(f"cannot read probe file: {exc.strerror or exc}", path=where) from exc
    if not p.is_file():
        raise FileProblem("not a file", path=where)
    if size > MAX_PROBE_BYTES:
        raise FileProblem(f"probe file too large ({size} bytes, limit {MAX_PROBE_BYTES})",
                          path=where)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FileProblem(f"cannot read probe file: {exc.strerror or exc}", path=where) from exc
    if len(raw) > MAX_PROBE_BYTES:  # grew since stat
        raise FileProblem(f"probe file too large (limit {MAX_PROBE_BYTES} bytes)", path=where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem("probe file is not UTF-8 text", path=where) from exc
    return loads(text, where)


def loads(text: str, where: str = "<probe>") -> ProbeDocument:
    """Parse probe JSON text strictly and validate it."""
    return ProbeDocument.from_dict(typedjson.loads(text, where), where)


def parse(cls: type[T], data: Any, where: str = "<probe>") -> T:
    """One part of the document (a ``FrameworkRow`` while the probe pools, say), validated."""
    return typedjson.build(cls, data, where)


def check_bounds(data: dict[str, Any], where: str) -> None:
    """Refuse, with one line, a probe file whose size would make rendering or comparing slow
    (a thousand workload names, thousands of rows) or whose rows contradict each other."""
    frameworks = data.get("frameworks")
    if not isinstance(frameworks, list):
        return  # the schema check names it
    if len(frameworks) > MAX_ROWS:
        raise SchemaError(f"frameworks: {len(frameworks)} rows, at most {MAX_ROWS}", path=where)
    names: set[str] = set()
    workloads: set[str] = set()
    for row in frameworks:
        if not isinstance(row, dict):
            continue
        name = row.get("name")
        if isinstance(name, str):
            if name in names:
                raise SchemaError(f"frameworks: row {name[:60]!r} appears twice", path=where)
            names.add(name)
        if isinstance(row.get("workloads"), dict):
            workloads.update(row["workloads"])
        for key in ("devices", "flags"):
            if isinstance(row.get(key), list) and len(row[key]) > MAX_LIST:
                raise SchemaError(f"frameworks: {key} of a row: more than {MAX_LIST}", path=where)
    if len(workloads) > MAX_WORKLOADS:
        raise SchemaError(f"frameworks: {len(workloads)} workload names, at most "
                          f"{MAX_WORKLOADS}", path=where)
    for key, items in (("gpus", data.get("gpus")),
                       ("scaling.rows", (data.get("scaling") or {}).get("rows")
                        if isinstance(data.get("scaling"), dict) else None)):
        if isinstance(items, list) and len(items) > MAX_LIST:
            raise SchemaError(f"{key}: {len(items)} entries, at most {MAX_LIST}", path=where)
    deploy = data.get("deploy")
    rows = deploy.get("rows") if isinstance(deploy, dict) else None
    if isinstance(rows, list) and len(rows) > 16 * MAX_LIST:
        raise SchemaError(f"deploy.rows: {len(rows)} entries, at most {16 * MAX_LIST}", path=where)
