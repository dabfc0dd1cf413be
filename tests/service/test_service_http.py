"""The verification service over HTTP, on a real server with two workers, on both backends:
answers, minimal disclosure, scopes and fields, keys, errors, and the access log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from infrastructure.access_log import AccessLogStore
from tests.service.conftest import AN, BINH, LOOKUP_FIELDS, Served
from tests.service.server import BY, add_partner, born, cli


def post(served: Served, path: str, partner: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = served.auth(partner) if partner else {}
    # A new connection per request, so that requests spread over the workers.
    return httpx.post(f"{served.url}{path}", json=body, headers=headers, timeout=30)


def get(served: Served, path: str, partner: str | None, **params: Any) -> httpx.Response:
    headers = served.auth(partner) if partner else {}
    return httpx.get(f"{served.url}{path}", params=params, headers=headers, timeout=30)


def verify(served: Served, partner: str, number: str, name: str, day: str) -> httpx.Response:
    body = {"id_number": number, "name": name, "born": day, "purpose": "opening an account"}
    return post(served, "/v1/verify", partner, body)


def log_of(served: Served, number: str) -> list[dict[str, Any]]:
    store = AccessLogStore.open(served.store)
    try:
        return [e.as_document() for e in store.entries(number, limit=500)]
    finally:
        store.close()


def test_a_match_says_the_status_and_a_mismatch_says_nothing_more(served: Served) -> None:
    matched = verify(served, "bank", served.an, "NGUYEN VAN AN", AN[1])
    assert matched.status_code == 200
    assert matched.json()["match"] is True
    assert matched.json()["status"] == "active"
    assert set(matched.json()) == {"match", "transaction", "status"}

    wrong_name = verify(served, "bank", served.an, "Nguyễn Văn Ba", AN[1]).json()
    wrong_date = verify(served, "bank", served.an, AN[0], "1990-03-05").json()
    unknown = verify(served, "bank", "001099999999", AN[0], AN[1]).json()
    for answer in (wrong_name, wrong_date, unknown):
        assert set(answer) == {"match", "transaction"}
        assert answer["match"] is False
    transactions = {
        matched.json()["transaction"],
        *(a["transaction"] for a in (wrong_name, unknown)),
    }
    assert len(transactions) == 3


def test_every_answer_is_in_the_access_log_without_the_name_or_the_date(served: Served) -> None:
    answer = verify(served, "bank", served.binh, BINH[0], BINH[1]).json()
    entries = log_of(served, served.binh)
    mine = [e for e in entries if e["transaction"] == answer["transaction"]]
    assert len(mine) == 1
    assert mine[0]["partner"] == "bank"
    assert mine[0]["operation"] == "verify"
    assert mine[0]["outcome"] == "match"
    assert mine[0]["purpose"] == "opening an account"
    rows = json.dumps(entries, ensure_ascii=False)
    assert BINH[0] not in rows
    assert BINH[1] not in rows


def test_a_number_issued_a_moment_ago_verifies_while_the_models_lag(served: Served) -> None:
    # The models were caught up when the ledger was made; nothing catches them up since.
    number = born(served.store, f"KS-{time.time_ns()}", "Lê Văn Cường", "male", "2026-01-02")
    answer = verify(served, "bank", number, "Lê Văn Cường", "2026-01-02").json()
    assert answer["match"] is True
    assert answer["status"] == "active"
    ready = httpx.get(f"{served.url}/readyz", timeout=30).json()
    assert ready["ready"] is True
    assert ready["models"]["people"] > 0  # the answer did not come from a caught-up model


def test_a_death_shows_at_once_while_the_models_lag(served: Served) -> None:
    # Caught up with the person alive; the death is recorded after, and nothing catches up.
    number = born(served.store, f"KS-{time.time_ns()}", "Đỗ Thị Dung", "female", "1950-02-03")
    cli(served.store, "projections", "catch-up")
    alive = verify(served, "bank", number, "Đỗ Thị Dung", "1950-02-03").json()
    assert alive == {"match": True, "transaction": alive["transaction"], "status": "active"}
    cli(served.store, "record-death", number, "--died-on", "2026-01-05", "--reference",
        f"KT-{time.time_ns()}", *BY)  # fmt: skip
    answer = verify(served, "bank", number, "Đỗ Thị Dung", "1950-02-03").json()
    assert answer == {"match": True, "transaction": answer["transaction"], "status": "deceased"}
    assert httpx.get(f"{served.url}/readyz", timeout=30).json()["models"]["people"] > 0
    # And once the models have it, from them.
    cli(served.store, "projections", "catch-up")
    again = verify(served, "bank", number, "Đỗ Thị Dung", "1950-02-03").json()
    assert again["status"] == "deceased"
    assert httpx.get(f"{served.url}/readyz", timeout=30).json()["models"]["people"] == 0


def test_a_mismatch_while_the_models_are_current_says_nothing_more(served: Served) -> None:
    cli(served.store, "projections", "catch-up")
    for name, day in ((AN[0], "1990-03-05"), ("Nguyễn Văn Anh", AN[1])):
        answer = verify(served, "bank", served.an, name, day).json()
        assert answer == {"match": False, "transaction": answer["transaction"]}
    unknown = verify(served, "bank", "001090999999", AN[0], AN[1]).json()
    assert unknown == {"match": False, "transaction": unknown["transaction"]}


def test_each_scope_is_needed_for_its_operation(served: Served) -> None:
    household = {"id_number": served.an, "head_id_number": served.binh, "purpose": "a benefit"}
    calls: dict[str, Callable[[str], httpx.Response]] = {
        "verify": lambda p: verify(served, p, served.an, AN[0], AN[1]),
        "household": lambda p: post(served, "/v1/verify-household-head", p, household),
        "lookup": lambda p: get(served, f"/v1/people/{served.an}", p, purpose="a claim"),
        "access-log": lambda p: get(served, f"/v1/access-log/{served.an}", p, purpose="portal"),
    }
    scopes = {
        "portal": {"verify", "household", "access-log"},
        "bank": {"verify"},
        "insurance": {"lookup"},
        "everything": set(calls),
    }
    for partner, allowed in scopes.items():
        for scope, call in calls.items():
            response = call(partner)
            if scope in allowed:
                assert response.status_code == 200, (partner, scope, response.text)
            else:
                assert response.status_code == 403, (partner, scope, response.text)
                assert response.headers["content-type"] == "application/problem+json"
    refused = [e for e in log_of(served, served.an) if e["outcome"] == "refused"]
    assert {(e["partner"], e["operation"]) for e in refused} >= {
        ("bank", "lookup"),
        ("insurance", "verify"),
        ("portal", "lookup"),
    }


def test_a_lookup_returns_only_the_fields_of_the_policy(served: Served) -> None:
    narrow = get(served, f"/v1/people/{served.an}", "insurance", purpose="a claim").json()
    assert set(narrow["person"]) == set(LOOKUP_FIELDS.split(","))
    assert narrow["person"] == {"name": AN[0], "born": AN[1], "status": "active"}
    wide = get(served, f"/v1/people/{served.an}", "everything", purpose="a claim").json()
    assert set(wide["person"]) == {
        "id_number", "name", "sex", "born", "birth_province", "nationality", "status",
    }  # fmt: skip
    assert "person_id" not in json.dumps(wide)
    missing = get(served, "/v1/people/001099999999", "insurance", purpose="a claim")
    assert missing.status_code == 404
    outcomes = [e["outcome"] for e in log_of(served, "001099999999")]
    assert "not-found" in outcomes


def test_an_unknown_a_revoked_and_a_missing_key_get_the_same_401(served: Served) -> None:
    partner = f"gone{time.time_ns()}"
    key = add_partner(served.store, partner, "--scopes", "verify")
    body = {"id_number": served.an, "name": AN[0], "born": AN[1], "purpose": "x"}
    answers = []
    for headers in ({"Authorization": "Bearer " + "A" * 43}, {}, {"Authorization": "Basic eA=="}):
        answers.append(httpx.post(f"{served.url}/v1/verify", json=body, headers=headers))
    cli(served.store, "admin", "partner", "revoke", partner)
    time.sleep(1.0)  # the contract: every worker refuses it within a second
    revoked = {"Authorization": f"Bearer {key}"}
    answers.append(httpx.post(f"{served.url}/v1/verify", json=body, headers=revoked))
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1
    assert all(a.headers["www-authenticate"] == "Bearer" for a in answers)


def test_a_revoked_or_rotated_key_is_refused_by_every_worker(served: Served) -> None:
    name = f"rot{time.time_ns()}"
    old = add_partner(served.store, name, "--scopes", "verify")
    body = {"id_number": served.an, "name": AN[0], "born": AN[1], "purpose": "x"}

    def codes(key: str) -> set[int]:
        # Twenty new connections: both workers answer some of them.
        return {
            httpx.post(
                f"{served.url}/v1/verify", json=body, headers={"Authorization": f"Bearer {key}"}
            ).status_code
            for _ in range(20)
        }

    time.sleep(1.0)  # a new key, as a revoked one, reaches every worker within a second
    assert codes(old) == {200}
    new = json.loads(cli(served.store, "admin", "partner", "rotate", name).stdout)["key"]
    time.sleep(1.0)
    assert codes(old) == {401}
    assert codes(new) == {200}
    cli(served.store, "admin", "partner", "revoke", name)
    time.sleep(1.0)
    assert codes(new) == {401}


def test_a_partner_over_its_rate_is_told_when_to_come_back(served: Served) -> None:
    answers = [verify(served, "slow", served.an, AN[0], AN[1]) for _ in range(6)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert all(int(a.headers["retry-after"]) >= 1 for a in limited)
    assert limited[0].headers["content-type"] == "application/problem+json"


def test_bad_requests_are_problems_naming_the_field(served: Served) -> None:
    body = {"id_number": "12", "name": AN[0], "born": "1990-13-01", "purpose": "x"}
    invalid = post(served, "/v1/verify", "bank", body)
    assert invalid.status_code == 422
    problem = invalid.json()
    assert problem["status"] == 422
    assert {e["field"] for e in problem["errors"]} == {"id_number", "born"}
    assert AN[0] not in invalid.text

    big = httpx.post(
        f"{served.url}/v1/verify",
        content=b'{"name": "' + b"a" * 17_000 + b'"}',
        headers={**served.auth("bank"), "content-type": "application/json"},
    )
    assert big.status_code == 413
    text = httpx.post(
        f"{served.url}/v1/verify",
        content=b"id_number=001090000001",
        headers={**served.auth("bank"), "content-type": "text/plain"},
    )
    assert text.status_code == 415
    for response in (big, text):
        assert response.headers["content-type"] == "application/problem+json"


def test_household_head_is_read_from_the_ledger(served: Served) -> None:
    reference = time.time_ns()
    head = born(served.store, f"KS-{reference}-1", "Phạm Văn Hùng", "male", "1970-05-06")
    son = born(served.store, f"KS-{reference}-2", "Phạm Văn Nam", "male", "1995-05-06")
    set_up = cli(
        served.store, "register-residence", head, "--kind", "permanent", "--commune", "00082",
        "--address", "12 Phố Huế", "--new-household", "--reference", f"TT-{reference}-1",
        "--effective", "2025-08-01", "--json", *BY,
    )  # fmt: skip
    number = json.loads(set_up.stdout)["household"]
    cli(
        served.store, "register-residence", son, "--kind", "permanent", "--commune", "00082",
        "--address", "12 Phố Huế", "--household", number, "--relation", "child",
        "--reference", f"TT-{reference}-2", "--effective", "2025-08-02", *BY,
    )  # fmt: skip

    def ask(number: str, head_number: str) -> dict[str, Any]:
        body = {"id_number": number, "head_id_number": head_number, "purpose": "a benefit"}
        response = post(served, "/v1/verify-household-head", "portal", body)
        assert response.status_code == 200
        return dict(response.json())

    assert ask(son, head)["match"] is True
    assert ask(head, head)["match"] is True
    assert ask(head, son)["match"] is False
    unknown = ask("001099999999", head)
    assert set(unknown) == {"match", "transaction"}
    assert unknown["match"] is False


def test_the_access_log_is_read_newest_first_a_page_at_a_time(served: Served) -> None:
    number = born(served.store, f"KS-{time.time_ns()}", "Hoàng Văn Em", "male", "1980-07-08")
    sent = [verify(served, "bank", number, "Hoàng Văn Em", "1980-07-08").json()["transaction"]
            for _ in range(5)]  # fmt: skip
    first = get(served, f"/v1/access-log/{number}", "portal", purpose="citizen portal", limit=3)
    assert first.status_code == 200
    page = first.json()
    assert [e["transaction"] for e in page["entries"]] == sent[::-1][:3]
    second = get(served, f"/v1/access-log/{number}", "portal", purpose="citizen portal",
                 limit=3, before=page["next_before"]).json()  # fmt: skip
    assert [e["transaction"] for e in second["entries"]] == sent[::-1][3:]
    assert second["next_before"] is None
    assert all(e["partner"] == "bank" and e["outcome"] == "match" for e in page["entries"])
    # The first read is itself logged, as an access-log read by the portal.
    reads = [e for e in log_of(served, number) if e["operation"] == "access-log"]
    assert {e["partner"] for e in reads} == {"portal"}
    shown = json.loads(cli(served.store, "access-log", number, "--json").stdout)
    assert [e["transaction"] for e in shown if e["operation"] == "verify"] == sent[::-1]


def test_health_needs_no_key(served: Served) -> None:
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{served.url}/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["models"]) == {"people", "id_numbers"}


def test_the_server_log_never_holds_a_key_a_name_or_a_date(served: Served) -> None:
    verify(served, "bank", served.an, "Wrong Name Xyz", "1901-01-01")
    post(served, "/v1/verify", "bank", {"id_number": "x", "name": "Leaky Name", "born": "no"})
    text = served.server.log_text()
    for secret in (*served.keys.values(), "Wrong Name Xyz", "1901-01-01", "Leaky Name", AN[0]):
        assert secret not in text


@pytest.mark.parametrize("statement", ["UPDATE civledger_access_log SET outcome = 'match'",
                                       "DELETE FROM civledger_access_log"])  # fmt: skip
def test_the_access_log_is_append_only(served: Served, statement: str) -> None:
    store = AccessLogStore.open(served.store)
    try:
        with pytest.raises(Exception, match="append-only"):
            store._query(statement)
    finally:
        store.close()
