"""Read-model commands: `projections status|catch-up|rebuild|follow|digest`, `report`, `verify`,
`find`. Read models live in the store's database unless `--views` names another one; events are
read from the store unless `--events-from` names a replica."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer

from cli.options import FIND_LIMIT_MAX, PROJECTION_BATCH_MAX, between, whole_number
from cli.progress import ProgressBar
from cli.runtime import (
    DebugOpt,
    EventsFromOpt,
    JsonOpt,
    NoCatchUpOpt,
    StoreOpt,
    ViewsOpt,
    emit_json,
    note,
)
from domain.errors import InvalidInput
from domain.values import clean_text, parse_date, parse_person_ref, parse_province, visible
from infrastructure.eventlog import NoEventLog, holds_civledger_log
from infrastructure.store_url import store_from_env
from projections.engine import BATCH_SIZE, PROJECTION_NAMES, Engine
from projections.queries import FIND_LIMIT, ReadModels
from projections.source import EventSource
from projections.views import ViewDatabase, database_errors


def _known_name(name: str | None) -> str | None:
    """Refuse an unknown projection name before any database is opened."""
    if name is not None and name not in PROJECTION_NAMES:
        known = ", ".join(PROJECTION_NAMES)
        raise InvalidInput(f"no projection named {name!r}; known: {known}")
    return name


NameArg = Annotated[
    str | None,
    typer.Argument(
        help=f"One projection: {', '.join(PROJECTION_NAMES)} (default: all).",
        show_default=False,
        callback=_known_name,
    ),
]
BatchOpt = Annotated[
    int,
    typer.Option(
        "--batch-size",
        metavar="N",
        parser=whole_number,
        callback=between(1, PROJECTION_BATCH_MAX),
        help=f"Events read and written per transaction, 1 to {PROJECTION_BATCH_MAX}.",
    ),
]


@contextmanager
def opened(
    store: str | None,
    views: str | None,
    events_from: str | None,
    *,
    events: bool = True,
    build: bool = False,
) -> Iterator[Engine]:
    """An engine over the read models, reading events unless `events` is False.

    The event log is only ever read: a SQLite store (or events source) that does not exist, or
    a database without the civledger log, is refused (exit 1) and nothing is created there.
    With `build` (the commands that build models) the models' tables are created in the views
    database if they are missing; without it nothing is written at all: a views file that does
    not exist is refused, and models not built yet read as empty."""
    store_url = store_from_env(store)
    source = None
    if events:
        if events_from:
            source = EventSource.open(store_from_env(events_from), role="events source")
        else:
            source = EventSource.open(store_url)
    elif not views and not holds_civledger_log(store_url.must_exist()):
        # The models would be read from the store's own database: refuse one that is not a
        # civledger store, as a command reading its events would.
        raise NoEventLog(f"store {store_url.redacted()} holds no civledger log")
    try:
        views_url = views or store_url.must_exist()
        database = ViewDatabase.open(views_url, create=build)
        try:
            yield Engine(source, database, create_tables=build)
        finally:
            database.close()
    finally:
        if source is not None:
            source.close()


def _catch_up_first(engine: Engine, no_catch_up: bool, *models: str) -> None:
    """Bring up to date the models the answer reads, and only those (a model that must be
    rebuilt after an upgrade does not stop a question that does not read it)."""
    if not no_catch_up:
        for model in models:
            engine.catch_up(model)


def _report_text(report: dict[str, Any]) -> str:
    labels = [
        ("people", "people (every record)"),
        ("active_id_numbers", "active ID numbers"),
        ("cancelled_id_numbers", "cancelled ID numbers"),
        ("deceased", "deceased"),
        ("renounced", "renounced nationality"),
        ("merged_duplicates", "merged duplicates"),
        ("without_id_number", "without an ID number"),
    ]
    lines = [f"{label:<28} {report[key]:>12,}" for key, label in labels]
    if "births_since" in report:
        lines.append(f"{'births registered since':<28} {report['births_since']:>12,}")
    lines.append("record changes by kind")
    lines += [f"  {kind:<26} {n:>12,}" for kind, n in report["record_changes"].items()]
    if not report["record_changes"]:
        lines.append("  (none)")
    lines.append("active ID numbers by province")
    from domain.reference import REFERENCE

    lines += [
        f"  {code} {REFERENCE.name_of(code) or '':<22} {n:>12,}"
        for code, n in report["by_province"].items()
    ]
    if not report["by_province"]:
        lines.append("  (none)")
    residence = [
        ("numbers_in_service", "numbers in service"),
        ("households", "households"),
        ("households_without_head", "households without a head"),
        ("permanent_residents", "permanent residents"),
        ("temporary_residents", "temporary residents"),
        ("without_permanent_residence", "without permanent residence"),
        ("unconfirmed", "records not yet confirmed"),
        ("proposed_for_deletion", "proposed for deletion"),
    ]
    lines.append("residence and record cleaning")
    lines += [f"  {label:<28} {report[key]:>10,}" for key, label in residence if key in report]
    special = report.get("special_cases") or {}
    if special:
        lines.append("special cases")
        lines += [f"  {key.replace('_', ' '):<48} {n:>6,}" for key, n in special.items()]
    cards = report.get("cards") or {}
    if cards:
        lines.append("identity cards and electronic identities")
        lines += [f"  {key.replace('_', ' '):<48} {n:>10,}" for key, n in cards.items()]
    return "\n".join(lines)


def _find_lines(found: list[dict[str, Any]]) -> list[str]:
    """One line per candidate, in columns as wide as their widest value: number, name, date
    and province of birth, status, person id, then any cancelled numbers."""
    rows = [
        (
            person["id_number"] or "(no number)",
            person["name"],
            f"born {person['born']} in {person['birth_province']}",
            person["status"],
            f"[{person['person_id']}]",
            ", ".join(person["cancelled_id_numbers"]),
        )
        for person in found
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + f"  {row[4]}"
        + (f"  cancelled: {row[5]}" if row[5] else "")
        for row in rows
    ]


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="projections",
        help=f"Build, check and follow the read models ({', '.join(PROJECTION_NAMES)}).",
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.add_typer(group)

    @group.command("status")
    def status(
        name: NameArg = None,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Per projection: its position, the head of the log, and the lag.

        With --events-from (a replica), head and lag are the replica's, and primary_head and
        primary_lag are measured against the store (the primary) as well.
        """
        with opened(store, views, events_from) as engine:
            rows = engine.status(name)
        primary = None
        if events_from and events_from != str(store_from_env(store).url):
            source = EventSource.open(store_from_env(store))
            try:
                primary = source.head()
            finally:
                source.close()
        if json_out:
            document = {
                s.name: {"position": s.position, "head": s.head, "lag": s.lag} for s in rows
            }
            if primary is not None:
                for s in rows:
                    document[s.name].update(
                        primary_head=primary, primary_lag=max(primary - s.position, 0)
                    )
            emit_json(document)
            return
        columns = f"{'projection':<12} {'position':>12} {'head':>12} {'lag':>12}"
        if primary is not None:
            columns += f" {'primary head':>14} {'primary lag':>12}"
        typer.echo(columns)
        for s in rows:
            line = f"{s.name:<12} {s.position:>12,} {s.head:>12,} {s.lag:>12,}"
            if primary is not None:
                line += f" {primary:>14,} {max(primary - s.position, 0):>12,}"
            typer.echo(line)

    @group.command("catch-up")
    def catch_up(
        name: NameArg = None,
        batch_size: BatchOpt = BATCH_SIZE,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Apply the events recorded since each projection's position."""
        bar = ProgressBar(f"catching up {name or 'all'}", sys.stderr.isatty() and not json_out)
        with opened(store, views, events_from, build=True) as engine:
            engine.batch_size = batch_size
            try:
                positions = engine.catch_up(name, progress=bar)
            finally:
                bar.close()
        if json_out:
            emit_json({n: {"position": p} for n, p in positions.items()})
            return
        for projection, position in positions.items():
            typer.echo(f"{projection}: at position {position:,}")

    @group.command("rebuild")
    def rebuild(
        name: NameArg = None,
        batch_size: BatchOpt = BATCH_SIZE,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Rebuild from the first event into fresh tables, then swap them in atomically."""
        bar = ProgressBar(f"rebuilding {name or 'all'}", sys.stderr.isatty() and not json_out)
        with opened(store, views, events_from, build=True) as engine:
            engine.batch_size = batch_size
            try:
                positions = engine.rebuild(name, progress=bar)
            finally:
                bar.close()
        if json_out:
            emit_json({n: {"position": p, "rebuilt": True} for n, p in positions.items()})
            return
        for projection, position in positions.items():
            typer.echo(f"{projection}: rebuilt, at position {position:,}")

    @group.command("follow")
    def follow(
        batch_size: BatchOpt = BATCH_SIZE,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Keep every read model current until interrupted (Ctrl-C or SIGTERM exits cleanly)."""
        stop = threading.Event()

        def interrupt(signum: int, frame: FrameType | None) -> None:
            # The first Ctrl-C or SIGTERM stops after the batch being written (each commits
            # whole), without breaking off a query; a second one interrupts at once.
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()

        previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
        with opened(store, views, events_from, build=True) as engine:
            engine.batch_size = batch_size
            if not json_out:
                note("following the event log; Ctrl-C stops")
            try:
                engine.follow(stop, on_batch=None)
            except KeyboardInterrupt:
                engine.reopen_views()  # a query broken off leaves its connection unusable
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)
            with database_errors(engine.views.url.redacted()):
                positions = engine.views.positions()
        final = {n: positions.get(n, 0) for n in PROJECTION_NAMES}
        if json_out:
            emit_json({n: {"position": p} for n, p in final.items()})
        else:
            note("stopped; " + ", ".join(f"{n} at {p:,}" for n, p in final.items()))

    @group.command("digest")
    def digest(
        name: NameArg = None,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """A SHA-256 of each model's canonical contents, to compare replicas or runs."""
        with opened(store, views, None, events=False) as engine:
            digests = engine.digest(name)
        if json_out:
            emit_json(digests)
            return
        for projection, value in digests.items():
            typer.echo(f"{projection:<12} {value}")

    @app.command("report")
    def report(
        since: Annotated[
            str | None,
            typer.Option(help="Also count births registered on or after this date (YYYY-MM-DD)."),
        ] = None,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        no_catch_up: NoCatchUpOpt = False,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """The register's statistics: a readable table, or --json."""
        since_date = parse_date(since, "--since") if since is not None else None
        catching_up = not no_catch_up
        with opened(store, views, events_from, events=catching_up, build=catching_up) as engine:
            _catch_up_first(engine, no_catch_up, "statistics", "cards")
            with database_errors(engine.views.url.redacted()):
                document = ReadModels(engine.views).report(since_date)
        if json_out:
            emit_json(document)
        else:
            typer.echo(_report_text(document))

    @app.command("verify")
    def verify(
        id: Annotated[
            str,
            typer.Argument(help="A 12-digit personal ID number or a person UUID to verify."),
        ],
        name: Annotated[str, typer.Option(help="Full name (case and diacritics are ignored).")],
        born: Annotated[str, typer.Option(help="Date of birth, YYYY-MM-DD.")],
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        no_catch_up: NoCatchUpOpt = False,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Check an ID number or a person UUID against a name and date of birth (an unknown ID
        is no error)."""
        ref = parse_person_ref(id)
        full_name = clean_text(name, "name")
        born_on = parse_date(born, "date of birth")
        catching_up = not no_catch_up
        with opened(store, views, events_from, events=catching_up, build=catching_up) as engine:
            _catch_up_first(engine, no_catch_up, "people", "id_numbers")
            with database_errors(engine.views.url.redacted()):
                answer = ReadModels(engine.views).verify(ref, full_name, born_on)
        if json_out:
            emit_json(answer)
        else:
            verdict = "match" if answer["match"] else "no match"
            typer.echo(f"{ref}: {verdict}; status {answer['status']}")

    @app.command("find")
    def find(
        name: Annotated[str, typer.Option(help="Name words (case and diacritics are ignored).")],
        born: Annotated[str | None, typer.Option(help="Date of birth, YYYY-MM-DD.")] = None,
        province: Annotated[
            str | None, typer.Option(help="Three-digit code of the birth province.")
        ] = None,
        limit: Annotated[
            int,
            typer.Option(
                metavar="N",
                parser=whole_number,
                callback=between(1, FIND_LIMIT_MAX),
                help=f"Most candidates to list, 1 to {FIND_LIMIT_MAX}.",
            ),
        ] = FIND_LIMIT,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        no_catch_up: NoCatchUpOpt = False,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Candidate records whose name holds every given word, with their ID numbers."""
        words = clean_text(name, "name")
        born_on = parse_date(born, "date of birth") if born is not None else None
        code = parse_province(province) if province is not None else None
        catching_up = not no_catch_up
        with opened(store, views, events_from, events=catching_up, build=catching_up) as engine:
            _catch_up_first(engine, no_catch_up, "people")
            with database_errors(engine.views.url.redacted()):
                found = ReadModels(engine.views).find(words, born_on, code, limit)
        if json_out:
            emit_json(found)
            return
        if not found:
            note("no candidates")
        for line in _find_lines(found):
            typer.echo(visible(line))
