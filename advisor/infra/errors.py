"""One exception hierarchy; the CLI turns these into one line on stderr and an exit code."""

from __future__ import annotations

from enum import IntEnum

from advisor.infra.clean import one_line


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    BAD_INPUT = 2
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    HANGUP = 129  # SIGHUP: the terminal went away (128 + 1)
    TERMINATED = 143  # SIGTERM: a supervisor, `kill` or `timeout` (128 + 15)


class AdvisorError(Exception):
    """Base of every error advisor reports to a user."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        # one line, whatever the cause said, and nothing from the input that drives a terminal
        message = one_line(str(message))
        super().__init__(message)
        self.message = message
        self.path = one_line(str(path)) if path is not None else None
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


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that it unwinds exactly as Ctrl-C does:
    ``finally`` blocks remove temporary folders, probe children are killed, nothing half-written
    is left. The exit code is 128 + the signal's number (143 for SIGTERM, 129 for SIGHUP), the
    shell's convention, so a supervisor sees which signal ended advisor; 130 stays Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Interrupted(AdvisorError):
    """Ctrl-C: exit 130 after saying what was kept."""

    exit_code = ExitCode.INTERRUPTED
