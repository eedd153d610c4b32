"""`advisor` command-line entry point.

Thin by design: each command parses its options, calls one core function and hands the result
to a renderer. Errors are types (advisor.infra.errors); ``main`` turns them into one line on stderr
and an exit code, in one place. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

# advisor uses no pydantic plugins; not scanning every installed distribution for them saves
# tens of milliseconds at start-up.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer

from advisor.infra.errors import AdvisorError, ExitCode, Terminated

if TYPE_CHECKING:
    from advisor.cli.env import Environment

app = typer.Typer(
    name="advisor",
    help="Choose a deep-learning framework for a concrete project on concrete hardware, "
    "and show why.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def version_text() -> str:
    """advisor's, the bundled knowledge base's and Python's versions, on one line."""
    import platform

    from advisor import __version__
    from advisor.service.recommend import load_kb

    kb = load_kb(None)
    return (f"advisor {__version__} (knowledge base {kb.meta.kb_version}, "
            f"Python {platform.python_version()})")


def _show_version(value: bool) -> None:
    if value:
        from advisor.cli.env import current

        current().write(version_text() + "\n")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _root(
    traceback: bool = typer.Option(
        False, "--traceback", help="Show the full Python traceback on errors (debugging)."
    ),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_show_version,
        help="Show the versions of advisor, its knowledge base and Python, and exit."
    ),
) -> None:
    """Choose a deep-learning framework for a concrete project on concrete hardware."""


def _register() -> None:
    # Command modules import only typer and the standard library at import time.
    from advisor.cli import audit_cmd, commands, compare_cmd, probe_cmd, run_cmd  # noqa: F401


def _click_exceptions():
    """typer >= 0.2x vendors click as typer._click; older typer uses click itself."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions  # type: ignore[import-not-found,no-redef,unused-ignore]
    return exceptions


def _wants_traceback(args: list[str]) -> bool:
    """``--traceback`` is a root option: it counts only before the subcommand's name."""
    for arg in args:
        if arg == "--traceback":
            return True
        if arg == "--" or not arg.startswith("-"):
            return False
    return False


_received: list[int] = []  # the SIGTERM/SIGHUP that is unwinding, if any (typer keeps no cause)


def _on_signal(signum: int, frame: object) -> None:
    # Further SIGTERM/SIGHUP are ignored while the first one unwinds (children killed, temporary
    # folders removed); SIGKILL still ends advisor at once.
    for other in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(other, signal.SIG_IGN)
    _received.append(signum)
    raise Terminated(signum)


def install_signal_handlers() -> dict[int, object]:
    """SIGTERM and SIGHUP unwind like Ctrl-C (see errors.Terminated). A signal the caller set to
    be ignored (``nohup`` ignores SIGHUP) stays ignored. Returns the handlers it replaced."""
    previous: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, _on_signal)
    return previous


def _interrupted(exc: BaseException | None, err) -> int:
    """Ctrl-C: 130; SIGTERM/SIGHUP: 128 + the signal (143, 129), as a shell reports them."""
    signum = exc.signum if isinstance(exc, Terminated) else (_received[0] if _received else None)
    if signum is not None:
        err(f"terminated by {signal.Signals(signum).name}")
        return 128 + signum
    err("interrupted")
    return ExitCode.INTERRUPTED


def main(argv: list[str] | None = None, env: Environment | None = None) -> None:
    """The console script: run one command and exit with its code."""
    sys.exit(run(argv, env))


def run(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run one command in ``env`` (the process's own streams by default); return the exit code.

    Errors become one line on stderr here and only here; a closed pipe (``| head``) is not one.
    """
    from advisor.cli import env as env_mod

    if env is None:
        env_mod.make_streams_safe()
        env = env_mod.Environment()
    previous = env_mod.use(env)
    handlers = install_signal_handlers()
    try:
        return _run(argv, env)
    finally:
        env_mod.use(previous)
        for signum, handler in handlers.items():  # in-process callers (tests) get theirs back
            signal.signal(signum, handler)  # type: ignore[arg-type]


def _run(argv: list[str] | None, env: Environment) -> int:
    cx = _click_exceptions()
    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = _wants_traceback(args) or os.environ.get("ADVISOR_TRACEBACK") == "1"

    def err(message: str) -> None:
        env.stderr.write(f"advisor: error: {message}\n")
        env.stderr.flush()

    _register()
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="advisor", standalone_mode=False)
    except KeyboardInterrupt as exc:  # Terminated (SIGTERM, SIGHUP) is one
        if show_traceback:
            raise
        return _interrupted(exc, err)
    except typer.Abort as exc:  # click turns KeyboardInterrupt (and Terminated) into Abort
        return _interrupted(exc.__cause__ or exc.__context__, err)
    except typer.Exit as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # typer: Ctrl-C/SIGTERM -> Exit(130)
            return _interrupted(exc.__cause__, err)
        return exc.exit_code
    except BrokenPipeError:
        return _closed_pipe(env)
    except cx.ClickException as exc:
        if show_traceback:
            raise
        exc.show(file=env.stderr)
        return ExitCode.BAD_INPUT if isinstance(exc, cx.UsageError) else exc.exit_code
    except AdvisorError as exc:
        if show_traceback:
            raise
        err(str(exc))
        if exc.exit_code == ExitCode.INTERRUPTED and _received:  # a command said what it kept
            return 128 + _received[0]
        return exc.exit_code
    code = int(result) if isinstance(result, int) else ExitCode.OK
    if code == ExitCode.INTERRUPTED:  # typer turns Ctrl-C inside a command into Exit(130)
        code = _interrupted(None, err)
    try:
        env.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe(env)
    return code


def _closed_pipe(env: Environment) -> int:
    """The reader went away (``advisor ... | head -3``): what it wanted it got; exit quietly.

    Python would report the pipe again when it flushes stdout at exit, so stdout is pointed at
    the null device first (the recipe in the ``signal`` module's documentation)."""
    if env.stdout is sys.stdout:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # pragma: no cover - no real file descriptor
            pass
    return ExitCode.OK
