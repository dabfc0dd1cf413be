"""The service's request and response bodies, as pydantic models (and so its OpenAPI schema)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.partners import PURPOSE_MAX

IdNumberText = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{12}$",
        description="A 12-digit personal ID number.",
        examples=["001090000001"],
    ),
]
Purpose = Annotated[
    str,
    Field(
        min_length=1,
        max_length=PURPOSE_MAX,
        description="Why the partner asks; kept in the access log the citizen can read.",
        examples=["opening a bank account"],
    ),
]
Transaction = Annotated[
    str,
    Field(
        description="The request's id, as the access log records it.",
        examples=["7b6f3c8e-3f0e-4d3a-9a59-2f4f9a2c1d10"],
    ),
]
Status = Literal["active", "cancelled", "deceased", "renounced", "merged"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VerifyRequest(Body):
    id_number: IdNumberText
    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="Full name; case and Vietnamese diacritics are ignored.",
            examples=["Nguyễn Văn An"],
        ),
    ]
    born: Annotated[date, Field(description="Date of birth.", examples=["1990-03-04"])]
    purpose: Purpose


class VerifyAnswer(BaseModel):
    match: bool
    transaction: Transaction
    status: Annotated[
        Status | None,
        Field(description="Only when it matches: the number's or the person's status."),
    ] = None


class HouseholdRequest(Body):
    id_number: IdNumberText
    head_id_number: IdNumberText
    purpose: Purpose


class HouseholdAnswer(BaseModel):
    match: Annotated[
        bool, Field(description="Whether the second person heads the first's household now.")
    ]
    transaction: Transaction


class PersonAnswer(BaseModel):
    transaction: Transaction
    person: Annotated[
        dict[str, Any],
        Field(description="Only the fields of the partner's policy (see `admin partner add`)."),
    ]


class AccessLogEntry(BaseModel):
    at: Annotated[str, Field(description="When (UTC, ISO 8601).")]
    partner: str
    purpose: str
    operation: Literal["verify", "verify-household-head", "lookup", "access-log"]
    outcome: Literal["match", "no-match", "found", "not-found", "shown", "refused"]
    transaction: Transaction
    position: Annotated[int, Field(description="The entry's position in the access log.")]


class AccessLogPage(BaseModel):
    transaction: Transaction
    entries: Annotated[list[AccessLogEntry], Field(description="Newest first.")]
    next_before: Annotated[
        int | None,
        Field(description="Pass as `before` for the next (older) page; null on the last."),
    ] = None


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    store: Literal["ok", "unreachable"]
    models: Annotated[
        dict[str, int] | None,
        Field(description="Events each model is behind the log; null when unreadable."),
    ] = None


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None
