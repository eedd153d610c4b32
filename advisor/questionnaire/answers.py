"""Answers to the questionnaire: read, validate, merge and write them.

One validation for every source (answers file, ``--set``, the prompt, defaults). Precedence, as in
copier: ``--set`` > answers file > prompt > default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advisor import __version__
from advisor.infra import atomic
from advisor.infra.errors import AnswerError, ParseError, VersionError
from advisor.infra.suggest import allowed, closest, normalise, unknown
from advisor.kb.model import ANSWER_METADATA_KEYS, KnowledgeBase, Question
from advisor.questionnaire import consistency

if TYPE_CHECKING:  # safeyaml imports PyYAML (about 28 ms): only when a file is read
    from advisor.infra import safeyaml

ANSWERS_SCHEMA_VERSION = 1
MAX_ANSWERS_BYTES = 256 * 1024

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


@dataclass
class AnswerSet:
    """Validated answers plus where each came from (set, file, prompt, default)."""

    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)

    def put(self, qid: str, value: Any, origin: str) -> None:
        self.values[qid] = value
        self.origin[qid] = origin

    def copy(self) -> AnswerSet:
        return AnswerSet(dict(self.values), dict(self.origin))


def _unknown_id(kb: KnowledgeBase, key: object) -> str:
    return unknown("question id", key, [q.id for q in kb.questions])


def match_value(question: Question, text: str) -> str | None:
    """The choice ``text`` names: its value, or the value or label shown on screen written with
    other case, spaces or hyphens (``multi-gpu``, ``Images``, ``ease of use``, ``NVIDIA GPU``)."""
    text = text.strip()
    if text in question.values:
        return text
    form = normalise(text)
    for choice in question.choices:
        if form == normalise(choice.value):
            return choice.value
    for choice in question.choices:
        label = choice.label or ""
        if label and form in (normalise(label), normalise(label.split(" - ")[0])):
            return choice.value
    return None


def _not_allowed(question: Question, value: Any) -> str:
    guess = closest(value, question.values) if isinstance(value, str) else None
    hint = f"did you mean {guess!r}?" if guess else allowed(question.values)
    return f"{question.id}: {_show(value)} is not allowed; {hint}"


def coerce(question: Question, value: Any, *, where: str, line: int | None = None) -> Any:
    """Validate one answer against its question; return the canonical value."""
    if question.type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise AnswerError(
            f"{question.id}: {value!r} is not true or false", path=where, line=line
        )
    if question.type == "one":
        matched = match_value(question, value) if isinstance(value, str) else None
        if matched is not None:
            return matched
        raise AnswerError(_not_allowed(question, value), path=where, line=line)
    # many
    if isinstance(value, str):
        items: list[Any] = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise AnswerError(
            f"{question.id}: expected a list of values; {allowed(question.values)}",
            path=where,
            line=line,
        )
    out: list[str] = []
    for item in items:
        matched = match_value(question, item) if isinstance(item, str) else None
        if matched is None:
            raise AnswerError(_not_allowed(question, item), path=where, line=line)
        if matched not in out:
            out.append(matched)
    if "none" in out and len(out) > 1:
        raise AnswerError(
            f"{question.id}: 'none' cannot be combined with other values", path=where, line=line
        )
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_file(kb: KnowledgeBase, path: str) -> dict[str, Any]:
    """Read and validate an answers file; returns {question_id: value}."""
    from advisor.infra import safeyaml

    doc = safeyaml.load_file(path, max_bytes=MAX_ANSWERS_BYTES)
    return from_document(kb, doc)


def from_document(kb: KnowledgeBase, doc: safeyaml.Document) -> dict[str, Any]:
    data = doc.data
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParseError(
            f"expected a mapping of question ids to answers, got a {type(data).__name__}",
            path=doc.path,
            line=doc.line_of(()),
        )
    version = data.get("schema_version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version > ANSWERS_SCHEMA_VERSION or version < 1):
        raise VersionError(
            f"answers schema_version {version!r} is not supported; this advisor "
            f"({__version__}) reads version {ANSWERS_SCHEMA_VERSION}",
            path=doc.path,
            line=doc.line_of(("schema_version",)),
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        line = doc.line_of((key,))
        if key in ANSWER_METADATA_KEYS:
            continue
        if not isinstance(key, str):
            raise AnswerError(f"question ids are names, not {key!r}", path=doc.path, line=line)
        question = kb.question(key)
        if question is None:
            raise AnswerError(_unknown_id(kb, key), path=doc.path, line=line)
        if value is None:
            continue  # explicitly unanswered
        out[key] = coerce(question, value, where=doc.path, line=line)
    return out


def parse_sets(kb: KnowledgeBase, items: Iterable[str]) -> dict[str, Any]:
    """Parse ``--set id=value`` options (a many-valued answer is comma-separated)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise AnswerError(f"--set {item!r}: expected id=value")
        key, _, raw = item.partition("=")
        key = key.strip()
        question = kb.question(key)
        if question is None:
            guess = closest(key, [q.id for q in kb.questions])
            if guess is not None and normalise(guess) == normalise(key):
                key, question = guess, kb.question(guess)  # Training-Hardware=... names it
        if question is None:
            raise AnswerError(f"--set {item!r}: {_unknown_id(kb, key)}")
        raw = raw.strip()
        if question.type == "many" and raw in ("", "[]"):
            raise AnswerError(f"--set {item!r}: give at least one value (or 'none')")
        out[key] = coerce(question, raw, where="--set")
    return out


def merge(
    kb: KnowledgeBase,
    *,
    from_file: dict[str, Any] | None = None,
    from_set: dict[str, Any] | None = None,
    use_defaults: bool = False,
) -> AnswerSet:
    """Combine sources with --set over the file; defaults only fill what is left if asked."""
    result = AnswerSet()
    for qid, value in (from_file or {}).items():
        result.put(qid, value, "file")
    for qid, value in (from_set or {}).items():
        result.put(qid, value, "set")
    consistency.check(kb, result.values, result.origin)
    if use_defaults:
        fill_defaults(kb, result)
    return result


def fill_defaults(kb: KnowledgeBase, answers: AnswerSet) -> None:
    from advisor.questionnaire.flow import is_asked

    for question in kb.questions:
        if question.id in answers.values or question.default is None:
            continue
        if not is_asked(kb, question, answers.values):
            continue
        value = list(question.default) if isinstance(question.default, list) else question.default
        if not consistency.is_consistent(kb, {**answers.values, question.id: value}):
            continue  # a default never contradicts what was answered: the question stays unknown
        answers.put(question.id, value, "default")


def missing(kb: KnowledgeBase, answers: dict[str, Any]) -> list[Question]:
    """Asked questions that still need an answer. A question without a default is optional: left
    unanswered it is unknown (so answers files written before it existed stay complete)."""
    from advisor.questionnaire.flow import is_asked

    return [
        q for q in kb.questions
        if q.id not in answers and q.default is not None and is_asked(kb, q, answers)
    ]


def dump(kb: KnowledgeBase, answers: dict[str, Any], *, comment: str | None = None) -> str:
    """YAML text that ``--answers`` reads back (questions in knowledge-base order)."""
    header = [
        "# advisor answers file: replay with `advisor recommend --answers FILE`.",
    ]
    if comment:
        header.append(f"# {comment}")
    meta = {
        "schema_version": ANSWERS_SCHEMA_VERSION,
        "kb_version": kb.meta.kb_version,
        "advisor_version": __version__,
        "written": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    body: dict[str, Any] = {}
    for question in kb.questions:
        if question.id in answers:
            body[question.id] = answers[question.id]
    import yaml  # only when answers are written

    text = yaml.safe_dump({**meta, **body}, sort_keys=False, allow_unicode=True,
                          default_flow_style=False)
    return "\n".join(header) + "\n" + text


def write(kb: KnowledgeBase, path: str, answers: dict[str, Any], *, comment: str | None = None) -> None:
    atomic.write_text(path, dump(kb, answers, comment=comment))
