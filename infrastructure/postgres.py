"""The PostgreSQL backend: the library's recorders, plus append-only triggers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, EnvType, retry
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from infrastructure.dialect import POSTGRES
from infrastructure.errors import OutcomeUnknown
from infrastructure.settings import append_route
from infrastructure.store_url import TARGET_SESSION_ATTRS_VAR

APPEND_ONLY_MESSAGE = "civledger: the event log is append-only"
#: Roles made by `civledger admin roles`: clerks read and append, auditors only read.
CLERK_ROLE = "civledger_clerk"
AUDITOR_ROLE = "civledger_auditor"
#: The column that names the login that appended a row (docs/adr/008).
RECORDED_BY = "recorded_by"


class LedgerPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's recorder; UPDATE, DELETE and TRUNCATE on the event table are refused."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements += [
            Composed([SQL(statement)])
            for statement in POSTGRES.append_only(
                [self.events_table_name],
                APPEND_ONLY_MESSAGE,
                schema=self.datastore.schema,
                function=f"{self.events_table_name}_refuse_change",
            )
        ]
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.events_table_name)
        self._add_recorded_by(schema, table)
        self._add_definer_append(schema, table)

    # ------------------------------------------------------------ append route
    # The library takes `LOCK TABLE ... IN EXCLUSIVE MODE` before each insert, so that positions
    # increase in commit order; PostgreSQL 15 grants that lock only with UPDATE, DELETE or
    # TRUNCATE rights. A role without them (civledger_clerk) appends through a SECURITY DEFINER
    # function instead, which takes the same lock and inserts; it can do nothing else, and the
    # triggers above still refuse every UPDATE, DELETE and TRUNCATE.

    #: "auto" (the definer function when the role may not lock the table), "direct", "definer".
    append_route = "auto"

    @property
    def append_function_name(self) -> str:
        return f"{self.events_table_name}_append"

    def _add_definer_append(self, schema: Identifier, table: Identifier) -> None:
        function = Identifier(self.append_function_name)
        event_type = Identifier(self.stored_event_type_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event_type}[]) "
                "RETURNS TABLE (notification_id bigint) "
                "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp "
                "AS $BODY$ BEGIN "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} AS t "
                "(originator_id, originator_version, topic, state, recorded_by) "
                "SELECT e.originator_id, e.originator_version, e.topic, e.state, session_user "
                "FROM unnest(events) AS e RETURNING t.notification_id; "
                "END $BODY$"
            ).format(
                schema=schema,
                function=function,
                event_type=event_type,
                table=table,
                channel=Identifier(self.channel_name),
            )
        )
        self.sql_create_statements.append(
            SQL(
                "REVOKE ALL ON FUNCTION {schema}.{function}({schema}.{event_type}[]) FROM PUBLIC"
            ).format(schema=schema, function=function, event_type=event_type)
        )
        self.sql_append_via_definer = SQL(
            "SELECT notification_id FROM {schema}.{function}(%s::{schema}.{event_type}[])"
        ).format(schema=schema, function=function, event_type=event_type)

    # ------------------------------------------------------------ recorded_by
    # Every row names the login that appended it (`session_user`), set by the database: the
    # column's default, and the append function, which a SECURITY DEFINER call does not change
    # (`current_user` is the definer there, `session_user` is still the clerk's login). Rows
    # appended before the column existed keep NULL: adding it without a default first leaves
    # them as they were, so their Merkle leaves do not change (docs/adr/008).

    def _add_recorded_by(self, schema: Identifier, table: Identifier) -> None:
        self.sql_create_statements += [
            SQL("ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS {column} text").format(
                schema=schema, table=table, column=Identifier(RECORDED_BY)
            ),
            SQL(
                "ALTER TABLE {schema}.{table} ALTER COLUMN {column} SET DEFAULT session_user"
            ).format(schema=schema, table=table, column=Identifier(RECORDED_BY)),
        ]

    def has_recorded_by(self) -> bool:
        """Whether the event table has the `recorded_by` column (a store written before it
        gets it from `civledger init`, or from the tables' owner's next write)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s AND column_name = %s)",
                (self.datastore.schema, self.events_table_name, RECORDED_BY),
            )
            row = c.fetchone()
        return bool(row and row[0])

    def session_login(self) -> tuple[str, bool]:
        """The login this store is reached as, and whether it owns the event table."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(
                "SELECT session_user::text, COALESCE((SELECT tableowner::text FROM pg_tables "
                "WHERE schemaname = %s AND tablename = %s) = session_user::text, false)",
                (self.datastore.schema, self.events_table_name),
            )
            row = c.fetchone()
        return (str(row[0]), bool(row[1])) if row else ("", False)

    def table_owner(self) -> str | None:
        """The login that owns the event table: the operator."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(
                "SELECT tableowner::text FROM pg_tables WHERE schemaname = %s AND tablename = %s",
                (self.datastore.schema, self.events_table_name),
            )
            row = c.fetchone()
        return str(row[0]) if row else None

    def recorded_by_at(self, positions: Sequence[int]) -> dict[int, str | None]:
        """The login that appended each row at `positions` (None: appended before logins were
        stamped). Positions not in the log are left out."""
        if not positions or not self.has_recorded_by():
            return {}
        statement = SQL(
            "SELECT notification_id, {column} FROM {schema}.{table} WHERE notification_id = ANY(%s)"
        ).format(
            column=Identifier(RECORDED_BY),
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
        )
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(statement, (list(positions),))
            return {int(row[0]): row[1] for row in c.fetchall()}

    def enrol_login(self, login: str) -> None:
        """Create `login` (if it is not there) as a login role, member of civledger_clerk:
        it may then read and append through the append function, nothing else. Its password
        or other authentication is the server's business (docs/security.md)."""
        role = Identifier(login)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "DO $$ BEGIN CREATE ROLE {role} LOGIN; "
                    "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
                ).format(role=role)
            )
            curs.execute(
                SQL("GRANT {clerk} TO {role}").format(clerk=Identifier(CLERK_ROLE), role=role)
            )

    def retire_login(self, login: str) -> None:
        """Take civledger_clerk from `login`: the append function is no longer its to call."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("SELECT 1 FROM pg_roles WHERE rolname = %s"), (login,))
            if curs.fetchone() is None:
                return
            curs.execute(
                SQL("REVOKE {clerk} FROM {role}").format(
                    clerk=Identifier(CLERK_ROLE), role=Identifier(login)
                )
            )

    def _uses_definer(self) -> bool:
        if self.append_route == "auto":
            table = f"{self.datastore.schema}.{self.events_table_name}"
            with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
                c.execute(
                    "SELECT has_table_privilege(%s, 'UPDATE') OR has_table_privilege(%s, 'DELETE')"
                    " OR has_table_privilege(%s, 'TRUNCATE')",
                    (table, table, table),
                )
                row = c.fetchone()
            self.append_route = "direct" if row and row[0] else "definer"
        return self.append_route == "definer"

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        if not self._uses_definer():
            super()._insert_stored_events(curs, stored_events, **kwargs)
            return
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        curs.execute(self.sql_append_via_definer, (events,))

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.append_route != "definer":
            return super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        return [row["notification_id"] for row in curs.fetchall()]

    # ------------------------------------------------------------------- roles

    def create_roles(self, readable_tables: Sequence[str] = ()) -> list[str]:
        """Create civledger_clerk (read, append through the definer function) and
        civledger_auditor (read only), and grant them this database; idempotent."""
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.events_table_name)
        clerk, auditor = Identifier(CLERK_ROLE), Identifier(AUDITOR_ROLE)
        statements = [
            SQL(
                "DO $$ BEGIN CREATE ROLE {role} LOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ).format(role=role)
            for role in (clerk, auditor)
        ]
        statements += [
            SQL("GRANT CONNECT ON DATABASE {db} TO {clerk}, {auditor}").format(
                db=Identifier(self._current_database()),
                clerk=clerk,
                auditor=auditor,
            ),
            SQL("GRANT USAGE ON SCHEMA {schema} TO {clerk}, {auditor}").format(
                schema=schema, clerk=clerk, auditor=auditor
            ),
            SQL("REVOKE ALL ON {schema}.{table} FROM {clerk}, {auditor}").format(
                schema=schema, table=table, clerk=clerk, auditor=auditor
            ),
            SQL("GRANT SELECT ON {schema}.{table} TO {clerk}, {auditor}").format(
                schema=schema, table=table, clerk=clerk, auditor=auditor
            ),
            SQL(
                "GRANT EXECUTE ON FUNCTION {schema}.{function}({schema}.{event_type}[]) TO {clerk}"
            ).format(
                schema=schema,
                function=Identifier(self.append_function_name),
                event_type=Identifier(self.stored_event_type_name),
                clerk=clerk,
            ),
        ]
        for name in readable_tables:
            statements += [
                SQL("REVOKE ALL ON {schema}.{table} FROM {clerk}, {auditor}").format(
                    schema=schema, table=Identifier(name), clerk=clerk, auditor=auditor
                ),
                SQL("GRANT SELECT ON {schema}.{table} TO {clerk}, {auditor}").format(
                    schema=schema, table=Identifier(name), clerk=clerk, auditor=auditor
                ),
            ]
        with self.datastore.transaction(commit=True) as curs:
            for statement in statements:
                curs.execute(statement)
        return [CLERK_ROLE, AUDITOR_ROLE]

    def _current_database(self) -> str:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute("SELECT current_database()")
            row = c.fetchone()
        return str(row[0]) if row else ""

    def select_originator_notifications(self, originator_id: UUID) -> Sequence[Notification]:
        statement = SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = %s ORDER BY originator_version"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
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

    # ------------------------------------------------------------- bulk import
    # The import's fast path (docs/adr/001-bulk-import-with-copy.md): one transaction per
    # batch that takes the library's own EXCLUSIVE lock, then streams the rows with binary
    # COPY. Positions come from the same bigserial, in COPY order, and the lock is held to
    # commit, so positions increase in commit order and readers never skip an event.

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of the given aggregates in one query, by aggregate then version."""
        if not originator_ids:
            return []
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            # These are primary-key look-ups, always. Without table statistics (autovacuum
            # off, or a table just loaded) the planner takes `= ANY(<thousands of ids>)` for
            # most of the table and scans all of it: minutes per batch at 15M events.
            curs.execute("SET LOCAL enable_seqscan = off")
            curs.execute(statement, (list(originator_ids),))
            return [
                StoredEvent(
                    originator_id=row[0],
                    originator_version=row[1],
                    topic=row[2],
                    state=bytes(row[3]),
                )
                for row in curs.fetchall()
            ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events_bulk(
        self, stored_events: Sequence[StoredEvent], *, return_ids: bool = False
    ) -> Sequence[int] | None:
        """Append a batch in one transaction with binary COPY, under the EXCLUSIVE lock.

        A duplicate (originator_id, originator_version) fails the whole batch with the
        library's IntegrityError, as `insert_events` does. With `return_ids` the batch's
        notification ids are read back (only this transaction can have written them).
        """
        if not stored_events:
            return [] if return_ids else None
        if self._uses_definer():
            # A role that may not take the lock (civledger_clerk) cannot COPY into the log:
            # the batch goes, still in one transaction, through the definer function.
            return self._insert_events_once(stored_events, _CommitPhase())
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.events_table_name)
        copy_statement = SQL(
            "COPY {schema}.{table} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(schema=schema, table=table)
        ids: list[int] = []
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as lock_curs:
                self._lock_table(lock_curs)
                self._notify_channel(lock_curs)
            with conn.cursor(row_factory=tuple_row) as curs:
                before = 0
                if return_ids:
                    curs.execute(self.max_notification_id_statement)
                    row = curs.fetchone()
                    before = (row[0] if row else None) or 0
                with curs.copy(copy_statement) as copy:
                    copy.set_types([self.datastore.originator_id_type, "int8", "text", "bytea"])
                    write_row = copy.write_row
                    for event in stored_events:
                        write_row(
                            (
                                event.originator_id,
                                event.originator_version,
                                event.topic,
                                event.state,
                            )
                        )
                if return_ids:
                    curs.execute(
                        SQL(
                            "SELECT notification_id FROM {schema}.{table} "
                            "WHERE notification_id > %s ORDER BY notification_id"
                        ).format(schema=schema, table=table),
                        (before,),
                    )
                    ids = [row[0] for row in curs.fetchall()]
        return ids if return_ids else None

    # ------------------------------------------------------------ commit outcome
    # The library retries an insert whose connection failed, up to 10 times. Before COMMIT is
    # sent that is safe: the server rolls the transaction back. Once COMMIT is in flight the
    # transaction may have committed (or committed locally while waiting for the synchronous
    # standby), so the insert is not retried here: OutcomeUnknown tells the clerk to retry the
    # whole command, which the act's idempotency makes safe.

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.datastore.enable_db_functions or not stored_events:
            return super().insert_events(stored_events, **kwargs)  # type: ignore[no-any-return]
        phase = _CommitPhase()
        try:
            return self._insert_events_once(stored_events, phase, **kwargs)
        except (InterfaceError, OperationalError) as error:
            if phase.committing:
                raise OutcomeUnknown(
                    "outcome unknown, a retry is safe: the connection to the store was lost "
                    "while the act was being committed, so the outcome is unknown (it may or "
                    "may not be recorded); retrying the same command records the act or "
                    "reports it already recorded"
                ) from error
            raise

    def _insert_events_once(
        self, stored_events: Sequence[StoredEvent], phase: _CommitPhase, **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's pipelined insert, marking the moment COMMIT is sent."""
        exc: Exception | None = None
        notification_ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline, conn.transaction():
                with conn.cursor() as curs:
                    self._insert_events(curs, stored_events, **kwargs)
                with conn.cursor() as curs:
                    try:
                        self._insert_stored_events(curs, stored_events, **kwargs)
                        pipeline.sync()
                        notification_ids = self._fetch_ids_after_insert_events(
                            curs, stored_events, **kwargs
                        )
                        # Every statement has answered; what remains is COMMIT.
                        phase.committing = True
                    except Exception as e:  # re-raised below, as the library does
                        exc = e
            if exc:
                raise exc
        return notification_ids


class _CommitPhase:
    """Whether an insert got as far as sending COMMIT."""

    committing = False


def connection_failure(error: BaseException) -> str:
    """The reason in a libpq connection error, in one line: `database "x" does not exist`,
    `connection refused`, without the server's address (the caller names the store) or hints."""
    reasons: list[str] = []
    for line in str(error).splitlines():
        if not line.strip() or line[0].isspace():
            continue  # libpq's hints: "\tIs the server running on that host …?"
        reason = line.rpartition(" failed: ")[2].removeprefix("FATAL:").strip()
        if reason[1:2].islower():
            reason = reason[0].lower() + reason[1:]
        if reason and reason not in reasons:
            reasons.append(reason)
    return "; ".join(reasons) or type(error).__name__


class LedgerPostgresFactory(PostgresFactory):
    """The library's factory, which first connects once, directly: the library's pool would
    retry a connection that cannot succeed (refused, unknown host, no such database or role)
    until its timeout, and then report only that it timed out."""

    application_recorder_class = LedgerPostgresApplicationRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        # Several hosts (a Patroni cluster): libpq picks the one whose role the URL asks for,
        # on every new connection of the pool, so clients follow the primary by themselves.
        attrs = self.env.get(TARGET_SESSION_ATTRS_VAR)
        if attrs and isinstance(pool.kwargs, dict):
            pool.kwargs["target_session_attrs"] = attrs
        given = pool.kwargs() if callable(pool.kwargs) else pool.kwargs
        kwargs = {k: v for k, v in (given or {}).items() if k != "row_factory"}
        try:
            psycopg.connect(**kwargs, connect_timeout=max(1, round(pool.timeout))).close()
        except psycopg.Error as error:
            raise OperationalError(connection_failure(error)) from error

    #: auto (default), direct or definer: how events are appended (see `append_route`).
    POSTGRES_APPEND_ROUTE = "POSTGRES_APPEND_ROUTE"

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        route = append_route(self.env.get(self.POSTGRES_APPEND_ROUTE))
        if isinstance(recorder, LedgerPostgresApplicationRecorder):
            recorder.append_route = route
        return recorder


Factory = LedgerPostgresFactory
