"""Next steps for the recommended framework: install it on this machine, export and serve the
model for each answered deployment target, start from a short snippet.

The knowledge is data with sources (``rules/next_steps/next_steps.yaml``); this module reads and
checks it, and picks what applies to one assessment. No terminal here.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from advisor.decision.assessment import Assessment
from advisor.infra.errors import SchemaError
from advisor.infra.resources import rules_dir

NEXT_STEPS_FILE = Path("next_steps") / "next_steps.yaml"
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class SourceRef:
    url: str
    title: str
    date: str


@dataclass(frozen=True)
class Install:
    hardware: str  # the training_hardware it is for ("default": any other)
    command: str
    note: str
    sources: tuple[SourceRef, ...]


@dataclass(frozen=True)
class Deploy:
    target: str
    export: str
    serve: str
    sources: tuple[SourceRef, ...]


@dataclass(frozen=True)
class NextSteps:
    candidate: str
    install: Install
    deploy: tuple[Deploy, ...]
    starter: str
    missing_targets: tuple[str, ...]  # answered targets the data has no route for

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _need(cond: bool, path: str, doc: Any, loc: tuple[Any, ...], message: str) -> None:
    if not cond:
        raise SchemaError(message, path=path, line=doc.line_of(loc))


@lru_cache(maxsize=4)
def load(path: str | None = None) -> dict[str, Any]:
    """The next-steps data, checked: every entry a command or route with known sources."""
    from advisor.kb import loader

    file = str(Path(path) if path else rules_dir() / NEXT_STEPS_FILE)
    try:  # checked once per content, like the knowledge base: `recommend` reads it every run
        cache_key: str | None = loader.sealed_key(b"next-steps", file.encode(), Path(file).read_bytes())
    except OSError:
        cache_key = None  # safeyaml reports the unreadable file
    cached = loader.read_sealed("next-steps", cache_key) if cache_key else None
    if cached is not None and isinstance(cached.get("data"), dict):
        return cached["data"]
    from advisor.infra import safeyaml  # PyYAML only when the file is validated again

    doc = safeyaml.load_file(file)
    data = doc.data
    _need(isinstance(data, dict) and data.get("schema_version") == 1, file, doc, (),
          "a next-steps file is a mapping with schema_version: 1")
    sources = data.get("sources") or {}
    _need(isinstance(sources, dict), file, doc, ("sources",), "sources: a mapping of id to source")
    for sid, src in sources.items():
        ok = (isinstance(src, dict) and isinstance(src.get("url"), str)
              and bool(_URL.match(src["url"])) and isinstance(src.get("title"), str)
              and isinstance(src.get("date"), str))
        _need(ok, file, doc, ("sources", sid), f"source {sid!r}: needs an http(s) url, a title and a date")
    cands = data.get("candidates")
    _need(isinstance(cands, dict) and bool(cands), file, doc, ("candidates",),
          "candidates: a mapping of candidate id to its next steps")
    for cid, entry in cands.items():
        _need(isinstance(entry, dict), file, doc, ("candidates", cid), f"{cid}: a mapping")
        install = entry.get("install")
        _need(isinstance(install, dict) and "default" in install, file, doc,
              ("candidates", cid, "install"), f"{cid}: install needs a 'default' entry")
        for part, keys in (("install", ("command",)), ("deploy", ("export", "serve"))):
            for key, item in (entry.get(part) or {}).items():
                loc = ("candidates", cid, part, key)
                _need(isinstance(item, dict) and all(isinstance(item.get(k), str) and item[k]
                                                     for k in keys), file, doc, loc,
                      f"{cid}.{part}.{key}: needs {' and '.join(keys)}")
                refs = item.get("sources") or []
                _need(isinstance(refs, list) and bool(refs) and all(r in sources for r in refs),
                      file, doc, loc, f"{cid}.{part}.{key}: sources must name ids under sources:")
        _need(isinstance(entry.get("starter"), str), file, doc, ("candidates", cid),
              f"{cid}: needs a starter snippet")
    if cache_key:
        loader.write_sealed("next-steps", cache_key, {"key": cache_key, "data": data})
    return data


def _refs(data: dict[str, Any], ids: list[str]) -> tuple[SourceRef, ...]:
    return tuple(SourceRef(**data["sources"][i]) for i in ids)


def hardware_of(a: Assessment) -> str | None:
    """The training hardware the recommendation was made for (an `auto` answer resolved)."""
    resolved = (a.resolved or {}).get("training_hardware")
    if isinstance(resolved, dict) and resolved.get("value"):
        return str(resolved["value"])
    value = a.answers.get("training_hardware")
    return str(value) if value and value != "auto" else None


def for_winner(a: Assessment, path: str | None = None) -> NextSteps | None:
    """What to do next with the winner; None when nothing won or the data does not know it."""
    if a.winner is None:
        return None
    data = load(path)
    entry = data["candidates"].get(a.winner)
    if entry is None:
        return None
    hardware = hardware_of(a)
    installs = entry["install"]
    key = hardware if hardware and hardware in installs else "default"
    item = installs[key]
    install = Install(key, item["command"], item.get("note", ""), _refs(data, item["sources"]))
    targets = [t for t in (a.answers.get("deploy_targets") or []) if t != "none"]
    routes = entry.get("deploy") or {}
    deploy = tuple(Deploy(t, routes[t]["export"], routes[t]["serve"], _refs(data, routes[t]["sources"]))
                   for t in targets if t in routes)
    missing = tuple(t for t in targets if t not in routes)
    return NextSteps(a.winner, install, deploy, entry["starter"].rstrip("\n"), missing)
