"""The knowledge-base format: pydantic models that validate rules files.

`advisor rules schema` exports the JSON Schema of :class:`KBFile` so editors can validate rules
files. A knowledge base may be one file or a folder of files; each file is a :class:`KBFile`
(every section optional). After validation the loader turns the items into the plain runtime
classes of :mod:`advisor.kb.model` and merges the files into one knowledge base.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from advisor.kb.model import ANSWER_METADATA_KEYS  # noqa: F401  (re-exported)

ID = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
RULE_ID = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)]
CANDIDATE_ID = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


_Located = _Model


class Source(_Model):
    """Where a rule's knowledge comes from."""

    url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=500)]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    date: Annotated[str, Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")] = Field(
        description="Publication or retrieval date: YYYY, YYYY-MM or YYYY-MM-DD."
    )


class Candidate(_Located):
    id: CANDIDATE_ID
    name: str
    summary: str = ""
    url: str = ""
    install: str = Field("", description="pip command that installs it (shown for missing rows)")
    probe_rows: list[str] = Field(
        default_factory=list, description="Probe rows that measure this candidate."
    )
    base: dict[ID, float] = Field(
        default_factory=dict,
        description="Prior rating per criterion (0-10) before any rule fires; missing = 5.",
    )


class Criterion(_Located):
    id: ID
    name: str
    description: str
    weight: Annotated[float, Field(ge=0, le=100)]
    per: ID | None = Field(
        None,
        description="Score this criterion once per answered value of this 'many' question "
        "(e.g. each deployment target) and aggregate: the weakest value bounds the rating.",
    )


class Choice(_Model):
    value: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    label: str = ""


class Question(_Located):
    id: ID
    text: str
    help: str = ""
    type: Literal["one", "many", "bool"]
    choices: list[Choice] = Field(default_factory=list)
    default: Any = None
    when: str | None = Field(None, description="Ask only when this condition holds.")
    auto_fact: str | None = Field(
        None, description="For the choice 'auto': the machine fact that supplies the value."
    )

    @model_validator(mode="after")
    def _choices_fit_type(self) -> "Question":
        values = [c.value for c in self.choices]
        if self.type == "bool":
            if self.choices:
                raise ValueError("a bool question has no choices")
            if self.default is not None and not isinstance(self.default, bool):
                raise ValueError("the default of a bool question is true or false")
            return self
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
                raise ValueError(f"default {bad[0]!r} is not a choice; allowed: {', '.join(values)}")
        return self

class Fact(_Located):
    """A fact about the machine or its measurements that rules read by name."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=100)]
    type: Literal["one", "many", "bool", "number"]
    choices: list[str] = Field(default_factory=list)
    description: str


class Effect(_Model):
    """Exactly one of: veto, rate, level, weight, note."""

    veto: CANDIDATE_ID | None = Field(None, description="Knock this candidate out.")
    reason: str | None = Field(None, description="Why the veto (shown in reports).")
    rate: ID | None = Field(None, description="Criterion on which to rate candidates.")
    candidates: dict[CANDIDATE_ID, float] | None = Field(
        None, description="With rate: rating change per candidate (e.g. {pytorch: 2, keras: -1})."
    )
    level: ID | None = Field(
        None,
        description="Criterion whose rating is set to an absolute level per candidate (0-10); "
        "when several fired rules set a level, the highest one counts (one fact, not a sum).",
    )
    target: ID | None = Field(
        None,
        description="With rate or level on a criterion scored per answer value (its 'per'): "
        "the value this effect is about, e.g. mobile_ios.",
    )
    weight: ID | None = Field(None, description="Criterion whose importance changes.")
    factor: Annotated[float, Field(gt=0, le=10)] | None = Field(
        None, description="With weight: multiply the criterion's weight by this."
    )
    note: str | None = Field(None, description="A remark for the report.")
    candidate: CANDIDATE_ID | None = Field(None, description="With note: who it is about.")

    @model_validator(mode="after")
    def _one_kind(self) -> "Effect":
        kinds = [k for k in ("veto", "rate", "level", "weight", "note") if getattr(self, k) is not None]
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
        extra = {
            "veto": {"reason"},
            "rate": {"candidates", "target"},
            "level": {"candidates", "target"},
            "weight": {"factor"},
            "note": {"candidate"},
        }[kind]
        stray = [
            k
            for k in ("reason", "candidates", "target", "factor", "candidate")
            if getattr(self, k) is not None and k not in extra
        ]
        if stray:
            raise ValueError(f"{stray[0]!r} does not belong to a {kind} effect")
        return self

class Rule(_Located):
    id: RULE_ID
    when: str = Field(description="Condition in the advisor expression language.")
    effects: Annotated[list[Effect], Field(min_length=1)]
    rationale: Annotated[str, Field(min_length=1)]
    sources: list[Source] = Field(default_factory=list)
    basis: Literal["fact", "judgement"] = Field(
        "fact",
        description="fact: built on sourced facts (sources required); judgement: advisor's own "
        "scoring policy, such as how a stated priority shifts weights (no sources needed).",
    )
    confidence: Literal["high", "medium", "low"] = "high"
    unconfirmed: bool = Field(False, description="Built on a fact that could not be confirmed.")
    review_by: dt.date | None = None
    applies_to: dict[CANDIDATE_ID, str] = Field(
        default_factory=dict, description="Framework versions the rule is about, e.g. '>=2.11'."
    )

    @field_validator("review_by", mode="before")
    @classmethod
    def _parse_date(cls, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value):
            return value + "-01"
        return value


class Meta(_Model):
    title: str = "advisor knowledge base"
    kb_version: str
    schema_version: Literal[1] = 1
    description: str = ""


class KBFile(_Model):
    """One rules file. A knowledge base is one such file or a folder of them."""

    meta: Meta | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    criteria: list[Criterion] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
