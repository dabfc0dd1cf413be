"""The `civledger` command: one typer app; errors are one line on stderr with a documented code.

The console script is `cli.main`, which takes Ctrl-C and SIGTERM before this module loads.

Exit codes: 0 done; 2 bad input; 3 refused by a rule (or a reference reused for another act);
4 unknown ID; 5 the ledger does not match what was recorded (its tamper-evident log, or a
history that does not start with the birth); 1 store unreachable (or, for a reader, a SQLite
store that does not exist), a damaged SQLite file, outcome unknown, stored events that cannot
be read without the cipher key, or an unexpected error; 130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from cli import admin, audit, bulk, clerk, identity, projections, residence
from cli import cards as card_readers
from cli import service as service_commands
from cli.errors import exit_code_of
from cli.main import INTERRUPTED, TERMINATED, before_command
from cli.options import use_clerk_commands
from cli.runtime import Terminated, debug_enabled, request_stop
from domain.errors import CivledgerError
from infrastructure.settings import configure_from_env

__all__ = ["INTERRUPTED", "TERMINATED", "app", "run"]

#: The signal this run has raised as an exception, once raised: a command stops once.
_raised: list[int] = []
#: A signal whose exception a finaliser swallowed (see `_swallowed_stop`): delivered again.
_swallowed: list[int] = []
#: The `sys.unraisablehook` a command found, which `_swallowed_stop` hands the rest to.
_hooks: list[Any] = [sys.__unraisablehook__]
#: Whether a command is running (between `_signals_stop`'s entry and exit).
_running = threading.Event()
#: How long after a swallowed stop it is delivered again, out of the finaliser by then.
REDELIVERY_SECONDS = 0.01


def _stop(signum: int, kind: type[BaseException]) -> None:
    """Stop the command: ask it to stop between batches if it does (`import`), else raise
    `kind` where it is. Once raised, further signals change nothing: the command is already
    on its way out, through its clean-ups, to its one line."""
    if request_stop(kind) or _raised:
        return
    _raised.append(signum)
    _swallowed.clear()
    raise kind


def _swallowed_stop(unraisable: Any) -> None:
    """`sys.unraisablehook` while a command runs. Python prints and drops an exception raised
    in a finaliser (`__del__`: the library's `Application` and datastores close their
    connections there, whenever the collector frees them), so a signal that arrives then
    would print "Exception ignored in ..." and be lost. A stop swallowed so is printed by no
    one and delivered again a moment later, outside the finaliser; should the command end
    first, it ends as the signal ends it (`_signals_stop`)."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt | Terminated) and _raised:
        signum = _raised.pop()
        _swallowed.append(signum)
        timer = threading.Timer(REDELIVERY_SECONDS, _deliver_again, (signum,))
        timer.daemon = True
        timer.start()
        return
    _hooks[-1](unraisable)  # anything else goes where it went (pytest's hook, in tests)


def _deliver_again(signum: int) -> None:
    if _running.is_set() and _swallowed:
        os.kill(os.getpid(), signum)


def _end_by(signum: int) -> NoReturn:
    """End the command as `signum` ends it: its one line, its exit code."""
    if signum == signal.SIGTERM:
        sys.stderr.write("civledger: terminated\n")
        sys.exit(TERMINATED)
    sys.stderr.write("civledger: interrupted\n")
    sys.exit(INTERRUPTED)


def _terminate(signum: int, frame: FrameType | None) -> None:
    _stop(signum, Terminated)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _stop(signum, KeyboardInterrupt)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"civledger: error: {' '.join(message.split())}\n")
    sys.exit(code)


class OneLineErrors(TyperGroup):
    """Runs a command and turns every error into one line on stderr and an exit code."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        extra.pop("standalone_mode", None)
        with _signals_stop():
            result = self._run(args, prog_name, extra)
        # Not standalone, typer hands back an exit code instead of exiting: `typer.Exit(code)`
        # raised by a command, or 130 for Ctrl-C (KeyboardInterrupt). Commands return None.
        if isinstance(result, int) and not isinstance(result, bool):
            if result == INTERRUPTED:
                sys.stderr.write("civledger: interrupted\n")
            sys.exit(result)
        return None

    def _run(self, args: Sequence[str] | None, prog_name: str | None, extra: Any) -> Any:
        try:
            configure_from_env()
            return super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except Terminated:
            sys.stderr.write("civledger: terminated\n")
            sys.exit(TERMINATED)
        except CivledgerError as error:
            _end_if_stopped()
            if debug_enabled():
                traceback.print_exc()
            _fail(error.message, exit_code_of(error))
        except NoArgsIsHelpError as shown:
            typer.echo(shown.ctx.get_help() if shown.ctx else shown.format_message())
            sys.exit(0)
        except UsageError as error:
            _fail(error.format_message(), 2)
        except typer.Exit as done:
            sys.exit(done.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            sys.stderr.write("civledger: interrupted\n")
            sys.exit(INTERRUPTED)
        except Exception as error:
            _end_if_stopped()
            if debug_enabled():
                traceback.print_exc()
            _fail(f"unexpected error: {type(error).__name__}: {error}", 1)
        return None


def _end_if_stopped() -> None:
    """After a signal raised its exception in the command, what comes out is that signal's
    doing, whatever a library made of it on the way (a store error, Python 3.11's RuntimeError
    around a class being defined by a lazy import): end as the signal ends a command."""
    if _raised:
        _end_by(_raised[0])


@contextmanager
def _signals_stop() -> Iterator[None]:
    """While a command runs, Ctrl-C raises `KeyboardInterrupt` and SIGTERM `Terminated`, or
    ask a command that stops between batches to stop (`cli.runtime.stops_between_batches`).
    The handlers taken over are Python's defaults (the app run in-process, by tests) and those
    of the console script (`cli.main`), which ends the process at once while modules load;
    after the command, the console script's process only exits, so signals are then ignored.
    Handlers someone else set are left alone (`projections follow` sets its own for its run)."""
    ours = {signal.SIGINT: _interrupt, signal.SIGTERM: _terminate}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    defaults: dict[int, Any] = {
        signal.SIGINT: signal.default_int_handler,
        signal.SIGTERM: signal.SIG_DFL,
    }
    previous = {n: signal.getsignal(n) for n in ours}
    taken = [n for n in ours if previous[n] in (defaults[n], before_command)]
    _raised.clear()
    _swallowed.clear()
    for number in taken:
        signal.signal(number, ours[number])
    hook = sys.unraisablehook
    if taken:
        _hooks.append(hook)
        sys.unraisablehook = _swallowed_stop
    _running.set()
    try:
        yield
    finally:
        _running.clear()
        for number in taken:
            if signal.getsignal(number) is ours[number]:
                after = previous[number]
                signal.signal(number, signal.SIG_IGN if after is before_command else after)
        if sys.unraisablehook is _swallowed_stop:
            sys.unraisablehook = hook
        if taken:
            _hooks.pop()
        if _swallowed:  # a stop a finaliser swallowed, not delivered again before the end
            _end_by(_swallowed[0])


app = typer.Typer(
    cls=OneLineErrors,
    name="civledger",
    help="civledger: an event-sourced civil-status ledger with personal ID numbers.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def version() -> str:
    """The installed civledger's version (its package metadata)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("civledger")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"civledger {version()}")
        raise typer.Exit(0)


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version of civledger and exit.",
        ),
    ] = False,
) -> None:
    """civledger: an event-sourced civil-status ledger with personal ID numbers."""


clerk.register(app)
audit.register(app)
admin.register(app)
bulk.register(app)
projections.register(app)
residence.register(app)
identity.register(app)
card_readers.register(app)
service_commands.register(app)
use_clerk_commands(app)


def run() -> None:
    """Run the command line (the console script is `cli.main.main`, which calls this)."""
    app()
