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

# advisor uses no pydantic plugins; not scanning every installed distribution for them saves
# tens of milliseconds at start-up.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer  # noqa: E402

from advisor.infra.errors import AdvisorError, ExitCode, Terminated  # noqa: E402

app = typer.Typer(
    name="advisor",
    help="Choose a deep-learning framework for a concrete project on concrete hardware, "
    "and show why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    traceback: bool = typer.Option(
        False, "--traceback", help="Show the full Python traceback on errors (debugging)."
    ),
) -> None:
    """Choose a deep-learning framework for a concrete project on concrete hardware."""


def _register() -> None:
    # Command modules import only typer and the standard library at import time.
    from advisor.cli import commands  # noqa: F401  (registers core commands on `app`)

    try:
        from advisor.cli import probe_cmd  # noqa: F401
    except ImportError:  # pragma: no cover - while the probe command is being built
        pass
    try:
        from advisor.cli import compare_cmd, run_cmd  # noqa: F401
    except ImportError:  # pragma: no cover - while the report commands are being built
        pass


def _err(message: str) -> None:
    sys.stderr.write(f"advisor: error: {message}\n")
    sys.stderr.flush()


def _click_exceptions():
    """typer >= 0.2x vendors click as typer._click; older typer uses click itself."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions  # type: ignore[no-redef]
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


def _interrupted(exc: BaseException | None) -> None:
    signum = exc.signum if isinstance(exc, Terminated) else (_received[0] if _received else None)
    if signum is not None:
        _err(f"terminated by {signal.Signals(signum).name}")
        sys.exit(128 + signum)
    _err("interrupted")
    sys.exit(ExitCode.INTERRUPTED)


def main(argv: list[str] | None = None) -> None:
    previous = install_signal_handlers()
    try:
        _main(argv)
    finally:
        for signum, handler in previous.items():  # in-process callers (tests) get theirs back
            signal.signal(signum, handler)  # type: ignore[arg-type]


def _main(argv: list[str] | None) -> None:
    cx = _click_exceptions()
    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = _wants_traceback(args) or os.environ.get("ADVISOR_TRACEBACK") == "1"
    _register()
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="advisor", standalone_mode=False)
    except KeyboardInterrupt as exc:
        if show_traceback:
            raise
        _interrupted(exc)
    except typer.Abort as exc:  # click turns KeyboardInterrupt (and Terminated) into Abort
        _interrupted(exc.__cause__ or exc.__context__)
    except typer.Exit as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # typer: Ctrl-C/SIGTERM -> Exit(130)
            _interrupted(exc.__cause__)
        sys.exit(exc.exit_code)
    except cx.ClickException as exc:
        if show_traceback:
            raise
        exc.show()
        sys.exit(ExitCode.BAD_INPUT if isinstance(exc, cx.UsageError) else exc.exit_code)
    except AdvisorError as exc:
        if show_traceback:
            raise
        _err(str(exc))
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(ExitCode.FAILURE)
    code = int(result) if isinstance(result, int) else ExitCode.OK
    if code == ExitCode.INTERRUPTED:  # typer turns Ctrl-C inside a command into Exit(130)
        _interrupted(None)
    sys.exit(code)
