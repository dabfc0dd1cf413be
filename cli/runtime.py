"""What every command shares: options, opening the register, one-line errors, JSON output."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from application.ports import PossibleDuplicates
from application.queries import RegisterReader
from application.register import CivilRegister
from cli.options import not_empty
from domain.commands import Clerking
from domain.errors import InvalidInput
from infrastructure.eventlog import EventLog

_debug = False


class Terminated(BaseException):
    """SIGTERM stops a command as Ctrl-C does: where it is, running its clean-ups."""


#: Set by the first Ctrl-C or SIGTERM while a command that stops between batches runs
#: (`import`); the command then ends as the signal would have ended it.
STOP = threading.Event()
_between_batches: list[type[BaseException]] = []  # what the stop is, once requested
_cooperating = [False]


@contextmanager
def stops_between_batches() -> Iterator[threading.Event]:
    """For a command whose loop checks `STOP` between batches: the first Ctrl-C or SIGTERM
    sets it instead of raising at once (mid-way through a library call, which may wrap the
    exception); a second one raises."""
    STOP.clear()
    _between_batches.clear()
    _cooperating[0] = True
    try:
        yield STOP
    finally:
        _cooperating[0] = False


def request_stop(kind: type[BaseException]) -> bool:
    """A signal handler's question: True if the running command takes the signal as a request
    to stop between batches (the first one while it cooperates), False to raise `kind`."""
    if _cooperating[0] and not STOP.is_set():
        _between_batches.append(kind)
        STOP.set()
        return True
    return False


def stopped_by() -> type[BaseException]:
    """What the request to stop was (`KeyboardInterrupt` or `Terminated`), to raise once the
    command has stopped."""
    return _between_batches[0] if _between_batches else KeyboardInterrupt


def _set_debug(value: bool) -> bool:
    global _debug  # noqa: PLW0603 (one process-wide switch for tracebacks)
    _debug = _debug or value
    return value


def debug_enabled() -> bool:
    return _debug


StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="CIVLEDGER_STORE",
        metavar="URL",
        callback=not_empty,
        help="Event store URL: sqlite:///FILE (default sqlite:///civledger.sqlite) "
        "or postgresql://user[:password]@host[:port]/dbname.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")]
DebugOpt = Annotated[
    bool,
    typer.Option("--debug", help="Show the traceback of an unexpected error.", callback=_set_debug),
]
ClerkOpt = Annotated[
    str | None,
    typer.Option(envvar="CIVLEDGER_CLERK", help="Clerk recording the act.", show_default=False),
]
OfficeOpt = Annotated[
    str | None,
    typer.Option(
        envvar="CIVLEDGER_OFFICE", help="Office where the act is recorded.", show_default=False
    ),
]
ReferenceOpt = Annotated[
    str,
    typer.Option(help="The act's reference: certificate, register entry or decision number."),
]


def open_register(
    store: str | None,
    events_from: str | None = None,
    *,
    duplicates: PossibleDuplicates | None = None,
) -> CivilRegister:
    """The register on `store`; queries read events from `events_from` when it is given;
    `duplicates` answers the possible-duplicate check of a birth (none: no check)."""
    return CivilRegister(store, events_from=events_from, duplicates=duplicates)


def open_reader(store: str | None, events_from: str | None = None) -> RegisterReader:
    """The register's queries over the event log, opened read-only: `events_from` (a replica)
    when given, and then the primary is never connected to, so reads keep working while it is
    down. No write application is booted and nothing is created: a SQLite store that does not
    exist, or a database without the civledger log, is refused (exit 1)."""
    if events_from:
        return RegisterReader(EventLog(events_from, role="events source"))
    return RegisterReader(EventLog(store))


def clerking(clerk: str | None, office: str | None, reference: str) -> Clerking:
    if not clerk:
        raise InvalidInput("a clerk is required: --clerk or CIVLEDGER_CLERK")
    if not office:
        raise InvalidInput("an office is required: --office or CIVLEDGER_OFFICE")
    return Clerking.parse(clerk=clerk, office=office, reference=reference)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def answer_write(
    json_out: bool, document: Callable[[], dict[str, Any]], already_recorded: bool, summary: str
) -> None:
    """The answer to a write: with `--json`, its document and whether the act was already
    recorded (an identical retry: nothing written); for people, `summary`, after a remark when
    it was already recorded."""
    if json_out:
        emit_json({**document(), "already_recorded": already_recorded})
        return
    if already_recorded:
        note("this act was already recorded; nothing was written")
    typer.echo(summary)


def note(message: str) -> None:
    """A remark for people, on stderr, so stdout stays parseable."""
    sys.stderr.write(f"civledger: {message}\n")


ViewsOpt = Annotated[
    str | None,
    typer.Option(
        "--views",
        envvar="CIVLEDGER_VIEWS",
        metavar="URL",
        callback=not_empty,
        help="Database URL for the read models (default: the store's own database).",
        show_default=False,
    ),
]
EventsFromOpt = Annotated[
    str | None,
    typer.Option(
        "--events-from",
        envvar="CIVLEDGER_EVENTS_FROM",
        metavar="URL",
        callback=not_empty,
        help="Read events from this URL, e.g. a streaming replica (default: the store).",
        show_default=False,
    ),
]
NoCatchUpOpt = Annotated[
    bool,
    typer.Option(
        "--no-catch-up", help="Answer from the read models as they are (for read replicas)."
    ),
]
