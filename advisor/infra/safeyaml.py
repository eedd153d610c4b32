"""Load YAML (and JSON) that other people wrote, as plain data, with line numbers.

* Only the YAML core types are built (mappings, sequences, strings, numbers, booleans, null):
  any other tag (``!!python/object``, ``!custom``) is an error naming its line.
* Aliases are followed but the number of built nodes is bounded, so an alias bomb is refused.
* Files are size-limited and must be UTF-8.
* Every node's line is recorded under its path, so schema errors can name the line.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from advisor.infra.errors import FileProblem, ParseError

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

_CORE_TAGS = {
    "tag:yaml.org,2002:map": "map",
    "tag:yaml.org,2002:seq": "seq",
    "tag:yaml.org,2002:str": "str",
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:float": "float",
    "tag:yaml.org,2002:bool": "bool",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "str",  # dates stay strings; the schema parses them
}

try:  # the C loader is much faster; fall back to pure Python where libyaml is missing
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

Path_ = tuple[Any, ...]


@dataclass
class Document:
    """Plain data plus the line (1-based) of every node, keyed by its path."""

    data: Any
    path: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, loc: Path_) -> int | None:
        """The line of the deepest known node on ``loc`` (a pydantic error location)."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())


def read_text(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> str:
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise FileProblem("no such file", path=name)
    if p.is_dir():
        raise FileProblem("is a directory, expected a file", path=name)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise FileProblem(
                f"file is {size:,} bytes; the limit is {max_bytes:,} bytes", path=name
            )
        with p.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except PermissionError as exc:
        raise FileProblem("permission denied", path=name) from exc
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}", path=name) from exc
    if len(raw) > max_bytes:
        raise FileProblem(f"file is larger than the limit of {max_bytes:,} bytes", path=name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileProblem("not valid UTF-8 text", path=name, line=line) from exc
    return text.removeprefix("\ufeff")


def load_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> Document:
    return load_string(read_text(path, max_bytes=max_bytes), str(path))


def load_string(text: str, name: str = "<string>") -> Document:
    if "\x00" in text:
        raise ParseError("contains a NUL byte; expected YAML text", path=name)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "malformed YAML"
        raise ParseError(f"malformed YAML: {what}", path=name, line=line) from exc
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        raise ParseError(
            f"character {exc.character!r} is not allowed in YAML text", path=name, line=line
        ) from exc
    except yaml.YAMLError as exc:
        raise ParseError(f"malformed YAML: {exc}", path=name) from exc
    except RecursionError as exc:
        raise ParseError("malformed YAML: nested too deeply", path=name) from exc
    doc = Document(data=None, path=name)
    if node is None:
        return doc
    builder = _Builder(doc)
    doc.data = builder.build(node, (), 0)
    return doc


class _Builder:
    def __init__(self, doc: Document):
        self.doc = doc
        self.count = 0

    def fail(self, node: yaml.Node, message: str) -> ParseError:
        return ParseError(message, path=self.doc.path, line=node.start_mark.line + 1)

    def build(self, node: yaml.Node, loc: Path_, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES:,} values (runaway aliases?); refused")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels; refused")
        self.doc.lines.setdefault(loc, node.start_mark.line + 1)
        kind = _CORE_TAGS.get(node.tag)
        if kind is None:
            raise self.fail(
                node,
                f"YAML tag {node.tag!r} is not allowed; only plain mappings, lists, strings, "
                "numbers, booleans and null",
            )
        if isinstance(node, yaml.MappingNode):
            if kind != "map":
                raise self.fail(node, f"YAML tag {node.tag!r} is not allowed on a mapping")
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "YAML merge keys (<<) are not allowed")
                key = self.build(key_node, loc + ("<key>",), depth + 1)
                if isinstance(key, (dict, list)):
                    raise self.fail(key_node, "a mapping key must be a plain value")
                if key in out:
                    raise self.fail(key_node, f"duplicate key {key!r}")
                self.doc.lines[loc + (key,)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, loc + (key,), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            if kind != "seq":
                raise self.fail(node, f"YAML tag {node.tag!r} is not allowed on a list")
            return [self.build(item, loc + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node, kind)

    def scalar(self, node: yaml.Node, kind: str) -> Any:
        value = node.value
        if kind == "str":
            return value
        if kind == "null":
            return None
        if kind == "bool":
            return value.lower() in ("true", "yes", "on", "y")
        if kind == "int":
            text = value.replace("_", "")
            if len(text) > 40:
                raise self.fail(node, "integer too long")
            try:
                if text.startswith(("0x", "-0x", "+0x")):
                    return int(text, 16)
                if text.startswith(("0o", "-0o", "+0o")):
                    return int(text, 8)
                if text.startswith(("0b", "-0b", "+0b")):
                    return int(text, 2)
                if ":" in text:  # YAML 1.1 sexagesimal
                    return value
                return int(text, 10) if not (len(text) > 1 and text.lstrip("+-").startswith("0")
                                             and text.lstrip("+-") != "0") else int(text, 8)
            except ValueError:
                return value
        if kind == "float":
            text = value.replace("_", "").lower()
            if text in (".nan",):
                return math.nan
            if text in (".inf", "+.inf"):
                return math.inf
            if text == "-.inf":
                return -math.inf
            try:
                return float(text)
            except ValueError:
                return value
        return value  # pragma: no cover
