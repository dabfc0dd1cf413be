"""Store URLs: parsed once, never shown with their password, settings checked up front."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from infrastructure.store_url import StoreURL, redact_url

HIDDEN = "s3cret"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://postgres:{HIDDEN}@db.example:70000/ledger",  # port out of range
        f"postgresql://postgres:{HIDDEN}@/ledger",  # no host
        f"postgresql://postgres:{HIDDEN}@db.example",  # no database
        f"postgresq://postgres:{HIDDEN}@db.example/ledger",  # misspelt scheme
        f"postgresql://postgres:{HIDDEN}@[::1/ledger",  # unclosed IPv6 bracket
        f"postgres:{HIDDEN}@db.example/ledger",  # no //
    ],
)
def test_a_malformed_store_url_is_bad_input_that_never_shows_its_password(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        StoreURL.parse(url)
    assert HIDDEN not in refused.value.message
    assert "postgres:***@" in refused.value.message


def test_an_unclosed_ipv6_bracket_is_a_malformed_url_not_a_crash() -> None:
    with pytest.raises(InvalidInput, match="is malformed"):
        StoreURL.parse("postgresql://postgres@[::1/ledger")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://clerk:s3cret@db:5432/ledger", "postgresql://clerk:***@db:5432/ledger"),
        ("postgresql://clerk:s%40cret@db/ledger", "postgresql://clerk:***@db/ledger"),
        ("postgresql://clerk:p@ss/w:rd@db/ledger", "postgresql://clerk:***@db/ledger"),
        (
            "postgresql://clerk@db/ledger?password=s3cret",
            "postgresql://clerk@db/ledger?password=***",
        ),
        ("postgresql://clerk@db/ledger", "postgresql://clerk@db/ledger"),
        ("sqlite:///data/ledger.sqlite", "sqlite:///data/ledger.sqlite"),
    ],
)
def test_a_redacted_url_masks_the_password_however_it_is_written(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_percent_encoded_password_is_masked_in_a_parsed_url() -> None:
    url = StoreURL.parse("postgresql://clerk:s%40cret@db/ledger")
    assert url.password == "s@cret"  # noqa: S105 (a test value)
    assert url.redacted() == "postgresql://clerk:***@db/ledger"


@pytest.mark.parametrize("variable", ["CIVLEDGER_CONNECT_TIMEOUT", "CIVLEDGER_SQLITE_LOCK_TIMEOUT"])
@pytest.mark.parametrize("store", ["sqlite:///ledger.sqlite", "postgresql://clerk@db/ledger"])
@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5", "²"])
def test_a_store_timeout_that_is_not_whole_seconds_is_bad_input_on_both_backends(
    variable: str, store: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidInput, match=variable):
        StoreURL.parse(store).environment()


def test_the_store_timeouts_reach_the_librarys_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVLEDGER_CONNECT_TIMEOUT", " 2 ")
    monkeypatch.setenv("CIVLEDGER_SQLITE_LOCK_TIMEOUT", "7")
    assert (
        StoreURL.parse("postgresql://clerk@db/ledger").environment()["POSTGRES_CONNECT_TIMEOUT"]
        == "2"
    )
    assert StoreURL.parse("sqlite:///ledger.sqlite").environment()["SQLITE_LOCK_TIMEOUT"] == "7"


# A cluster's URL: several hosts, libpq's way, and the role a connection must find.

CLUSTER = (
    "postgresql://clerk:{pw}@10.0.0.1:5441,10.0.0.2,[::1]:5443/ledger?target_session_attrs={a}"
)


def test_a_url_naming_several_hosts_gives_libpq_its_host_and_port_lists() -> None:
    url = StoreURL.parse(CLUSTER.format(pw=HIDDEN, a="read-write"))
    assert url.host == "10.0.0.1,10.0.0.2,::1"
    assert url.port == "5441,5432,5443"
    assert (url.user, url.password, url.dbname) == ("clerk", HIDDEN, "ledger")
    assert url.target_session_attrs == "read-write"
    env = url.environment()
    assert env["POSTGRES_HOST"] == "10.0.0.1,10.0.0.2,::1"
    assert env["POSTGRES_PORT"] == "5441,5432,5443"
    assert env["POSTGRES_TARGET_SESSION_ATTRS"] == "read-write"
    assert HIDDEN not in url.redacted()
    assert url.redacted().startswith("postgresql://clerk:***@10.0.0.1:5441,10.0.0.2,[::1]:5443/")


def test_a_one_host_url_asks_for_no_particular_role() -> None:
    url = StoreURL.parse("postgresql://clerk@db/ledger")
    assert (url.host, url.port, url.target_session_attrs) == ("db", "5432", "")
    assert url.environment()["POSTGRES_TARGET_SESSION_ATTRS"] == ""


@pytest.mark.parametrize(
    "url",
    [
        CLUSTER.format(pw=HIDDEN, a="writer"),  # not a libpq value
        CLUSTER.format(pw=HIDDEN, a="read-write&target_session_attrs=any"),  # twice
        f"postgresql://clerk:{HIDDEN}@10.0.0.1:5441,,10.0.0.3/ledger",  # an empty host
        f"postgresql://clerk:{HIDDEN}@10.0.0.1:5441,10.0.0.2:99999/ledger",  # a bad port
    ],
)
def test_a_bad_cluster_url_is_bad_input_that_never_shows_its_password(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        StoreURL.parse(url)
    assert HIDDEN not in refused.value.message
    assert "clerk:***@" in refused.value.message
