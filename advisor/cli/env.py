"""What the command line talks to: its streams, whether they are terminals, the width.

One object (httpie's ``Environment``), made once by :func:`advisor.cli.app.main` and read by every
command, so a test runs the real CLI in-process with a fake terminal, a pipe or a narrow screen
instead of patching ``sys``. Results go to ``stdout``; questions, progress and messages to
``stderr``.

Output rules that hold everywhere:
- on a terminal, rich renders to the terminal's width;
- anywhere else (a pipe, a file), every line is written whole: no wrapping at 80 columns, no
  padding spaces at line ends, no colour - ``advisor recommend --explain jax > trace.txt`` keeps
  rule ids and values intact;
- a stream that cannot encode a character gets a replacement, never a ``UnicodeEncodeError``.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

# Wide enough that no report line is ever cut; trailing padding is stripped afterwards.
WHOLE_LINES_WIDTH = 400


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _columns() -> int | None:
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


@dataclass
class Environment:
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin_isatty: bool | None = None
    stdout_isatty: bool | None = None
    stderr_isatty: bool | None = None
    columns: int | None = field(default_factory=_columns)  # None: the terminal's own width

    def __post_init__(self) -> None:
        if self.stdin_isatty is None:
            self.stdin_isatty = _isatty(self.stdin)
        if self.stdout_isatty is None:
            self.stdout_isatty = _isatty(self.stdout)
        if self.stderr_isatty is None:
            self.stderr_isatty = _isatty(self.stderr)

    # -- writing ---------------------------------------------------------------------------
    def write(self, text: str) -> None:
        """Plain text (JSON, Markdown, HTML, YAML) to standard output, as is."""
        self.stdout.write(text)
        self.stdout.flush()

    def err_console(self) -> Console:
        """Messages, questions and progress: standard error, styled only on a terminal."""
        from rich.console import Console

        return Console(file=self.stderr, highlight=False, width=self.columns,
                       force_terminal=self.stderr_isatty, soft_wrap=not self.stderr_isatty)

    def show(self, render: Callable[[Console], None]) -> None:
        """A rich view of a result on standard output: the terminal's width on a terminal,
        whole lines anywhere else."""
        if self.stdout_isatty:
            from rich.console import Console

            render(Console(file=self.stdout, highlight=False, width=self.columns,
                           force_terminal=True))
            self.stdout.flush()
            return
        self.write(render_text(render, encoding=getattr(self.stdout, "encoding", None)))

    # -- reading ---------------------------------------------------------------------------
    def prompt(self, console: Console, text: str) -> str:
        """Ask on standard error, read one line from standard input (EOFError at its end)."""
        if self.stdin is sys.stdin and self.stdin_isatty:
            return console.input(text)  # the real terminal: line editing from `input`
        console.print(text, end="", markup=False, highlight=False)
        line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")


class _Buffer(io.StringIO):
    """A text buffer that reports the encoding of the stream it stands in for, so that rich
    draws tables with ASCII lines where the stream cannot take box-drawing characters."""

    def __init__(self, encoding: str | None) -> None:
        super().__init__()
        self._encoding = encoding or "utf-8"

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def render_text(render: Callable[[Console], None], *, width: int = WHOLE_LINES_WIDTH,
                encoding: str | None = None) -> str:
    """Render a rich view to plain text with whole lines (for pipes and ``--out`` files)."""
    from rich.console import Console

    buf = _Buffer(encoding)
    render(Console(file=buf, width=width, no_color=True, highlight=False, soft_wrap=True,
                   force_terminal=False, color_system=None))
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    return "\n".join(lines) + ("\n" if lines else "")


_current: Environment | None = None


def current() -> Environment:
    """The environment of the command that runs now (the process's own by default)."""
    global _current
    if _current is None:
        _current = Environment()
    return _current


def use(env: Environment | None) -> Environment | None:
    """Make ``env`` the current environment; returns the one it replaces."""
    global _current
    previous, _current = _current, env
    return previous


def make_streams_safe() -> None:
    """Never crash on a character the output encoding lacks (PYTHONIOENCODING=ascii, a C
    locale): write a replacement instead."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            encoding = (stream.encoding or "").lower().replace("-", "")
            if encoding not in ("utf8", "utf16", "utf32"):
                reconfigure(errors="replace")
        except (ValueError, OSError):  # pragma: no cover - a closed or odd stream
            pass
