"""`advisor rules check`: everything that can be wrong with a knowledge base, one line each.

Errors (exit 2): schema errors, unknown names and values, rules that can never fire, duplicate or
contradictory rules, questions no rule reads, answer combinations that veto every candidate,
rules of basis `fact` without sources.
Warnings (exit 0, or 2 with --strict): rules past their review date or without one, contract ids
that are missing.

"Can never fire" and "vetoes everything" are decided by enumerating the values each condition
compares against (the only values that matter to it), with questions skipped by their `when`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from advisor.kb import expr
from advisor.kb.loader import Problem, collect
from advisor.kb.model import KnowledgeBase, Rule
from advisor.probe import catalog
from advisor.questionnaire import consistency

CONTRACT_CANDIDATES = ("pytorch", "keras", "tensorflow", "jax", "sklearn")
CONTRACT_QUESTIONS = {
    "purpose": ("research", "production", "learning", "prototype"),
    "modality": ("images", "text", "tabular", "audio", "time_series", "graph", "multimodal", "other"),
    "pretrained": ("hf_transformers", "vision_models", "none"),
    "deploy_targets": ("server", "mobile_android", "mobile_ios", "browser", "microcontroller",
                       "edge_linux", "desktop", "none"),
    "training_hardware": ("nvidia_gpu", "amd_gpu", "apple_silicon", "tpu", "cpu_only", "auto"),
    "os": ("linux", "windows", "macos", "auto"),
    "scale": ("single_device", "multi_gpu", "multi_node"),
    "dataset_size": ("small", "medium", "large"),
    "team_experience": ("pytorch", "keras", "tensorflow", "jax", "sklearn", "none"),
    "existing_stack": ("none", "pytorch", "tensorflow", "jax", "sklearn"),
    "priority": ("ease_of_use", "flexibility", "performance", "deployment", "ecosystem"),
    "custom_research": (),
}
MAX_EXACT = 200_000
# The work of one `rules check` is bounded by its input (issue 15, item 6: ten long never-firing
# rules took 109 s and more): evaluating a condition costs its length in characters, and one
# check spends at most this much over all rules (the bundled knowledge base needs about 50,000).
# Past it, what is left is reported as undecided (a warning), not computed.
EVAL_BUDGET = 20_000_000


class _Budget:
    def __init__(self, total: int = EVAL_BUDGET):
        self.left = total

    def spend(self, cost: int) -> bool:
        self.left -= cost
        return self.left >= 0
SAMPLES = 20_000


def check(path: str | Path, *, today: dt.date | None = None) -> list[Problem]:
    kb, problems = collect(path)
    if kb is None:
        return problems
    today = today or dt.date.today()
    problems = list(problems)
    problems += _contract(kb)
    problems += _sources_and_review(kb, today)
    budget = _Budget()
    problems += _never_fire(kb, budget)
    problems += _duplicates(kb)
    problems += _unread_questions(kb)
    problems += _veto_everything(kb, budget)
    problems += [_at(cand, msg) for cand, msg in catalog.probe_rows_problems(kb.candidates)]
    return problems


def _at(item: Any, message: str, severity: str = "error") -> Problem:
    path, line = item.origin
    return Problem(path, line, message, severity)


def _contract(kb: KnowledgeBase) -> list[Problem]:
    out = []
    where = kb.files[0]
    for cid in CONTRACT_CANDIDATES:
        if cid not in kb.candidate_ids:
            out.append(Problem(where, None, f"contract candidate {cid!r} is missing", "warning"))
    for qid, values in CONTRACT_QUESTIONS.items():
        q = kb.question(qid)
        if q is None:
            out.append(Problem(where, None, f"contract question {qid!r} is missing", "warning"))
            continue
        lost = [v for v in values if v not in q.values]
        if lost:
            out.append(_at(q, f"question {qid!r} lacks contract values: {', '.join(lost)}", "warning"))
    return out


def _sources_and_review(kb: KnowledgeBase, today: dt.date) -> list[Problem]:
    out = []
    for rule in kb.rules:
        if rule.basis == "fact" and not rule.sources:
            out.append(_at(rule, f"rule {rule.id!r} has no sources (add sources, or mark it basis: judgement)"))
        if rule.review_by is None:
            out.append(_at(rule, f"rule {rule.id!r} has no review_by date", "warning"))
        elif rule.review_by < today:
            out.append(_at(rule, f"rule {rule.id!r} is past its review date {rule.review_by.isoformat()}", "warning"))
    for constraint in kb.constraints:
        if not constraint.sources:
            out.append(_at(constraint, f"constraint {constraint.id!r} has no sources", "warning"))
    return out


# ------------------------------------------------------------------ enumeration of fact values


def _domains(kb: KnowledgeBase, nodes: Iterable[Any]) -> dict[str, list[Any]]:
    """For each name the conditions read, the values worth trying."""
    env = {q.id: q for q in kb.questions}
    facts = {f.id: f for f in kb.facts}
    mentioned: dict[str, set[Any]] = {}
    nodes = list(nodes)
    names: set[str] = set()
    for node in nodes:
        names.update(expr.names(node))
        for name, value in expr.literals_for(node):
            mentioned.setdefault(name, set()).add(value)
    # questions whose `when` may skip a read question: their names matter too
    frontier = list(names)
    while frontier:
        name = frontier.pop()
        qnode = kb.question_conditions.get(name)
        if qnode is None:
            continue
        for other in expr.names(qnode):
            if other not in names:
                names.add(other)
                frontier.append(other)
        for n2, value in expr.literals_for(qnode):
            mentioned.setdefault(n2, set()).add(value)
    domains: dict[str, list[Any]] = {}
    for name in sorted(names):
        lits = mentioned.get(name, set())
        kind: str
        choices: list[str]
        if name in env:
            q = env[name]
            kind, choices = q.type, q.values
        elif name in facts:
            kind, choices = facts[name].type, list(facts[name].choices)
        else:  # pragma: no cover - type-checked at load
            continue
        if kind == "bool":
            domains[name] = [True, False]
        elif kind == "one":
            used = [c for c in choices if c in lits]
            unread = [c for c in choices if c not in lits][:1]
            domains[name] = used + unread
        elif kind == "many":
            used = [c for c in choices if c in lits and c != "none"][:8]
            subsets: list[Any] = [["none"]] if "none" in choices else []
            for r in range(1, len(used) + 1):
                subsets += [list(s) for s in itertools.combinations(used, r)]
            extra = [c for c in choices if c not in lits and c != "none"][:1]
            subsets += [extra] if extra else []
            domains[name] = subsets or [[]]
        else:  # number
            values: set[float] = {0.0}
            for lit in lits:
                if isinstance(lit, (int, float)) and not isinstance(lit, bool):
                    values.update({float(lit), float(lit) - 0.01, float(lit) + 0.01})
            domains[name] = sorted(values)
    return domains


def _assignments(domains: dict[str, list[Any]], seed: int = 0) -> tuple[Iterator[dict[str, Any]], bool]:
    names = list(domains)
    total = 1
    for name in names:
        total *= max(1, len(domains[name]))
    if total <= MAX_EXACT:
        gen = (dict(zip(names, combo)) for combo in itertools.product(*(domains[n] for n in names)))
        return gen, True
    rng = random.Random(seed)

    def sample() -> Iterator[dict[str, Any]]:
        for _ in range(SAMPLES):
            yield {n: rng.choice(domains[n]) for n in names}

    return sample(), False


def _apply_skips(kb: KnowledgeBase, facts: dict[str, Any]) -> dict[str, Any] | None:
    """The answers that count (skipped questions unknown), or None when they break a constraint."""
    if consistency.violations(kb, facts):
        return None
    return consistency.effective(kb, facts, explain=False)[0]


def can_fire(kb: KnowledgeBase, rule: Rule, budget: _Budget | None = None) -> bool | None:
    """True if some answers make the rule fire, False if none can, None if undecided."""
    node = kb.conditions[rule.id]
    cost = max(1, len(rule.when or ""))
    gen, exact = _assignments(_domains(kb, [node]))
    for facts in gen:
        if budget is not None and not budget.spend(cost):
            return None
        counted = _apply_skips(kb, facts)
        if counted is not None and expr.evaluate(node, counted) is True:
            return True
    return False if exact else None


def _never_fire(kb: KnowledgeBase, budget: _Budget | None = None) -> list[Problem]:
    out = []
    for rule in kb.rules:
        verdict = can_fire(kb, rule, budget)
        if verdict is False:
            out.append(_at(rule, f"rule {rule.id!r} can never fire: no answers make {rule.when!r} true"))
        elif verdict is None:
            why = ("the check's work limit was reached" if budget is not None and budget.left < 0
                   else "too many combinations")
            out.append(_at(rule, f"rule {rule.id!r}: could not show that it can fire ({why})", "warning"))
    return out


# ------------------------------------------------------------------ duplicates and contradictions


def _effect_key(rule: Rule) -> tuple[Any, ...]:
    return tuple(sorted(repr(e.key()) for e in rule.effects))


def _duplicates(kb: KnowledgeBase) -> list[Problem]:
    """Rules on the same condition with the same effects (duplicates) or opposite ones
    (contradictions). Linear in the rules: each is compared with an index of the earlier ones on
    its condition (3,000 rules sharing one condition took 37 s pairwise); a rule is reported once,
    against the first earlier rule it duplicates or contradicts."""
    out = []
    by_cond: dict[str, list[Rule]] = {}
    for rule in kb.rules:
        key = repr(expr.strip_positions(kb.conditions[rule.id]))
        by_cond.setdefault(key, []).append(rule)
    for rules in by_cond.values():
        by_effects: dict[tuple[Any, ...], Rule] = {}
        by_sign: dict[tuple[tuple[str, str], bool], Rule] = {}  # (key, positive) -> first rule
        vetoes: dict[str, Rule] = {}  # candidate -> first rule vetoing it
        raises: dict[str, Rule] = {}  # candidate -> first rule rating it up
        for b in rules:
            effects = _effect_key(b)
            first = by_effects.get(effects)
            if first is not None:
                out.append(_at(b, f"rule {b.id!r} duplicates rule {first.id!r} ({first.where()})"))
                continue
            by_effects[effects] = b
            clash = _first_clash(b, by_sign, vetoes, raises)
            if clash:
                a, text = clash
                out.append(_at(b, f"rule {b.id!r} contradicts rule {a.id!r} ({a.where()}) on the same condition: {text}"))
            signed = _signed(b)
            for signed_key, value in signed.items():
                if value:
                    by_sign.setdefault((signed_key, value > 0), b)
            for cand in {e.veto for e in b.effects if e.veto}:
                vetoes.setdefault(cand, b)
            for (cand, _), value in signed.items():
                if value > 0 and cand != "*weight*":
                    raises.setdefault(cand, b)
    return out


def _first_clash(b: Rule, by_sign: dict[tuple[tuple[str, str], bool], Rule],
                 vetoes: dict[str, Rule], raises: dict[str, Rule]) -> tuple[Rule, str] | None:
    """The first earlier rule (from the indexes) that ``b`` contradicts, and how."""
    found: list[tuple[Rule, str]] = []
    for key, value in _signed(b).items():
        if not value:
            continue
        a = by_sign.get((key, value < 0))
        if a is not None:
            who, crit = key
            found.append((a, f"{'weight' if who == '*weight*' else who} on {crit} goes up in "
                             "one and down in the other"))
    for cand in {e.veto for e in b.effects if e.veto}:
        if cand in raises:
            found.append((raises[cand], f"one vetoes {cand}, the other rates it up"))
    for (cand, _), value in _signed(b).items():
        if value > 0 and cand in vetoes:
            found.append((vetoes[cand], f"one vetoes {cand}, the other rates it up"))
    return found[0] if found else None


def _signed(rule: Rule) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for e in rule.effects:
        if e.rate and e.candidates:
            for cand, delta in e.candidates.items():
                key = (cand, f"{e.rate}/{e.target}" if e.target else e.rate)
                out[key] = out.get(key, 0.0) + delta
        if e.weight and e.factor is not None:
            out[("*weight*", e.weight)] = out.get(("*weight*", e.weight), 0.0) + (e.factor - 1.0)
    return out


def _contradiction(a: Rule, b: Rule) -> str | None:
    sa, sb = _signed(a), _signed(b)
    for key in sa.keys() & sb.keys():
        if sa[key] * sb[key] < 0:
            who, crit = key
            return f"{'weight' if who == '*weight*' else who} on {crit} goes up in one and down in the other"
    vetoed_a = {e.veto for e in a.effects if e.veto}
    vetoed_b = {e.veto for e in b.effects if e.veto}
    for cand in vetoed_a:
        if any(c == cand and v > 0 for (c, _), v in sb.items()):
            return f"one vetoes {cand}, the other rates it up"
    for cand in vetoed_b:
        if any(c == cand and v > 0 for (c, _), v in sa.items()):
            return f"one vetoes {cand}, the other rates it up"
    return None


def _unread_questions(kb: KnowledgeBase) -> list[Problem]:
    read: set[str] = set()
    for node in kb.conditions.values():
        read.update(expr.names(node))
    return [
        _at(q, f"question {q.id!r} is read by no rule: its answer cannot change anything")
        for q in kb.questions
        if q.id not in read
    ]


def _veto_everything(kb: KnowledgeBase, budget: _Budget | None = None) -> list[Problem]:
    veto_rules = [r for r in kb.rules if any(e.veto for e in r.effects)]
    if not veto_rules:
        return []
    nodes = {r.id: kb.conditions[r.id] for r in veto_rules}
    vetoing: dict[str, list[Rule]] = {}
    for r in veto_rules:
        for e in r.effects:
            if e.veto:
                vetoing.setdefault(e.veto, []).append(r)
    if set(vetoing) != set(kb.candidate_ids):
        return []  # some candidate can never be vetoed
    gen, exact = _assignments(_domains(kb, nodes.values()))
    cost = max(1, sum(len(r.when or "") for r in veto_rules))
    for assignment in gen:
        if budget is not None and not budget.spend(cost):
            exact = False
            break
        counted = _apply_skips(kb, assignment)
        if counted is None:
            continue  # contradictory answers are refused before any rule runs
        facts = counted
        fired = {rid for rid, node in nodes.items() if expr.evaluate(node, facts) is True}
        if all(any(r.id in fired for r in vetoing[c]) for c in kb.candidate_ids):
            shown = ", ".join(f"{k}={v}" for k, v in facts.items())
            culprits = [r for r in veto_rules if r.id in fired]
            return [_at(culprits[0], f"these answers veto every candidate: {shown} "
                                     f"(vetoes from {', '.join(r.id for r in culprits)})")]
    if not exact:
        return [Problem(kb.files[0], None, "could not check every answer combination for vetoing all candidates (sampled)", "warning")]
    return []
