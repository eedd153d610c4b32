"""One exception hierarchy; the CLI turns these into one line on stderr and an exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    BAD_INPUT = 2
    INTERRUPTED = 130


class AdvisorError(Exception):
    """Base of every error advisor reports to a user."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        message = " ".join(str(message).split())  # always one line, whatever the cause said
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


class BadInput(AdvisorError):
    """A file or option a user gave is wrong: exit 2."""

    exit_code = ExitCode.BAD_INPUT


class FileProblem(BadInput):
    """Missing, unreadable, too large, not UTF-8, or not the expected kind of file."""


class ParseError(BadInput):
    """Malformed YAML/JSON, forbidden tags, runaway aliases."""


class SchemaError(BadInput):
    """The document parsed but does not match its schema."""


class ExpressionError(BadInput):
    """A condition in the knowledge base does not parse or does not type-check."""


class AnswerError(BadInput):
    """An unknown question id or a value that is not one of its choices."""


class MissingAnswers(BadInput):
    """--no-input without --defaults and some questions have no answer."""


class VersionError(BadInput):
    """A file written by an incompatible version of advisor."""


class NoTerminal(BadInput):
    """Interactive prompting was needed but stdin is not a terminal."""


class ProbeFailed(AdvisorError):
    """No framework row could run at all: exit 1."""


class Interrupted(AdvisorError):
    """Ctrl-C: exit 130 after saying what was kept."""

    exit_code = ExitCode.INTERRUPTED
