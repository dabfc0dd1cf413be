"""An answer is sent only once its access-log entry is committed: kill -9 the server while
clients hammer it, and every answer a client received has its entry."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from infrastructure.access_log import AccessEntry, AccessLogStore
from tests.service.conftest import AN, BINH, populate
from tests.service.server import Server

CLIENTS = 8
#: Answers received before the kill: enough for many group commits to be in flight.
ANSWERS_BEFORE_KILL = 300


def test_every_answer_received_before_a_kill_9_has_its_log_entry(
    store_url: str, tmp_path: Path
) -> None:
    an, binh, keys = populate(store_url)
    server = Server(store_url, tmp_path / "server.log", workers=2)
    received: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()
    people = [(an, *AN), (binh, *BINH)]

    def client(number: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {keys['bank']}"}) as http:
            turn = number
            while not stop.is_set():
                who, name, day = people[turn % 2]
                turn += 1
                body = {"id_number": who, "name": name, "born": day, "purpose": "load"}
                try:
                    response = http.post(f"{server.url}/v1/verify", json=body, timeout=10)
                except httpx.HTTPError:
                    continue  # the server is gone: nothing was received
                if response.status_code == 200:
                    with lock:
                        received.append(response.json()["transaction"])
                        if len(received) >= ANSWERS_BEFORE_KILL:
                            enough.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        assert enough.wait(timeout=120), f"only {len(received)} answers"
        server.kill()  # while requests are in flight
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        server.stop()

    log = AccessLogStore.open(store_url)
    try:
        logged = {e.transaction for who in (an, binh) for e in _all(log, who)}
    finally:
        log.close()
    missing = set(received) - logged
    assert len(received) >= ANSWERS_BEFORE_KILL
    assert not missing, f"{len(missing)} answers received without a log entry"


def _all(log: AccessLogStore, person: str) -> list[AccessEntry]:
    entries: list[AccessEntry] = []
    before = None
    while True:
        page = log.entries(person, before=before, limit=500)
        entries += page
        if len(page) < 500:
            return entries
        before = page[-1].position
