"""JSON view: the recommendation JSON of docs/architecture.md (schema_version, winner, ranking
with contributions) plus everything the other reports show: ``Assessment.to_dict``."""

from __future__ import annotations

from advisor.decision.assessment import Assessment


def render(a: Assessment) -> str:
    return a.to_json() + "\n"
