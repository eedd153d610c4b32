"""The knowledge base as the engine uses it: plain frozen dataclasses.

Validation happens once, in :mod:`advisor.kb.schema` (pydantic), when a rules file is new or has
changed; the validated content is cached and rebuilt into these classes without importing
pydantic, so `advisor recommend` starts fast. A test keeps the field names of both in step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

#: Keys an answers file may carry besides question ids.
ANSWER_METADATA_KEYS = frozenset(
    {"schema_version", "kb_version", "advisor_version", "written", "comment"}
)


@dataclass(frozen=True)
class _Located:
    origin: tuple[str, int | None] = field(default=("<unknown>", None), compare=False, kw_only=True)

    def where(self) -> str:
        path, line = self.origin
        return f"{path}:{line}" if line is not None else path


@dataclass(frozen=True)
class Source:
    url: str
    title: str
    date: str


@dataclass(frozen=True)
class Candidate(_Located):
    id: str
    name: str
    summary: str = ""
    url: str = ""
    install: str = ""
    probe_rows: tuple[str, ...] = ()
    base: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Criterion(_Located):
    id: str
    name: str
    description: str
    weight: float
    per: str | None = None  # a 'many' question: scored per answered value, then aggregated


@dataclass(frozen=True)
class Choice:
    value: str
    label: str = ""


@dataclass(frozen=True)
class Question(_Located):
    id: str
    text: str
    type: str  # one | many | bool
    help: str = ""
    choices: tuple[Choice, ...] = ()
    default: Any = None
    when: str | None = None
    auto_fact: str | None = None

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
    id: str
    type: str  # one | many | bool | number
    description: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Effect:
    veto: str | None = None
    reason: str | None = None
    rate: str | None = None
    candidates: dict[str, float] | None = None
    level: str | None = None
    target: str | None = None
    weight: str | None = None
    factor: float | None = None
    note: str | None = None
    candidate: str | None = None

    @property
    def kind(self) -> str:
        for k in ("veto", "rate", "level", "weight", "note"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated effect without a kind")  # pragma: no cover

    def key(self) -> tuple[Any, ...]:
        """A comparable identity (for duplicate detection)."""
        cands = tuple(sorted((self.candidates or {}).items()))
        return (self.veto, self.reason, self.rate, cands, self.level, self.target, self.weight,
                self.factor, self.note, self.candidate)


@dataclass(frozen=True)
class Rule(_Located):
    id: str
    when: str
    effects: tuple[Effect, ...]
    rationale: str
    sources: tuple[Source, ...] = ()
    basis: str = "fact"
    confidence: str = "high"
    unconfirmed: bool = False
    review_by: dt.date | None = None
    applies_to: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Meta:
    kb_version: str
    title: str = "advisor knowledge base"
    schema_version: int = 1
    description: str = ""


@dataclass(frozen=True)
class KnowledgeBase:
    """The merged, cross-checked knowledge base the engine works with."""

    meta: Meta
    candidates: list[Candidate]
    criteria: list[Criterion]
    questions: list[Question]
    facts: list[Fact]
    rules: list[Rule]
    conditions: dict[str, Any] = field(default_factory=dict)  # rule id -> AST
    question_conditions: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

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


# ------------------------------------------------------------------ plain data <-> objects

SECTIONS = ("candidates", "criteria", "questions", "facts", "rules")


def item_from_data(section: str, data: dict[str, Any], origin: tuple[str, int | None]) -> Any:
    """Build one runtime item from its validated plain data (as dumped by the schema models)."""
    data = dict(data)
    if section == "candidates":
        data["probe_rows"] = tuple(data.get("probe_rows", ()))
        return Candidate(**data, origin=origin)
    if section == "criteria":
        return Criterion(**data, origin=origin)
    if section == "questions":
        data["choices"] = tuple(Choice(**c) for c in data.get("choices", ()))
        return Question(**data, origin=origin)
    if section == "facts":
        data["choices"] = tuple(data.get("choices", ()))
        return Fact(**data, origin=origin)
    if section == "rules":
        data["effects"] = tuple(Effect(**e) for e in data["effects"])
        data["sources"] = tuple(Source(**s) for s in data.get("sources", ()))
        review = data.get("review_by")
        if isinstance(review, str):
            data["review_by"] = dt.date.fromisoformat(review)
        return Rule(**data, origin=origin)
    raise ValueError(section)  # pragma: no cover
