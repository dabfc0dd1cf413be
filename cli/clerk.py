"""The clerk's commands: record acts, show a person, list their history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, get_args

import typer

from application.clerks import attributed
from application.queries import RegisterReader
from application.register import ActOutcome
from application.residence_queries import ResidenceReader
from cli.options import choices
from cli.render import history_document, history_text, person_text
from cli.runtime import (
    ClerkOpt,
    DebugOpt,
    EventsFromOpt,
    JsonOpt,
    OfficeOpt,
    ReferenceOpt,
    StoreOpt,
    ViewsOpt,
    answer_write,
    clerking,
    emit_json,
    note,
    open_reader,
    open_register,
)
from domain.commands import (
    ChangeRecord,
    MergeDuplicate,
    RecordDeath,
    RegisterBirth,
    RenounceNationality,
)
from domain.errors import CivledgerError
from domain.events import ChangeField, ChangeKind
from domain.person import Person
from domain.values import (
    ENTERED_NATIONALITIES,
    Sex,
    SystemClock,
    parse_date,
    parse_person_ref,
    parse_timestamp,
    today_of,
)
from infrastructure.store_url import store_from_env

IdArg = Annotated[
    str,
    typer.Argument(
        metavar="ID",
        help="A 12-digit personal ID number (current or cancelled) or a person UUID.",
    ),
]
SEXES = choices(Sex)
NATIONALITIES = choices(ENTERED_NATIONALITIES)
FIELDS = choices(get_args(ChangeField))
KINDS = choices(get_args(ChangeKind))


def person_document(person: Person) -> dict[str, Any]:
    """The `show --json` document: the person's (`Person.as_document`), then the place of
    death. (The `people` read model, whose rows `find --json` prints, keeps no place of death.)"""
    return {**person.as_document(), "death_place": person.death_place}


def parents_of(reader: RegisterReader, person: Person) -> dict[str, str]:
    """The parents as a clerk knows them: their ID numbers now, or their person UUIDs when they
    hold none (or their record cannot be read: `show` is about this person, not them)."""
    named = {"father": person.father_id, "mother": person.mother_id}
    shown = {}
    for role, parent_id in named.items():
        if parent_id is None:
            continue
        try:
            shown[role] = reader.person(parent_id).display_id
        except CivledgerError:
            shown[role] = str(parent_id)
    return shown


def show_document(
    reader: RegisterReader,
    person: Person,
    *,
    as_of: datetime | None = None,
    as_at: date | None = None,
) -> dict[str, Any]:
    """The `show --json` document: the person's, the place of death, then (additively) the
    residence, household and record-cleaning keys, and the card and electronic identity, as
    the record stood `as_of`/`as_at` (a card's status is on `as_at`, else today)."""
    on = as_at or today_of(SystemClock())  # a temporary residence counts until its end
    residence = ResidenceReader(reader).person_residence(person, on, as_of=as_of, as_at=as_at)
    identity = {
        "card": person.card_document(on, with_cards=False),
        "eid": person.identity.eid_document(),
    }
    return {**person_document(person), **residence, **identity}


def _report(outcome: ActOutcome, json_out: bool, summary: str, reader: RegisterReader) -> None:
    """The answer to a write: the person's `show --json` document, or `summary`."""
    document = lambda: show_document(reader, outcome.person)  # noqa: E731 (built only for --json)
    answer_write(json_out, document, outcome.already_recorded, summary)


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(store: StoreOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False) -> None:
        """Create the store's schema (idempotent)."""
        register = open_register(store)
        register.init_schema()
        if json_out:
            emit_json({"store": register.store.redacted(), "initialised": True})
        else:
            typer.echo(f"initialised {register.store.redacted()}")

    @app.command("register-birth")
    def register_birth(
        name: Annotated[str, typer.Option(help="Full name, with diacritics.")],
        sex: Annotated[str, typer.Option(metavar=SEXES, help="Sex.")],
        born: Annotated[str, typer.Option(metavar="DATE", help="Date of birth, YYYY-MM-DD.")],
        province: Annotated[
            str,
            typer.Option(
                metavar="PPP", help="Three-digit code of the province registering the birth."
            ),
        ],
        reference: ReferenceOpt,
        nationality: Annotated[
            str, typer.Option(metavar=NATIONALITIES, help="Nationality at birth.")
        ] = "vietnamese",
        ethnicity: Annotated[str | None, typer.Option(help="Ethnicity.")] = None,
        place_of_birth: Annotated[str | None, typer.Option(help="Place of birth.")] = None,
        father: Annotated[
            str | None, typer.Option(metavar="ID", help="The father's ID number or UUID.")
        ] = None,
        mother: Annotated[
            str | None, typer.Option(metavar="ID", help="The mother's ID number or UUID.")
        ] = None,
        registered_on: Annotated[
            str | None,
            typer.Option(metavar="DATE", help="Date of the registration act (default today)."),
        ] = None,
        allow_possible_duplicate: Annotated[
            bool,
            typer.Option(
                "--allow-possible-duplicate",
                help="Record the birth even though a person with the same name, date of birth "
                "and birth province exists (it is a different person).",
            ),
        ] = False,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Register a birth (khai sinh) and assign a personal ID number.

        A birth that looks like a recorded person (same name ignoring case and diacritics, same
        date of birth and birth province) is refused (exit 3) unless --allow-possible-duplicate.
        """
        basis = clerking(clerk, office, reference)
        act = RegisterBirth.parse(
            name=name,
            sex=sex,
            born=born,
            province=province,
            nationality=nationality,
            ethnicity=ethnicity,
            place_of_birth=place_of_birth,
            father=father,
            mother=mother,
            registered_on=registered_on,
        )
        from domain.errors import CivledgerError
        from projections.queries import PossibleDuplicateFinder

        finder = PossibleDuplicateFinder(store_from_env(store), views)
        not_kept = None
        try:
            register = open_register(store, duplicates=finder)
            outcome = register.register_birth(
                act, basis, allow_possible_duplicate=allow_possible_duplicate
            )
            try:
                finder.catch_up()  # the act is recorded: the people model follows it
            except CivledgerError as error:
                not_kept = error.message  # the model catches up later
        finally:
            finder.close()
        if not_kept and not json_out:
            note(f"the people read model was not brought up to date: {not_kept}")
        if outcome.possible_duplicates and not json_out:
            shown = ", ".join(outcome.possible_duplicates)
            note(f"possible duplicate of {shown}; recorded as confirmed")
        person = outcome.person
        if person.id_number is None and not json_out:
            note(f"no ID number: nationality is {person.nationality.value}; printed the person id")
        _report(outcome, json_out, person.id_number or str(person.id), register.reader)

    @app.command("record-death")
    def record_death(
        id: IdArg,
        died_on: Annotated[str, typer.Option(metavar="DATE", help="Date of death, YYYY-MM-DD.")],
        reference: ReferenceOpt,
        place: Annotated[str | None, typer.Option(help="Place of death.")] = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Register a death (khai tử)."""
        basis = clerking(clerk, office, reference)
        act = RecordDeath.parse(person=id, died_on=died_on, place=place)
        register = open_register(store)
        outcome = register.record_death(act, basis)
        person = outcome.person
        _report(
            outcome, json_out, f"{person.display_id} deceased on {person.died_on}", register.reader
        )

    @app.command("renounce-nationality")
    def renounce_nationality(
        id: IdArg,
        effective: Annotated[
            str, typer.Option(metavar="DATE", help="Effective date of the decision.")
        ],
        reference: ReferenceOpt,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Record a renunciation of Vietnamese nationality (thôi quốc tịch)."""
        basis = clerking(clerk, office, reference)
        act = RenounceNationality.parse(person=id, effective=effective)
        register = open_register(store)
        outcome = register.renounce_nationality(act, basis)
        person = outcome.person
        summary = f"{person.display_id} renounced nationality on {person.renounced_on}"
        _report(outcome, json_out, summary, register.reader)

    @app.command("change-record")
    def change_record(
        id: IdArg,
        field: Annotated[
            str,
            typer.Option(
                metavar=FIELDS,
                help="The field to change.",
            ),
        ],
        value: Annotated[str, typer.Option(help="The new value.")],
        kind: Annotated[
            str,
            typer.Option(
                metavar=KINDS, help="The kind of change (the kinds each field allows: docs/cli.md)."
            ),
        ],
        reference: ReferenceOpt,
        effective: Annotated[
            str | None,
            typer.Option(metavar="DATE", help="Legal date of the change (default today)."),
        ] = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Change, correct, supplement or re-determine one field of a record."""
        basis = clerking(clerk, office, reference)
        act = ChangeRecord.parse(
            person=id, field=field, value=value, kind=kind, effective=effective
        )
        register = open_register(store)
        outcome = register.change_record(act, basis)
        summary = f"{outcome.person.display_id}: {field} is now {value}"
        if outcome.cancelled and outcome.assigned:
            summary += f"; ID number {outcome.cancelled} cancelled, {outcome.assigned} assigned"
        elif outcome.cancelled:
            summary += f"; ID number {outcome.cancelled} cancelled"
        elif outcome.assigned:
            summary += f"; ID number {outcome.assigned} assigned"
        _report(outcome, json_out, summary, register.reader)

    @app.command("merge-duplicate")
    def merge_duplicate(
        id: IdArg,
        into: Annotated[
            str,
            typer.Option(
                metavar="ID", help="The surviving record (the earliest number): ID or UUID."
            ),
        ],
        reference: ReferenceOpt,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Merge a duplicate into the record with the earliest number; its number is cancelled."""
        basis = clerking(clerk, office, reference)
        act = MergeDuplicate.parse(person=id, into=into)
        register = open_register(store)
        outcome = register.merge_duplicate(act, basis)
        person = outcome.person
        summary = (
            f"{outcome.cancelled or person.display_id} merged into "
            f"{person.as_document()['merged_into']}"
        )
        if outcome.cancelled:
            summary += f"; ID number {outcome.cancelled} cancelled"
        _report(outcome, json_out, summary, register.reader)

    @app.command("show")
    def show(
        id: IdArg,
        store: StoreOpt = None,
        events_from: EventsFromOpt = None,
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                metavar="TIMESTAMP",
                help="Record time: the record as the register said it at this ISO 8601 "
                "timestamp (a naive time is UTC); acts recorded later are ignored.",
                show_default=False,
            ),
        ] = None,
        as_at: Annotated[
            str | None,
            typer.Option(
                "--as-at",
                metavar="DATE",
                help="Valid time: the record as legally true on this date (YYYY-MM-DD); only "
                "acts with a legal date on or before it count, even if recorded later.",
                show_default=False,
            ),
        ] = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Show a person's record: now, --as-of a moment, --as-at a date, or both."""
        moment = parse_timestamp(as_of, "--as-of") if as_of is not None else None
        day = parse_date(as_at, "--as-at") if as_at is not None else None
        ref = parse_person_ref(id)
        reader = open_reader(store, events_from)
        person = reader.person(ref, as_of=moment, as_at=day)
        document = show_document(reader, person, as_of=moment, as_at=day)
        if moment is not None:
            document["as_of"] = moment.isoformat()
        if day is not None:
            document["as_at"] = day.isoformat()
        if json_out:
            emit_json(document)
        else:
            typer.echo(person_text(document, parents_of(reader, person)))

    @app.command("history")
    def history(
        id: IdArg,
        store: StoreOpt = None,
        events_from: EventsFromOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """List a person's events, oldest first, with positions in the global log."""
        reader = open_reader(store, events_from)
        entries = reader.history(parse_person_ref(id))
        attributions = attributed(reader, entries)
        if json_out:
            emit_json(history_document(entries, attributions))
        else:
            typer.echo(history_text(entries, attributions))
