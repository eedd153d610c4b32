"""JSON view: the DESIGN.md contract (schema_version, winner, ranking with contributions) plus
everything the other reports show."""

from __future__ import annotations

from advisor.decision.assessment import Assessment


def render(a: Assessment) -> str:
    return a.to_json() + "\n"
