"""Sign-in throttling: attempts counted per client address, per identifier from that address,
and per identifier from all addresses together, in the store.

.. code-block:: python

    throttle = Throttle(config)
    wait = throttle.attempt(identifiers=("alice@example.com",), address="203.0.113.7")
    if wait is not None:
        ...  # answer 429 with Retry-After: wait
    ...      # check the password; on success:
    throttle.succeeded("alice@example.com", "203.0.113.7")

Three limits, checked in this order, the first one over its limit refusing (and the later ones
then not counted):

- ``per_address`` (``throttle.per_address``): every attempt from one client address;
- per identifier and address (``throttle.per_identifier``, the tight one): what one address may
  try against one account. Another address has its own count, so one address guessing cannot
  lock the owner out of signing in from elsewhere;
- per identifier (``throttle.per_identifier_global``, looser, and checked at start-up to allow
  more than one address can reach): guesses at one account from many addresses stay capped.

Every attempt counts (so concurrent guesses cannot slip past the limit: ``limits`` hits the
counter atomically, in Redis too); a success resets the identifier's count from that address
only, never the global one or the address's. Identifiers and addresses are hashed before they
reach the store (no email addresses in Redis). The window is the ``limits`` library's moving
window.
"""

from __future__ import annotations

import hashlib
import math
import time
import typing as t
import unicodedata

from .config import Config
from .store import Store, store_for

if t.TYPE_CHECKING:
    from limits import RateLimitItem


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def normalize_identifier(value: str) -> str | None:
    """The identifier a sign-in attempt is counted under: NFKC, trimmed and case-folded (so
    ``Alice``, ``alice `` and a full-width ``ａｌｉｃｅ`` share one counter, whichever of them
    ``authorize`` would accept); ``None`` for an empty one."""
    text = unicodedata.normalize("NFKC", value).strip().casefold()
    return text or None


class Throttle:
    """The sign-in limits of ``config`` (``throttle.per_address``, ``throttle.per_identifier``,
    ``throttle.per_identifier_global``).

    :param config: the resolved options.
    :param store: the store, or a function giving it on first use; default the options' own
        (:func:`~flask_authguard.core.store.store_for`; the runtime passes its own).
    """

    def __init__(self, config: Config, store: Store | t.Callable[[], Store] | None = None) -> None:
        from limits import parse_many

        #: Whether throttling is on at all.
        self.enabled = config.throttle_identifier is not None
        self._per_pair: list[RateLimitItem] = parse_many(config.throttle_identifier or "1/second")
        self._per_identifier: list[RateLimitItem] = parse_many(
            config.throttle_identifier_global or "1/second"
        )
        self._per_address: list[RateLimitItem] = parse_many(config.throttle_address or "1/second")
        self._config = config
        self._store: t.Any = store

    @property
    def store(self) -> Store:
        """The store the counters live in."""
        store = self._store
        if store is None:
            store = self._store = store_for(self._config)
        elif not hasattr(store, "get_many"):  # the function that opens it
            store = self._store = store()
        return t.cast(Store, store)

    def _hit(self, items: t.Sequence[RateLimitItem], *key: str) -> int | None:
        store = self.store
        for item in items:
            if not store.limiter.hit(item, store.prefix, *key):
                stats = store.limiter.get_window_stats(item, store.prefix, *key)
                return int(max(1.0, math.ceil(stats.reset_time - time.time())))  # the clock ``limits`` reads
        return None

    def attempt(self, *, identifiers: t.Sequence[str], address: str | None) -> int | None:
        """Count one sign-in attempt at ``identifiers`` (normalised:
        :func:`normalize_identifier`) from ``address``: ``None`` to go on, or the seconds to
        wait (``Retry-After``) when a limit is reached.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        if not self.enabled:
            return None
        place = _digest(address) if address else "-"
        if address:
            wait = self._hit(self._per_address, "addr", place)
            if wait is not None:
                return wait
        for identifier in identifiers:
            who = _digest(identifier)
            # The pair first: an address over its own limit adds nothing to the global count,
            # so that one address can never use the global limit up.
            wait = self._hit(self._per_pair, "pair", who, place)
            if wait is None:
                wait = self._hit(self._per_identifier, "id", who)
            if wait is not None:
                return wait
        return None

    def succeeded(self, identifier: str, address: str | None) -> None:
        """A sign-in as ``identifier`` from ``address`` succeeded: forget that address's attempts
        at it. The global count stays: a success proves nothing about the other addresses.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        if not self.enabled:
            return
        store = self.store
        place = _digest(address) if address else "-"
        for item in self._per_pair:
            store.limiter.clear(item, store.prefix, "pair", _digest(identifier), place)
