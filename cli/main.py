"""The `civledger` command: one typer app; errors are one line on stderr with a documented code.

Exit codes: 0 done; 2 bad input; 3 refused by a rule (or a reference reused for another act);
4 unknown ID; 5 the ledger no longer matches its tamper-evident log; 1 store unreachable (or,
for a reader, a SQLite store that does not exist), outcome unknown, stored events that cannot be
read without the cipher key, or an unexpected error.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from cli import admin, audit, bulk, clerk, projections
from cli.errors import exit_code_of
from cli.runtime import Terminated, debug_enabled, request_stop
from domain.errors import CivledgerError
from infrastructure.settings import configure_from_env

#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: Exit code after SIGTERM (128 + SIGTERM): systemd, `docker stop`, Kubernetes.
TERMINATED = 143


def _terminate(signum: int, frame: FrameType | None) -> None:
    if not request_stop(Terminated):
        raise Terminated


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if not request_stop(KeyboardInterrupt):
        raise KeyboardInterrupt


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
            if debug_enabled():
                traceback.print_exc()
            _fail(f"unexpected error: {type(error).__name__}: {error}", 1)
        return None


@contextmanager
def _signals_stop() -> Iterator[None]:
    """While a command runs, Ctrl-C raises `KeyboardInterrupt` and SIGTERM `Terminated`, or
    ask a command that stops between batches to stop (`cli.runtime.stops_between_batches`).
    Handlers someone else set are left alone (`projections follow` sets its own for its run)."""
    ours = {signal.SIGINT: _interrupt, signal.SIGTERM: _terminate}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    defaults: dict[int, Any] = {
        signal.SIGINT: signal.default_int_handler,
        signal.SIGTERM: signal.SIG_DFL,
    }
    taken = [n for n in ours if signal.getsignal(n) == defaults[n]]
    for number in taken:
        signal.signal(number, ours[number])
    try:
        yield
    finally:
        for number in taken:
            if signal.getsignal(number) is ours[number]:
                signal.signal(number, defaults[number])


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

clerk.register(app)
audit.register(app)
admin.register(app)
bulk.register(app)
projections.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
