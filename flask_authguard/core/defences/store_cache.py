"""A worker's copy of the revocation entries it read from Redis, kept exact by Redis itself.

Reading a request's revocation entries from Redis is a loopback round trip per request (about
100 µs on a small VM: most of a guarded request), yet most requests ask for the same few keys and
the entries almost never change. So each process keeps what it read and Redis says when to forget
it: *server-assisted client-side caching* (Redis 6+). One RESP3 connection per process and store
runs ``CLIENT TRACKING ON BCAST PREFIX <store_prefix>`` and from then on receives an
``invalidate`` push whenever any key under the prefix is written, deleted or expires, by any
client.

The rules that keep the copy exact:

- Before every answer from the copy the tracking connection is polled (no round trip: a
  non-blocking look at its socket). Any push drops every entry: revocations are rare, so there is
  no need to know which key changed.
- A value is remembered only when no push arrived between just before its ``MGET`` was sent and
  the moment it is stored (a generation counter), so a write racing the read cannot leave a stale
  entry behind.
- A lost tracking connection (closed, reset, a failed poll, a fork) drops every entry; until it is
  back every read goes to Redis. A new one is tried at most once a second.
- An entry is kept at most :data:`CACHE_SECONDS` even without a push. That bounds what a
  connection that died silently (a network fault that leaves no closed socket) can cost.
- A write through the store is followed by a ``PING`` round trip (:meth:`RedisStore.put
  <flask_authguard.core.defences.redis_store.RedisStore.put>`). Redis answers it only after the
  event-loop iteration that wrote every push of the write, so when ``revoke_*()`` returns, the push is in
  every worker's socket, and each worker's next request sees it.

Behind Sentinel the tracking connection is made like every other (``SentinelManagedConnection``):
it asks the sentinels for the master when it connects. A failover breaks it (the old master dies,
or Sentinel closes its clients as it turns it into a replica), which drops the copy; the next one
is on the new master. A Redis Cluster gets no copy
(:class:`~flask_authguard.core.defences.redis_store.RedisClusterStore`).
"""

from __future__ import annotations

import os
import threading
import time
import typing as t
import weakref

#: The longest an entry is trusted without a fresh read, whatever the pushes say (seconds).
CACHE_SECONDS = 1.0
#: The most entries kept; a full copy starts again empty.
CACHE_ENTRIES = 10_000
#: The least time between two attempts to open the tracking connection (seconds).
RETRY_SECONDS = 1.0


class TrackedCache:
    """The entries one process read from one Redis store, dropped on Redis's pushes.

    :param connect: makes a new, unconnected RESP3 connection (``redis.Connection`` with
        ``protocol=3``) to the store's server.
    :param prefix: the store's key prefix: every key under it is tracked.
    :param errors: what a failing connection raises.
    :param refused: the part of ``errors`` that is the server's own error reply (Redis before 6
        refuses ``HELLO 3`` and ``CLIENT TRACKING``): tracking is then never tried again.
    """

    def __init__(
        self,
        connect: t.Callable[[], t.Any],
        prefix: str,
        errors: tuple[type[BaseException], ...],
        refused: type[BaseException],
    ) -> None:
        self._connect = connect
        self._prefix = prefix
        self._errors = errors
        self._refused = refused
        self._entries: dict[str, tuple[t.Any, float]] = {}
        self._connection: t.Any = None
        #: Bumped by every push and every loss of the connection: a read started under an older
        #: generation is not remembered.
        self._generation = 0
        self._next_attempt = 0.0
        #: Set when the server cannot track (no RESP3 or no ``CLIENT TRACKING``): never tried again.
        self.unsupported = False
        self._lock = threading.Lock()
        _LIVE.add(self)

    def lookup(self, keys: t.Sequence[str]) -> tuple[list[t.Any] | None, int]:
        """The remembered values of ``keys``, or ``None`` when any is missing, too old, or the
        copy cannot be trusted now; and the generation to hand to :meth:`remember` with the
        values read instead."""
        with self._lock:
            tracking = self._poll()
            generation = self._generation
            if not tracking:
                return None, generation
            oldest = time.monotonic() - CACHE_SECONDS
            entries, values = self._entries, []
            for key in keys:
                entry = entries.get(key)
                if entry is None or entry[1] < oldest:
                    return None, generation
                values.append(entry[0])
            return values, generation

    def remember(
        self, generation: int, keys: t.Sequence[str], values: t.Sequence[t.Any], read_at: float
    ) -> None:
        """Keep ``values`` of ``keys``, read by an ``MGET`` sent at ``read_at``
        (``time.monotonic()``), unless a push arrived since ``generation`` (from :meth:`lookup`,
        taken before the read)."""
        with self._lock:
            if not self._poll() or self._generation != generation:
                return
            entries = self._entries
            if len(entries) + len(keys) > CACHE_ENTRIES:
                entries.clear()
            for key, value in zip(keys, values, strict=True):
                entries[key] = (value, read_at)

    def _poll(self) -> bool:
        """Take in every pending push; whether the copy may be used (the connection is up).
        Called with the lock held."""
        connection = self._connection
        if connection is None:
            return self._open()
        try:
            if not connection.can_read(timeout=0):
                return True
            while True:
                connection.read_response(push_request=True)
                if not connection.can_read(timeout=0):
                    break
        except self._errors:
            self._lose()
            return False
        self._forget()
        return True

    def _open(self) -> bool:
        """Open the tracking connection, at most once per :data:`RETRY_SECONDS`; whether it is up."""
        if self.unsupported:
            return False
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        self._next_attempt = now + RETRY_SECONDS
        connection = None
        try:
            connection = self._connect()
            connection.connect()
            connection.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", self._prefix)
            connection.read_response()
        except self._errors as exc:
            if connection is not None:
                disconnect_quietly(connection)
            # A server that answers but refuses will not learn it later; one that is down may
            # come back.
            self.unsupported = isinstance(exc, self._refused)
            return False
        self._connection = connection
        self._forget()
        return True

    def _forget(self) -> None:
        """Drop every entry, and make any read in flight not be remembered."""
        self._entries.clear()
        self._generation += 1

    def _lose(self) -> None:
        """Forget the connection and every entry (called with the lock held)."""
        connection, self._connection = self._connection, None
        self._forget()
        if connection is not None:
            disconnect_quietly(connection)

    def _after_fork(self) -> None:
        """In a forked child: the parent's connection and lock are not the child's. The socket is
        dropped without a shutdown (which would cut the parent's too)."""
        self._lock = threading.Lock()
        self._connection = None
        self._forget()
        self._next_attempt = 0.0


def disconnect_quietly(connection: t.Any) -> None:
    """Close a redis-py ``connection`` that may be broken already (closing may fail too)."""
    try:
        connection.disconnect()
    except Exception:  # closing a broken socket may fail too; it is dropped either way
        pass


#: Every cache of this process, for the fork hook.
_LIVE: weakref.WeakSet[TrackedCache] = weakref.WeakSet()


def _forked() -> None:
    for cache in list(_LIVE):
        cache._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)
