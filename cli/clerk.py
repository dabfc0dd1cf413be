"""The clerk's commands: record acts, show a person, list their history."""

from __future__ import annotations

from typing import Annotated

import typer

from application.register import ActOutcome
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
from domain.values import parse_date, parse_person_ref, parse_timestamp

IdArg = Annotated[
    str,
    typer.Argument(help="A 12-digit personal ID number (current or cancelled) or a person UUID."),
]


def _report(outcome: ActOutcome, json_out: bool, summary: str) -> None:
    if json_out:
        emit_json(outcome.person.as_document())
        return
    if outcome.already_recorded:
        note("this act was already recorded; nothing was written")
    typer.echo(summary)


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
        sex: Annotated[str, typer.Option(help="male or female.")],
        born: Annotated[str, typer.Option(help="Date of birth, YYYY-MM-DD.")],
        province: Annotated[
            str, typer.Option(help="Three-digit code of the province registering the birth.")
        ],
        reference: ReferenceOpt,
        nationality: Annotated[
            str, typer.Option(help="vietnamese, undetermined or stateless.")
        ] = "vietnamese",
        ethnicity: Annotated[str | None, typer.Option(help="Ethnicity.")] = None,
        place_of_birth: Annotated[str | None, typer.Option(help="Place of birth.")] = None,
        father: Annotated[str | None, typer.Option(help="The father's ID number or UUID.")] = None,
        mother: Annotated[str | None, typer.Option(help="The mother's ID number or UUID.")] = None,
        registered_on: Annotated[
            str | None, typer.Option(help="Date of the registration act (default today).")
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

        register = open_register(store)
        finder = PossibleDuplicateFinder(register.store, views)
        not_kept = None
        try:
            register.duplicates = finder
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
        if finder.last and not outcome.already_recorded and not json_out:
            note(f"possible duplicate of {', '.join(finder.last)}; recorded as confirmed")
        person = outcome.person
        if person.id_number is None and not json_out:
            note(f"no ID number: nationality is {person.nationality.value}; printed the person id")
        _report(outcome, json_out, person.id_number or str(person.id))

    @app.command("record-death")
    def record_death(
        id: IdArg,
        died_on: Annotated[str, typer.Option(help="Date of death, YYYY-MM-DD.")],
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
        outcome = open_register(store).record_death(act, basis)
        person = outcome.person
        _report(outcome, json_out, f"{person.display_id} deceased on {person.died_on}")

    @app.command("renounce-nationality")
    def renounce_nationality(
        id: IdArg,
        effective: Annotated[str, typer.Option(help="Effective date of the decision.")],
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
        outcome = open_register(store).renounce_nationality(act, basis)
        person = outcome.person
        summary = f"{person.display_id} renounced nationality on {person.renounced_on}"
        _report(outcome, json_out, summary)

    @app.command("change-record")
    def change_record(
        id: IdArg,
        field: Annotated[
            str,
            typer.Option(
                help="name, sex, born, birth_province, ethnicity, nationality or place_of_birth."
            ),
        ],
        value: Annotated[str, typer.Option(help="The new value.")],
        kind: Annotated[
            str, typer.Option(help="change, correction, supplement or redetermination.")
        ],
        reference: ReferenceOpt,
        effective: Annotated[
            str | None, typer.Option(help="Legal date of the change (default today).")
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
        outcome = open_register(store).change_record(act, basis)
        summary = f"{outcome.person.display_id}: {field} is now {value}"
        if outcome.cancelled and outcome.assigned:
            summary += f"; ID number {outcome.cancelled} cancelled, {outcome.assigned} assigned"
        elif outcome.cancelled:
            summary += f"; ID number {outcome.cancelled} cancelled"
        elif outcome.assigned:
            summary += f"; ID number {outcome.assigned} assigned"
        _report(outcome, json_out, summary)

    @app.command("merge-duplicate")
    def merge_duplicate(
        id: IdArg,
        into: Annotated[
            str, typer.Option(help="The surviving record (the earliest number): ID or UUID.")
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
        outcome = open_register(store).merge_duplicate(act, basis)
        person = outcome.person
        summary = (
            f"{outcome.cancelled or person.display_id} merged into "
            f"{person.as_document()['merged_into']}"
        )
        if outcome.cancelled:
            summary += f"; ID number {outcome.cancelled} cancelled"
        _report(outcome, json_out, summary)

    @app.command("show")
    def show(
        id: IdArg,
        store: StoreOpt = None,
        events_from: EventsFromOpt = None,
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                help="Record time: the record as the register said it at this ISO 8601 "
                "timestamp (a naive time is UTC); acts recorded later are ignored.",
                show_default=False,
            ),
        ] = None,
        as_at: Annotated[
            str | None,
            typer.Option(
                "--as-at",
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
        person = open_reader(store, events_from).person(ref, as_of=moment, as_at=day)
        document = person.as_document()
        if moment is not None:
            document["as_of"] = moment.isoformat()
        if day is not None:
            document["as_at"] = day.isoformat()
        if json_out:
            emit_json(document)
        else:
            typer.echo(person_text(document))

    @app.command("history")
    def history(
        id: IdArg,
        store: StoreOpt = None,
        events_from: EventsFromOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """List a person's events, oldest first, with positions in the global log."""
        entries = open_reader(store, events_from).history(parse_person_ref(id))
        if json_out:
            emit_json(history_document(entries))
        else:
            typer.echo(history_text(entries))
