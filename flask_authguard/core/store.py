"""The store behind throttling and revocation: ``memory://`` or Redis.

``store="memory://"`` (the default) keeps counters and revocations in this process, for one
options object: right for one worker, wrong for several (each would count and revoke alone).
``store="redis://127.0.0.1:6379/0"`` (the storage-URI form of the ``limits`` library; needs
``pip install flask-authguard[redis]``) shares them between every worker and host.

Rate limiting is the ``limits`` library's (a moving window); this module only adds the few
key/value operations revocation needs, on the same connection. Every failure to reach the store
raises :class:`~flask_authguard.errors.BackendUnavailableError`: the request gets 503, nobody is
let in and nobody is signed out.
"""

from __future__ import annotations

import threading
import typing as t

from limits.strategies import MovingWindowRateLimiter, RateLimiter

from . import _clock
from .checks import masked_uri
from .config import Config
from .errors import BackendUnavailableError, ConfigurationError

#: Seconds to wait for Redis before answering 503.
REDIS_TIMEOUT = 1.0
_STORE_KEY = "_authguard_store"


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


class RedisStore:
    """Counters and entries in Redis, shared by every worker; one connection pool per store."""

    def __init__(self, uri: str, prefix: str) -> None:
        try:
            import redis  # noqa: F401
            from limits.storage import RedisStorage
        except ImportError:
            raise ConfigurationError(
                f"store={masked_uri(uri)} needs the redis client: pip install 'flask-authguard[redis]'"
            ) from None
        self.prefix = prefix
        storage = RedisStorage(
            uri, wrap_exceptions=True, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self._limiter = t.cast(RateLimiter, _GuardedLimiter(MovingWindowRateLimiter(storage)))
        #: The ``redis.Redis`` client (``limits``' own, so both share the pool).
        self.client: t.Any = storage.storage

    @property
    def limiter(self) -> RateLimiter:
        """The ``limits`` limiter on Redis (failures become 503)."""
        return self._limiter

    def get_many(self, keys: t.Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        values = _call(self.client.mget, list(keys))
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]

    def put(self, key: str, value: str, ttl: float | None = None) -> None:
        _call(self.client.set, key, value, ex=None if ttl is None else max(1, int(ttl + 0.999)))

    def is_empty(self) -> bool:
        return False


def _call(fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
    import redis

    try:
        return fn(*args, **kwargs)
    except (redis.RedisError, OSError) as exc:
        raise BackendUnavailableError(f"the store (Redis) failed: {type(exc).__name__}") from exc


class _GuardedLimiter:
    """A ``limits`` limiter whose storage failures become :class:`BackendUnavailableError`."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    def __getattr__(self, name: str) -> t.Any:
        attr = getattr(self._limiter, name)
        if not callable(attr):
            return attr

        def guarded(*args: t.Any, **kwargs: t.Any) -> t.Any:
            from limits.errors import StorageError

            try:
                return attr(*args, **kwargs)
            except StorageError as exc:
                raise BackendUnavailableError(
                    f"the store failed: {type(exc.storage_error).__name__}"
                ) from exc

        return guarded


def open_store(uri: str, prefix: str) -> Store:
    """A store for ``uri`` (``memory://`` or a Redis URI).

    :raises ConfigurationError: a Redis URI without the ``redis`` package installed.
    """
    if uri.startswith("memory://"):
        return MemoryStore(prefix)
    return RedisStore(uri, prefix)


def store_of(config: Config) -> Store:
    """The store of ``config``, opened on first use and kept with it (so the guard, its
    endpoints and every session read made with the same resolved options share one)."""
    store: Store | None = config.__dict__.get(_STORE_KEY)
    if store is None:
        with _OPEN_LOCK:
            store = config.__dict__.get(_STORE_KEY)
            if store is None:
                store = open_store(config.store, config.store_prefix)
                config.__dict__[_STORE_KEY] = store  # Config is frozen; this cache is not a field
    return store


_OPEN_LOCK = threading.Lock()
