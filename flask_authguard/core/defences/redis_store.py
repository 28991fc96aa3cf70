"""The Redis stores (standalone, Sentinel, Cluster; and Valkey) behind throttling and revocation.

One URI configures both users of the store: ``limits`` builds the client and this module uses
that same client. Rate limiting is the ``limits`` library's (a moving window); this module only
adds the few key/value operations revocation needs, with the same client settings. Every failure
to reach the store raises :class:`~flask_authguard.core.errors.BackendUnavailableError`: the
request gets 503, nobody is let in and nobody is signed out.

The per-request read (:meth:`RedisStore.get_many`, one ``MGET``) goes over a connection each
thread keeps, made once from the client's own connection settings: no pool checkout and
check-in, no readiness poll, no connection set-up per request. With ``store_cache`` (the
default) the values read are kept in the process and Redis pushes when to forget them
(:mod:`.store_cache`): a request whose keys were read before asks nothing of Redis.
"""

from __future__ import annotations

import os
import threading
import time
import typing as t

from limits.strategies import MovingWindowRateLimiter, RateLimiter

from ..errors import BackendUnavailableError, ConfigurationError
from ..settings.checks import RedisTarget, masked_uri, redis_target
from .store_cache import TrackedCache, disconnect_quietly

#: Seconds to wait for Redis before answering 503.
REDIS_TIMEOUT = 1.0


class RedisStore:
    """Counters and entries in Redis, shared by every worker: one connection pool per store (the
    limiter and writes), and for the per-request reads one connection per thread.

    :param cache: keep what :meth:`get_many` read in this process, exact through Redis's
        invalidation pushes (:class:`~flask_authguard.core.defences.store_cache.TrackedCache`).
    :param also: more prefixes :meth:`put` writes every entry under (the other secrets' during a
        rotation, :func:`~flask_authguard.core.defences.store.default_prefixes`); reads and
        counters use ``prefix`` alone.
    """

    def __init__(self, uri: str, prefix: str, *, cache: bool = False, also: t.Sequence[str] = ()) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigurationError(
                f"store={masked_uri(uri)} needs the redis client: pip install 'flask-authguard[redis]'"
            ) from None
        # What a failing call raises, and the part of it that means "the connection was closed".
        self._errors = _failures()
        self._closed: tuple[type[BaseException], ...] = (redis.ConnectionError, ConnectionError)
        self.prefix = prefix
        self._also = tuple(also)
        try:  # a Cluster client asks its nodes for the slot map at once; the others connect later
            storage = _limits_storage(redis_target(uri))
        except self._errors as exc:
            raise _unavailable(exc) from exc
        limiter = MovingWindowRateLimiter(storage)
        self._limiter = t.cast(RateLimiter, _GuardedLimiter(limiter, self._errors))
        #: The ``redis.Redis`` client (``limits``' own, so both share the pool; behind Sentinel,
        #: its connections find the current master through the sentinels when they connect).
        self.client: t.Any = storage.storage
        self._local = threading.local()
        self.cache: TrackedCache | None = None
        if cache:
            self.cache = TrackedCache(self._tracking_connection, prefix, self._errors, redis.ResponseError)

    @property
    def limiter(self) -> RateLimiter:
        """The ``limits`` limiter on Redis (failures become 503)."""
        return self._limiter

    def get_many(self, keys: t.Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        cache = self.cache
        if cache is None:
            return _texts(self._mget(keys))
        kept, generation = cache.lookup(keys)
        if kept is not None:
            return kept
        read_at = time.monotonic()
        values = _texts(self._mget(keys))
        cache.remember(generation, keys, values, read_at)
        return values

    def _tracking_connection(self) -> t.Any:
        """A new RESP3 connection with the pool's settings, for the cache's invalidation pushes."""
        pool = self.client.connection_pool
        return pool.connection_class(**{**pool.connection_kwargs, "protocol": 3})

    def _connection(self) -> tuple[t.Any, bool]:
        """This thread's connection, and whether it is new (made now: not connected yet)."""
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == _forks:
            return held[1], False
        pool = self.client.connection_pool
        # The pool's own settings (host, db, password, TLS, timeouts), but the connection is
        # this thread's alone: when the thread ends, so does the connection.
        connection = pool.connection_class(**pool.connection_kwargs)
        self._local.held = (_forks, connection)
        return connection, True

    def _mget(self, keys: t.Sequence[str]) -> list[t.Any]:
        connection, new = self._connection()
        try:
            return _mget_on(connection, keys, new)
        except self._errors as exc:
            self._drop(connection)
            # A kept connection the server closed meanwhile (idle timeout, restart) gets one more
            # try on a new one; a new connection that fails, or a timeout, is the answer.
            if new or not isinstance(exc, self._closed):
                raise _unavailable(exc) from exc
        connection, _ = self._connection()
        try:
            return _mget_on(connection, keys, True)
        except self._errors as exc:
            self._drop(connection)
            raise _unavailable(exc) from exc

    def _drop(self, connection: t.Any) -> None:
        """Forget this thread's connection after a failure: never reused half-read."""
        self._local.held = None
        disconnect_quietly(connection)

    def put(self, key: str, value: str, ttl: float | None = None) -> None:
        """Set ``key``, then one ``PING`` round trip: Redis answers it only after it has written the
        invalidation pushes of the ``SET`` to every tracking worker (:mod:`.store_cache`), so a
        revocation is seen by every worker's next request once this returns."""
        expiry = _expiry(ttl)
        call_store(self.client.set, key, value, ex=expiry)
        self._put_also(key, value, expiry)
        call_store(self.client.ping)

    def _put_also(self, key: str, value: str, expiry: int | None) -> None:
        """Write ``key`` again under the other secrets' prefixes (a rotation,
        :func:`~flask_authguard.core.defences.store.default_prefixes`)."""
        if key.startswith(self.prefix):
            for prefix in self._also:
                call_store(self.client.set, prefix + key[len(self.prefix) :], value, ex=expiry)

    def is_empty(self) -> bool:
        return False


class RedisClusterStore(RedisStore):
    """Counters and entries in a Redis Cluster. The keys of one read may live on several nodes,
    so reads go through the cluster client (``MGET`` per node, each on its pool); and no worker
    keeps a copy: tracking pushes come from each node for its own keys, and slots move between
    nodes, so the copy could not be kept exact."""

    def __init__(self, uri: str, prefix: str, *, cache: bool = False, also: t.Sequence[str] = ()) -> None:
        super().__init__(uri, prefix, cache=False, also=also)

    def _mget(self, keys: t.Sequence[str]) -> list[t.Any]:
        return t.cast("list[t.Any]", call_store(self.client.mget_nonatomic, keys))

    def put(self, key: str, value: str, ttl: float | None = None) -> None:
        """Set ``key`` (no ``PING`` after it: no worker keeps a copy to invalidate)."""
        expiry = _expiry(ttl)
        call_store(self.client.set, key, value, ex=expiry)
        self._put_also(key, value, expiry)


def _limits_storage(target: RedisTarget) -> t.Any:
    """The ``limits`` storage of ``target``: its client is the store's too."""
    from limits.storage import RedisClusterStorage, RedisSentinelStorage, RedisStorage

    timeout = REDIS_TIMEOUT
    if target.kind == "sentinel":
        # The sentinels get the timeouts too (``limits`` gives them only the URI's credentials),
        # and every command goes to the master: a replica may not have the last revocation yet.
        return RedisSentinelStorage(
            target.uri,
            use_replicas=False,
            sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout},
            wrap_exceptions=True,
            db=target.db,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    if target.kind == "cluster":
        return RedisClusterStorage(
            target.uri, wrap_exceptions=True, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    return RedisStorage(
        target.uri, wrap_exceptions=True, socket_timeout=timeout, socket_connect_timeout=timeout
    )


def _expiry(ttl: float | None) -> int | None:
    """``SET``'s ``EX``: whole seconds, rounded up, at least 1 (``None``: never expires)."""
    return None if ttl is None else max(1, int(ttl + 0.999))


def _texts(values: t.Sequence[t.Any]) -> list[str | None]:
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]


def _mget_on(connection: t.Any, keys: t.Sequence[str], new: bool) -> list[t.Any]:
    if new:
        # Connect now rather than on the first send: a Sentinel-managed connection asks the
        # sentinels for the master only in connect(); a send would connect to localhost:6379.
        connection.connect()
    connection.send_command("MGET", *keys)
    return t.cast("list[t.Any]", connection.read_response())


def _unavailable(exc: BaseException) -> BackendUnavailableError:
    return BackendUnavailableError(f"the store (Redis) failed: {type(exc).__name__}")


def _failures() -> tuple[type[BaseException], ...]:
    """What a failing Redis call raises. The cluster client's "no node answers" is not a
    ``RedisError`` (and so not wrapped by ``limits`` either)."""
    import redis

    return (redis.RedisError, redis.exceptions.RedisClusterException, OSError)


def call_store(fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
    """``fn(*args, **kwargs)``, a call on a Redis client; a failure to reach Redis becomes
    :class:`BackendUnavailableError`."""
    try:
        return fn(*args, **kwargs)
    except _failures() as exc:
        raise _unavailable(exc) from exc


class _GuardedLimiter:
    """A ``limits`` limiter whose storage failures (``limits``' ``StorageError``, and the
    ``errors`` it does not wrap) become :class:`BackendUnavailableError`."""

    def __init__(self, limiter: RateLimiter, errors: tuple[type[BaseException], ...]) -> None:
        self._limiter = limiter
        self._errors = errors

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
            except self._errors as exc:
                raise _unavailable(exc) from exc

        return guarded


#: Counts forks: a connection kept before a fork is never used by the child (the parent still
#: reads from the same socket); the child makes its own.
_forks = 0


def _forked() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)
