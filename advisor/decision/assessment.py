"""The one result object of a recommendation; every renderer reads only this.

Immutable (frozen dataclasses: built by advisor from validated inputs, so no second validation
and no pydantic on the fast path), JSON-serialisable, and complete: the terminal, Markdown, HTML
and JSON reports all show parts of the same object. It is the typed recommendation document:
``to_dict``/``to_json`` own the recommendation JSON (docs/architecture.md, "File formats"), whose
``probe`` section is ``ProbeDocument.summary``.

Format history (``schema_version``; new keys keep the version):
  1  advisor 0.1: winner, ranking (candidate, score, vetoed, contributions), robustness,
     measurements, measurement_notes, fired rules with sources, probe.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from advisor.probe.model import ProbeDocument

RECOMMENDATION_SCHEMA_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class SourceRef:
    url: str
    title: str
    date: str


@dataclass(frozen=True, kw_only=True)
class Part:
    """One traced piece of a score: who moved which rating by how much, and the points it gave."""

    criterion: str
    kind: Literal["base", "rule", "measurement", "cap"]
    source: str  # "base", a rule id, a measurement name, or the 0-10 cap
    rating: float  # rating change (or the base rating)
    points: float  # rating x normalised weight
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Veto:
    rule: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class CandidateResult:
    candidate: str
    name: str
    rank: int
    score: float
    vetoed: bool
    vetoes: list[Veto] = field(default_factory=list)
    contributions: dict[str, float]  # criterion -> points; sums to score
    ratings: dict[str, float]  # criterion -> final rating
    parts: list[Part]
    installed: bool | None = None  # from a probe file, when one was given


@dataclass(frozen=True, kw_only=True)
class WeightInfo:
    criterion: str
    name: str
    default: float
    factor: float
    raw: float
    weight: float  # normalised, sums to 1 over criteria
    rules: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FiredRule:
    id: str
    rationale: str
    confidence: str
    unconfirmed: bool
    sources: list[SourceRef]
    effects: list[str]
    reads: dict[str, Any]
    file: str
    line: int | None
    review_by: str | None = None
    applies_to: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RuleTrace:
    """Every rule considered: did its condition hold, on which values."""

    id: str
    condition: str
    result: Literal["true", "false", "unknown"]
    reads: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Note:
    text: str
    rule: str
    candidate: str | None = None


@dataclass(frozen=True, kw_only=True)
class WeightInterval:
    criterion: str
    weight: float
    low: float
    high: float
    limited_by_low: str | None = None  # candidate that takes over below `low`
    limited_by_high: str | None = None


@dataclass(frozen=True, kw_only=True)
class Flip:
    question: str
    change: str  # human text, e.g. "deploy_targets adds mobile_ios"
    value: Any
    new_winner: str | None
    margin: float | None = None  # the new winner's lead after the change
    kind: Literal["answer", "project"] = "answer"  # project: the change describes another project


@dataclass(frozen=True, kw_only=True)
class Separation:
    """One piece of the winner's lead over the runner-up, after the 0-10 caps.

    The pieces sum exactly to the margin; a bonus both got is no piece.
    """

    criterion: str
    kind: Literal["base", "rule", "measurement"]
    source: str  # "base", a rule id or a measurement
    points: float  # > 0 favours the winner, < 0 the runner-up
    winner_rating: float  # the winner's rating change (or base rating), after the cap
    runner_up_rating: float
    text: str


@dataclass(frozen=True, kw_only=True)
class Robustness:
    runner_up: str | None
    margin: float | None
    label: Literal["decisive", "clear", "close", "tie", "no_evidence", "uncontested", "none"]
    weight_intervals: list[WeightInterval]
    flips: list[Flip]  # single changed answers that change the winner, by margin
    project_flips: list[Flip] = field(default_factory=list)  # changes that describe another project
    label_text: str = ""  # the label in words, e.g. "no clear winner"
    evidence: str = ""  # where the lead comes from (project facts or base ratings)
    fact_share: float | None = None  # share of the margin that project facts supply
    win_probability: dict[str, float] = field(default_factory=dict)  # candidate -> share of samples
    tie: list[str] = field(default_factory=list)  # candidates with no clear winner between them
    separators: list[Flip] = field(default_factory=list)  # answers that would settle a tie
    separation: list[Separation] = field(default_factory=list)
    definitions: dict[str, str] = field(default_factory=dict)  # label -> its rule, for reports


@dataclass(frozen=True, kw_only=True)
class Reason:
    criterion: str
    points: float  # for the winner: points; for others: points behind the winner
    rules: list[str]
    text: str


@dataclass(frozen=True, kw_only=True)
class WhyNot:
    candidate: str
    vetoed_by: list[Veto] = field(default_factory=list)
    behind_by: float | None = None
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """A measured number that entered the decision."""

    candidate: str
    criterion: str
    row: str
    workload: str
    value: float  # relative speed (1.0 = the measured candidates' geometric mean)
    rating: float
    points: float
    detail: str


@dataclass(frozen=True, kw_only=True)
class Assessment:
    schema_version: int = RECOMMENDATION_SCHEMA_VERSION
    advisor_version: str
    kb_version: str
    kb_title: str
    generated: str  # ISO date-time
    answers: dict[str, Any]
    answer_origin: dict[str, str]
    resolved: dict[str, Any]  # auto answers -> value used, with source
    unanswered: list[str]
    not_asked: dict[str, str]  # question id -> "not asked, because ..." (skipped by its `when`)
    weights: list[WeightInfo]
    winner: str | None
    ranking: list[CandidateResult]
    fired_rules: list[FiredRule]
    trace: list[RuleTrace]
    notes: list[Note]
    robustness: Robustness
    why: list[Reason]
    why_not: list[WhyNot]
    measurements: list[Measurement] = field(default_factory=list)
    measurement_notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    probe: ProbeDocument | None = None  # the probe file the measurements come from
    questions: dict[str, str] = field(default_factory=dict)  # id -> text, for reports
    criteria: dict[str, str] = field(default_factory=dict)  # id -> name
    probe_file: str | None = None  # where the probe came from (a path, or "measured now")

    @property
    def speed_caveat(self) -> str | None:
        """What every report leads with when measured speed moved no score although a probe was
        given (a probe of other hardware, a busy machine, no workload that represents the
        project...): the first measurement note, which says why (advisor.probe.facts)."""
        if not self.measurement_notes or any(m.rating for m in self.measurements):
            return None
        return self.measurement_notes[0]

    def name_of(self, candidate: str | None) -> str:
        """Display name of a candidate id ('none' for no candidate)."""
        if candidate is None:
            return "none"
        return next((r.name for r in self.ranking if r.candidate == candidate), candidate)

    def result(self, candidate: str) -> CandidateResult:
        return next(r for r in self.ranking if r.candidate == candidate)

    def to_dict(self) -> dict[str, Any]:
        from advisor.kb.model import to_plain  # asdict deep-copies every leaf: 4x slower

        out = to_plain(replace(self, probe=None))
        out["probe"] = self.probe.summary(out.pop("probe_file")) if self.probe else None
        out.pop("probe_file", None)
        return out

    def to_json(self) -> str:
        from advisor.infra import jsonio

        return jsonio.dumps(self.to_dict(), indent=2)
