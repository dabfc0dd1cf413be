"""Identity cards read back: `card show` (one person's cards) and `cards due` (who must renew
by when). Both answer from the `cards` read model, caught up first; `card show --as-at` or
`--as-of` replays the person from the ledger instead, as the record stood then."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.options import FIND_LIMIT_MAX, between, whole_number
from cli.projections import opened
from cli.runtime import (
    DebugOpt,
    EventsFromOpt,
    JsonOpt,
    NoCatchUpOpt,
    StoreOpt,
    ViewsOpt,
    emit_json,
    note,
    open_reader,
)
from domain.values import (
    SystemClock,
    parse_date,
    parse_person_ref,
    parse_province,
    parse_timestamp,
    today_of,
    visible,
)
from projections.card_queries import DUE_LIMIT, card_document, cards_due
from projections.views import database_errors

IdArg = Annotated[
    str,
    typer.Argument(
        metavar="ID", help="A 12-digit personal ID number (current or cancelled) or a person UUID."
    ),
]


def card_text(document: dict[str, Any]) -> str:
    """`card show` for people: the status, the current card, then every card, newest first."""
    lines = [
        f"ID number  {document['id_number'] or '(none)'}",
        f"status     {document['status'].replace('_', ' ')}",
    ]
    if document.get("withheld"):
        lines.append(f"withheld   {document['withheld'].replace('_', ' ')}")
    cards = document["cards"]
    if not cards:
        lines.append("no card was ever issued")
    for number, card in enumerate(cards):
        label = "current card" if number == 0 and card["ended_by"] is None else "card"
        ended = ""
        if card["ended_by"] is not None:
            ended = f"; {card['ended_by']} on {card['ended_on']}"
            if card.get("revocation_ground"):
                ended += f" ({card['revocation_ground'].replace('_', ' ')})"
        lines.append(
            f"{label}: issued {card['issued_on']} ({card['reason'].replace('_', ' ')}), "
            f"expires {card['expires_on'] or 'never'}{ended}"
        )
        lines.append(
            f"  {card['name']}, born {card['born']}, {card['sex']}, "
            f"number {card['id_number'] or '(none)'}"
        )
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    card = typer.Typer(
        name="card",
        help="One person's identity cards.",
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    cards = typer.Typer(
        name="cards",
        help="Identity cards across the register.",
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.add_typer(card)
    app.add_typer(cards)

    @card.command("show")
    def show(
        id: IdArg,
        as_at: Annotated[
            str | None,
            typer.Option(
                "--as-at",
                metavar="DATE",
                help="Valid time: the cards as legally true on this date (YYYY-MM-DD), with "
                "the status on that date; replays the person from the ledger.",
                show_default=False,
            ),
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                metavar="TIMESTAMP",
                help="Record time: the cards as the register said at this ISO 8601 timestamp "
                "(a naive time is UTC); replays the person from the ledger.",
                show_default=False,
            ),
        ] = None,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        no_catch_up: NoCatchUpOpt = False,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """The person's card status, current card and every earlier one (status on today,
        or on the --as-at date)."""
        moment = parse_timestamp(as_of, "--as-of") if as_of is not None else None
        day = parse_date(as_at, "--as-at") if as_at is not None else None
        ref = parse_person_ref(id)
        on = day or today_of(SystemClock())
        if moment is not None or day is not None:
            reader = open_reader(store, events_from)
            try:
                person = reader.person(ref, as_of=moment, as_at=day)
                document = dict(person.card_document(on))
            finally:
                reader.close()
        else:
            catching_up = not no_catch_up
            with opened(store, views, events_from, events=catching_up, build=catching_up) as engine:
                if catching_up:
                    engine.catch_up("id_numbers")
                    engine.catch_up("cards")
                with database_errors(engine.views.url.redacted()):
                    document = card_document(engine.views, ref, on)
        if json_out:
            emit_json(document)
        else:
            # Each line is made visible alone: the line breaks are the layout's own.
            typer.echo("\n".join(visible(line) for line in card_text(document).splitlines()))

    @cards.command("due")
    def due(
        by: Annotated[
            str,
            typer.Option("--by", metavar="DATE", help="List renewals owed on or before this date."),
        ],
        province: Annotated[
            str | None,
            typer.Option(metavar="PPP", help="Three-digit code of the birth province."),
        ] = None,
        limit: Annotated[
            int,
            typer.Option(
                metavar="N",
                parser=whole_number,
                callback=between(1, FIND_LIMIT_MAX),
                help=f"Most holders to list, 1 to {FIND_LIMIT_MAX}.",
            ),
        ] = DUE_LIMIT,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        no_catch_up: NoCatchUpOpt = False,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Holders who must renew by DATE (the card expires, or no longer matches the
        record), soonest first."""
        by_day = parse_date(by, "--by")
        code = parse_province(province) if province is not None else None
        catching_up = not no_catch_up
        with opened(store, views, events_from, events=catching_up, build=catching_up) as engine:
            if catching_up:
                engine.catch_up("cards")
            with database_errors(engine.views.url.redacted()):
                found = cards_due(engine.views, by_day, code, limit)
        if json_out:
            emit_json(found)
            return
        if not found:
            note(f"no renewal owed by {by_day}")
        for holder in found:
            typer.echo(
                visible(
                    f"{holder['due']}  {holder['id_number'] or holder['person_id']}  "
                    f"{holder['reason'].replace('_', ' '):<16}  {holder['name']}"
                )
            )
