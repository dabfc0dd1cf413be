"""`audit verify` catches what the triggers cannot stop: edits by a superuser or to the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from application.register import CivilRegister
from audit.log import MerkleLogProjection
from infrastructure.store_url import StoreURL
from tests.audit.conftest import (
    Invoke,
    disable_append_only,
    events_table,
    execute_raw,
    position_column,
    register_people,
)
from tests.conftest import FixedClock


@pytest.fixture
def ledger(store_url: str, clock: FixedClock) -> str:
    """Three births (12 events), all logged and checkpointed."""
    register = CivilRegister(store_url, clock=clock)
    register_people(register, 3)
    MerkleLogProjection(register).checkpoint()
    register.close()
    return store_url


def _save_checkpoint(cli: Invoke, url: str, path: Path) -> dict[str, object]:
    result = cli("audit", "checkpoint", "--store", url, "--json")
    assert result.exit_code == 0, result.output
    path.write_text(result.stdout)
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _change_state(url: str, position: int) -> None:
    table, column = events_table(url), position_column(url)
    suffix = "x'20'" if StoreURL.parse(url).is_sqlite else "'\\x20'::bytea"
    execute_raw(url, f"UPDATE {table} SET state = state || {suffix} WHERE {column} = {position}")


def test_an_untouched_ledger_verifies(cli: Invoke, ledger: str, tmp_path: Path) -> None:
    saved = _save_checkpoint(cli, ledger, tmp_path / "cp.json")
    result = cli("audit", "verify", "--store", ledger, "--checkpoint", str(tmp_path / "cp.json"))
    assert result.exit_code == 0, result.output
    assert "verified: 12 events" in result.stdout
    assert saved["size"] == 12


def test_a_changed_row_is_caught_and_named(cli: Invoke, ledger: str) -> None:
    disable_append_only(ledger)
    _change_state(ledger, 5)
    result = cli("audit", "verify", "--store", ledger)
    assert result.exit_code == 5
    assert "position 5" in result.stderr
    assert "changed" in result.stderr
    assert result.stdout == ""


def test_a_deleted_row_is_caught_and_named(cli: Invoke, ledger: str) -> None:
    disable_append_only(ledger)
    execute_raw(ledger, f"DELETE FROM {events_table(ledger)} WHERE {position_column(ledger)} = 6")
    result = cli("audit", "verify", "--store", ledger)
    assert result.exit_code == 5
    assert "position 6" in result.stderr


def test_a_deleted_last_row_is_caught(cli: Invoke, ledger: str) -> None:
    disable_append_only(ledger)
    execute_raw(ledger, f"DELETE FROM {events_table(ledger)} WHERE {position_column(ledger)} = 12")
    result = cli("audit", "verify", "--store", ledger)
    assert result.exit_code == 5
    assert "position 12 is missing" in result.stderr


def test_reordered_rows_are_caught_at_the_first_position(cli: Invoke, ledger: str) -> None:
    disable_append_only(ledger)
    table, column = events_table(ledger), position_column(ledger)
    execute_raw(
        ledger,
        f"UPDATE {table} SET {column} = -(7 - {column}) WHERE {column} IN (3, 4)",
        f"UPDATE {table} SET {column} = -{column} WHERE {column} < 0",
    )
    result = cli("audit", "verify", "--store", ledger)
    assert result.exit_code == 5
    assert "position 3" in result.stderr


def test_a_history_rewritten_with_its_merkle_log_fails_the_auditors_checkpoint(
    cli: Invoke, ledger: str, tmp_path: Path
) -> None:
    _save_checkpoint(cli, ledger, tmp_path / "published.json")
    disable_append_only(ledger)
    _change_state(ledger, 2)
    # The intruder rebuilds the whole Merkle log over the forged history.
    execute_raw(
        ledger,
        "DROP TABLE civledger_merkle_leaves",
        "DROP TABLE civledger_merkle_nodes",
        "DROP TABLE civledger_merkle_checkpoints",
    )
    assert cli("audit", "checkpoint", "--store", ledger).exit_code == 0
    # The database now agrees with itself ...
    assert cli("audit", "verify", "--store", ledger).exit_code == 0
    # ... but not with the checkpoint the auditor kept outside it.
    result = cli(
        "audit", "verify", "--store", ledger, "--checkpoint", str(tmp_path / "published.json")
    )
    assert result.exit_code == 5
    assert "no longer extend your checkpoint of size 12" in result.stderr


def test_a_checkpoint_larger_than_the_store_means_deleted_events(
    cli: Invoke, ledger: str, tmp_path: Path
) -> None:
    _save_checkpoint(cli, ledger, tmp_path / "cp.json")
    disable_append_only(ledger)
    execute_raw(
        ledger,
        f"DELETE FROM {events_table(ledger)} WHERE {position_column(ledger)} > 10",
        "DROP TABLE civledger_merkle_leaves",
        "DROP TABLE civledger_merkle_nodes",
        "DROP TABLE civledger_merkle_checkpoints",
    )
    result = cli("audit", "verify", "--store", ledger, "--checkpoint", str(tmp_path / "cp.json"))
    assert result.exit_code == 5
    assert "covers 12 events" in result.stderr


def test_checkpoints_extend_incrementally_without_rereading_old_events(
    cli: Invoke, ledger: str, clock: FixedClock
) -> None:
    disable_append_only(ledger)
    _change_state(ledger, 1)  # an old, already logged event
    register = CivilRegister(ledger, clock=clock)
    register_people(register, 2, prefix="KS-LATER")
    outcome = MerkleLogProjection(register).checkpoint()
    register.close()
    # Only the 8 new events were read and appended: the old edit went unnoticed here ...
    assert (outcome.checkpoint.size, outcome.appended) == (20, 8)
    # ... and is exactly what the full verification is for.
    result = cli("audit", "verify", "--store", ledger)
    assert result.exit_code == 5
    assert "position 1" in result.stderr


def test_the_log_stores_each_perfect_subtree_once(ledger: str, clock: FixedClock) -> None:
    register = CivilRegister(ledger, clock=clock)
    register_people(register, 5, prefix="KS-MORE")
    projection = MerkleLogProjection(register, batch_size=7)
    projection.checkpoint()
    size = 32
    with projection.backend.read() as cur:
        cur.execute("SELECT COUNT(*) FROM civledger_merkle_nodes")
        inner = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM civledger_merkle_leaves")
        leaves = cur.fetchone()[0]
    register.close()
    assert leaves == size
    assert inner == size - size.bit_count()  # 31 inner nodes for 32 leaves
