"""The stored Merkle log: any batching, any interleaving of appends and checkpoints, and
concurrent checkpoint jobs all give a log whose proofs verify against its checkpoints."""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.register import CivilRegister
from audit.log import MerkleLogProjection
from audit.merkle import MemoryTree
from audit.proofs import EventLeaf, check_proof
from tests.audit.conftest import register_people
from tests.conftest import FixedClock


def _append(register: CivilRegister, count: int, person: uuid.UUID | None = None) -> None:
    """Append `count` stored events as they would sit in the store (payloads are opaque)."""
    events = []
    for version in range(1, count + 1):
        events.append(
            StoredEvent(
                originator_id=person or uuid.uuid4(),
                originator_version=version if person else 1,
                topic="civledger.person.BirthRegistered",
                state=os.urandom(40),
            )
        )
    register.recorder.insert_events(events)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    chunks=st.lists(st.integers(0, 9), min_size=1, max_size=6),
    batch_size=st.integers(1, 5),
)
def test_every_checkpoint_extends_the_previous_and_matches_a_full_recomputation(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[int], batch_size: int
) -> None:
    path = tmp_path_factory.mktemp("log") / "ledger.sqlite"
    register = CivilRegister(f"sqlite:///{path}", clock=FixedClock())
    projection = MerkleLogProjection(register, batch_size=batch_size)
    person = uuid.uuid4()
    _append(register, 3, person)
    checkpoints = []
    for count in chunks:
        _append(register, count)
        checkpoints.append(projection.checkpoint().checkpoint)
    notifications = register.recorder.select_notifications(None, 10_000)
    leaves = [
        EventLeaf.of_stored(
            n.id, uuid.UUID(str(n.originator_id)), n.originator_version, n.topic, n.state
        ).hash()
        for n in notifications
    ]
    reference = MemoryTree(leaves)
    for earlier, later in itertools.pairwise(checkpoints):
        assert earlier.root == reference.root(earlier.size)
        projection.consistency(earlier, later).verify()
    assert checkpoints[-1].root == reference.root()
    proofs = projection.prove(person)
    assert [p.leaf.position for p in proofs.proofs] == [1, 2, 3]
    assert check_proof(proofs.document(), checkpoints[-1]).positions == [1, 2, 3]
    register.close()


def test_concurrent_checkpoint_jobs_and_clerks_keep_one_consistent_log(
    store_url: str, clock: FixedClock
) -> None:
    errors: list[BaseException] = []

    def job(kind: str, index: int) -> None:
        register = CivilRegister(store_url, clock=clock)
        try:
            for round_ in range(3):
                if kind == "clerk":
                    register_people(register, 1, prefix=f"KS-{index}-{round_}")
                else:
                    MerkleLogProjection(register).checkpoint()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            register.close()

    CivilRegister(store_url, clock=clock).close()  # the schema, once
    threads = [
        threading.Thread(target=job, args=(kind, i))
        for i, kind in enumerate(["clerk", "auditor", "clerk", "auditor"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    register = CivilRegister(store_url, clock=clock)
    projection = MerkleLogProjection(register)
    final = projection.checkpoint().checkpoint
    result = projection.verify()
    register.close()
    assert final.size == result.events == 24
    assert result.checkpoints_checked >= 1  # every stored checkpoint matched the events


def test_verify_on_a_store_with_no_log_yet_counts_every_event_as_unlogged(
    tmp_path: Path, clock: FixedClock
) -> None:
    register = CivilRegister(f"sqlite:///{tmp_path / 'fresh.sqlite'}", clock=clock)
    register_people(register, 1)
    result = MerkleLogProjection(register).verify()
    register.close()
    assert (result.events, result.logged, result.latest) == (4, 0, None)
