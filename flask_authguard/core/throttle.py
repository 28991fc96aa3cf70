"""Sign-in throttling: attempts per identifier and per client address, counted in the store.

.. code-block:: python

    throttle = Throttle(config)
    wait = throttle.attempt(identifier="alice@example.com", address="203.0.113.7")
    if wait is not None:
        ...  # answer 429 with Retry-After: wait
    ...      # check the password; on success:
    throttle.succeeded("alice@example.com")

Every attempt counts (so concurrent guesses cannot slip past the limit: ``limits`` hits the
counter atomically, in Redis too); a successful sign-in resets its identifier's counter, never
the address's. Identifiers are hashed before they reach the store (no email addresses in
Redis). The window is the ``limits`` library's moving window.
"""

from __future__ import annotations

import hashlib
import math
import time
import typing as t

from .config import Config
from .store import Store, store_of

if t.TYPE_CHECKING:
    from limits import RateLimitItem


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def normalize_identifier(value: t.Any) -> str | None:
    """The identifier a sign-in attempt is counted under: trimmed and case-folded (so ``Alice``
    and ``alice `` share one counter); ``None`` for an empty one."""
    if not isinstance(value, str):
        return None
    text = value.strip().casefold()
    return text or None


class Throttle:
    """The sign-in limits of ``config`` (``throttle.per_identifier``, ``throttle.per_address``).

    :param config: the resolved options.
    :param store: the store; default the options' own (:func:`~flask_authguard.core.store.store_of`).
    """

    def __init__(self, config: Config, store: Store | None = None) -> None:
        from limits import parse_many

        #: Whether throttling is on at all.
        self.enabled = config.throttle_identifier is not None
        self._per_identifier: list[RateLimitItem] = parse_many(config.throttle_identifier or "1/second")
        self._per_address: list[RateLimitItem] = parse_many(config.throttle_address or "1/second")
        self._config = config
        self._store = store

    @property
    def store(self) -> Store:
        """The store the counters live in."""
        if self._store is None:
            self._store = store_of(self._config)
        return self._store

    def _hit(self, items: t.Sequence[RateLimitItem], kind: str, key: str) -> float | None:
        store = self.store
        for item in items:
            if not store.limiter.hit(item, store.prefix, kind, key):
                stats = store.limiter.get_window_stats(item, store.prefix, kind, key)
                return max(1.0, math.ceil(stats.reset_time - time.time()))  # the clock ``limits`` reads
        return None

    def attempt(self, *, identifier: str | None, address: str | None) -> int | None:
        """Count one sign-in attempt: ``None`` to go on, or the seconds to wait (``Retry-After``)
        when the address or the identifier is over its limit.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        if not self.enabled:
            return None
        if address:
            wait = self._hit(self._per_address, "addr", _digest(address))
            if wait is not None:
                return int(wait)
        ident = normalize_identifier(identifier)
        if ident is not None:
            wait = self._hit(self._per_identifier, "id", _digest(ident))
            if wait is not None:
                return int(wait)
        return None

    def succeeded(self, identifier: str | None) -> None:
        """A sign-in with ``identifier`` succeeded: forget its failed attempts.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        ident = normalize_identifier(identifier)
        if not self.enabled or ident is None:
            return
        store = self.store
        for item in self._per_identifier:
            store.limiter.clear(item, store.prefix, "id", _digest(ident))
