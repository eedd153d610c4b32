"""The one way the CLI collects answers, shared by ``advisor ask`` and ``advisor run``.

Preset answers (``--answers``, ``--set``) first; then ``--defaults``; then, only when something is
still missing, the questionnaire on the terminal - or a one-line error when advisor may not or
cannot ask. Every answer given is kept in ``keep`` as it comes (atomically), so Ctrl-C loses
nothing, and the error says the command that resumes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advisor.cli.env import Environment

if TYPE_CHECKING:
    from rich.console import Console

    from advisor.kb.model import KnowledgeBase
    from advisor.questionnaire.answers import AnswerSet


def collect(
    kb: KnowledgeBase,
    preset: AnswerSet,
    env: Environment,
    *,
    no_input: bool,
    defaults: bool,
    keep: str | None,
    resume: str | None,
) -> AnswerSet:
    """Complete ``preset``. ``keep``: a file that holds the answers so far; ``resume``: the command
    that picks up from it (shown on Ctrl-C)."""
    from advisor.infra.errors import Interrupted, MissingAnswers, NoTerminal
    from advisor.probe import machine
    from advisor.questionnaire import answers as answers_mod
    from advisor.questionnaire import flow

    result = preset.copy()
    if defaults:
        answers_mod.fill_defaults(kb, result)
    missing = answers_mod.missing(kb, result.values)
    if not missing:
        return result
    if no_input:
        raise MissingAnswers(
            "missing answers (--no-input): " + ", ".join(q.id for q in missing)
            + "; give them with --answers/--set, or add --defaults"
        )
    if not env.stdin_isatty:
        raise NoTerminal(
            "standard input is not a terminal, so advisor cannot ask; "
            "use --answers FILE and --set id=value, or --no-input --defaults"
        )
    err = env.err_console()
    saved: dict[str, object] = dict(result.values)

    def on_answer(current: AnswerSet) -> None:
        saved.clear()
        saved.update(current.values)
        if keep:
            answers_mod.write(kb, keep, current.values, comment="partial answers (interrupted)")

    err.print(f"[bold]advisor questionnaire[/] - press Enter to accept the default. "
              f"(knowledge base {kb.meta.kb_version})")
    try:
        return flow.run(
            kb, result, ask=lambda prompt: env.prompt(err, prompt),
            say=lambda text: say(err, text),
            on_answer=on_answer, machine=machine.local_facts(),
        )
    except (KeyboardInterrupt, EOFError):
        err.print()
        if keep:
            answers_mod.write(kb, keep, saved, comment="partial answers (interrupted)")
            raise Interrupted(interrupted_message(len(saved), keep, resume)) from None
        raise Interrupted(f"interrupted; {len(saved)} answers were not saved "
                          "(use --out FILE to keep them)") from None


def say(console: Console, text: str) -> None:
    """Print questionnaire text; a line that wraps keeps its indent on every wrapped line (a long
    help line stays under its question, a choice's second line under its text)."""
    import re

    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    for line in text.split("\n"):
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        # "[3/12] " and "12) " hang: wrapped lines continue under the text after them
        head = re.match(r"(\[\d+/\d+\]|\d+\)) ", body)
        if head:
            grid = Table.grid()
            grid.add_column(width=head.end(), no_wrap=True)
            grid.add_column()
            grid.add_row(Text(body[:head.end()]), Text(body[head.end():]))
            renderable: Any = grid
        else:
            renderable = Text(body)
        console.print(Padding(renderable, (0, 0, 0, indent), expand=False))


def interrupted_message(count: int, kept_in: str, resume: str | None) -> str:
    """What Ctrl-C says, wherever it struck: what was kept, and how to go on."""
    text = f"interrupted; kept {count} answers in {kept_in}"
    return text + (f"; resume with `{resume}`" if resume else "")
