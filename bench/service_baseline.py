"""The bare baseline of the verification service's benchmark: a minimal ASGI application that
answers `POST /v1/verify` with the same prepared primary-key query over the read models, on the
event loop from the same size of async connection pool the service's verifications use, with
no key, no validation beyond reading the JSON, and no access log.

    BASELINE_VIEWS=postgresql://... uvicorn --factory bench.service_baseline:create
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from psycopg_pool import AsyncConnectionPool

from domain.values import fold_name
from infrastructure.store_url import StoreURL
from projections.id_registry import ID_NUMBERS
from projections.people import PEOPLE
from service.reader import ASYNC_CONNECTIONS

QUERY = (
    f"SELECT n.status, p.status, p.name_folded, p.born FROM {ID_NUMBERS.physical()} n "
    f"JOIN {PEOPLE.physical()} p ON p.person_id = n.person_id WHERE n.id_number = %s"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def create() -> Callable[..., Awaitable[None]]:
    url = StoreURL.parse(os.environ["BASELINE_VIEWS"])
    pool = AsyncConnectionPool(
        kwargs={
            "host": url.host,
            "port": url.port,
            "user": url.user,
            "dbname": url.dbname,
            "autocommit": True,
        },
        min_size=2,
        max_size=ASYNC_CONNECTIONS,
        open=False,
    )

    async def answer(body: dict[str, Any]) -> dict[str, Any]:
        async with pool.connection() as connection:
            cursor = await connection.execute(QUERY, (body["id_number"],), prepare=True)
            row = await cursor.fetchone()
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
                    await pool.open()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        document = await answer(json.loads(b"".join(chunks)))
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
