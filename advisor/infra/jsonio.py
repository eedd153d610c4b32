"""Strict JSON in and out: the one reader of untrusted JSON and the one writer of every JSON file.

Reading (:func:`loads`) refuses, with one located line, what Python's ``json`` accepts but a
strict parser or advisor's arithmetic cannot take: ``NaN``/``Infinity``, duplicate keys, lone
surrogates, nesting deeper than ``max_depth`` (instead of a ``RecursionError``), integers with
thousands of digits (instead of a ``ValueError``), strings longer than ``max_string`` and, with
``magnitude=(low, high)``, numbers whose magnitude is outside ``[low, high]`` (zero allowed). With that bound every ratio, product, logarithm and pixel position a renderer derives
from two numbers of the file stays finite: 5e-324 against 1e308 never reaches ``log2(0)``.

Writing (:func:`dumps`) never emits ``NaN`` or ``Infinity`` (a non-finite float becomes ``null``:
unknown) nor a lone surrogate (replaced by U+FFFD), so every file advisor writes is strict JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from advisor.infra.errors import ParseError

MAX_DEPTH = 32
MAX_STRING = 64 * 1024
MAX_INT_DIGITS = 30  # far beyond any count or byte size; a 5,000-digit integer is refused early


class _Refused(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON (strict JSON has no NaN or Infinity)")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"integer with {len(text.lstrip('-'))} digits is out of range")
    return int(text)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {key[:60]!r}")
        out[key] = value
    return out


def loads(text: str, *, path: str | None = None, max_depth: int = MAX_DEPTH,
          max_string: int = MAX_STRING, magnitude: tuple[float, float] | None = None) -> Any:
    """Parse strict JSON; any problem is a ParseError naming ``path`` (and the line when known).

    The C parser guards its own recursion (a RecursionError, caught here, past about 1,000
    levels); the depth limit itself is checked after parsing, without recursion.
    """
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_int=_parse_int,
                          object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg} (column {exc.colno})", path=path,
                         line=exc.lineno) from None
    except RecursionError:
        raise ParseError(f"nested deeper than {max_depth} levels", path=path) from None
    except (_Refused, ValueError) as exc:
        raise ParseError(f"not accepted: {exc}", path=path) from None
    _check(data, path, max_depth, max_string, magnitude)
    return data


def _check(data: Any, path: str | None, max_depth: int, max_string: int,
           magnitude: tuple[float, float] | None) -> None:
    stack = [(data, 0)]  # iterative: no recursion however deep the document
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth >= max_depth:
            raise ParseError(f"nested deeper than {max_depth} levels", path=path)
        if isinstance(item, dict):
            for key, value in item.items():
                _check_str(key, path, max_string)
                stack.append((value, depth + 1))
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
        elif isinstance(item, str):
            _check_str(item, path, max_string)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            if not math.isfinite(item):  # a float literal too large for a double: 1e999
                raise ParseError(f"number {str(item)[:30]} is out of range", path=path)
            if magnitude is not None and item != 0 and not (
                    magnitude[0] <= abs(item) <= magnitude[1]):
                raise ParseError(f"number {item!r:.30} is out of range (allowed: 0 or a "
                                 f"magnitude from {magnitude[0]:g} to {magnitude[1]:g})",
                                 path=path)


def _check_str(text: str, path: str | None, max_string: int) -> None:
    if len(text) > max_string:
        raise ParseError(f"a string of {len(text)} characters is longer than {max_string}",
                         path=path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError("a string holds a lone surrogate (\\ud800-\\udfff), not text",
                         path=path) from None


def plain(data: Any) -> Any:
    """``data`` with non-finite floats as None and lone surrogates replaced (what dumps writes)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return data.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return data
    if isinstance(data, dict):
        return {plain(k) if isinstance(k, str) else k: plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [plain(v) for v in data]
    return data


def dumps(data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Strict JSON text (no NaN, no Infinity, no lone surrogate), without a trailing newline."""
    return json.dumps(plain(data), indent=indent, sort_keys=sort_keys, ensure_ascii=False,
                      allow_nan=False)
