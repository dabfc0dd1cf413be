"""The auditor's commands: checkpoints, verification, inclusion proofs, and who recorded what.

Exit codes: 0 verified; 5 the events no longer match the Merkle log or a checkpoint, or a proof
fails; 2 a malformed file or option; 3 no checkpoint to prove against; 4 unknown person; 1 the
store is unreachable or (SQLite) missing, or its events cannot be read without the cipher key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.runtime import DebugOpt, JsonOpt, StoreOpt, emit_json, note
from domain.errors import InvalidInput
from domain.values import counted, parse_date, visible
from infrastructure.errors import StoreUnavailable, store_errors
from infrastructure.eventlog import EventLog
from infrastructure.store_url import store_from_env

CheckpointFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--checkpoint",
        help="A checkpoint you saved earlier (the JSON of `audit checkpoint`): the events "
        "must still extend it.",
        show_default=False,
        dir_okay=False,
    ),
]
AccessLogOpt = Annotated[
    bool,
    typer.Option(
        "--access-log",
        help="The verification service's access log and its own Merkle log, instead of the "
        "event log (docs/service.md).",
    ),
]
IdArg = Annotated[
    str,
    typer.Argument(help="A 12-digit personal ID number (current or cancelled) or a person UUID."),
]


def read_json(path: Path, what: str) -> Any:
    """One JSON document from a file; a missing or malformed file is bad input (exit 2)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read {what} {path}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{what} {path} is not JSON: {error.msg} at line {error.lineno}"
        ) from None


def open_existing(store: str | None) -> EventLog:
    """The event log, opened for reading only: a SQLite path with no file, or a database
    without the civledger log, is refused and nothing is created (auditing a mistyped path must
    not report an empty, perfectly consistent ledger)."""
    return EventLog(store_from_env(store))


def _access_log_merkle(log: EventLog) -> Any:
    """The access log's Merkle log; a store with no access log is refused (exit 1)."""
    from audit.access_log import AccessLogMerkle

    merkle = AccessLogMerkle(log)
    with store_errors():
        present = merkle.has_access_log()
    if not present:
        raise StoreUnavailable(
            "this store has no access log (the verification service has not run against it)"
        )
    return merkle


def _verify_access_log(log: EventLog, trusted: Any, json_out: bool) -> None:
    from cli.progress import ProgressBar

    bar = ProgressBar("verifying", sys.stderr.isatty() and not json_out)
    try:
        result = _access_log_merkle(log).verify(trusted, progress=bar)
    finally:
        bar.close()
    if json_out:
        document = result.document()
        document["entries"] = document.pop("events")
        emit_json(document)
        return
    lines = _verified_lines(
        result, ("access-log entry", "access-log entries"), ("entry", "entries"), " --access-log"
    )
    typer.echo("\n".join(lines))


def _verified_lines(
    result: Any, counted_as: tuple[str, str], unlogged_as: tuple[str, str], checkpoint: str
) -> list[str]:
    """What `audit verify` prints of a Merkle log's verification (the event log's or the
    access log's): how much matched, how much is not logged yet, the checkpoints checked."""
    matches = "matches" if result.events == 1 else "match"
    lines = [f"verified: {counted(result.events, *counted_as)} {matches} the Merkle log"]
    if result.events > result.logged:
        unlogged = result.events - result.logged
        lines.append(
            f"  {counted(unlogged, *unlogged_as)} {'is' if unlogged == 1 else 'are'} not logged "
            f"yet (run `civledger audit checkpoint{checkpoint}`)"
        )
    lines.append(f"  stored checkpoints checked: {result.checkpoints_checked}")
    if result.trusted is not None:
        lines.append(f"  the log extends your checkpoint of size {result.trusted.size}")
    return lines


def register(app: typer.Typer) -> None:
    audit = typer.Typer(
        name="audit",
        help="Tamper evidence: an RFC 9162 Merkle log over the event log.",
        no_args_is_help=True,
    )
    app.add_typer(audit, name="audit")

    @audit.command("checkpoint")
    def checkpoint(
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
        access_log: AccessLogOpt = False,
    ) -> None:
        """Extend the Merkle log to the last event (or access-log entry); print {"size",
        "root", "at"} to keep outside the database."""
        from audit.log import MerkleLogProjection

        log = open_existing(store)
        outcome = (_access_log_merkle(log) if access_log else MerkleLogProjection(log)).checkpoint()
        if not outcome.stored:
            note("this role may not write the Merkle log: the checkpoint was computed, not stored")
        document = outcome.checkpoint.document()
        if json_out:
            emit_json(document)
        else:
            typer.echo(json.dumps(document))

    @audit.command("verify")
    def verify(
        checkpoint: CheckpointFileOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
        access_log: AccessLogOpt = False,
    ) -> None:
        """Recompute the Merkle log from the events as stored and compare it with the stored
        checkpoints and with --checkpoint; exit 5 naming the first position that differs."""
        from audit.log import MerkleLogProjection
        from audit.proofs import Checkpoint

        trusted = None
        if checkpoint is not None:
            trusted = Checkpoint.from_document(read_json(checkpoint, "checkpoint file"))
        from audit.clerks import check_clerks
        from cli.progress import ProgressBar

        if access_log:
            _verify_access_log(open_existing(store), trusted, json_out)
            return
        bar = ProgressBar("verifying", sys.stderr.isatty() and not json_out)
        log = open_existing(store)
        try:
            result = MerkleLogProjection(log).verify(trusted, progress=bar)
        finally:
            bar.close()
        bar = ProgressBar("checking clerks", sys.stderr.isatty() and not json_out)
        try:
            clerks = check_clerks(log, result.events, progress=bar)
        finally:
            bar.close()
        if json_out:
            emit_json({**result.document(), "clerks": clerks.document()})
            return
        lines = _verified_lines(result, ("event", "events"), ("event", "events"), "")
        lines += clerks.lines()
        typer.echo("\n".join(lines))

    @audit.command("prove")
    def prove(
        id: IdArg,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Print inclusion proofs of every event of a person against the latest checkpoint
        (a JSON document to save and check with `audit check-proof`)."""
        from audit.log import MerkleLogProjection

        proofs = MerkleLogProjection(open_existing(store)).prove(id)
        if proofs.pending:
            pending = len(proofs.pending)
            note(
                f"{counted(pending, 'event')} {'is' if pending == 1 else 'are'} newer than the "
                f"latest checkpoint and {'has' if pending == 1 else 'have'} no proof yet"
            )
        emit_json(proofs.document())

    @audit.command("check-proof")
    def check_proof(
        file: Annotated[
            Path,
            typer.Argument(
                help="A proof saved from `audit prove` or `audit verify --json`.", dir_okay=False
            ),
        ],
        checkpoint: CheckpointFileOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Verify a saved proof offline, with no database; with --checkpoint, also require
        that the proof is against that checkpoint."""
        from audit.proofs import Checkpoint
        from audit.proofs import check_proof as check

        trusted = None
        if checkpoint is not None:
            trusted = Checkpoint.from_document(read_json(checkpoint, "checkpoint file"))
        document = read_json(file, "proof file")
        if isinstance(document, dict) and isinstance(document.get("consistency"), dict):
            document = document["consistency"]  # the output of `audit verify --json`
        result = check(document, trusted)
        if json_out:
            emit_json(result.document())
        elif result.positions:
            typer.echo(
                f"valid: positions {', '.join(map(str, result.positions))} are in the log of "
                f"size {result.checkpoint.size}"
            )
        else:
            typer.echo(f"valid: the log of size {result.checkpoint.size} extends the older one")

    @audit.command("log")
    def log(
        clerk: Annotated[
            str | None, typer.Option(help="Only acts recorded by this clerk.", show_default=False)
        ] = None,
        office: Annotated[
            str | None, typer.Option(help="Only acts recorded at this office.", show_default=False)
        ] = None,
        since: Annotated[
            str | None,
            typer.Option(
                help="Only acts recorded on or after this date (YYYY-MM-DD).", show_default=False
            ),
        ] = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Who recorded what: every person event in log order, with clerk, office and times."""
        from projections.activity import clerk_activity

        day = parse_date(since, "--since") if since is not None else None
        entries = clerk_activity(open_existing(store), clerk, office, day)
        documents = [entry.document() for entry in entries]
        if json_out:
            emit_json(documents)
            return
        for d in documents:
            late = "  LATE" if d["late"] else ""
            typer.echo(
                visible(
                    f"#{d['position']:<6} {d['recorded_at'][:19]}  {d['clerk']} @ {d['office']}  "
                    f"{d['type']} {d['person_id']} (legal date {d['occurred_on']}, "
                    f"ref {d['reference']}){late}"
                )
            )
