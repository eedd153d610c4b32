"""`advisor rules audit`: how a knowledge base behaves over many random consistent projects.

The maintainer's view of the whole knowledge base, seeded so two runs agree:

* **winner shares** over N random consistent answer sets (every asked question answered with a
  concrete value; `auto` is left out, since it depends on the machine);
* **influence** of each question: how often changing its answer to another consistent value
  (one random alternative per answer set) changes the winner;
* **cap saturation**: how often a live candidate's rating on a criterion hit the 0-10 scale;
* the **margin with no answers** (and its label: it must never be "decisive");
* **stack loyalty** per framework: a team that knows X and runs an X stack, where nothing forces a
  switch (X is not vetoed), keeps X - or Keras 3 running on X - in what share of projects.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.decision import engine
from advisor.kb.model import KnowledgeBase, Question
from advisor.questionnaire import consistency

DEFAULT_SAMPLES = 500
DEFAULT_SEED = 0
MANY_PICK = 0.3  # chance of each value of a 'many' question in a random answer
KERAS_BACKENDS = ("tensorflow", "jax", "pytorch")  # stacks Keras 3 runs on
#: Projects a stack is loyal for, beyond "team and stack are X" (answers a question must take).
LOYALTY_SCOPE: dict[str, dict[str, list[Any]]] = {
    "sklearn": {"modality": ["tabular"], "dataset_size": ["small", "medium"],
                "scale": ["single_device"]},
}


@dataclass(frozen=True)
class Loyalty:
    framework: str
    samples: int  # answer sets where X was not vetoed
    kept: int  # won by X (or Keras 3 on X)
    share: float | None
    scope: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditReport:
    samples: int
    seed: int
    kb_version: str
    winner_shares: dict[str, float]  # candidate (or "none") -> share of answer sets
    influence: dict[str, float]  # question -> share of changes that flipped the winner
    influence_trials: dict[str, int]
    caps: dict[str, int]  # criterion -> answer sets where some live candidate hit the cap
    cap_sets: int  # answer sets with at least one cap on a live candidate
    no_answers: dict[str, Any]  # winner, runner_up, margin, label
    loyalty: list[Loyalty]
    labels: dict[str, int]  # robustness label -> count (margin-only labels, no re-scoring)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _values(question: Question) -> list[Any]:
    if question.type == "bool":
        return [True, False]
    return [v for v in question.values if v != "auto"]


def _random_value(rng: random.Random, question: Question) -> Any:
    values = _values(question)
    if question.type != "many":
        return rng.choice(values)
    real = [v for v in values if v != "none"]
    picked = [v for v in real if rng.random() < MANY_PICK]
    if not picked:
        return ["none"] if "none" in values else [rng.choice(real)]
    return picked


def random_answers(
    kb: KnowledgeBase, rng: random.Random, fixed: dict[str, Any] | None = None, tries: int = 20
) -> dict[str, Any] | None:
    """A random consistent answer set (questions skipped by design left out), or None."""
    for _ in range(tries):
        answers: dict[str, Any] = dict(fixed or {})
        for question in kb.questions:
            if question.id in answers:
                continue
            counted, skipped = consistency.effective(kb, answers, explain=False)
            if question.id in skipped:
                continue
            if question.type != "many":  # pick among the consistent values (never leave it out)
                values = [v for v in _values(question)
                          if consistency.is_consistent(kb, {**counted, question.id: v})]
                if values:
                    answers[question.id] = rng.choice(values)
                continue
            for _attempt in range(10):
                value = _random_value(rng, question)
                if consistency.is_consistent(kb, {**counted, question.id: value}):
                    answers[question.id] = value
                    break
        counted, _ = consistency.effective(kb, answers, explain=False)
        if consistency.is_consistent(kb, counted) and all(
            counted.get(k) == v for k, v in (fixed or {}).items()
        ):
            return counted
    return None


def _alternative(rng: random.Random, kb: KnowledgeBase, question: Question,
                 answers: dict[str, Any]) -> Any:
    for _ in range(10):
        value = _random_value(rng, question)
        if value != answers.get(question.id) and consistency.is_consistent(
            kb, {**answers, question.id: value}
        ):
            return value
    return None


def run(kb: KnowledgeBase, samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED) -> AuditReport:
    from advisor.decision import robustness as robust

    rng = random.Random(seed)
    winners: dict[str, int] = {}
    flips: dict[str, int] = {q.id: 0 for q in kb.questions}
    trials: dict[str, int] = {q.id: 0 for q in kb.questions}
    caps: dict[str, int] = {c: 0 for c in kb.criterion_ids}
    cap_sets = 0
    labels: dict[str, int] = {}
    drawn = 0
    for _ in range(samples):
        answers = random_answers(kb, rng)
        if answers is None:
            continue
        drawn += 1
        s = engine.score(kb, engine.Inputs(answers), detail=False)
        key = s.winner or "none"
        winners[key] = winners.get(key, 0) + 1
        label = robust.empty(s).label
        labels[label] = labels.get(label, 0) + 1
        capped = {crit for cid, crit in s.caps if not s.vetoes[cid]}
        cap_sets += bool(capped)
        for crit in capped:
            caps[crit] += 1
        for question in kb.questions:
            if question.id not in answers:
                continue
            value = _alternative(rng, kb, question, answers)
            if value is None:
                continue
            trials[question.id] += 1
            changed = engine.score(kb, engine.Inputs({**answers, question.id: value}), detail=False)
            if changed.winner != s.winner:
                flips[question.id] += 1
    empty = engine.assess(kb, engine.Inputs({}))
    rob = empty.robustness
    no_answers = {"winner": empty.winner, "runner_up": rob.runner_up, "margin": rob.margin,
                  "label": rob.label, "win_probability": rob.win_probability.get(empty.winner or "")}
    influence = {q: flips[q] / trials[q] for q in flips if trials[q]}
    return AuditReport(
        samples=drawn,
        seed=seed,
        kb_version=kb.meta.kb_version,
        winner_shares={c: n / drawn for c, n in sorted(winners.items(), key=lambda kv: -kv[1])}
        if drawn else {},
        influence=dict(sorted(influence.items(), key=lambda kv: -kv[1])),
        influence_trials={q: n for q, n in trials.items() if n},
        caps=caps,
        cap_sets=cap_sets,
        no_answers=no_answers,
        loyalty=loyalty(kb, rng, max(samples // 2, 1)),
        labels=labels,
    )


def loyalty(kb: KnowledgeBase, rng: random.Random, samples: int) -> list[Loyalty]:
    """For each stack X: share of random projects of an X team on an X stack that keep X."""
    team, stack = kb.question("team_experience"), kb.question("existing_stack")
    if team is None or stack is None:
        return []
    out = []
    for framework in stack.values:
        if framework == "none" or framework not in team.values:
            continue
        scope = {q: v for q, v in LOYALTY_SCOPE.get(framework, {}).items() if kb.question(q)}
        kept = seen = 0
        for _ in range(samples):
            fixed: dict[str, Any] = {"team_experience": [framework], "existing_stack": framework}
            fixed.update({q: rng.choice(values) for q, values in scope.items()})
            answers = random_answers(kb, rng, fixed)
            if answers is None:
                continue
            s = engine.score(kb, engine.Inputs(answers), detail=False)
            if s.vetoes.get(framework):
                continue  # a hard fact forces the switch
            seen += 1
            keras_on_it = s.winner == "keras" and framework in KERAS_BACKENDS
            kept += s.winner == framework or keras_on_it
        out.append(Loyalty(framework=framework, samples=seen, kept=kept,
                           share=kept / seen if seen else None, scope=scope))
    return out


def render_table(report: AuditReport, kb: KnowledgeBase) -> str:
    """The audit as plain text tables."""
    def name(cid: str) -> str:
        return kb.candidate(cid).name if cid in kb.candidate_ids else cid

    out = [(f"advisor rules audit - knowledge base {report.kb_version}: {report.samples} random "
           f"consistent answer sets (seed {report.seed})"), ""]
    out.append("Winner shares")
    for cid, share in report.winner_shares.items():
        out.append(f"  {name(cid):<16} {share:6.1%}")
    na = report.no_answers
    out += ["", "With no answers"]
    if na["margin"] is not None:
        out.append(f"  {name(na['winner'])} ahead of {name(na['runner_up'])} by {na['margin']:.2f} "
                   f"points - label: {na['label']}")
    else:
        out.append(f"  {name(na['winner'] or 'none')} - label: {na['label']}")
    out += ["", "Influence (share of single changed answers that change the winner)"]
    for qid, share in report.influence.items():
        out.append(f"  {qid:<22} {share:6.1%}  ({report.influence_trials[qid]} changes)")
    out += ["", (f"Cap saturation (answer sets where a live candidate hit 0 or 10; any: "
                f"{report.cap_sets}/{report.samples})")]
    for crit, n in sorted(report.caps.items(), key=lambda kv: -kv[1]):
        out.append(f"  {crit:<22} {n:6d}  {n / report.samples if report.samples else 0:6.1%}")
    out += ["", "Stack loyalty (team and stack of X, X not vetoed: X or Keras 3 on X wins)"]
    for loy in report.loyalty:
        scope = "".join(f", {q} in {'/'.join(map(str, v))}" for q, v in loy.scope.items())
        kept = f"{loy.share:6.1%}" if loy.share is not None else "   n/a"
        out.append(f"  {name(loy.framework):<16} {kept}  ({loy.kept}/{loy.samples}{scope})")
    out += ["", "Labels (margin only)"]
    for label, n in sorted(report.labels.items(), key=lambda kv: -kv[1]):
        out.append(f"  {label:<12} {n:6d}")
    return "\n".join(out) + "\n"
