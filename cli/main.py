"""The `civledger` console script (`cli.main:main`), and `python -m cli.main`.

Nothing heavy is imported here. `main()` first takes Ctrl-C and SIGTERM, then imports the
command line (`cli.app`: typer, pydantic, the event-sourcing library, the drivers; a few hundred
milliseconds). A signal in that time ends the process at once with the one line it gives later
(`civledger: interrupted`, exit 130; `civledger: terminated`, exit 143): nothing is open yet
and nothing was written. While a command runs, `cli.app` handles the signals. Once it has run,
its answer is written and its exit code set: the process only exits, and a signal no longer
changes anything (nor interrupts the interpreter's exit half-way, which would print).

A signal that arrives before the interpreter runs any of this (its first milliseconds) ends
the process as the signal does by default: no output, and a shell reports 130 or 143.
"""

from __future__ import annotations

import os
import signal

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing takes milliseconds
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: Exit code after SIGTERM (128 + SIGTERM): systemd, `docker stop`, Kubernetes.
TERMINATED = 143
#: What each signal ends a command with: its exit code and its one line on stderr.
ENDINGS: dict[int, tuple[int, bytes]] = {
    signal.SIGINT: (INTERRUPTED, b"civledger: interrupted\n"),
    signal.SIGTERM: (TERMINATED, b"civledger: terminated\n"),
}


def before_command(signum: int, frame: FrameType | None) -> None:
    """A signal while the command line is being loaded: say so, and leave at once (no clean-up
    is owed, and an exception raised in the middle of an import would print a traceback)."""
    code, line = ENDINGS[signum]
    try:  # noqa: SIM105 (contextlib is not loaded yet: every millisecond here counts)
        os.write(2, line)
    except OSError:  # stderr closed: the exit code says it
        pass
    os._exit(code)


def _handle(handler: Any) -> None:
    """Set `handler` for both signals, except one this process was started ignoring (a shell
    starts a script's background jobs ignoring Ctrl-C): that one stays ignored."""
    for number in ENDINGS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, handler)


def main() -> None:
    """Console-script entry point."""
    _handle(before_command)
    try:
        from cli.app import run

        run()
    finally:
        _handle(signal.SIG_IGN)  # the command has ended: only the exit is left


def __getattr__(name: str) -> Any:
    """`from cli.main import app`, as tests and scripts write it: the app is `cli.app.app`."""
    if name == "app":
        from cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    # Run as `cli.main`, not as `__main__`: `cli.app` knows the handler by its identity.
    from cli.main import main as run_as_cli_main

    run_as_cli_main()
