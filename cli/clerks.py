"""`civledger admin clerk`: enrol, retire and list the clerks, one PostgreSQL login each."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from application.clerks import ClerkRoster, list_clerks
from cli.runtime import DebugOpt, JsonOpt, StoreOpt, emit_json, open_reader, open_register
from domain.clerks import Enrolment
from domain.errors import InvalidInput
from domain.values import visible
from infrastructure.store_url import store_from_env

LoginArg = Annotated[
    str,
    typer.Argument(
        metavar="LOGIN", help="The clerk's PostgreSQL login: lower-case letters, digits, _."
    ),
]


def enrolment_document(enrolment: Enrolment) -> dict[str, Any]:
    return {
        "login": enrolment.login,
        "name": enrolment.name,
        "office": enrolment.office,
        "since": enrolment.since.isoformat(),
        "enrolled_by": enrolment.enrolled_by,
        "retired_on": enrolment.retired_on.isoformat() if enrolment.retired_on else None,
        "active": enrolment.active,
    }


def enrolment_text(enrolment: Enrolment) -> str:
    until = f", retired on {enrolment.retired_on}" if enrolment.retired_on else ""
    return visible(
        f"{enrolment.login}: {enrolment.name} @ {enrolment.office}, since {enrolment.since} "
        f"(enrolled by {enrolment.enrolled_by}){until}"
    )


def _postgres(store: str | None) -> str | None:
    """`store`, refused before anything is opened (or created) when it is SQLite."""
    if store_from_env(store).is_sqlite:
        raise InvalidInput(
            "clerks' logins need PostgreSQL: SQLite has no logins, and its acts are recorded "
            "as not verified (see docs/security.md)"
        )
    return store


def register(admin: typer.Typer) -> None:
    clerk = typer.Typer(
        name="clerk", help="Clerks: one PostgreSQL login each.", no_args_is_help=True
    )
    admin.add_typer(clerk, name="clerk")

    @clerk.command("enrol")
    def enrol(
        login: LoginArg,
        name: Annotated[
            str, typer.Option("--name", help="The clerk's full name, as acts name it.")
        ],
        office: Annotated[str, typer.Option("--office", help="The office the clerk records for.")],
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Record LOGIN's enrolment as a clerk of an office, then create the login role (if it
        is not there) as a member of civledger_clerk; run it as the tables' owner. Acts
        appended through LOGIN must then name this clerk and office. Its password is set
        apart (ALTER ROLE, or the server's own authentication: docs/security.md)."""
        from audit.log import TABLES, MerkleLogProjection

        register = open_register(_postgres(store))
        try:
            roster = ClerkRoster(register, register)
            register.init_schema()
            MerkleLogProjection(register).ensure_tables()
            recorder: Any = register.recorder
            recorder.create_roles(readable_tables=TABLES)
            enrolment, recorded = roster.enrol(login, name, office)
        finally:
            register.close()
        if json_out:
            emit_json({**enrolment_document(enrolment), "already_enrolled": not recorded})
            return
        if not recorded:
            typer.echo(
                f"civledger: {login} was already enrolled alike; nothing was written", err=True
            )
        typer.echo(enrolment_text(enrolment))

    @clerk.command("retire")
    def retire(
        login: LoginArg,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Take LOGIN's membership of civledger_clerk (the database then refuses its appends,
        even through the append function), then record the retirement."""
        register = open_register(_postgres(store))
        try:
            enrolment = ClerkRoster(register, register).retire(login)
        finally:
            register.close()
        if json_out:
            emit_json(enrolment_document(enrolment))
        else:
            typer.echo(enrolment_text(enrolment))

    @clerk.command("list")
    def list_(store: StoreOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False) -> None:
        """List every enrolled or retired clerk's latest enrolment, by login."""
        reader = open_reader(store)
        try:
            found = list_clerks(reader.log)
        finally:
            reader.close()
        if json_out:
            emit_json([enrolment_document(e) for e in found])
        elif found:
            typer.echo("\n".join(enrolment_text(e) for e in found))
        else:
            typer.echo("no clerks enrolled")
