"""The knowledge-base format, defined once: plain frozen dataclasses the engine works with.

These classes are also the schema. :mod:`advisor.kb.schema` hands them to ``pydantic.TypeAdapter``
when a rules file is new or has changed (every error at once, with file and line) and exports
their JSON Schema (`advisor rules schema`); the constraints pydantic checks are stdlib markers
here (:class:`Check`, :class:`Doc`), so importing this module imports no pydantic and
`advisor recommend` starts fast. Cross-item checks (unknown names, conditions that do not
type-check) live in :mod:`advisor.kb.loader`; checks of one item live in its ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

#: Keys an answers file may carry besides question ids.
ANSWER_METADATA_KEYS = frozenset(
    {"schema_version", "kb_version", "advisor_version", "written", "comment"}
)

#: How sure the knowledge base is of a rating change; drives the win probability's perturbation.
CONFIDENCE_LEVELS = ("high", "medium", "low", "unconfirmed")
Confidence = Literal["high", "medium", "low"]


# ------------------------------------------------------------------ schema markers (no pydantic)


class Check:
    """A value constraint read by pydantic at validation time (and shown in the JSON Schema)."""

    _KEYS = ("pattern", "min_length", "max_length", "ge", "gt", "le")

    def __init__(self, **limits: Any) -> None:
        unknown = set(limits) - set(self._KEYS)
        if unknown:  # pragma: no cover - a programming error
            raise TypeError(f"unknown limits {sorted(unknown)}")
        self.limits = limits

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        schema = handler(source)
        schema.update(self.limits)
        return schema


class MonthDate:
    """Accept 'YYYY-MM' for a date (the first of the month), as review dates are often written."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def month(value: Any) -> Any:
            if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value):
                return value + "-01"
            return value

        return core_schema.no_info_before_validator_function(month, handler(source))


def _doc(text: str) -> dict[str, str]:
    """Field metadata: the description pydantic puts in the JSON Schema."""
    return {"description": text}


_CONFIG: dict[str, Any] = {"extra": "forbid", "str_strip_whitespace": True}

ID = Annotated[str, Check(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
RULE_ID = Annotated[str, Check(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)]
CANDIDATE_ID = ID
FACT_ID = Annotated[str, Check(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=100)]
TEXT = Annotated[str, Check(min_length=1)]
REVIEW_DATE = Annotated[dt.date | None, MonthDate()]


@dataclass(frozen=True)
class _Located:
    """An item of a rules file; ``origin`` (file, line) is set by the loader, not by the file."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _CONFIG
    origin: ClassVar[tuple[str, int | None]] = ("<unknown>", None)

    def where(self) -> str:
        path, line = self.origin
        return f"{path}:{line}" if line is not None else path

    def located(self, origin: tuple[str, int | None]) -> _Located:
        object.__setattr__(self, "origin", origin)
        return self


# ------------------------------------------------------------------ the sections


@dataclass(frozen=True)
class Source:
    """Where a piece of knowledge comes from."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _CONFIG
    url: Annotated[str, Check(pattern=r"^https?://\S+$", max_length=500)]
    title: Annotated[str, Check(min_length=1, max_length=300)]
    date: Annotated[str, Check(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")] = field(
        metadata=_doc("Publication or retrieval date: YYYY, YYYY-MM or YYYY-MM-DD.")
    )


@dataclass(frozen=True)
class Candidate(_Located):
    id: CANDIDATE_ID
    name: str
    summary: str = ""
    url: str = ""
    install: str = field(
        default="", metadata=_doc("pip command that installs it (shown for missing rows)")
    )
    probe_rows: tuple[str, ...] = field(
        default=(), metadata=_doc("Probe rows that measure this candidate.")
    )
    base: dict[ID, float] = field(
        default_factory=dict,
        metadata=_doc("Prior rating per criterion (0-10) before any rule fires; missing = 5."),
    )
    base_rationale: dict[ID, str] = field(
        default_factory=dict,
        metadata=_doc("Why each base rating is what it is (shown when a base difference decides)."),
    )
    base_sources: tuple[Source, ...] = field(
        default=(), metadata=_doc("Sources of the base ratings.")
    )
    base_confidence: dict[ID, Confidence] = field(
        default_factory=dict,
        metadata=_doc(
            "How sure each base rating is (high/medium/low; missing = medium): the win probability "
            "perturbs it accordingly."
        ),
    )
    base_review_by: REVIEW_DATE = field(
        default=None, metadata=_doc("Review the base ratings by this date.")
    )

    def __post_init__(self) -> None:
        for crit, value in self.base.items():
            if not 0 <= value <= 10:
                raise ValueError(f"base rating {crit}: {value:g} is outside 0-10")

    def base_confidence_of(self, criterion: str) -> str:
        return self.base_confidence.get(criterion, "medium")


@dataclass(frozen=True)
class Criterion(_Located):
    id: ID
    name: str
    description: str
    weight: Annotated[float, Check(ge=0, le=100)]
    per: ID | None = field(
        default=None,
        metadata=_doc(
            "Score this criterion once per answered value of this 'many' question (e.g. each "
            "deployment target) and aggregate: the weakest value bounds the rating."
        ),
    )


@dataclass(frozen=True)
class Choice:
    __pydantic_config__: ClassVar[dict[str, Any]] = _CONFIG
    value: Annotated[str, Check(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    label: str = ""


@dataclass(frozen=True)
class Question(_Located):
    id: ID
    text: str
    type: Literal["one", "many", "bool"]
    help: str = ""
    choices: tuple[Choice, ...] = ()
    default: Any = None
    when: str | None = field(default=None, metadata=_doc("Ask only when this condition holds."))
    auto_fact: str | None = field(
        default=None,
        metadata=_doc("For the choice 'auto': the machine fact that supplies the value."),
    )
    project: bool = field(
        default=False,
        metadata=_doc(
            "Changing this answer describes another project (data type, task): reports list such "
            "flips apart from the answers that could change for the same project."
        ),
    )

    def __post_init__(self) -> None:
        values = self.values
        if self.type == "bool":
            if self.choices:
                raise ValueError("a bool question has no choices")
            if self.default is not None and not isinstance(self.default, bool):
                raise ValueError("the default of a bool question is true or false")
            return
        if not values:
            raise ValueError(f"a '{self.type}' question needs choices")
        if len(set(values)) != len(values):
            raise ValueError("choices repeat a value")
        if self.default is not None:
            defaults = self.default if isinstance(self.default, list) else [self.default]
            if self.type == "one" and isinstance(self.default, list):
                raise ValueError("the default of a 'one' question is a single value")
            bad = [d for d in defaults if d not in values]
            if bad:
                raise ValueError(
                    f"default {bad[0]!r} is not a choice; allowed: {', '.join(values)}"
                )

    @property
    def values(self) -> list[str]:
        return [c.value for c in self.choices]

    def label(self, value: str) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label or value
        return value


@dataclass(frozen=True)
class Fact(_Located):
    """A fact about the machine or its measurements that rules read by name."""

    id: FACT_ID
    type: Literal["one", "many", "bool", "number"]
    description: str
    choices: tuple[str, ...] = ()


_EFFECT_EXTRAS = {
    "veto": {"reason"},
    "rate": {"candidates", "target"},
    "level": {"candidates", "target"},
    "weight": {"factor"},
    "note": {"candidate"},
}


@dataclass(frozen=True)
class Effect:
    """Exactly one of: veto, rate, level, weight, note."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _CONFIG
    veto: CANDIDATE_ID | None = field(default=None, metadata=_doc("Knock this candidate out."))
    reason: str | None = field(default=None, metadata=_doc("Why the veto (shown in reports)."))
    rate: ID | None = field(default=None, metadata=_doc("Criterion on which to rate candidates."))
    candidates: dict[CANDIDATE_ID, float] | None = field(
        default=None,
        metadata=_doc("With rate: rating change per candidate (e.g. {pytorch: 2, keras: -1})."),
    )
    level: ID | None = field(
        default=None,
        metadata=_doc(
            "Criterion whose rating is set to an absolute level per candidate (0-10); when several "
            "fired rules set a level, the highest one counts (one fact, not a sum)."
        ),
    )
    target: ID | None = field(
        default=None,
        metadata=_doc(
            "With rate or level on a criterion scored per answer value (its 'per'): the value "
            "this effect is about, e.g. mobile_ios."
        ),
    )
    weight: ID | None = field(default=None, metadata=_doc("Criterion whose importance changes."))
    factor: Annotated[float, Check(gt=0, le=10)] | None = field(
        default=None, metadata=_doc("With weight: multiply the criterion's weight by this.")
    )
    note: str | None = field(default=None, metadata=_doc("A remark for the report."))
    candidate: CANDIDATE_ID | None = field(
        default=None, metadata=_doc("With note: who it is about.")
    )

    def __post_init__(self) -> None:
        kinds = [k for k in _EFFECT_EXTRAS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "an effect is exactly one of veto, rate, level, weight or note; got "
                + (", ".join(kinds) or "none")
            )
        kind = kinds[0]
        if kind == "veto" and not self.reason:
            raise ValueError("a veto needs a reason")
        if kind == "rate" and not self.candidates:
            raise ValueError("rate needs candidates: {candidate_id: change, ...}")
        if kind == "level":
            if not self.candidates:
                raise ValueError("level needs candidates: {candidate_id: rating 0-10, ...}")
            if any(not 0 <= v <= 10 for v in self.candidates.values()):
                raise ValueError("a level is a rating from 0 to 10")
        if kind == "weight" and self.factor is None:
            raise ValueError("weight needs a factor")
        stray = [
            k
            for k in ("reason", "candidates", "target", "factor", "candidate")
            if getattr(self, k) is not None and k not in _EFFECT_EXTRAS[kind]
        ]
        if stray:
            raise ValueError(f"{stray[0]!r} does not belong to a {kind} effect")

    @property
    def kind(self) -> str:
        for k in _EFFECT_EXTRAS:
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated effect without a kind")  # pragma: no cover

    def key(self) -> tuple[Any, ...]:
        """A comparable identity (for duplicate detection)."""
        cands = tuple(sorted((self.candidates or {}).items()))
        return (
            self.veto,
            self.reason,
            self.rate,
            cands,
            self.level,
            self.target,
            self.weight,
            self.factor,
            self.note,
            self.candidate,
        )


@dataclass(frozen=True)
class Rule(_Located):
    id: RULE_ID
    when: str = field(metadata=_doc("Condition in the advisor expression language."))
    effects: Annotated[tuple[Effect, ...], Check(min_length=1)]
    rationale: TEXT
    sources: tuple[Source, ...] = ()
    basis: Literal["fact", "judgement"] = field(
        default="fact",
        metadata=_doc(
            "fact: built on sourced facts (sources required); judgement: advisor's own scoring "
            "policy, such as how a stated priority shifts weights (no sources needed)."
        ),
    )
    confidence: Confidence = "high"
    unconfirmed: bool = field(
        default=False, metadata=_doc("Built on a fact that could not be confirmed.")
    )
    review_by: REVIEW_DATE = None
    applies_to: dict[CANDIDATE_ID, str] = field(
        default_factory=dict, metadata=_doc("Framework versions the rule is about, e.g. '>=2.11'.")
    )

    @property
    def certainty(self) -> str:
        """The confidence level the win probability uses: 'unconfirmed' overrides the rest."""
        return "unconfirmed" if self.unconfirmed else self.confidence


@dataclass(frozen=True)
class Constraint(_Located):
    """Answers that cannot hold together: when ``when`` holds, ``require`` must hold too.

    Checked on the answers from every source (file, ``--set``, prompt); a known violation is
    refused with ``message``. Unknown answers never violate a constraint.
    """

    id: RULE_ID
    require: str = field(
        metadata=_doc("Condition over answers that must hold (when `when` holds).")
    )
    message: TEXT = field(metadata=_doc("One line shown when answers break the constraint."))
    when: str = field(
        default="true", metadata=_doc("Condition over answers under which the constraint applies.")
    )
    rationale: str = ""
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True)
class SpeedEvidence(_Located):
    """Which probe workloads speak for the projects ``when`` describes (issue 12).

    A project that matches no item, or an item with no workloads, gets no speed effect and a note
    that says so; an item with no workloads wins over the others (nothing on the digits
    represents, e.g., fine-tuning a pretrained transformer). Workload ids are checked against the
    probe's workload table by the loader.
    """

    id: RULE_ID
    when: str = field(
        metadata=_doc("The projects it is about, in the advisor expression language."))
    workloads: tuple[Annotated[str, Check(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)], ...] = (
        field(metadata=_doc("Probe workloads that represent these projects; empty: none does.")))
    rationale: TEXT
    measure: Literal["samples_per_s", "time_to_accuracy"] = field(
        default="samples_per_s",
        metadata=_doc("samples_per_s: one workload, the same model in every framework; "
                      "time_to_accuracy: seconds to the target test accuracy, comparable across "
                      "model families (each candidate on the first of the workloads, in this "
                      "order, that its probe rows run)."))

    def __post_init__(self) -> None:
        if self.measure == "samples_per_s" and len(self.workloads) > 1:
            raise ValueError("samples_per_s compares one workload; use time_to_accuracy to "
                             "compare several (different models)")
        if len(set(self.workloads)) != len(self.workloads):
            raise ValueError("workloads repeat a name")


@dataclass(frozen=True)
class Meta:
    __pydantic_config__: ClassVar[dict[str, Any]] = _CONFIG
    kb_version: str
    title: str = "advisor knowledge base"
    schema_version: Literal[1] = 1
    description: str = ""


@dataclass(frozen=True)
class KBFile:
    """One rules file. A knowledge base is one such file or a folder of them."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _CONFIG
    meta: Meta | None = None
    candidates: tuple[Candidate, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    questions: tuple[Question, ...] = ()
    facts: tuple[Fact, ...] = ()
    rules: tuple[Rule, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    speed_evidence: tuple[SpeedEvidence, ...] = ()


SECTIONS = tuple(f.name for f in dataclasses.fields(KBFile) if f.name != "meta")


def section_class(section: str) -> Any:
    """The item class of a section of :class:`KBFile` (``rules`` -> :class:`Rule`)."""
    return typing.get_args(_hints(KBFile)[section])[0]  # tuple[Item, ...] -> Item


@dataclass(frozen=True)
class KnowledgeBase:
    """The merged, cross-checked knowledge base the engine works with."""

    meta: Meta
    candidates: list[Candidate]
    criteria: list[Criterion]
    questions: list[Question]
    facts: list[Fact]
    rules: list[Rule]
    constraints: list[Constraint] = field(default_factory=list)
    conditions: dict[str, Any] = field(default_factory=dict)  # rule id -> AST
    question_conditions: dict[str, Any] = field(default_factory=dict)
    constraint_conditions: dict[str, tuple[Any, Any]] = field(
        default_factory=dict
    )  # (when, require)
    files: list[str] = field(default_factory=list)
    speed_evidence: list[SpeedEvidence] = field(default_factory=list)
    evidence_conditions: dict[str, Any] = field(default_factory=dict)  # evidence id -> AST

    def question(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.id == qid), None)

    def candidate(self, cid: str) -> Candidate:
        return next(c for c in self.candidates if c.id == cid)

    def criterion(self, cid: str) -> Criterion:
        return next(c for c in self.criteria if c.id == cid)

    @property
    def candidate_ids(self) -> list[str]:
        return [c.id for c in self.candidates]

    @property
    def criterion_ids(self) -> list[str]:
        return [c.id for c in self.criteria]


# ------------------------------------------------------------------ plain data (the cache)


def to_plain(item: Any) -> Any:
    """JSON-ready data of a validated item (dates as ISO text); :func:`from_plain` reverses it."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {f.name: to_plain(getattr(item, f.name)) for f in dataclasses.fields(item)}
    if isinstance(item, (list, tuple)):
        return [to_plain(v) for v in item]
    if isinstance(item, dict):
        return {k: to_plain(v) for k, v in item.items()}
    if isinstance(item, dt.date):
        return item.isoformat()
    return item


def from_plain(cls: Any, data: Any) -> Any:
    """Rebuild an item of a class above from :func:`to_plain` data, without validating it again.

    Only for data this module produced from a validated item (the knowledge-base cache): the
    field types say how to rebuild, so there is no second, hand-written converter to keep in step.
    Each type's rebuilder is worked out once (`recommend` reads the cache on every run).
    """
    return _builder(cls)(data)


_HINTS: dict[Any, dict[str, Any]] = {}
_BUILDERS: dict[Any, Any] = {}


def _hints(cls: Any) -> dict[str, Any]:
    if cls not in _HINTS:
        module = sys.modules[cls.__module__]
        _HINTS[cls] = typing.get_type_hints(cls, globalns=vars(module))
    return _HINTS[cls]


def _same(value: Any) -> Any:
    return value


def _builder(hint: Any) -> Any:
    """A function that rebuilds a value of type ``hint`` from plain data (None stays None)."""
    try:
        return _BUILDERS[hint]
    except (KeyError, TypeError):
        pass
    build = _make_builder(hint)
    try:
        _BUILDERS[hint] = build
    except TypeError:  # an unhashable hint: rebuild it each time
        pass
    return build


def _make_builder(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in args if a is not type(None)]
        one = _builder(inner[0]) if len(inner) == 1 else _same
        return lambda value: None if value is None else one(value)
    if dataclasses.is_dataclass(hint):
        cls: Any = hint
        fields: dict[str, Any] = {}

        def build_item(value: Any) -> Any:
            if value is None:
                return None
            if not fields:  # worked out on first use: the hints may name classes defined later
                fields.update({name: _builder(h) for name, h in _hints(cls).items()})
            return cls(**{name: fields[name](v) for name, v in value.items()})

        return build_item
    if hint is dt.date:
        return lambda value: None if value is None else dt.date.fromisoformat(value)
    if origin is tuple:
        item = _builder(args[0])
        return lambda value: None if value is None else tuple(item(v) for v in value)
    if origin is dict:
        item = _builder(args[1])
        return lambda value: None if value is None else {k: item(v) for k, v in value.items()}
    return _same
