"""The probe JSON (DESIGN.md "Probe JSON"), as pydantic models, and ``load_probe``.

Models allow extra keys (the contract says: extend, never break), so an older advisor can read a
newer file of the same major schema version; a newer major version is refused by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor.infra.errors import FileProblem, ParseError, SchemaError, VersionError

SCHEMA_VERSION = 1
MAX_PROBE_BYTES = 8 * 1024 * 1024
Status = Literal["ok", "missing", "broken", "timeout"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Host(_Open):
    cpu_model: str | None
    logical_cores: int | None
    usable_cores: int
    memory_bytes: int | None
    os: str
    python: str


class Gpu(_Open):
    vendor: str
    name: str
    memory_bytes: int | None
    driver: str | None


class Stats(_Open):
    median: float | None
    iqr: float | None
    n: int


class WorkloadResult(_Open):
    first_epoch_s: float | None
    samples_per_s: Stats
    accuracy: float | None
    peak_rss_mb: float | None
    peak_gpu_mb: float | None = None
    noisy: bool = False
    learned: bool = True


class FrameworkRow(_Open):
    name: str
    status: Status
    version: str | None = None
    devices: list[dict[str, Any]] = Field(default_factory=list)
    import_s: float | None = None
    error: str | None = None
    install_hint: str | None = None
    flags: list[str] = Field(default_factory=list)
    workloads: dict[str, WorkloadResult] = Field(default_factory=dict)


ScalingStatus = Literal["ok", "missing", "broken", "timeout", "unavailable"]


class ScalingRun(_Open):
    """One process group of the scaling probe (1 worker, or N workers)."""

    world_size: int
    start_s: float | None = None  # parent's spawn -> every worker joined the group
    init_s: float | None = None  # rendezvous / strategy / mesh alone
    import_s: float | None = None
    first_epoch_s: float | None = None
    samples_per_s: Stats
    accuracy: float | None = None


class Efficiency(_Open):
    median: float
    low: float
    high: float
    n: int


class ScalingRow(_Open):
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
    flags: list[str] = Field(default_factory=list)


class Scaling(_Open):
    """``advisor probe --scaling``: data-parallel cnn-digits on each framework's own engine."""

    workers: int
    nnodes: int = 1
    node_rank: int = 0
    world_size: int
    rows: list[ScalingRow] = Field(default_factory=list)

    def row(self, name: str) -> ScalingRow | None:
        return next((r for r in self.rows if r.name == name), None)


class ProbeReport(_Open):
    schema_version: int = SCHEMA_VERSION
    host: Host
    gpus: list[Gpu] = Field(default_factory=list)
    frameworks: list[FrameworkRow] = Field(default_factory=list)
    workloads: dict[str, dict[str, Any]] = Field(default_factory=dict)
    scaling: Scaling | None = None  # only with --scaling (absent from the file otherwise)

    def row(self, name: str) -> FrameworkRow | None:
        return next((r for r in self.frameworks if r.name == name), None)

    def to_json(self) -> str:
        data = self.model_dump(mode="json")
        if data.get("scaling") is None:
            data.pop("scaling", None)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def load_probe(path: str | Path) -> ProbeReport:
    """Read and validate a probe file; every error names the file."""
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
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem("probe file is not UTF-8 text", path=where) from exc
    except OSError as exc:
        raise FileProblem(f"cannot read probe file: {exc.strerror or exc}", path=where) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg} (column {exc.colno})", path=where,
                         line=exc.lineno) from exc
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
    try:
        return ProbeReport.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        raise SchemaError(f"{loc}: {first['msg']} ({exc.error_count()} problem(s))",
                          path=where) from exc
