"""A worker's cache of the partners' keys, and the token bucket of a partner's rate, on a real
SQLite store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from domain.partners import PartnerPolicy, Scope
from infrastructure.access_log import AccessLogStore
from infrastructure.errors import StoreUnavailable
from infrastructure.store_url import StoreURL
from service.partners import TRUSTED_SECONDS, PartnerKeys, TokenBucket


def test_keys_are_judged_only_on_partners_read_within_a_second(tmp_path: Path) -> None:
    url = StoreURL.parse(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    log = AccessLogStore.open(url, create=True)
    key = log.add_partner(PartnerPolicy("bank", frozenset({Scope.VERIFY})))
    log.close()
    keys = PartnerKeys(url)
    assert not keys.trusted()  # nothing read yet
    keys.refresh()
    assert keys.trusted()
    policy = keys.authenticate(key)
    assert policy is not None
    assert policy.name == "bank"
    assert keys.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert keys.authenticate(None) is None
    keys.close()
    (tmp_path / "ledger.sqlite").write_bytes(b"not a database at all" * 100)
    time.sleep(TRUSTED_SECONDS + 0.1)
    assert keys.claim_refresh()
    with pytest.raises(StoreUnavailable):
        keys.refresh()
    assert not keys.trusted()  # the service answers 503 rather than judge the key


def test_a_bucket_allows_its_rate_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=3)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take()
    assert 0 < wait <= 1 / 3 + 0.01


def test_only_one_caller_reloads_at_a_time(tmp_path: Path) -> None:
    url = StoreURL.parse(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    AccessLogStore.open(url, create=True).close()
    keys = PartnerKeys(url)
    assert keys.claim_refresh()
    assert not keys.claim_refresh()  # the first caller is reloading them
    keys.refresh()
    assert not keys.claim_refresh()  # fresh now
    keys.close()
