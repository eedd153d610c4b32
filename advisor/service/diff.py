"""`advisor recommend --diff --set id=value`: what changes when answers change.

Two assessments - the answers as given (file, defaults) and the same answers with the --set
changes - and what differs between them: the winner, each candidate's rank and score, the margin
and its label, and the rules that fired in one and not the other. No terminal here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.decision.assessment import Assessment
from advisor.service import recommend as core

DIFF_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Move:
    candidate: str
    name: str
    rank_before: int
    rank_after: int
    score_before: float
    score_after: float
    vetoed_before: bool
    vetoed_after: bool

    @property
    def delta(self) -> float:
        return self.score_after - self.score_before


@dataclass(frozen=True)
class Diff:
    changes: dict[str, Any]  # question id -> (before, after)
    winner_before: str | None
    winner_after: str | None
    label_before: str
    label_after: str
    margin_before: float | None
    margin_after: float | None
    ranking: list[Move]
    rules_now_firing: list[str] = field(default_factory=list)
    rules_no_longer_firing: list[str] = field(default_factory=list)
    rules_changed_effect: list[str] = field(default_factory=list)

    @property
    def winner_changed(self) -> bool:
        return self.winner_before != self.winner_after

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["schema_version"] = DIFF_SCHEMA_VERSION
        doc["winner_changed"] = self.winner_changed
        doc["changes"] = {k: {"before": b, "after": a} for k, (b, a) in self.changes.items()}
        return doc


def compare(before: Assessment, after: Assessment, changes: dict[str, Any]) -> Diff:
    b_rank = {r.candidate: r for r in before.ranking}
    moves = [Move(r.candidate, r.name, b_rank[r.candidate].rank, r.rank, b_rank[r.candidate].score,
                  r.score, b_rank[r.candidate].vetoed, r.vetoed)
             for r in after.ranking if r.candidate in b_rank]
    fired_b = {r.id: r for r in before.fired_rules}
    fired_a = {r.id: r for r in after.fired_rules}
    return Diff(
        changes=changes,
        winner_before=before.winner, winner_after=after.winner,
        label_before=before.robustness.label, label_after=after.robustness.label,
        margin_before=before.robustness.margin, margin_after=after.robustness.margin,
        ranking=moves,
        rules_now_firing=sorted(set(fired_a) - set(fired_b)),
        rules_no_longer_firing=sorted(set(fired_b) - set(fired_a)),
        rules_changed_effect=sorted(i for i in set(fired_a) & set(fired_b)
                                    if fired_a[i].effects != fired_b[i].effects),
    )


def diff(*, rules: str | None, answers_file: str | None, sets: Sequence[str],
         probe_file: str | None, use_defaults: bool) -> tuple[Diff, Assessment]:
    """The answers as given against the same answers with ``sets`` applied."""
    before = core.recommend(rules=rules, answers_file=answers_file, sets=[], probe_file=probe_file,
                            use_defaults=use_defaults)
    after = core.recommend(rules=rules, answers_file=answers_file, sets=sets, probe_file=probe_file,
                           use_defaults=use_defaults)
    b, a = before.assessment, after.assessment
    keys = core.answers_mod.parse_sets(after.kb, sets)
    changes = {k: (b.answers.get(k), v) for k, v in keys.items()}
    return compare(b, a, changes), a
