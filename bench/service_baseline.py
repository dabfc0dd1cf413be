"""The bare baseline of the verification service's benchmark: a minimal ASGI application that
answers `POST /v1/verify` with the same prepared primary-key query over the read models, run
the same way (a thread per query, a connection per thread), with no key, no validation beyond
reading the JSON, and no access log.

    BASELINE_VIEWS=postgresql://... uvicorn --factory bench.service_baseline:create
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
import psycopg

from domain.values import fold_name
from infrastructure.store_url import StoreURL
from projections.id_registry import ID_NUMBERS
from projections.people import PEOPLE
from service.app import THREADS

QUERY = (
    f"SELECT n.status, p.status, p.name_folded, p.born FROM {ID_NUMBERS.physical()} n "
    f"JOIN {PEOPLE.physical()} p ON p.person_id = n.person_id WHERE n.id_number = %s"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def create() -> Callable[..., Awaitable[None]]:
    url = StoreURL.parse(os.environ["BASELINE_VIEWS"])
    local = threading.local()

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = psycopg.connect(
                host=url.host, port=url.port, user=url.user, dbname=url.dbname, autocommit=True
            )
        row = connection.execute(QUERY, (body["id_number"],), prepare=True).fetchone()
        match = bool(row and row[2] == fold_name(body["name"]) and row[3] == str(body["born"]))
        if not match or row is None:
            return {"match": False}
        return {"match": True, "status": "cancelled" if row[0] == "cancelled" else row[1]}

    async def app(
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        document = await anyio.to_thread.run_sync(answer, json.loads(b"".join(chunks)))
        payload = json.dumps(document).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app
