"""The verification service's commands: `serve`, `admin partner add|list|revoke|rotate` and
`access-log ID` (docs/service.md)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.options import whole_number
from cli.runtime import DebugOpt, EventsFromOpt, JsonOpt, StoreOpt, ViewsOpt, emit_json
from domain.errors import InvalidInput
from domain.partners import (
    PartnerPolicy,
    parse_fields,
    parse_scopes,
    partner_name,
)
from domain.values import IdNumber, parse_date, parse_person_ref
from infrastructure.access_log import AccessLogStore
from infrastructure.store_url import store_from_env

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8470
WORKERS_MAX = 64

NameArg = Annotated[str, typer.Argument(help="The partner's name, e.g. portal or bank.vcb.")]


def _admin_group(app: typer.Typer) -> typer.Typer:
    """The `admin` group `cli.admin` registered (partner commands join it)."""
    for group in app.registered_groups:
        if group.name == "admin" and group.typer_instance is not None:
            return group.typer_instance
    raise RuntimeError("register cli.admin before cli.service")


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
        port: Annotated[
            int, typer.Option(metavar="PORT", parser=whole_number, help="Port to listen on.")
        ] = DEFAULT_PORT,
        workers: Annotated[
            int,
            typer.Option(
                metavar="N", parser=whole_number, help=f"Worker processes, 1 to {WORKERS_MAX}."
            ),
        ] = 1,
        certfile: Annotated[
            Path | None, typer.Option(help="TLS certificate (PEM); needs --keyfile.")
        ] = None,
        keyfile: Annotated[
            Path | None, typer.Option(help="TLS private key (PEM); needs --certfile.")
        ] = None,
        store: StoreOpt = None,
        views: ViewsOpt = None,
        events_from: EventsFromOpt = None,
        debug: DebugOpt = False,
    ) -> None:
        """Run the verification service (HTTP, JSON) until interrupted. It reads events from
        --events-from and the models from --views (a replica is fine) and writes only its
        access log, to --store."""
        import uvicorn

        from service.app import CONFIG_VAR, ServiceSettings

        if not 1 <= port <= 65535:
            raise InvalidInput("--port: 1 to 65535")
        if not 1 <= workers <= WORKERS_MAX:
            raise InvalidInput(f"--workers: 1 to {WORKERS_MAX}")
        if (certfile is None) != (keyfile is None):
            raise InvalidInput("TLS needs both --certfile and --keyfile")
        for path in (certfile, keyfile):
            if path is not None and not path.is_file():
                raise InvalidInput(f"no file {path}")
        store_url = store_from_env(store).must_exist()
        events = store_from_env(events_from).must_exist() if events_from else store_url
        views_url = store_from_env(views) if views else store_url
        # The access log's tables, made once here rather than raced by the workers.
        AccessLogStore.open(store_url, create=True).close()
        settings = ServiceSettings(
            store=store_url.url, events=events.url, views=views_url.url, workers=workers
        )
        os.environ[CONFIG_VAR] = settings.to_env()
        uvicorn.run(
            "service.app:from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            access_log=False,  # request lines would carry ID numbers; the access log has them
            log_level="warning",
            server_header=False,
        )

    partner_app = typer.Typer(
        help="Partner agencies of the verification service: keys, scopes, fields and rates.",
        no_args_is_help=True,
    )
    _admin_group(app).add_typer(partner_app, name="partner")

    @partner_app.command("add")
    def partner_add(
        name: NameArg,
        scopes: Annotated[
            str,
            typer.Option(
                metavar="SCOPE[,SCOPE...]",
                help="What it may call: verify, household, lookup, access-log.",
            ),
        ],
        fields: Annotated[
            str | None,
            typer.Option(
                metavar="F[,F...]",
                help="The fields a look-up returns to it (needed with the lookup scope).",
                show_default=False,
            ),
        ] = None,
        rate: Annotated[
            int | None,
            typer.Option(
                metavar="N",
                parser=whole_number,
                help="Requests per second it may make (default: no limit).",
                show_default=False,
            ),
        ] = None,
        store: StoreOpt = None,
        debug: DebugOpt = False,
    ) -> None:
        """Add a partner and print its key, once: {"partner": NAME, "key": KEY}. Only the
        key's hash is kept."""
        policy = PartnerPolicy(
            name=partner_name(name),
            scopes=parse_scopes(scopes),
            fields=parse_fields(fields),
            rate=rate,
        )
        log = AccessLogStore.open(store_from_env(store), create=True)
        try:
            key = log.add_partner(policy)
        finally:
            log.close()
        emit_json({"partner": policy.name, "key": key})

    @partner_app.command("list")
    def partner_list(
        store: StoreOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False
    ) -> None:
        """Every partner: scopes, fields, rate, and when it was added or revoked (never a
        key)."""
        log = AccessLogStore.open(store_from_env(store))
        try:
            partners = log.partners()
        finally:
            log.close()
        if json_out:
            emit_json([p.as_document() for p in partners])
            return
        for p in partners:
            state = f"revoked {p.revoked_at}" if p.revoked_at else "active"
            rate = f"{p.policy.rate}/s" if p.policy.rate else "no limit"
            fields = ",".join(p.policy.fields) or "-"
            scopes = ",".join(sorted(s.value for s in p.policy.scopes))
            typer.echo(f"{p.policy.name:<20} {state:<40} {scopes:<32} {rate:<10} {fields}")

    @partner_app.command("revoke")
    def partner_revoke(
        name: NameArg, store: StoreOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False
    ) -> None:
        """Refuse the partner's key from now on (every worker within a second)."""
        log = AccessLogStore.open(store_from_env(store))
        try:
            partner = log.revoke(name)
        finally:
            log.close()
        if json_out:
            emit_json(partner.as_document())
        else:
            typer.echo(f"{name}: revoked {partner.revoked_at}")

    @partner_app.command("rotate")
    def partner_rotate(name: NameArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
        """Give the partner a new key and print it, once; the old key is refused from now on."""
        log = AccessLogStore.open(store_from_env(store))
        try:
            key = log.rotate(name)
        finally:
            log.close()
        emit_json({"partner": name, "key": key})

    @partner_app.command("roles")
    def partner_roles(
        store: StoreOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False
    ) -> None:
        """PostgreSQL: create the role civledger_service (read partners, append to and read the
        access log) and let civledger_auditor read the access log (idempotent)."""
        url = store_from_env(store)
        if url.is_sqlite:
            raise InvalidInput("roles need PostgreSQL: SQLite has no users (docs/security.md)")
        log = AccessLogStore.open(url, create=True)
        try:
            made = log.create_roles()
        finally:
            log.close()
        granted = {
            made[0]: "read the partners; append to and read the access log",
            made[1]: "read the access log",
        }
        if json_out:
            emit_json({"store": url.redacted(), "roles": granted})
        else:
            typer.echo("\n".join(f"{role}: {what}" for role, what in granted.items()))

    @app.command("access-log")
    def access_log(
        id: Annotated[str, typer.Argument(help="A 12-digit personal ID number.")],
        since: Annotated[
            str | None,
            typer.Option(help="Only requests on or after this date (YYYY-MM-DD, UTC)."),
        ] = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Who asked the verification service about this person: when, which partner, why,
        what, and the outcome; newest first."""
        number = parse_person_ref(id)
        if not isinstance(number, IdNumber):
            raise InvalidInput("the access log is kept by ID number: give the 12 digits")
        since_day: date | None = parse_date(since, "--since") if since is not None else None
        log = AccessLogStore.open(store_from_env(store))
        try:
            entries = []
            before = None
            while True:
                page = log.entries(
                    str(number),
                    since=since_day.isoformat() if since_day else None,
                    before=before,
                    limit=500,
                )
                entries += page
                if len(page) < 500:
                    break
                before = page[-1].position
        finally:
            log.close()
        if json_out:
            emit_json([e.as_document() for e in entries])
            return
        if not entries:
            typer.echo(f"{number}: no requests on record")
        for e in entries:
            typer.echo(f"{e.at}  {e.partner:<16} {e.operation:<22} {e.outcome:<9} {e.purpose}")
