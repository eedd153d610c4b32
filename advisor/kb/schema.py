"""Validate rules files against :mod:`advisor.kb.model` and export its JSON Schema.

The only module of the knowledge base that imports pydantic: the dataclasses of
:mod:`advisor.kb.model` are the schema, and ``pydantic.TypeAdapter`` validates a parsed YAML
document into them (every error of a file at once) when a rules file is new or has changed.
`advisor rules schema` exports :func:`json_schema` for editors.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter, ValidationError

from advisor.kb.model import KBFile

__all__ = ["KBFile", "ValidationError", "json_schema", "validate"]


@functools.lru_cache(maxsize=1)
def _adapter() -> TypeAdapter[KBFile]:
    return TypeAdapter(KBFile)


def validate(data: Any) -> KBFile:
    """One rules file's parsed YAML as a :class:`KBFile`; raises pydantic's ValidationError."""
    return _adapter().validate_python(data)


def json_schema() -> dict[str, Any]:
    """JSON Schema of one rules file (draft 2020-12), for editors."""
    schema = _adapter().json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "advisor rules file"
    return schema
