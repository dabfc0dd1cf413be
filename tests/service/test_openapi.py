"""Property tests of the live server against its own `/openapi.json` (schemathesis): every
operation, with a valid key and with none, on both backends. No answer is a 5xx, and every
answer conforms to the schema: a documented status, its content type, its body and headers."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service.conftest import Served

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: Examples per operation and per key: enough to cross every field's edges, a few seconds.
EXAMPLES = 30


#: Every operation the schema documents (the first test checks that it documents these).
OPERATIONS = [
    ("/healthz", "GET"),
    ("/readyz", "GET"),
    ("/v1/verify", "POST"),
    ("/v1/verify-household-head", "POST"),
    ("/v1/people/{id_number}", "GET"),
    ("/v1/access-log/{id_number}", "GET"),
]


@pytest.fixture(scope="module")
def live_schema(served: Served) -> Any:
    return schemathesis.openapi.from_url(f"{served.url}/openapi.json")


def test_the_schema_documents_every_endpoint_and_error(served: Served) -> None:
    import httpx

    document = httpx.get(f"{served.url}/openapi.json").json()
    paths = document["paths"]
    assert {(p, m.upper()) for p, ops in paths.items() for m in ops} == set(OPERATIONS)
    for path, operations in paths.items():
        for operation in operations.values():
            codes = set(operation["responses"])
            if path.startswith("/v1/"):
                assert {"200", "401", "403", "422", "429", "503"} <= codes, path
                assert operation["security"] == [{"HTTPBearer": []}]
            if "requestBody" in operation:
                assert {"413", "415"} <= codes, path
    assert "Problem" in document["components"]["schemas"]


@pytest.mark.parametrize("keyed", [True, False], ids=["with-key", "without-key"])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_answer_conforms(
    served: Served, live_schema: Any, path: str, method: str, keyed: bool
) -> None:
    operation = live_schema[path][method]
    headers = served.auth("everything") if keyed else {}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def answers_conform(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if not keyed and path.startswith("/v1/") and response.status_code not in (413, 415):
            assert response.status_code == 401

    answers_conform()
