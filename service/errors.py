"""Errors as RFC 9457 problem details (`application/problem+json`), and the guard in front of
the application: body size and type, and no traceback ever sent or logged."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import CivledgerError, InvalidInput

PROBLEM_TYPE = "application/problem+json"
#: Largest request body (bytes).
BODY_LIMIT = 16 * 1024

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
DESCRIPTIONS = {
    401: "No key, an unknown key or a revoked key: the same answer for each.",
    403: "The partner's policy does not allow this operation.",
    404: "No person holds or held this ID number.",
    413: "The body is over 16 KB.",
    415: "The body is not `application/json`.",
    422: "The request is invalid; `errors` names each field.",
    429: "Over the partner's rate; `Retry-After` says when to try again.",
    503: "The store or the read models are unreachable; nothing was answered.",
}

log = logging.getLogger("civledger.service")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Refused(HTTPException):
    """An answer of problem details."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries of these problems."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "description": DESCRIPTIONS[code],
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if code == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait.",
                    "schema": {"type": "integer"},
                }
            }
        documented[code] = entry
    return documented


def refusal(error: StarletteHTTPException) -> JSONResponse:
    """The problem an HTTP error (a `Refused`) is answered with."""
    detail = error.detail if isinstance(error.detail, str) else None
    return problem(error.status_code, detail, headers=getattr(error, "headers", None))


def register_problem(error: CivledgerError) -> JSONResponse:
    """Bad input found by the domain is 422; anything else the register raises (a store that
    does not answer) is 503, in one line without the store's address."""
    if isinstance(error, InvalidInput):
        field = getattr(error, "field", None) or "body"
        return problem(
            422, "the request is invalid", errors=[{"field": field, "message": str(error)}]
        )
    log.warning("unavailable: %s", type(error).__name__)
    return problem(503, "the register cannot answer now; try again later")


async def on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)  # noqa: S101 (registered for it only)
    return refusal(error)


async def on_invalid(request: Request, error: Exception) -> JSONResponse:
    """422 naming each invalid field, never echoing what was submitted."""
    assert isinstance(error, RequestValidationError)  # noqa: S101
    errors = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        if location and location[0] in ("body", "query", "path"):
            location = location[1:]
        errors.append({"field": ".".join(location) or "body", "message": str(item.get("msg"))})
    return problem(422, "the request is invalid", errors=errors)


async def on_register_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CivledgerError)  # noqa: S101
    return register_problem(error)


async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
    """An error no handler expects: a 500 problem with no detail. Starlette raises the error
    again once this is sent, and `Guard` logs its type alone."""
    return problem(500, "internal error")


HANDLERS: dict[type[Exception], Any] = {
    Exception: on_unexpected,
    StarletteHTTPException: on_http_error,
    RequestValidationError: on_invalid,
    CivledgerError: on_register_error,
}


class FastHandler(Protocol):
    """Answers one path's POST from its body alone; returns False, having sent nothing, to
    leave the request to the application."""

    path: str

    async def __call__(self, scope: Scope, body: bytes, send: Send) -> bool: ...


class Guard:
    """In front of the application: a body that is not JSON (415) or is over `BODY_LIMIT`
    (413) is refused before anything reads it; an unexpected error becomes a 500 problem with
    no detail, and one log line with its type only (never a key, a name or a date). A POST to
    `fast.path` is offered to `fast` first, with the body read."""

    def __init__(self, app: ASGIApp, fast: FastHandler | None = None) -> None:
        self.app = app
        self.fast = fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                body = await self._body(scope, receive, sending)
                if body is None:
                    return
                fast = self.fast
                if (
                    fast is not None
                    and scope["path"] == fast.path
                    and await fast(scope, body, sending)
                ):
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, sending)
        except Exception as error:
            log.error("internal error: %s", type(error).__name__)
            if not started:
                await send_response(send, problem(500, "internal error"))

    async def _body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once a problem is sent (or the client has gone)."""
        headers = dict(scope.get("headers", []))  # ASGI names are lower case
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind != b"application/json":
            await send_response(send, problem(415, "send the body as application/json"))
            return None
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > BODY_LIMIT:
            await send_response(send, problem(413, f"the body is over {BODY_LIMIT} bytes"))
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > BODY_LIMIT:
                await send_response(send, problem(413, f"the body is over {BODY_LIMIT} bytes"))
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` that gives the body already read, then whatever comes next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_response(send: Send, response: Response) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
