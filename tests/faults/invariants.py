"""What must hold after every fault, checked against the store through the register itself."""

from __future__ import annotations

import json
import threading
import time

from eventsourcing.persistence import PersistenceError

from application.register import CivilRegister
from domain.commands import RegisterBirth
from domain.registry import act_id, claim_id, person_id_for_birth
from tests.faults.conftest import civledger

OFFICE = "HN-01"


def birth_state(register: CivilRegister, reference: str) -> bool:
    """True when the birth act is wholly recorded, False when wholly absent.

    Wholly recorded: the act record, the person's BirthRegistered and IdNumberAssigned events,
    and the claim on that number by that person. Anything in between fails the check.
    """
    person_events = list(register.events.get(person_id_for_birth(OFFICE, reference)))
    act_events = list(register.events.get(act_id(RegisterBirth.KIND, OFFICE, reference)))
    if not person_events and not act_events:
        return False
    assert act_events, f"{reference}: the person is recorded without the act"
    assert person_events, f"{reference}: the act is recorded without the person"
    kinds = [type(e).__name__ for e in person_events]
    assert kinds[:2] == ["BirthRegistered", "IdNumberAssigned"], f"{reference}: {kinds}"
    assert kinds.count("BirthRegistered") == 1, f"{reference}: {kinds}"
    number = register.person(person_id_for_birth(OFFICE, reference)).id_number
    assert number is not None
    claim_events = list(register.events.get(claim_id(number)))
    assert len(claim_events) == 1, f"{reference}: claim on {number} has {len(claim_events)} events"
    return True


def log_positions(register: CivilRegister) -> list[int]:
    """Every position in the global log, in order."""
    positions: list[int] = []
    start: int | None = None
    while True:
        page = register.recorder.select_notifications(
            start=start, limit=500, inclusive_of_start=start is None
        )
        if not page:
            return positions
        positions.extend(n.id for n in page)
        start = page[-1].id


class TailingReader(threading.Thread):
    """Reads the global log from `url` (a replica) page after page, as a follower would.

    Started before a fault and stopped after it, it must have seen every committed event
    exactly once, in position order: no gap, no duplicate, never a step backwards.
    """

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seen: list[int] = []
        self.errors = 0
        self._stop_reading = threading.Event()

    def run(self) -> None:
        register = CivilRegister(self.url)
        try:
            while not self._stop_reading.is_set():
                if not self.read_once(register):
                    time.sleep(0.05)
        finally:
            register.close()

    def read_once(self, register: CivilRegister) -> int:
        last = self.seen[-1] if self.seen else None
        try:
            page = register.recorder.select_notifications(
                start=last, limit=1000, inclusive_of_start=last is None
            )
        except PersistenceError:
            self.errors += 1
            return 0
        self.seen.extend(n.id for n in page)
        return len(page)

    def stop_at(self, head: int, timeout: float = 60) -> None:
        """Stop once the reader has reached position `head`."""
        deadline = time.monotonic() + timeout
        while (not self.seen or self.seen[-1] < head) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop_reading.set()
        self.join(timeout=30)


def assert_saw_everything_once(reader: TailingReader, positions: list[int]) -> None:
    assert reader.seen == sorted(set(reader.seen)), "the reader saw a duplicate or went back"
    assert reader.seen == positions, (
        f"the reader saw {len(reader.seen)} positions, the log holds {len(positions)}; "
        f"missed {sorted(set(positions) - set(reader.seen))[:10]}"
    )


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def audit_verifies(store: str) -> None:
    verify = civledger("audit", "verify", store=store)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def digest(store: str) -> dict[str, str]:
    done = civledger("projections", "digest", "--json", store=store)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def assert_models_equal_a_rebuild(store: str, events_from: str) -> None:
    live = digest(store)
    rebuilt = civledger("projections", "rebuild", "--events-from", events_from, store=store)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert digest(store) == live
