"""Residence, households and record cleaning: the clerk's (and the police's) commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from application.register import ActOutcome
from application.residence_queries import ResidenceReader
from cli.options import choices
from cli.runtime import (
    ClerkOpt,
    DebugOpt,
    EventsFromOpt,
    JsonOpt,
    OfficeOpt,
    ReferenceOpt,
    StoreOpt,
    answer_write,
    clerking,
    emit_json,
    open_reader,
    open_register,
)
from domain.commands import (
    ChangeHead,
    Command,
    ConfirmRecord,
    DeclareAbode,
    EndResidence,
    ExtendResidence,
    ProposeDeletion,
    RegisterResidence,
    SplitHousehold,
    WithdrawDeletionProposal,
)
from domain.residence import JOINING_RELATIONS, PERMANENT_GROUNDS, TEMPORARY_GROUNDS
from domain.values import SystemClock, parse_date, parse_person_ref, parse_timestamp, today_of

IdArg = Annotated[
    str,
    typer.Argument(
        metavar="ID", help="A 12-digit personal ID number (current or cancelled) or a person UUID."
    ),
]
HouseholdArg = Annotated[
    str,
    typer.Argument(metavar="HH", help="The household number the register gave: HK and ten digits."),
]
KindOpt = Annotated[
    str, typer.Option("--kind", metavar="[permanent|temporary]", help="permanent or temporary.")
]
EffectiveOpt = Annotated[
    str | None,
    typer.Option("--effective", help="Legal date of the act, YYYY-MM-DD (default today)."),
]
GROUNDS = choices(sorted({*PERMANENT_GROUNDS, *TEMPORARY_GROUNDS}))


def _write(
    command: Command, clerk: str | None, office: str | None, reference: str, store: str | None
) -> ActOutcome:
    return open_register(store).execute(command, clerking(clerk, office, reference))


def _person_answer(outcome: ActOutcome, json_out: bool, summary: str) -> None:
    person = outcome.person

    def document() -> dict[str, Any]:
        return {
            "person_id": str(person.id),
            "id_number": person.id_number,
            **person.residence_document(today_of(SystemClock())),
            "household": outcome.household or person.household,
        }

    answer_write(json_out, document, outcome.already_recorded, summary)


def _household_answer(outcome: ActOutcome, json_out: bool, summary: str) -> None:
    def document() -> dict[str, Any]:
        return {"household": outcome.household, "head": outcome.person.display_id}

    answer_write(json_out, document, outcome.already_recorded, summary)


def register(app: typer.Typer) -> None:
    @app.command("register-residence")
    def register_residence(
        id: IdArg,
        kind: KindOpt,
        commune: Annotated[str, typer.Option(help="Official commune code, in force on the date.")],
        address: Annotated[str, typer.Option(help="The address within the commune.")],
        reference: ReferenceOpt,
        until: Annotated[
            str | None, typer.Option(help="End of a temporary residence (at most 2 years).")
        ] = None,
        new_household: Annotated[
            bool,
            typer.Option("--new-household", help="Set up a new household; the person heads it."),
        ] = False,
        household: Annotated[
            str | None, typer.Option(metavar="HH", help="Join this household (permanent only).")
        ] = None,
        relation: Annotated[
            str | None,
            typer.Option(
                metavar=choices(JOINING_RELATIONS), help="Relation to the household's head."
            ),
        ] = None,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Register a permanent (thường trú) or temporary (tạm trú) residence.

        A permanent residence needs --new-household (the person becomes its head) or
        --household HH --relation R; it ends the previous one in the same act. A temporary one
        needs --until, at most 2 years ahead, in another commune than the permanent one."""
        act = RegisterResidence.parse(
            person=id,
            kind=kind,
            commune=commune,
            address=address,
            until=until,
            new_household=new_household,
            household=household,
            relation=relation,
            effective=effective,
        )
        outcome = _write(act, clerk, office, reference, store)
        where = f" in household {outcome.household}" if outcome.household else ""
        _person_answer(
            outcome, json_out, f"{outcome.person.display_id}: {kind} residence registered{where}"
        )

    @app.command("end-residence")
    def end_residence(
        id: IdArg,
        kind: KindOpt,
        ground: Annotated[str, typer.Option(metavar=GROUNDS, help="Art. 24(1) or 29(1) ground.")],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Deregister a residence on a ground of Art. 24(1) (permanent) or 29(1) (temporary)."""
        act = EndResidence.parse(person=id, kind=kind, ground=ground, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _person_answer(outcome, json_out, f"{outcome.person.display_id}: {kind} residence ended")

    @app.command("extend-residence")
    def extend_residence(
        id: IdArg,
        until: Annotated[str, typer.Option(help="New end, at most 2 years from the extension.")],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Extend a temporary residence (at most 2 years from the extension)."""
        act = ExtendResidence.parse(person=id, until=until, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _person_answer(
            outcome, json_out, f"{outcome.person.display_id}: temporary residence until {until}"
        )

    @app.command("declare-abode")
    def declare_abode(
        id: IdArg,
        commune: Annotated[str, typer.Option(help="Official commune code, in force on the date.")],
        address: Annotated[str, typer.Option(help="Where the person lives.")],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Declare a current abode (Art. 19), for a person with no permanent or temporary
        residence."""
        act = DeclareAbode.parse(person=id, commune=commune, address=address, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _person_answer(outcome, json_out, f"{outcome.person.display_id}: current abode declared")

    @app.command("confirm-record")
    def confirm_record(
        id: IdArg,
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Record that the police checked and confirmed the record (it is cleaned)."""
        outcome = _write(
            ConfirmRecord.parse(person=id, effective=effective), clerk, office, reference, store
        )
        _person_answer(outcome, json_out, f"{outcome.person.display_id}: record confirmed")

    @app.command("propose-deletion")
    def propose_deletion(
        id: IdArg,
        reason: Annotated[str, typer.Option(help="Why the local police propose to delete it.")],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Record a local police proposal to delete the record."""
        act = ProposeDeletion.parse(person=id, reason=reason, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _person_answer(outcome, json_out, f"{outcome.person.display_id}: deletion proposed")

    @app.command("withdraw-deletion-proposal")
    def withdraw_deletion_proposal(
        id: IdArg,
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Withdraw a pending proposal to delete the record."""
        act = WithdrawDeletionProposal.parse(person=id, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _person_answer(
            outcome, json_out, f"{outcome.person.display_id}: deletion proposal withdrawn"
        )

    @app.command("verify-head")
    def verify_head(
        id: IdArg,
        head: Annotated[str, typer.Option(metavar="ID", help="The person who may head it.")],
        store: StoreOpt = None,
        events_from: EventsFromOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Is the second person the head of the first person's household now? Exit 0 either
        way; an unknown ID is exit 4."""
        parse_person_ref(head)
        match = ResidenceReader(open_reader(store, events_from)).is_head_of(
            parse_person_ref(id), head
        )
        if json_out:
            emit_json({"match": match})
        else:
            typer.echo("match" if match else "no match")

    household_app = typer.Typer(
        help="Households: show one, change its head, split it.", no_args_is_help=True
    )
    app.add_typer(household_app, name="household")

    @household_app.command("show")
    def household_show(
        household: HouseholdArg,
        as_at: Annotated[
            str | None,
            typer.Option(
                "--as-at", help="The household as legally true on this date.", show_default=False
            ),
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of", help="The household as the register said it then.", show_default=False
            ),
        ] = None,
        store: StoreOpt = None,
        events_from: EventsFromOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Show a household: its address, head and members with their relation."""
        day = parse_date(as_at, "--as-at") if as_at is not None else None
        moment = parse_timestamp(as_of, "--as-of") if as_of is not None else None
        from domain.residence import HouseholdNumber

        number = HouseholdNumber.parse(household)
        reader = ResidenceReader(open_reader(store, events_from))
        document = reader.household_document(number, as_of=moment, as_at=day)
        if json_out:
            emit_json(document)
            return
        lines = [
            f"household {document['household']}",
            f"  address  {document['address']} (commune {document['commune']})",
            f"  head     {document['head'] or '(none)'}",
        ]
        width = max((len(m["id"]) for m in document["members"]), default=0)
        lines += [
            f"  member   {m['id']:<{width}}  {m['relation']:<14}  {m['name'] or ''}".rstrip()
            for m in document["members"]
        ]
        typer.echo("\n".join(lines))

    @household_app.command("change-head")
    def household_change_head(
        household: HouseholdArg,
        head: Annotated[str, typer.Option(metavar="ID", help="An adult member, the new head.")],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Name an adult member the head of the household (Art. 26)."""
        act = ChangeHead.parse(household=household, head=head, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _household_answer(
            outcome, json_out, f"household {outcome.household}: head {outcome.person.display_id}"
        )

    @household_app.command("split")
    def household_split(
        household: HouseholdArg,
        members: Annotated[
            str, typer.Option(metavar="ID[,ID…]", help="The members who move to the new household.")
        ],
        head: Annotated[str, typer.Option(metavar="ID", help="One of them, the new head.")],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Split members off into a new household at the same address (Art. 25)."""
        act = SplitHousehold.parse(
            household=household, members=members, head=head, effective=effective
        )
        outcome = _write(act, clerk, office, reference, store)
        _household_answer(
            outcome,
            json_out,
            f"new household {outcome.household}: head {outcome.person.display_id}",
        )
