"""The store behind throttling and revocation: ``memory://`` or Redis.

``store="memory://"`` (the default) keeps counters and revocations in this process, for one
options object: right for one worker, wrong for several (each would count and revoke alone).
``store="redis://127.0.0.1:6379/0"`` (the storage-URI form of the ``limits`` library; needs
``pip install flask-authguard[redis]``) shares them between every worker and host; so do
``redis+sentinel://host:port[,host:port]/service[/db]`` (the master a Sentinel names, found again
after a failover) and ``redis+cluster://host:port[,host:port]`` (a Redis Cluster), and the same
with ``valkey`` for Valkey. The Redis stores are in :mod:`.redis_store`.

Keys start with ``store_prefix``; by default ``authguard:`` and a fingerprint of the app's
secret (:func:`default_prefixes`), so two apps sharing one Redis neither revoke each other's
users nor share throttle counters.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import typing as t

from limits.strategies import MovingWindowRateLimiter, RateLimiter

from .. import _clock
from ..errors import ConfigurationError
from ..settings.checks import redis_target
from ..settings.config import Config
from .redis_store import RedisClusterStore, RedisStore


class Store(t.Protocol):
    """What throttling and revocation need from a store."""

    @property
    def limiter(self) -> RateLimiter:
        """The ``limits`` rate limiter over this store."""
        ...

    #: Prefix of every key (``store_prefix``).
    prefix: str

    def get_many(self, keys: t.Sequence[str]) -> list[str | None]:
        """The values of ``keys`` (``None`` for absent ones) in one round trip.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        ...

    def put(self, key: str, value: str, ttl: float | None = None) -> None:
        """Set ``key`` to ``value``, expiring after ``ttl`` seconds (``None``: never).

        :raises BackendUnavailableError: the store cannot be reached.
        """
        ...

    def is_empty(self) -> bool:
        """Whether nothing was ever put (a memory store answers without a lookup)."""
        ...


class MemoryStore:
    """Counters and entries in this process (thread-safe)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._limiter: RateLimiter | None = None
        self._entries: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()

    @property
    def limiter(self) -> RateLimiter:
        """The ``limits`` limiter, made on first use (its storage starts a timer thread)."""
        if self._limiter is None:
            from limits.storage import MemoryStorage

            with self._lock:
                if self._limiter is None:
                    self._limiter = MovingWindowRateLimiter(MemoryStorage())
        return self._limiter

    def get_many(self, keys: t.Sequence[str]) -> list[str | None]:
        now = _clock.now()
        out: list[str | None] = []
        for key in keys:
            entry = self._entries.get(key)
            out.append(None if entry is None or (entry[1] is not None and entry[1] <= now) else entry[0])
        return out

    def put(self, key: str, value: str, ttl: float | None = None) -> None:
        with self._lock:
            self._entries[key] = (value, None if ttl is None else _clock.now() + ttl)

    def is_empty(self) -> bool:
        return not self._entries


def open_store(uri: str, prefix: str, *, cache: bool = False, also: t.Sequence[str] = ()) -> Store:
    """A store for ``uri`` (``memory://`` or a Redis URI); ``cache``: a Redis store keeps what it
    read in the process (``store_cache``; never on a Cluster); ``also``: a Redis store's further
    write prefixes (:class:`~.redis_store.RedisStore`). A ``memory://`` store is the process's:
    one per prefix, shared by every set of options with that prefix, as a Redis store is shared by
    every worker.

    :raises ConfigurationError: a Redis URI without the ``redis`` package installed.
    :raises BackendUnavailableError: a Redis Cluster none of whose nodes answers.
    """
    if uri.startswith("memory://"):
        with _OPEN_LOCK:
            store = _MEMORY_STORES.get(prefix)
            if store is None:
                store = _MEMORY_STORES[prefix] = MemoryStore(prefix)
        return store
    if redis_target(uri).kind == "cluster":
        return RedisClusterStore(uri, prefix, also=also)
    return RedisStore(uri, prefix, cache=cache, also=also)


def default_prefixes(secrets: t.Sequence[str]) -> tuple[str, ...]:
    """The key prefixes of an app with ``secrets`` (newest first, as configured) and no
    ``store_prefix``: ``authguard:<fingerprint>:`` of each secret, the OLDEST secret's first.

    That first one is read and counted under: rotating by putting a new secret first keeps it,
    so revocations and counters survive. Entries are also written under the newer secrets'
    prefixes, so once the oldest secret is dropped the revocations made while both were in use
    are still found. The fingerprint is an HMAC of a fixed label keyed with the secret: the same
    on every worker and restart, and it gives nothing away that a session token would not.
    """
    prefixes = (
        "authguard:"
        + hmac.new(secret.encode(), b"flask_authguard store prefix", hashlib.sha256).hexdigest()[:16]
        + ":"
        for secret in reversed(secrets)
    )
    return tuple(dict.fromkeys(prefixes))


def store_for(config: Config) -> Store:
    """Open the store ``config`` names (a ``memory://`` one is the process's); what
    :attr:`flask_authguard.core.runtime.Runtime.store` opens, once per runtime.

    :raises ConfigurationError: no ``store_prefix`` and no secret to derive it from yet.
    """
    if config.store_prefix is not None:
        prefixes: tuple[str, ...] = (config.store_prefix,)
    else:
        prefixes = default_prefixes(config.current_secrets())
    if not prefixes:
        raise ConfigurationError(
            "no secret: the store's keys are prefixed with a fingerprint of it; set "
            "NEXTAUTH_SECRET (or AUTH_SECRET), pass secret=..., or set store_prefix=..."
        )
    return open_store(config.store, prefixes[0], cache=config.store_cache, also=prefixes[1:])


_OPEN_LOCK = threading.Lock()
#: The process's memory stores, by key prefix.
_MEMORY_STORES: dict[str, MemoryStore] = {}


def forget_memory_stores() -> None:
    """Start every ``memory://`` store of the process again (for tests that stand for separate
    processes)."""
    with _OPEN_LOCK:
        _MEMORY_STORES.clear()
