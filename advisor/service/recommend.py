"""The core entry points the CLI calls: load a knowledge base, gather answers, recommend.

No terminal, no typer: functions take paths and values and return result objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from advisor.decision import engine
from advisor.decision.assessment import Assessment
from advisor.infra.privacy import shown_path
from advisor.kb import loader
from advisor.kb.model import KnowledgeBase
from advisor.probe import machine
from advisor.questionnaire import answers as answers_mod

if TYPE_CHECKING:
    from advisor.probe.model import ProbeDocument


def load_kb(rules: str | None) -> KnowledgeBase:
    return loader.load(rules) if rules else loader.load_bundled()


def gather(
    kb: KnowledgeBase,
    answers_file: str | None,
    sets: Sequence[str] = (),
    *,
    use_defaults: bool = False,
) -> answers_mod.AnswerSet:
    """Answers from a file and --set options (same validation for both)."""
    from_file = answers_mod.load_file(kb, answers_file) if answers_file else {}
    from_set = answers_mod.parse_sets(kb, sets)
    return answers_mod.merge(kb, from_file=from_file, from_set=from_set, use_defaults=use_defaults)


def read_probe(path: str) -> ProbeDocument:
    """Read and validate a probe file (the one loader: advisor.probe.model)."""
    from advisor.probe.model import load_probe

    return load_probe(path)


def build_inputs(
    kb: KnowledgeBase,
    answer_set: answers_mod.AnswerSet,
    doc: ProbeDocument | None = None,
    probe_path: str | None = None,
) -> engine.Inputs:
    if doc is not None:
        from advisor.probe import deploy_facts as deploy  # paths measured by advisor probe --deploy
        from advisor.probe import facts as probe_facts

        probe = doc.to_dict()
        facts = probe_facts.facts(kb, probe)
        machine_facts = {k: v for k, v in facts.items() if k.startswith("machine.")}
        other = {k: v for k, v in facts.items() if not k.startswith("machine.")}
        other.update(probe_facts.speed_facts(kb, probe, {**facts, **answer_set.values}))
        other.update(probe_facts.scaling_facts(kb, probe))
        other.update(deploy.deploy_facts(kb, probe))
        return engine.Inputs(
            answers=dict(answer_set.values),
            answer_origin=dict(answer_set.origin),
            machine=machine_facts,
            machine_source="probe file",
            probe_facts=other,
            probe=doc,
            probe_file=shown_path(probe_path),  # no absolute home path in reports
            measurer=deploy.measurer(probe_facts.measurer(probe), probe),
        )
    return engine.Inputs(
        answers=dict(answer_set.values),
        answer_origin=dict(answer_set.origin),
        machine=machine.local_facts(),
        machine_source="this machine",
    )


@dataclass(frozen=True)
class Recommendation:
    kb: KnowledgeBase
    assessment: Assessment


def recommend(
    *,
    rules: str | None,
    answers_file: str | None,
    sets: Sequence[str] = (),
    probe_file: str | None = None,
    use_defaults: bool = False,
) -> Recommendation:
    kb = load_kb(rules)
    answer_set = gather(kb, answers_file, sets, use_defaults=use_defaults)
    probe = read_probe(probe_file) if probe_file else None
    inputs = build_inputs(kb, answer_set, probe, probe_file)
    return Recommendation(kb, engine.assess(kb, inputs))
