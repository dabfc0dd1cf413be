"""Who is calling: partner keys checked against the store's partners, and each partner's rate.

Every worker keeps the partners' key hashes in memory and reloads them when they are older than
`REFRESH_SECONDS` (one request at a time does it; the others go on with the keys loaded), so a
key revoked or rotated with `civledger admin partner` is refused by every worker within a
second, and a new key is accepted within a second. A presented key is hashed and its hash
compared in constant time with the one on record; an unknown key and a revoked key get the
same answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from domain.partners import PartnerPolicy
from infrastructure.access_log import AccessLogStore, Partner, key_hash, same_hash
from infrastructure.store_url import StoreURL

#: Partners older than this are read again (seconds).
REFRESH_SECONDS = 0.5
#: Partners older than this are not trusted: a key is not judged on them (503), so a revoked
#: key never works for longer than this, even while the store does not answer (seconds).
TRUSTED_SECONDS = 1.0


@dataclass
class TokenBucket:
    """`rate` requests per second on average, bursts of up to `rate` at once."""

    rate: float
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.rate

    def take(self) -> float:
        """0 if a request may go ahead now (a token is taken), else seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class PartnerKeys:
    """The partners of one store, as one worker sees them."""

    def __init__(self, store: StoreURL, workers: int = 1) -> None:
        self.store = store
        #: Each worker keeps its share of a partner's rate.
        self.workers = max(workers, 1)
        self._lock = threading.Lock()
        self._by_hash: dict[str, Partner] = {}
        self._loaded = float("-inf")
        self._buckets: dict[str, TokenBucket] = {}
        self._refreshing = False
        #: The connection partners are read on (made on first use, remade after a failure).
        self._store: AccessLogStore | None = None

    def stale(self) -> bool:
        return time.monotonic() - self._loaded > REFRESH_SECONDS

    def trusted(self) -> bool:
        """Whether the partners were read recently enough to judge a key on them."""
        return time.monotonic() - self._loaded <= TRUSTED_SECONDS

    def claim_refresh(self) -> bool:
        """Whether the caller should reload the partners now: they are stale and no one else
        is reloading them (one reload at a time; other requests use what is loaded)."""
        with self._lock:
            if self._refreshing or not self.stale():
                return False
            self._refreshing = True
            return True

    def refresh(self) -> None:
        """Read the partners again (blocking: call it off the event loop). A failure leaves
        the keys as they were and is raised; the next request tries again."""
        try:
            if self._store is None:
                self._store = AccessLogStore.open(self.store)
            try:
                partners = self._store.partners()
            except Exception:
                self._store.close()
                self._store = None
                raise
            with self._lock:
                self._by_hash = {p.key_hash: p for p in partners if p.active}
                self._loaded = time.monotonic()
        finally:
            with self._lock:
                self._refreshing = False

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def authenticate(self, key: str | None) -> PartnerPolicy | None:
        """The policy of the partner whose active key this is, else None."""
        if not key:
            return None
        presented = key_hash(key)
        with self._lock:
            partner = self._by_hash.get(presented)
        if partner is None or not same_hash(partner.key_hash, presented):
            return None
        return partner.policy

    def wait_for(self, policy: PartnerPolicy) -> float:
        """0 if the partner is within its rate, else the seconds until it will be."""
        if policy.rate is None:
            return 0.0
        share = policy.rate / self.workers
        with self._lock:
            bucket = self._buckets.get(policy.name)
            if bucket is None or bucket.rate != share:
                bucket = self._buckets[policy.name] = TokenBucket(share)
            return bucket.take()
