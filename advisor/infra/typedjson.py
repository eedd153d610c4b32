"""Typed JSON documents: strict parsing and one converter between JSON and frozen dataclasses.

The file formats advisor reads back (the probe document, advisor.probe.model) are frozen
dataclasses; this module turns parsed JSON into them, reading each field's type annotation, and
back. It is the one place that decides what a well-formed document is:

- strict numbers: NaN and infinity, a float that overflows a double (``1e999``), an integer of
  64 bits or more, and any number but 0 outside ``NUMBER_MAGNITUDE`` are refused;
- strings are valid Unicode (a ``\\ud800`` escape, a lone surrogate, is refused);
- nesting is bounded (``MAX_DEPTH``), also for keys this advisor does not know;
- every known field has its declared type: ``int``, ``float`` (an integer is accepted), ``str``,
  ``bool``, ``X | None``, ``Literal[...]``, ``tuple[X, ...]`` (a JSON array), ``Mapping[str, X]``,
  another dataclass, or ``Any`` (any JSON, checked the same way);
- a field without a default is required; unknown keys go to the class's ``extra`` mapping and are
  written back by :func:`dump`, so an older advisor keeps what a newer one wrote.

Class-level hooks: ``KEY`` (a field filled from the object's key in its parent mapping, not
written), ``DERIVED`` (properties written by :func:`dump` and ignored when read back),
``OMIT_NONE`` (fields left out when None). Every problem is one SchemaError naming the file and
the field path (``frameworks[2].workloads.cnn-digits.samples_per_s.median``).
"""

from __future__ import annotations

import collections.abc
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from advisor.infra.errors import ParseError, SchemaError

MAX_DEPTH = 32  # nesting of objects and arrays; a probe file needs 6
MAX_INT = 2**63  # integers at or beyond this are refused (no count or byte size is that big)
# Every number is 0 or has a magnitude in this range (1 PB of memory, 1e15 samples/s; timings of
# a femtosecond): derived ratios, logs and chart positions stay finite (5e-324 against 1e308
# reached log2(0); medians near 1.7e308 overflowed the charts).
NUMBER_MAGNITUDE = (1e-30, 1e15)
T = TypeVar("T")


def loads(text: str, where: str) -> Any:
    """Parse JSON text; bad numbers stay marked (:class:`_Bad`) until :func:`build` names them."""
    try:
        return json.loads(text, parse_constant=_Bad, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg} (column {exc.colno})", path=where,
                         line=exc.lineno) from exc
    except RecursionError:
        raise ParseError(f"nested too deeply (limit {MAX_DEPTH} levels)", path=where) from None


def build(cls: type[T], data: Any, where: str) -> T:
    """``cls`` from parsed JSON, validated; errors name ``where`` and the field."""
    return _build(cls, data, "", _Context(where))


def dump(obj: Any) -> Any:
    """A document as plain JSON data (extras and derived values included)."""
    return _dump(obj)


# ------------------------------------------------------------------- strict JSON numbers
class _Bad:
    """A number JSON allows but a probe file must not hold (NaN, infinity, overflow)."""

    def __init__(self, text: str):
        self.text = text if len(text) <= 30 else text[:27] + "..."


def _in_range(value: float) -> bool:
    low, high = NUMBER_MAGNITUDE
    return value == 0 or low <= abs(value) <= high


def _float(text: str) -> float | _Bad:
    value = float(text)
    return value if math.isfinite(value) and _in_range(value) else _Bad(text)


def _int(text: str) -> int | _Bad:
    if len(text.lstrip("-")) > 19:
        return _Bad(text)
    value = int(text)
    return value if -MAX_INT < value < MAX_INT and _in_range(value) else _Bad(text)


# ---------------------------------------------------------------- the one converter
class _Context:
    def __init__(self, where: str, max_depth: int = MAX_DEPTH):
        self.where = where
        self.max_depth = max_depth

    def fail(self, loc: str, message: str) -> SchemaError:
        return SchemaError(f"{loc or '(top)'}: {message}", path=self.where)


def _join(loc: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{loc}[{key}]"
    return f"{loc}.{key}" if loc else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, _Bad):
        return f"the number {value.text} (not finite, or out of range)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _text(value: str, loc: str, ctx: _Context) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ctx.fail(loc, "not valid Unicode text (a lone surrogate)") from None
    return value


def _plain(value: Any, loc: str, ctx: _Context, depth: int) -> Any:
    """Any JSON value (an unknown key, an open mapping), checked the same way."""
    if depth > ctx.max_depth:
        raise ctx.fail(loc, f"nested too deeply (limit {ctx.max_depth} levels)")
    if isinstance(value, _Bad):
        raise ctx.fail(loc, f"{_kind(value)} is not allowed")
    if isinstance(value, str):
        return _text(value, loc, ctx)
    if isinstance(value, list):
        return [_plain(v, _join(loc, i), ctx, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {_text(k, loc, ctx): _plain(v, _join(loc, k), ctx, depth + 1)
                for k, v in value.items()}
    return value


def _convert(tp: Any, value: Any, loc: str, ctx: _Context, depth: int) -> Any:
    if depth > ctx.max_depth:
        raise ctx.fail(loc, f"nested too deeply (limit {ctx.max_depth} levels)")
    if tp is Any:
        return _plain(value, loc, ctx, depth)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, loc, ctx, depth)
    if isinstance(value, _Bad):
        raise ctx.fail(loc, f"{_kind(value)} is not allowed")
    if origin is Literal:
        if value not in get_args(tp) or not isinstance(value, str):
            allowed = ", ".join(str(a) for a in get_args(tp))
            raise ctx.fail(loc, f"{_kind(value)} {_short(value)}is not one of: {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ctx.fail(loc, f"expected an array, got {_kind(value)}")
        (inner, _) = get_args(tp)
        return tuple(_convert(inner, v, _join(loc, i), ctx, depth + 1)
                     for i, v in enumerate(value))
    if origin in (Mapping, dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            raise ctx.fail(loc, f"expected an object, got {_kind(value)}")
        _, inner = get_args(tp) or (str, Any)
        out = {}
        for k, v in value.items():
            key = _text(k, loc, ctx)
            item = (_build(inner, v, _join(loc, k), ctx, depth + 1, key=key)
                    if is_dataclass(inner) else _convert(inner, v, _join(loc, k), ctx, depth + 1))
            out[key] = item
        return out
    if is_dataclass(tp):
        return _build(tp, value, loc, ctx, depth)
    return _scalar(tp, value, loc, ctx)


def _scalar(tp: Any, value: Any, loc: str, ctx: _Context) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise ctx.fail(loc, f"expected true or false, got {_kind(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.fail(loc, f"expected an integer, got {_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ctx.fail(loc, f"expected a number, got {_kind(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ctx.fail(loc, f"expected a string, got {_kind(value)}")
        return _text(value, loc, ctx)
    raise TypeError(f"probe model: no converter for {tp!r} at {loc}")  # a bug in this module


def _short(value: Any) -> str:
    return f"{json.dumps(value)[:40]} " if isinstance(value, (str, int, float)) else ""


def _build(cls: Any, value: Any, loc: str, ctx: _Context, depth: int = 0,
           key: str | None = None) -> Any:
    if not isinstance(value, dict):
        raise ctx.fail(loc, f"expected an object, got {_kind(value)}")
    hints = _hints(cls)
    known = {f.name: f for f in fields(cls) if f.name != "extra"}
    key_field = getattr(cls, "KEY", None)
    derived = getattr(cls, "DERIVED", ())
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        if name == key_field:
            kwargs[name] = key or ""
        elif name in value:
            kwargs[name] = _convert(hints[name], value[name], _join(loc, name), ctx, depth + 1)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ctx.fail(_join(loc, name), "field required")
    kwargs["extra"] = {_text(k, loc, ctx): _plain(v, _join(loc, k), ctx, depth + 1)
                       for k, v in value.items() if k not in known and k not in derived}
    return cls(**kwargs)


def _dump(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = dict(getattr(obj, "extra", {}))
        key_field = getattr(obj, "KEY", None)
        omit = getattr(obj, "OMIT_NONE", ())
        for f in fields(obj):
            if f.name in ("extra", key_field):
                continue
            value = getattr(obj, f.name)
            if value is None and f.name in omit:
                continue
            out[f.name] = _dump(value)
        for name in getattr(obj, "DERIVED", ()):
            out[name] = getattr(obj, name)
        return out
    if isinstance(obj, (tuple, list)):
        return [_dump(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: _dump(v) for k, v in obj.items()}
    return obj
