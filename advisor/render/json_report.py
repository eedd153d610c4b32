"""JSON view: the recommendation JSON of docs/architecture.md (schema_version, winner, ranking
with contributions) plus everything the other reports show: ``Assessment.to_dict``."""

from __future__ import annotations

from advisor.decision.assessment import Assessment


def render(a: Assessment) -> str:
    import json

    from advisor.decision import next_steps

    doc = json.loads(a.to_json())
    steps = next_steps.for_winner(a)
    doc["next_steps"] = steps.to_dict() if steps is not None else None
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"
