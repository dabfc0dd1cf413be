"""`VerifyFastPath` answers `POST /v1/verify` exactly as the FastAPI route alone does: for
any body, valid or not, and any key, the two give the same status, the same headers that
matter and the same body (but the transaction id), and log the same entry."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.values import IdNumber
from infrastructure.access_log import ACCESS_LOG_TABLE
from infrastructure.eventlog import EVENTS_TABLE, EventLog
from infrastructure.store_url import StoreURL
from service.app import Service, ServiceSettings, create_app, served
from service.reader import RegisterAnswers
from tests.service.conftest import AN, BINH, populate
from tests.service.server import BY, cli

#: The headers an answer is compared on, besides its status and body.
HEADERS = ("content-type", "www-authenticate", "retry-after")
MISSING = object()


@dataclass
class Apps:
    loop: asyncio.AbstractEventLoop
    fast: httpx.AsyncClient
    route: httpx.AsyncClient
    services: list[Service]
    path: str
    numbers: list[str]
    keys: dict[str, str]

    def post(self, client: httpx.AsyncClient, body: bytes, auth: str | None) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if auth is not None:
            headers["authorization"] = auth
        sent = client.post("/v1/verify", content=body, headers=headers)
        return self.loop.run_until_complete(sent)

    def entries(self) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as connection:
            return connection.execute(
                f"SELECT partner, purpose, person, operation, outcome FROM {ACCESS_LOG_TABLE} "
                "ORDER BY position"
            ).fetchall()


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    path = tmp_path_factory.mktemp("fast") / "ledger.sqlite"
    store = f"sqlite:///{path}"
    an, binh, keys = populate(store)
    cli(store, "admin", "partner", "revoke", "portal")
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()

    services: list[Service] = []

    async def start(fast_path: bool) -> httpx.AsyncClient:
        app = create_app(configured)
        await stack.enter_async_context(app.router.lifespan_context(app))
        services.append(app.state.service)
        transport = httpx.ASGITransport(app=served(app, fast_path=fast_path))
        client = httpx.AsyncClient(transport=transport, base_url="http://service")
        return await stack.enter_async_context(client)

    configured = ServiceSettings(store=store, events=store, views=store)
    fast = loop.run_until_complete(start(fast_path=True))
    route = loop.run_until_complete(start(fast_path=False))
    try:
        yield Apps(loop, fast, route, services, str(path), [an, binh], keys)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


def auths(apps: Apps) -> st.SearchStrategy[str | None]:
    """Keys: allowed, out of scope, revoked, unknown, absent, in another scheme or empty."""
    return st.sampled_from(
        [
            f"Bearer {apps.keys['bank']}",
            f"bearer  {apps.keys['bank']} ",
            f"Bearer {apps.keys['insurance']}",  # no `verify` scope: 403
            f"Bearer {apps.keys['portal']}",  # revoked
            "Bearer not-a-key",
            f"Basic {apps.keys['bank']}",
            "Bearer ",
            None,
        ]
    )


def bodies(apps: Apps) -> st.SearchStrategy[bytes]:
    values: dict[str, list[Any]] = {
        "id_number": [*apps.numbers, "001090000001", "12", "00109000000x", 12, None],
        "name": [AN[0], AN[0].upper(), "nguyen van an", BINH[0], "", "  ", "a" * 201, 5],
        "born": [AN[1], BINH[1], "1990-13-01", "not a date", 19900304, None],
        "purpose": ["opening an account", "", "   ", "x" * 201, "line\nbreak", None],
    }
    fields: dict[str, st.SearchStrategy[Any]] = {
        name: st.one_of(st.just(MISSING), st.sampled_from(choices))
        for name, choices in values.items()
    }
    documents = st.fixed_dictionaries(fields, optional={"extra": st.just("field")}).map(
        lambda d: json.dumps({k: v for k, v in d.items() if v is not MISSING}).encode()
    )
    # Documents FastAPI takes, which the domain may still refuse (a blank or unprintable
    # purpose, a name no one can bear); some not JSON or not an object at all.
    whole = st.fixed_dictionaries(
        {
            "id_number": st.sampled_from([*apps.numbers, "001090000001"]),
            "name": st.sampled_from([AN[0], AN[0].upper(), "nguyen van an", BINH[0], "  "]),
            "born": st.sampled_from([AN[1], BINH[1]]),
            "purpose": st.sampled_from(["opening an account", "   ", "bell\x07", "a\nb"]),
        }
    ).map(lambda d: json.dumps(d).encode())
    junk = st.sampled_from([b"", b"{", b"[]", b"null", b'"text"', b"\xff\xfe"])
    return st.one_of(whole, documents, junk)


def compared(response: httpx.Response) -> tuple[Any, ...]:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body.pop("transaction", None)
    return (
        response.status_code,
        tuple(response.headers.get(h) for h in HEADERS),
        json.dumps(body, sort_keys=True),
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_the_fast_path_answers_as_the_route_does(apps: Apps, data: st.DataObject) -> None:
    body = data.draw(bodies(apps), label="body")
    auth = data.draw(st.one_of(st.just(f"Bearer {apps.keys['bank']}"), auths(apps)), label="auth")
    before = len(apps.entries())
    fast = apps.post(apps.fast, body, auth)
    after_fast = apps.entries()
    route = apps.post(apps.route, body, auth)
    after_route = apps.entries()
    assert compared(fast) == compared(route)
    # The same entry, or none from either.
    assert after_fast[before:] == after_route[len(after_fast) :]


def test_a_match_is_answered_by_both_with_the_status(apps: Apps) -> None:
    body = json.dumps(
        {"id_number": apps.numbers[0], "name": AN[0], "born": AN[1], "purpose": "account"}
    ).encode()
    auth = f"Bearer {apps.keys['bank']}"
    answers = [apps.post(client, body, auth) for client in (apps.fast, apps.route)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json()["status"] for a in answers] == ["active", "active"]
    assert answers[0].json()["transaction"] != answers[1].json()["transaction"]


def test_an_unexpected_error_is_a_bare_500_and_a_log_line_without_the_request(
    apps: Apps, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    number = apps.numbers[0]

    def fail(*args: Any) -> Any:
        raise RuntimeError(f"failed on {number}")

    async def fail_async(*args: Any) -> Any:
        fail()

    for service in apps.services:
        monkeypatch.setattr(service.answers, "verify_from_models", fail_async)
        monkeypatch.setattr(service.answers, "verify", fail)
    body = json.dumps(
        {"id_number": number, "name": AN[0], "born": AN[1], "purpose": "account"}
    ).encode()
    with caplog.at_level("ERROR", logger="civledger.service"):
        answers = [
            apps.post(client, body, f"Bearer {apps.keys['bank']}")
            for client in (apps.fast, apps.route)
        ]
    for answer in answers:
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json() == {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "internal error",
        }
    assert caplog.messages == ["internal error: RuntimeError"] * 2
    assert number not in caplog.text


@pytest.mark.postgres
def test_on_current_postgres_models_a_verification_is_one_round_trip_on_the_loop(
    postgres_url: str,
) -> None:
    an, _, _ = populate(postgres_url)
    url = StoreURL.parse(postgres_url)
    answers = RegisterAnswers(url, url)
    number = IdNumber.parse_structure(an)
    born = date.fromisoformat(AN[1])

    async def ask(name: str, person: IdNumber = number) -> tuple[bool, str] | None:
        return await answers.verify_from_models(person, name, born)

    async def asked_before_and_after_a_death() -> list[tuple[bool, str] | None]:
        await answers.open_async()
        try:
            before = [
                await ask(AN[0]),
                await ask("Nguyễn Văn Anh"),
                await ask(AN[0], IdNumber.parse_structure("001090999999")),
            ]
            cli(postgres_url, "record-death", an, "--died-on", "2026-01-05", "--reference",
                "KT-FAST-1", *BY)  # fmt: skip
            lagging = await ask(AN[0])  # the models lag: left to the threaded path
            cli(postgres_url, "projections", "catch-up")
            return [*before, lagging, await ask(AN[0])]
        finally:
            await answers.close_async()
            answers.close()

    assert asyncio.run(asked_before_and_after_a_death()) == [
        (True, "active"),
        (False, "unknown"),
        (False, "unknown"),
        None,
        (True, "deceased"),
    ]


@pytest.mark.postgres
def test_the_event_logs_table_is_named_as_the_library_names_it(postgres_url: str) -> None:
    cli(postgres_url, "init")
    log = EventLog(StoreURL.parse(postgres_url))
    try:
        assert log.recorder.events_table_name == EVENTS_TABLE  # type: ignore[attr-defined]
    finally:
        log.close()
