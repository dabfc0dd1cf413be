"""Administration of the store: database roles for clerks and auditors (PostgreSQL)."""

from __future__ import annotations

from typing import Any

import typer

from cli import clerks
from cli.runtime import DebugOpt, JsonOpt, StoreOpt, emit_json, open_register
from domain.errors import InvalidInput
from infrastructure.store_url import store_from_env


def register(app: typer.Typer) -> None:
    admin = typer.Typer(name="admin", help="Administration of the store.", no_args_is_help=True)
    app.add_typer(admin, name="admin")
    clerks.register(admin)

    @admin.command("roles")
    def roles(store: StoreOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False) -> None:
        """Create the PostgreSQL roles civledger_clerk (read and append) and civledger_auditor
        (read only) and grant them this database; run it as the tables' owner (idempotent)."""
        from audit.log import TABLES, MerkleLogProjection

        if store_from_env(store).is_sqlite:
            raise InvalidInput(
                "roles need PostgreSQL: SQLite has no users, protect the file instead "
                "(see docs/security.md)"
            )
        register = open_register(store)
        recorder: Any = register.recorder
        register.init_schema()
        MerkleLogProjection(register).ensure_tables()
        made = recorder.create_roles(readable_tables=TABLES)
        granted = {
            made[0]: "read the event log and the Merkle log; append events through "
            f"{recorder.append_function_name}()",
            made[1]: "read the event log and the Merkle log",
        }
        if json_out:
            emit_json({"store": register.store.redacted(), "roles": granted})
        else:
            typer.echo("\n".join(f"{name}: {what}" for name, what in granted.items()))
