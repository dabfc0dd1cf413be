"""The verification service's ASGI application (FastAPI), one per worker process.

Every request to `/v1/` carries a partner key (`Authorization: Bearer KEY`) and states its
purpose. A request that names a person is answered only once its access-log entry has been
committed (`GroupCommitLog`): a crash never leaves an answer given and not logged.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError

from domain.errors import CivledgerError, InvalidInput
from domain.partners import (
    Operation,
    Outcome,
    PartnerPolicy,
    purpose_text,
    verification_answer,
)
from domain.values import IdNumber, clean_text
from infrastructure.access_log import (
    PAGE_MAX,
    AccessEntry,
    AccessLogStore,
    AsyncGroupCommitLog,
    GroupCommitLog,
    utc_now,
)
from infrastructure.store_url import StoreURL
from service.errors import (
    HANDLERS,
    ASGIApp,
    Guard,
    Refused,
    Scope,
    Send,
    log,
    problem_responses,
    refusal,
    register_problem,
    send_response,
)
from service.models import (
    AccessLogPage,
    FieldError,
    Health,
    HouseholdAnswer,
    HouseholdRequest,
    PersonAnswer,
    Problem,
    Readiness,
    VerifyAnswer,
    VerifyRequest,
)
from service.partners import PartnerKeys
from service.reader import RegisterAnswers

#: How the `serve` command hands its settings to every worker process.
CONFIG_VAR = "CIVLEDGER_SERVICE_CONFIG"
JSON = "application/json"
JSON_BYTES = JSON.encode()
#: Threads per worker that run queries (each holds one read-model connection).
THREADS = 16

T = TypeVar("T")


@dataclass(frozen=True)
class ServiceSettings:
    """Where the service reads and writes: `store` (the access log and the partners: the
    primary), `events` (the event log: the store or a replica), `views` (the read models)."""

    store: str
    events: str
    views: str
    workers: int = 1

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServiceSettings:
        return cls(**json.loads(os.environ[CONFIG_VAR]))


class Service:
    """What one worker holds: the answers, the partners' keys and the access log's writer
    (on the event loop for PostgreSQL, a thread for SQLite). Made inside the running loop."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.store = StoreURL.parse(settings.store)
        self.answers = RegisterAnswers(
            StoreURL.parse(settings.events), StoreURL.parse(settings.views)
        )
        self.keys = PartnerKeys(self.store, settings.workers)
        self._thread_log = GroupCommitLog(self.store) if self.store.is_sqlite else None
        self._loop_log = None if self.store.is_sqlite else AsyncGroupCommitLog(self.store)
        self._refreshing: asyncio.Task[None] | None = None

    def refresh_behind(self) -> None:
        """Reload the partners in a thread while requests go on with the keys loaded (still
        trusted); a failure is logged by its type and the next request tries again."""

        async def refresh() -> None:
            try:
                await run_in_threadpool(self.keys.refresh)
            except Exception as error:
                log.warning("partners not reloaded: %s", type(error).__name__)

        self._refreshing = asyncio.get_running_loop().create_task(refresh())

    async def record(self, entry: AccessEntry) -> None:
        """Wait until the entry is committed (raises if it could not be)."""
        if self._loop_log is not None:
            await self._loop_log.append(entry)
        elif self._thread_log is not None:
            await asyncio.wrap_future(self._thread_log.submit(entry))

    async def close(self) -> None:
        if self._refreshing is not None:
            await self._refreshing
        if self._loop_log is not None:
            await self._loop_log.close()
        await self.answers.close_async()
        await run_in_threadpool(self._close_blocking)

    def _close_blocking(self) -> None:
        if self._thread_log is not None:
            self._thread_log.close()
        self.keys.close()
        self.answers.close()


_bearer = HTTPBearer(auto_error=False, description="The partner's key.")
_PROTECTED = (401, 403, 422, 429, 503)
_POSTED = (*_PROTECTED, 413, 415)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def authorize(service: Service, key: str | None) -> PartnerPolicy:
    """The policy of the partner presenting `key`: 401 for no, an unknown or a revoked key
    (one answer for all three), 429 over its rate, 503 while the partners cannot be read."""
    if service.keys.claim_refresh():
        if service.keys.trusted():
            service.refresh_behind()  # the keys loaded are recent enough to judge by
        else:
            await run_in_threadpool(service.keys.refresh)
    if not service.keys.trusted():
        raise Refused(503, "the partners cannot be read now; try again later")
    policy = service.keys.authenticate(key)
    if policy is None:
        raise Refused(401, "a valid partner key is required", {"WWW-Authenticate": "Bearer"})
    wait = service.keys.wait_for(policy)
    if wait > 0:
        raise Refused(429, "over this partner's rate", {"Retry-After": str(math.ceil(wait))})
    return policy


async def partner(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> PartnerPolicy:
    """The calling partner's policy (`authorize`), as a FastAPI dependency."""
    return await authorize(_service(request), credentials.credentials if credentials else None)


Partner = Annotated[PartnerPolicy, Depends(partner)]
IdPath = Annotated[str, Path(pattern=r"^[0-9]{12}$", description="A 12-digit ID number.")]
PurposeQuery = Annotated[
    str, Query(min_length=1, max_length=200, description="Why the partner asks.")
]


def _number(text: str) -> IdNumber | None:
    """The number's structure, or None for twelve digits that cannot be a number (which
    simply matches no one)."""
    try:
        return IdNumber.parse_structure(text)
    except InvalidInput:
        return None


def _purpose(text: str) -> str:
    try:
        return purpose_text(text)
    except InvalidInput as error:
        error.field = "purpose"  # type: ignore[attr-defined]
        raise


async def _answer(
    service: Service,
    policy: PartnerPolicy,
    operation: Operation,
    person: str,
    purpose: str,
    work: Callable[[str], tuple[Outcome, T]],
    first: Callable[[str], Awaitable[tuple[Outcome, T] | None]] | None = None,
) -> T:
    """Check the scope, do the work, commit the access-log entry, then return the answer. A
    request out of scope is logged as refused, then refused (403). `first`, on the event
    loop, may answer before `work` is sent to a thread (None: it cannot)."""
    transaction = str(uuid.uuid4())
    stated = _purpose(purpose)

    def entry(outcome: Outcome) -> AccessEntry:
        return AccessEntry(
            at=utc_now(),
            partner=policy.name,
            purpose=stated,
            person=person,
            operation=operation.value,
            outcome=outcome.value,
            transaction=transaction,
        )

    if not policy.allows(operation):
        await service.record(entry(Outcome.REFUSED))
        raise Refused(403, f"this partner's policy does not allow {operation.value}")
    done = await first(transaction) if first is not None else None
    outcome, answer = done if done is not None else await run_in_threadpool(work, transaction)
    await service.record(entry(outcome))
    return answer


def _json(answer: dict[str, Any]) -> Response:
    """A ready JSON answer: the route's `response_model` documents it (OpenAPI) and the tests
    check it against the schema; it is not validated again at run time."""
    return Response(json.dumps(answer, separators=(",", ":")).encode(), media_type=JSON)


router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["health"])
async def healthz() -> Health:
    """The process is alive (no key needed)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    tags=["health"],
    responses={503: {"model": Readiness, "description": "Store or models unreachable."}},
)
async def readyz(request: Request) -> Any:
    """The store and the read models answer; `models` is each model's lag, in events."""
    service = _service(request)

    def check() -> Readiness:
        try:
            log = AccessLogStore.open(service.store)
            try:
                log.ping()
            finally:
                log.close()
        except Exception:
            return Readiness(ready=False, store="unreachable")
        try:
            lag = service.answers.lag()
        except Exception:
            return Readiness(ready=False, store="ok")
        return Readiness(ready=True, store="ok", models=lag)

    readiness = await run_in_threadpool(check)
    if not readiness.ready:
        return JSONResponse(readiness.model_dump(), status_code=503)
    return readiness


async def verification(
    service: Service, body: VerifyRequest, policy: PartnerPolicy
) -> dict[str, Any]:
    """The answer to a verification, once its access-log entry is committed: the FastAPI
    route and `VerifyFastPath` both answer through here."""

    async def from_models(transaction: str) -> tuple[Outcome, dict[str, Any]] | None:
        number = _number(body.id_number)
        try:
            name = clean_text(body.name, "name")
        except InvalidInput:
            return None
        if number is None:
            return None
        answered = await service.answers.verify_from_models(number, name, body.born)
        if answered is None:
            return None
        match, status = answered
        outcome = Outcome.MATCH if match else Outcome.NO_MATCH
        return outcome, verification_answer(match, status, transaction)

    def work(transaction: str) -> tuple[Outcome, dict[str, Any]]:
        number = _number(body.id_number)
        try:
            name = clean_text(body.name, "name")
        except InvalidInput:
            name = None  # a name no one can bear matches no one
        match, status = (
            service.answers.verify(number, name, body.born)
            if number is not None and name is not None
            else (False, "unknown")
        )
        outcome = Outcome.MATCH if match else Outcome.NO_MATCH
        return outcome, verification_answer(match, status, transaction)

    return await _answer(
        service, policy, Operation.VERIFY, body.id_number, body.purpose, work, from_models
    )


@router.post(
    "/v1/verify",
    response_model=VerifyAnswer,
    response_model_exclude_none=True,
    tags=["v1"],
    responses=problem_responses(*_POSTED),
)
async def verify(body: VerifyRequest, policy: Partner, request: Request) -> Response:
    """Does this ID number belong to a person of this name and date of birth? A mismatch
    says nothing more; a match adds the status (scope `verify`)."""
    return _json(await verification(_service(request), body, policy))


@router.post(
    "/v1/verify-household-head",
    response_model=HouseholdAnswer,
    tags=["v1"],
    responses=problem_responses(*_POSTED),
)
async def verify_household_head(
    body: HouseholdRequest, policy: Partner, request: Request
) -> Response:
    """Does the second person head the first person's household now (scope
    `household`)? An unknown number is simply no match."""
    service = _service(request)

    def work(transaction: str) -> tuple[Outcome, dict[str, Any]]:
        number = _number(body.id_number)
        head = _number(body.head_id_number)
        match = (
            service.answers.is_head_of(number, head)
            if number is not None and head is not None
            else False
        )
        outcome = Outcome.MATCH if match else Outcome.NO_MATCH
        return outcome, {"match": match, "transaction": transaction}

    return _json(
        await _answer(
            service,
            policy,
            Operation.VERIFY_HOUSEHOLD_HEAD,
            body.id_number,
            body.purpose,
            work,
        )
    )


@router.get(
    "/v1/people/{id_number}",
    response_model=PersonAnswer,
    tags=["v1"],
    responses=problem_responses(*_PROTECTED, 404),
)
async def lookup(
    id_number: IdPath, purpose: PurposeQuery, policy: Partner, request: Request
) -> dict[str, Any]:
    """The person holding (or having held) this number: only the fields of the partner's
    policy (scope `lookup`)."""
    service = _service(request)

    def work(transaction: str) -> tuple[Outcome, dict[str, Any] | None]:
        number = _number(id_number)
        person = service.answers.person(number) if number is not None else None
        if person is None:
            return Outcome.NOT_FOUND, None
        return Outcome.FOUND, {"transaction": transaction, "person": policy.disclose(person)}

    answer = await _answer(service, policy, Operation.LOOKUP, id_number, purpose, work)
    if answer is None:
        raise Refused(404, "no person holds or held this ID number")
    return answer


@router.get(
    "/v1/access-log/{id_number}",
    response_model=AccessLogPage,
    tags=["v1"],
    responses=problem_responses(*_PROTECTED),
)
async def access_log(
    id_number: IdPath,
    purpose: PurposeQuery,
    policy: Partner,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="Entries per page.")] = 50,
    before: Annotated[
        int | None, Query(ge=1, description="Only entries before this position.")
    ] = None,
    since: Annotated[
        date | None, Query(description="Only entries on or after this date (UTC).")
    ] = None,
) -> dict[str, Any]:
    """Who asked about this person: when, which partner, why, what, and the outcome;
    newest first, a page at a time (scope `access-log`). This request is logged too."""
    service = _service(request)

    def work(transaction: str) -> tuple[Outcome, dict[str, Any]]:
        log = AccessLogStore.open(service.store)
        try:
            found = log.entries(
                id_number,
                since=since.isoformat() if since else None,
                before=before,
                limit=limit + 1,
            )
        finally:
            log.close()
        page = found[:limit]
        more = len(found) > limit
        return Outcome.SHOWN, {
            "transaction": transaction,
            "entries": [e.as_document() for e in page],
            "next_before": page[-1].position if more and page else None,
        }

    return await _answer(service, policy, Operation.ACCESS_LOG, id_number, purpose, work)


class VerifyFastPath:
    """`POST /v1/verify`, the route partners call most, answered without FastAPI's middleware,
    routing and dependency resolution: the body is read as FastAPI reads it (`json.loads`,
    then `VerifyRequest`), the key as `HTTPBearer` reads it, and the answer and every refusal
    come from the same `authorize` and `verification` the route uses. A request this path
    cannot take whole (no bearer key, a body that is not a valid `VerifyRequest`) is left to
    the FastAPI route, which answers it as it always has (401, or 422 naming the fields).
    `tests/service/test_fast_path.py` holds the two to the same answers.

    `Guard` calls it with the body it has read and checked (type, size)."""

    path = "/v1/verify"

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, body: bytes, send: Send) -> bool:
        """Answer the request and return True, or return False having sent nothing."""
        request = self._request(body)
        key = _bearer_key(scope)
        if request is None or key is None:
            return False
        service: Service = self.app.state.service
        try:
            policy = await authorize(service, key)
            answer = await verification(service, request, policy)
        except Refused as error:
            await send_response(send, refusal(error))
            return True
        except CivledgerError as error:
            await send_response(send, register_problem(error))
            return True
        payload = json.dumps(answer, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", JSON_BYTES),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return True

    @staticmethod
    def _request(body: bytes) -> VerifyRequest | None:
        try:
            return VerifyRequest.model_validate(json.loads(body))
        except (ValueError, ValidationError):  # json's errors are ValueErrors
            return None


def _bearer_key(scope: Scope) -> str | None:
    """The key of an `Authorization: Bearer KEY` header, read as `HTTPBearer` reads it."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, credentials = get_authorization_scheme_param(value.decode("latin-1"))
            return credentials if scheme.lower() == "bearer" and credentials else None
    return None


def served(app: FastAPI, *, fast_path: bool = True) -> ASGIApp:
    """What a worker runs: `Guard` in front of the FastAPI application (which runs its own
    lifespan), offering `POST /v1/verify` to `VerifyFastPath` first. `fast_path=False` leaves
    it to its FastAPI route alone: the tests hold the fast path to that route's answers."""
    return Guard(app, VerifyFastPath(app) if fast_path else None)


def create_app(settings: ServiceSettings) -> FastAPI:
    """One worker's FastAPI application: every route, its schema and its error handlers (a
    worker serves it behind `served`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        service = Service(settings)
        app.state.service = service
        await service.answers.open_async()
        try:
            await run_in_threadpool(service.keys.refresh)
        except Exception as error:  # the first request tries again; /readyz tells
            log.warning("partners not loaded at start: %s", type(error).__name__)
        # What is alive now (modules, routes, models, the schema) lives as long as the worker:
        # frozen, it is never scanned again, so that a full collection under load looks only
        # at what requests made (one took 55-95 ms over the app's 90,000 objects, stalling
        # every request in flight: docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await service.close()

    app = FastAPI(
        title="civledger verification service",
        version="1",
        summary="Identity verification for partner agencies, with an access log the citizen "
        "can read.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    for kind, handler in HANDLERS.items():
        app.add_exception_handler(kind, handler)

    app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (Problem, FieldError):
                definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
                definition.pop("$defs", None)
                components[model.__name__] = definition
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def from_env() -> ASGIApp:
    """The application of one worker, from the settings `civledger serve` put in the
    environment (uvicorn's factory)."""
    return served(create_app(ServiceSettings.from_env()))
