"""Load a knowledge base (one YAML file or a folder of them), validate it, and cross-check it.

Every problem names the file and line. ``collect`` validates everything and returns every problem
(for ``advisor rules check``); ``load`` raises on errors, and caches a knowledge base that passed,
keyed by a hash of its files' contents, so the next run rebuilds it without parsing YAML or
importing pydantic.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from advisor.infra import safeyaml
from advisor.infra.errors import AdvisorError, ExpressionError, FileProblem, SchemaError
from advisor.kb import expr
from advisor.kb.model import (
    ANSWER_METADATA_KEYS,
    SECTIONS,
    KnowledgeBase,
    Meta,
    from_plain,
    section_class,
    to_plain,
)

MAX_RULES_FILE_BYTES = 4 * 1024 * 1024
_VALIDATOR_SEGMENT = re.compile(r"^[a-z][a-z-]*\[.*\]$")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.severity}: {self.message}"


class KBError(SchemaError):
    """The knowledge base has problems; ``problems`` holds every one."""

    def __init__(self, problems: list[Problem]):
        first = problems[0]
        more = f" (and {len(problems) - 1} more; run `advisor rules check`)" if len(problems) > 1 else ""
        super().__init__(first.message + more, path=first.path, line=first.line)
        self.problems = problems


def _files(path: Path) -> list[Path]:
    if not path.exists():
        raise FileProblem("no such file or folder", path=str(path))
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise FileProblem("folder holds no .yaml rules files", path=str(path))
        return files
    return [path]


def _fmt_loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_problems(doc: safeyaml.Document, exc: Any) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        # drop pydantic's own validator segments ("function-after[...]"), keep every YAML key
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _VALIDATOR_SEGMENT.match(p)))
        if not loc:
            loc = tuple(err["loc"])
        kind = err["type"]
        if kind in ("extra_forbidden", "unexpected_keyword_argument") and loc:
            message = f"{_fmt_loc(loc[:-1]) or 'top level'}: unknown key {loc[-1]!r}"
        elif kind in ("missing", "missing_argument") and loc:
            message = f"{_fmt_loc(loc[:-1]) or 'top level'}: missing required key {loc[-1]!r}"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            message = f"{_fmt_loc(loc) or 'top level'}: {msg}"
        problems.append(Problem(doc.path, doc.line_of(loc), message))
    return problems


def _parse_file(path: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Validate one rules file; return its sections as located items (plus 'meta')."""
    from advisor.kb import schema

    try:
        doc = safeyaml.load_file(path, max_bytes=MAX_RULES_FILE_BYTES)
    except AdvisorError as exc:
        return None, [Problem(str(path), exc.line, exc.message)]
    if doc.data is None:
        return {"meta": None, "path": doc.path, **{s: [] for s in SECTIONS}}, []
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        return None, [Problem(doc.path, doc.line_of(()), f"expected a mapping of sections, got a {kind}")]
    try:
        parsed = schema.validate(doc.data)
    except schema.ValidationError as exc:
        return None, _pydantic_problems(doc, exc)
    out: dict[str, Any] = {"meta": parsed.meta, "path": doc.path}
    for section in SECTIONS:
        out[section] = [
            item.located((doc.path, doc.line_of((section, i))))
            for i, item in enumerate(getattr(parsed, section))
        ]
    return out, []


def collect(path: str | Path) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Load and cross-check; return the knowledge base (None if unusable) and every problem."""
    root = Path(path)
    files = _files(root)
    parts: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for file in files:
        parsed, errs = _parse_file(file)
        problems.extend(errs)
        if parsed is not None:
            parts.append(parsed)
    if problems:
        return None, problems
    return _merge(parts, [str(f) for f in files])


def load(path: str | Path, *, use_cache: bool = True) -> KnowledgeBase:
    files = _files(Path(path))
    key = _cache_key(files) if use_cache else None
    if key is not None:
        cached = _cache_read(key)
        if cached is not None:
            return cached
    kb, problems = collect(path)
    errors = [p for p in problems if p.severity == "error"]
    if errors or kb is None:
        raise KBError(errors or problems)
    if key is not None:
        _cache_write(key, kb)
    return kb


def load_bundled() -> KnowledgeBase:
    from advisor.infra.resources import rules_dir

    return load(rules_dir())


def _merge(
    parts: list[dict[str, Any]], files: list[str]
) -> tuple[KnowledgeBase | None, list[Problem]]:
    problems: list[Problem] = []
    metas = [(p["meta"], p["path"]) for p in parts if p["meta"] is not None]
    if not metas:
        problems.append(Problem(files[0], None, "no 'meta' section (kb_version) in any file"))
    elif len(metas) > 1:
        problems.append(Problem(metas[1][1], None, "a second 'meta' section"))

    merged: dict[str, list[Any]] = {s: [] for s in SECTIONS}
    for parsed in parts:
        for section in merged:
            merged[section].extend(parsed[section])

    for section in merged:
        seen: dict[str, Any] = {}
        for item in merged[section]:
            if item.id in seen:
                path, line = item.origin
                problems.append(
                    Problem(path, line, f"{section}: duplicate id {item.id!r} (first at {seen[item.id].where()})")
                )
            else:
                seen[item.id] = item
    for section in ("candidates", "criteria", "questions"):
        if not merged[section]:
            problems.append(Problem(files[0], None, f"the knowledge base defines no {section}"))

    candidate_ids = {c.id for c in merged["candidates"]}
    criterion_ids = {c.id for c in merged["criteria"]}
    question_ids = {q.id for q in merged["questions"]}

    for cand in merged["candidates"]:
        for crit in {*cand.base, *cand.base_rationale, *cand.base_confidence}:
            if crit not in criterion_ids:
                problems.append(_at(cand, f"candidate {cand.id!r}: base rates unknown criterion {crit!r}; known: {', '.join(sorted(criterion_ids))}"))
    for question in merged["questions"]:
        if question.id in ANSWER_METADATA_KEYS:
            problems.append(_at(question, f"question id {question.id!r} is reserved for answers-file metadata"))
    for fact in merged["facts"]:
        if fact.id in question_ids:
            problems.append(_at(fact, f"fact {fact.id!r} has the same name as a question"))

    env = _type_env(merged["questions"], merged["facts"])
    conditions: dict[str, Any] = {}
    question_conditions: dict[str, Any] = {}
    for question in merged["questions"]:
        if question.auto_fact is not None:
            if "auto" not in question.values:
                problems.append(_at(question, f"question {question.id!r}: auto_fact given but 'auto' is not a choice"))
            fact_type = env.get(question.auto_fact)
            if fact_type is None:
                problems.append(_at(question, f"question {question.id!r}: unknown auto_fact {question.auto_fact!r}"))
        if question.when is not None:
            try:
                node = expr.parse(question.when)
                expr.check(node, env)
                question_conditions[question.id] = node
            except ExpressionError as exc:
                problems.append(_at(question, f"question {question.id!r}: when: {exc.message}"))
    for rule in merged["rules"]:
        try:
            node = expr.parse(rule.when)
            expr.check(node, env)
            conditions[rule.id] = node
        except ExpressionError as exc:
            problems.append(_at(rule, f"rule {rule.id!r}: when: {exc.message}"))
        for effect in rule.effects:
            for cand in _effect_candidates(effect):
                if cand not in candidate_ids:
                    problems.append(_at(rule, f"rule {rule.id!r}: unknown candidate {cand!r}; known: {', '.join(sorted(candidate_ids))}"))
            crit = effect.rate or effect.weight
            if crit is not None and crit not in criterion_ids:
                problems.append(_at(rule, f"rule {rule.id!r}: unknown criterion {crit!r}; known: {', '.join(sorted(criterion_ids))}"))
        for cand in rule.applies_to:
            if cand not in candidate_ids:
                problems.append(_at(rule, f"rule {rule.id!r}: applies_to names unknown candidate {cand!r}"))

    answers_env = _type_env(merged["questions"], [])
    constraint_conditions: dict[str, tuple[Any, Any]] = {}
    for constraint in merged["constraints"]:
        nodes = []
        for part in ("when", "require"):
            try:
                node = expr.parse(getattr(constraint, part))
                expr.check(node, answers_env)  # over answers only: a constraint binds what users say
                nodes.append(node)
            except ExpressionError as exc:
                problems.append(_at(constraint, f"constraint {constraint.id!r}: {part}: {exc.message}"))
        if len(nodes) == 2:
            constraint_conditions[constraint.id] = (nodes[0], nodes[1])

    if any(p.severity == "error" for p in problems) or not metas:
        return None, problems
    meta = metas[0][0]
    kb = KnowledgeBase(
        meta=meta,
        candidates=merged["candidates"],
        criteria=merged["criteria"],
        questions=merged["questions"],
        facts=merged["facts"],
        rules=merged["rules"],
        conditions=conditions,
        question_conditions=question_conditions,
        constraints=merged["constraints"],
        constraint_conditions=constraint_conditions,
        files=files,
    )
    return kb, problems


def _at(item: Any, message: str, severity: str = "error") -> Problem:
    path, line = item.origin
    return Problem(path, line, message, severity)


def _effect_candidates(effect: Any) -> list[str]:
    if effect.veto is not None:
        return [effect.veto]
    if effect.candidates:
        return list(effect.candidates)
    if effect.candidate is not None:
        return [effect.candidate]
    return []


def _type_env(questions: list[Any], facts: list[Any]) -> dict[str, expr.VarType]:
    env: dict[str, expr.VarType] = {}
    for q in questions:
        env[q.id] = expr.VarType(q.type, tuple(q.values))
    for f in facts:
        env[f.id] = expr.VarType(f.type, tuple(f.choices))
    return env


def type_env(kb: KnowledgeBase) -> dict[str, expr.VarType]:
    return _type_env(kb.questions, kb.facts)


# ------------------------------------------------------------------ cache of validated knowledge

CACHE_FORMAT = 2


def cache_dir() -> Path:
    """``ADVISOR_CACHE_DIR``, else the operating system's cache folder for advisor
    (``$XDG_CACHE_HOME/advisor`` or ``~/.cache/advisor`` on Linux, ``~/Library/Caches/advisor``
    on macOS, ``%LOCALAPPDATA%\\advisor\\Cache`` on Windows)."""
    explicit = os.environ.get("ADVISOR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_cache_dir("advisor", appauthor=False))


def _cache_key(files: list[Path]) -> str | None:
    from advisor import __version__

    digest = hashlib.sha256(f"{CACHE_FORMAT}:{__version__}".encode())
    try:
        for file in files:
            digest.update(str(file.resolve()).encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    except OSError:
        return None  # collect() will report the unreadable file
    return digest.hexdigest()


def _cache_path(key: str) -> Path:
    return cache_dir() / f"kb-{key[:32]}.json"


def _cache_write(key: str, kb: KnowledgeBase) -> None:
    from advisor.infra import atomic

    payload = {
        "key": key,
        "meta": to_plain(kb.meta),
        "files": kb.files,
        "sections": {
            section: [{"origin": list(item.origin), "data": to_plain(item)}
                      for item in getattr(kb, section)]
            for section in SECTIONS
        },
    }
    try:
        atomic.write_text(_cache_path(key), json.dumps(payload))
    except (OSError, AdvisorError):
        pass  # a cache is an optimisation; an unwritable cache folder is not an error


def _cache_read(key: str) -> KnowledgeBase | None:
    try:
        payload = json.loads(_cache_path(key).read_text(encoding="utf-8"))
        if payload.get("key") != key:
            return None
        sections = {
            section: [from_plain(section_class(section), entry["data"]).located(tuple(entry["origin"]))
                      for entry in payload["sections"][section]]
            for section in SECTIONS
        }
        conditions = {rule.id: expr.parse(rule.when) for rule in sections["rules"]}
        question_conditions = {q.id: expr.parse(q.when) for q in sections["questions"] if q.when}
        constraint_conditions = {
            c.id: (expr.parse(c.when), expr.parse(c.require)) for c in sections["constraints"]
        }
        return KnowledgeBase(
            meta=from_plain(Meta, payload["meta"]),
            conditions=conditions,
            question_conditions=question_conditions,
            constraint_conditions=constraint_conditions,
            files=list(payload["files"]),
            **sections,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, AdvisorError):
        return None  # missing, stale or damaged: validate from the rules files again
