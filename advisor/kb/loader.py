"""Load a knowledge base (one YAML file or a folder of them), validate it, and cross-check it.

Every problem names the file and line. ``collect`` validates everything and returns every problem
(for ``advisor rules check``); ``load`` raises on errors, and caches a knowledge base that passed,
keyed by a hash of its files' contents, so the next run rebuilds it without parsing YAML or
importing pydantic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.infra.errors import AdvisorError, ExpressionError, FileProblem, SchemaError
from advisor.kb import expr, typecheck
from advisor.kb.model import (
    ANSWER_METADATA_KEYS,
    SECTIONS,
    KnowledgeBase,
    Meta,
    from_plain,
    section_class,
    to_plain,
)

if TYPE_CHECKING:  # safeyaml imports PyYAML (about 28 ms): only when a file is read
    from advisor.infra import safeyaml

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
        from advisor.infra import safeyaml

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


def _merge(  # noqa: C901 - one pass of cross-checks over the merged files
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

    questions_by_id = {q.id: q for q in merged["questions"]}
    per_question = {}
    for crit in merged["criteria"]:
        if crit.per is None:
            continue
        question = questions_by_id.get(crit.per)
        if question is None or question.type != "many":
            problems.append(_at(crit, f"criterion {crit.id!r}: per must name a 'many' question; {crit.per!r} is not one"))
        else:
            per_question[crit.id] = question
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
                typecheck.check(node, env)
                question_conditions[question.id] = node
            except ExpressionError as exc:
                problems.append(_at(question, f"question {question.id!r}: when: {exc.message}"))
    for rule in merged["rules"]:
        try:
            node = expr.parse(rule.when)
            typecheck.check(node, env)
            conditions[rule.id] = node
        except ExpressionError as exc:
            problems.append(_at(rule, f"rule {rule.id!r}: when: {exc.message}"))
        for effect in rule.effects:
            for cand in _effect_candidates(effect):
                if cand not in candidate_ids:
                    problems.append(_at(rule, f"rule {rule.id!r}: unknown candidate {cand!r}; known: {', '.join(sorted(candidate_ids))}"))
            crit = effect.rate or effect.level or effect.weight
            if crit is not None and crit not in criterion_ids:
                problems.append(_at(rule, f"rule {rule.id!r}: unknown criterion {crit!r}; known: {', '.join(sorted(criterion_ids))}"))
            elif effect.target is not None:
                per = per_question.get(crit or "")
                if per is None:
                    problems.append(_at(rule, f"rule {rule.id!r}: target {effect.target!r} given, but criterion {crit!r} is not scored per answer (no 'per')"))
                elif effect.target not in per.values:
                    problems.append(_at(rule, f"rule {rule.id!r}: target {effect.target!r} is not a value of {per.id!r}; allowed: {', '.join(per.values)}"))
        for cand in rule.applies_to:
            if cand not in candidate_ids:
                problems.append(_at(rule, f"rule {rule.id!r}: applies_to names unknown candidate {cand!r}"))

    answers_env = _type_env(merged["questions"], [])
    evidence_conditions: dict[str, Any] = {}
    known_workloads = _known_workloads()
    for item in merged["speed_evidence"]:
        try:
            node = expr.parse(item.when)
            typecheck.check(node, env)
            evidence_conditions[item.id] = node
        except ExpressionError as exc:
            problems.append(_at(item, f"speed_evidence {item.id!r}: when: {exc.message}"))
        for workload in item.workloads:
            if workload not in known_workloads:
                problems.append(_at(item, f"speed_evidence {item.id!r}: unknown workload "
                                          f"{workload!r}; known: {', '.join(known_workloads)}"))
    constraint_conditions: dict[str, tuple[Any, Any]] = {}
    for constraint in merged["constraints"]:
        nodes = []
        for part in ("when", "require"):
            try:
                node = expr.parse(getattr(constraint, part))
                typecheck.check(node, answers_env)  # over answers only: a constraint binds what users say
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
        speed_evidence=merged["speed_evidence"],
        evidence_conditions=evidence_conditions,
        files=files,
    )
    return kb, problems


def _known_workloads() -> tuple[str, ...]:
    from advisor.probe.workloads import known

    return known()


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


def _type_env(questions: list[Any], facts: list[Any]) -> dict[str, typecheck.VarType]:
    env: dict[str, typecheck.VarType] = {}
    for q in questions:
        env[q.id] = typecheck.VarType(q.type, tuple(q.values))
    for f in facts:
        env[f.id] = typecheck.VarType(f.type, tuple(f.choices))
    return env


# ------------------------------------------------------------------ cache of validated knowledge

CACHE_FORMAT = 4  # 3: a sealed entry (digest line, then the JSON); 4: mappings keep the rules files' order


# Threat model (issue 15, item 9). The cache holds knowledge that was validated once; reading it
# back must never be trusted more than the rules files themselves.
# - Damage (a truncated or half-written file, a full disk, a bit flip, an older format, a file
#   from another knowledge base): every entry carries a SHA-256 over the key and its exact
#   content; an entry that does not verify is ignored and rebuilt from the rules files.
# - A FIFO, socket, device or symlink planted in the cache folder: the entry is opened with
#   O_NOFOLLOW | O_NONBLOCK and used only when fstat says it is a regular file of bounded size,
#   so a run never blocks or follows a link there.
# - Someone else writing the cache: whoever can write the cache folder can also recompute the
#   digest (it is not a secret; a key stored beside it would be no better), so the digest
#   cannot stop a deliberate forger. What stops one is ownership: the folder and the entry must
#   belong to the user running advisor and be writable by nobody else (group or others), as
#   ssh checks ~/.ssh; otherwise the cache is neither read nor written. A forger with the
#   user's own account could as well edit the rules files or advisor itself: out of scope.
# - The folder is never invented: ADVISOR_CACHE_DIR or XDG_CACHE_HOME must be absolute (the XDG
#   spec says to ignore a relative one, which would write into the current folder), and a HOME
#   that does not exist is not created: then there is simply no cache.
# `advisor rules check` never reads the cache (it validates the files), and `load(..., use_cache=
# False)` bypasses it.
CACHE_MAX_BYTES = 32 * 1024 * 1024


def cache_dir() -> Path | None:
    """``ADVISOR_CACHE_DIR``, else the operating system's cache folder for advisor
    (``$XDG_CACHE_HOME/advisor`` or ``~/.cache/advisor`` on Linux, ``~/Library/Caches/advisor``
    on macOS, ``%LOCALAPPDATA%\\advisor\\Cache`` on Windows); None when there is no safe one."""
    explicit = os.environ.get("ADVISOR_CACHE_DIR")
    if explicit:
        return Path(explicit) if os.path.isabs(explicit) else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg is not None and not os.path.isabs(xdg):
        os.environ.pop("XDG_CACHE_HOME")  # platformdirs would use it as given
        try:
            return cache_dir()
        finally:
            os.environ["XDG_CACHE_HOME"] = xdg
    if not xdg:
        home = os.path.expanduser("~")
        if not os.path.isabs(home) or not os.path.isdir(home):
            return None  # no home: no cache, and no home created for one
    import platformdirs

    return Path(platformdirs.user_cache_dir("advisor", appauthor=False))


def _private(info: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else."""
    import stat

    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: ACLs, not modes
        return True
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _cache_folder(create: bool) -> Path | None:
    import stat

    folder = cache_dir()
    if folder is None:
        return None
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = os.stat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or not _private(info):
        return None  # someone else could plant entries there: do not use it
    return folder


def _cache_key(files: list[Path]) -> str | None:
    try:
        return sealed_key(*(str(f.resolve()).encode() + b"\0" + f.read_bytes() for f in files))
    except OSError:
        return None  # collect() will report the unreadable file


def _seal(key: str, body: str) -> str:
    return hashlib.sha256(f"{key}\n{body}".encode()).hexdigest()


def _cache_write(key: str, kb: KnowledgeBase) -> None:
    write_sealed("kb", key, {
        "key": key,
        "meta": to_plain(kb.meta),
        "files": kb.files,
        "sections": {
            section: [{"origin": list(item.origin), "data": to_plain(item)}
                      for item in getattr(kb, section)]
            for section in SECTIONS
        },
    })


def sealed_key(*parts: bytes) -> str:
    """A cache key that binds advisor's version, the cache format and the given bytes."""
    from advisor import __version__

    digest = hashlib.sha256(f"{CACHE_FORMAT}:{__version__}".encode())
    for part in parts:
        digest.update(part + b"\0")
    return digest.hexdigest()


def write_sealed(prefix: str, key: str, payload: dict[str, Any]) -> None:
    """Cache ``payload`` (which holds ``key``) as ``PREFIX-KEY.json``: a seal line, then JSON.

    Keys keep their order (effects list candidates as the rules file does, cached or not).
    Best effort: an unwritable cache folder is not an error.
    """
    from advisor.infra import atomic, jsonio

    folder = _cache_folder(create=True)
    if folder is None:
        return
    body = jsonio.dumps(payload, indent=None, sort_keys=False)
    text = f"{_seal(key, body)}\n{body}\n"  # line 1 seals the key and the exact bytes of line 2
    try:
        path = folder / f"{prefix}-{key[:32]}.json"
        if path.is_symlink() or (path.exists() and not path.is_file()):
            return  # never write through what someone planted there
        atomic.write_text(path, text)
    except (OSError, AdvisorError):
        pass


def read_sealed(prefix: str, key: str) -> dict[str, Any] | None:
    """What :func:`write_sealed` cached under ``key``, or None (absent, damaged, not ours).

    The seal must match, and the entry must be a private regular file in a private folder
    (:func:`_read_entry`): then it is what advisor wrote, and the C parser reads it as is (the
    strict reader's checks would cost more than the cache saves on every `recommend`).
    """
    folder = _cache_folder(create=False)
    if folder is None:
        return None
    text = _read_entry(folder / f"{prefix}-{key[:32]}.json")
    if text is None:
        return None
    seal, _, body = text.partition("\n")
    body = body.rstrip("\n")
    # compare_digest refuses str with non-ASCII characters (TypeError): a damaged seal line is
    # simply not ours
    if not seal.isascii() or not hmac.compare_digest(seal, _seal(key, body)):
        return None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or payload.get("key") != key:
        return None
    return payload


def _read_entry(path: Path) -> str | None:
    """The entry's text, if it is a private regular file of bounded size (never blocks)."""
    import stat

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not _private(info) \
                or info.st_size > CACHE_MAX_BYTES:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(CACHE_MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _cache_read(key: str) -> KnowledgeBase | None:
    payload = read_sealed("kb", key)
    if payload is None:
        return None
    try:
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
            evidence_conditions={e.id: expr.parse(e.when) for e in sections["speed_evidence"]},
            files=list(payload["files"]),
            **sections,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError,
            AdvisorError):
        return None  # missing, stale or damaged: validate from the rules files again
