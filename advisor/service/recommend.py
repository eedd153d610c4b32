"""The core entry points the CLI calls: load a knowledge base, gather answers, recommend.

No terminal, no typer: functions take paths and values and return result objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from advisor.questionnaire import answers as answers_mod
from advisor.decision import engine
from advisor.probe import machine
from advisor.decision.assessment import Assessment
from advisor.infra.errors import FileProblem, ParseError, VersionError
from advisor.kb import loader
from advisor.kb.model import KnowledgeBase

PROBE_SCHEMA_MAJOR = 1
MAX_PROBE_BYTES = 8 * 1024 * 1024


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


def read_probe(path: str) -> dict[str, Any]:
    """Read a probe file as plain data, refusing what this advisor cannot interpret."""
    try:
        from advisor.probe.model import load_probe  # validated model, when the probe is installed
    except ImportError:  # pragma: no cover
        load_probe = None
    if load_probe is not None:
        return load_probe(path).model_dump(mode="json")
    from advisor.infra.safeyaml import read_text

    text = read_text(path, max_bytes=MAX_PROBE_BYTES)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise ParseError("a probe file is a JSON object", path=path)
    version = data.get("schema_version")
    if not isinstance(version, int) or version != PROBE_SCHEMA_MAJOR:
        raise VersionError(
            f"probe schema_version {version!r} is not supported (this advisor reads "
            f"{PROBE_SCHEMA_MAJOR})",
            path=path,
        )
    if not isinstance(data.get("frameworks", []), list):
        raise FileProblem("'frameworks' must be a list", path=path)
    return data


def probe_summary(probe: dict[str, Any], path: str | None) -> dict[str, Any]:
    return {
        "file": path,
        "schema_version": probe.get("schema_version"),
        "advisor_version": probe.get("advisor_version"),
        "created": probe.get("created"),
        "host": probe.get("host"),
        "gpus": probe.get("gpus"),
        "frameworks": probe.get("frameworks"),
        "scaling": probe.get("scaling"),
        "deploy": probe.get("deploy"),
        "run": _run_summary(probe.get("run")),
    }


RUN_KEYS = ("threads", "epochs", "startup", "not_run")  # what render.measured reads


def _run_summary(run: Any) -> dict[str, Any] | None:
    """What the reports say about how the probe ran (not its environment or timings)."""
    if not isinstance(run, dict):
        return None
    return {k: run[k] for k in RUN_KEYS if k in run}


def build_inputs(
    kb: KnowledgeBase,
    answer_set: answers_mod.AnswerSet,
    probe: dict[str, Any] | None = None,
    probe_path: str | None = None,
) -> engine.Inputs:
    from advisor.probe import deploy
    from advisor.probe import facts as probe_facts

    if probe is not None:
        facts = probe_facts.facts(kb, probe)
        machine_facts = {k: v for k, v in facts.items() if k.startswith("machine.")}
        other = {k: v for k, v in facts.items() if not k.startswith("machine.")}
        other.update(probe_facts.speed_facts(kb, probe, answer_set.values.get("modality")))
        other.update(probe_facts.scaling_facts(kb, probe))
        other.update(deploy.deploy_facts(kb, probe))
        return engine.Inputs(
            answers=dict(answer_set.values),
            answer_origin=dict(answer_set.origin),
            machine=machine_facts,
            machine_source="probe file",
            probe_facts=other,
            probe_summary=probe_summary(probe, probe_path),
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
