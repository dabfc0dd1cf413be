"""The event log and the Merkle log refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from application.register import CivilRegister
from audit.log import CHECKPOINTS, LEAVES, NODES, MerkleLogProjection
from tests.audit.conftest import events_table, execute_raw, position_column, register_people
from tests.conftest import FixedClock

REFUSED = (sqlite3.DatabaseError, psycopg.errors.InsufficientPrivilege)


@pytest.fixture
def logged(store_url: str, clock: FixedClock) -> str:
    register = CivilRegister(store_url, clock=clock)
    register_people(register, 3)
    MerkleLogProjection(register).checkpoint()
    register.close()
    return store_url


def test_the_event_table_refuses_update(logged: str) -> None:
    table, column = events_table(logged), position_column(logged)
    with pytest.raises(REFUSED, match="append-only"):
        execute_raw(logged, f"UPDATE {table} SET topic = 'forged' WHERE {column} = 1")


def test_the_event_table_refuses_delete(logged: str) -> None:
    with pytest.raises(REFUSED, match="append-only"):
        execute_raw(logged, f"DELETE FROM {events_table(logged)}")


@pytest.mark.postgres
def test_the_postgres_event_table_refuses_truncate(postgres_url: str, clock: FixedClock) -> None:
    register = CivilRegister(postgres_url, clock=clock)
    register_people(register, 1)
    register.close()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        execute_raw(postgres_url, "TRUNCATE civledger_events")


@pytest.mark.parametrize("table", [LEAVES, NODES, CHECKPOINTS])
def test_the_merkle_log_refuses_update_and_delete(logged: str, table: str) -> None:
    column = {LEAVES: "leaf_hash", NODES: "hash", CHECKPOINTS: "root_hash"}[table]
    with pytest.raises(REFUSED, match="append-only"):
        execute_raw(logged, f"UPDATE {table} SET {column} = {column}")
    with pytest.raises(REFUSED, match="append-only"):
        execute_raw(logged, f"DELETE FROM {table}")


def test_refused_changes_leave_the_log_verifiable(logged: str, clock: FixedClock) -> None:
    with pytest.raises(REFUSED):
        execute_raw(logged, f"DELETE FROM {events_table(logged)}")
    register = CivilRegister(logged, clock=clock)
    result = MerkleLogProjection(register).verify()
    assert (result.events, result.logged) == (12, 12)  # four events per birth
