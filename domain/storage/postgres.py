"""The PostgreSQL backend: the library's recorders, plus append-only triggers."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from psycopg.sql import SQL, Identifier

APPEND_ONLY_MESSAGE = "civledger: the event log is append-only"


class LedgerPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's recorder; UPDATE, DELETE and TRUNCATE on the event table are refused."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.events_table_name)
        function = Identifier(f"{self.events_table_name}_refuse_change")
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION '{message} (% refused)', TG_OP "
                "USING ERRCODE = 'insufficient_privilege'; "
                "END $$"
            ).format(
                schema=schema, function=function, message=SQL(APPEND_ONLY_MESSAGE)
            )
        )
        for name, when in (
            ("no_update_delete", SQL("BEFORE UPDATE OR DELETE ON {schema}.{table} FOR EACH ROW")),
            ("no_truncate", SQL("BEFORE TRUNCATE ON {schema}.{table} FOR EACH STATEMENT")),
        ):
            self.sql_create_statements.append(
                SQL(
                    "CREATE OR REPLACE TRIGGER {trigger} {when} "
                    "EXECUTE FUNCTION {schema}.{function}()"
                ).format(
                    trigger=Identifier(f"{self.events_table_name}_{name}"),
                    when=when.format(schema=schema, table=table),
                    schema=schema,
                    function=function,
                )
            )

    def select_originator_notifications(self, originator_id: UUID) -> Sequence[Notification]:
        statement = SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = %s ORDER BY originator_version"
        ).format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (originator_id,), prepare=True)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]


class LedgerPostgresFactory(PostgresFactory):
    application_recorder_class = LedgerPostgresApplicationRecorder


Factory = LedgerPostgresFactory
