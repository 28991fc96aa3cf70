"""One flight per key across threads, processes and hosts: a lock and the flight's outcome,
shared through the store.

Provider token refresh (:mod:`flask_authguard.sessions.refresh`) needs it: concurrent requests
of one session that find the access token expired must cause exactly one refresh at the
provider, and all of them must get its answer. A flight is keyed by a digest of what it acts on
(the refresh token); its *owner* (a random flight id) holds the lock while it works, then
publishes an outcome under the same key and releases the lock. Everyone else waits for that
outcome.

On ``store="memory://"`` the flights are this process's (threads); on a Redis store they are
the deployment's: ``SET NX PX`` takes the lock, one Lua script publishes the outcome and
releases the lock (only while the flight still owns it). Keys are ``refresh:<store prefix>``,
outside the store's prefix: a flight's writes never reach the workers' copies of the
revocation entries (:mod:`.store_cache`), which drop everything on any write under the prefix.
The two keys of a flight share a hash tag, so a Redis Cluster keeps them on one node.

Every failure to reach Redis raises :class:`~.errors.BackendUnavailableError`.
"""

from __future__ import annotations

import threading
import time
import typing as t
import weakref

from .defences.redis_store import call_store
from .defences.store import Store

#: Seconds between two looks at a Redis flight someone else owns.
POLL_SECONDS = 0.02
#: Seconds between two sweeps of a memory store's ended flights.
SWEEP_SECONDS = 60.0

_FINISH = """
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
if ARGV[2] ~= '' then redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[3]) end
return 1
"""


class Flights(t.Protocol):
    """Locks and outcomes of flights."""

    def look(self, key: str) -> tuple[str | None, str | None]:
        """The flight owning ``key`` (``None``: nobody) and the outcome published last."""
        ...

    def begin(self, key: str, flight: str, ttl: float) -> bool:
        """Take the lock of ``key`` for ``flight`` for at most ``ttl`` seconds; whether it was free."""
        ...

    def finish(self, key: str, flight: str, outcome: str | None, ttl: float) -> None:
        """Publish ``outcome`` (kept ``ttl`` seconds; ``None``: none) and release the lock if
        ``flight`` still owns it."""
        ...

    def wait(self, key: str, seconds: float) -> None:
        """Return when the flight of ``key`` may have changed, or after ``seconds``."""
        ...


class MemoryFlights:
    """Flights of this process (``store="memory://"``)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[str, float]] = {}
        self._outcomes: dict[str, tuple[str, float]] = {}
        self._changed = threading.Condition()
        self._next_sweep = 0.0

    def look(self, key: str) -> tuple[str | None, str | None]:
        now = time.monotonic()
        with self._changed:
            lock, outcome = self._locks.get(key), self._outcomes.get(key)
        return (
            lock[0] if lock is not None and lock[1] > now else None,
            outcome[0] if outcome is not None and outcome[1] > now else None,
        )

    def begin(self, key: str, flight: str, ttl: float) -> bool:
        now = time.monotonic()
        with self._changed:
            lock = self._locks.get(key)
            if lock is not None and lock[1] > now:
                return False
            self._locks[key] = (flight, now + ttl)
            return True

    def finish(self, key: str, flight: str, outcome: str | None, ttl: float) -> None:
        now = time.monotonic()
        with self._changed:
            if outcome is not None:
                self._outcomes[key] = (outcome, now + ttl)
            lock = self._locks.get(key)
            if lock is not None and lock[0] == flight:
                del self._locks[key]
            self._prune(now)
            self._changed.notify_all()

    def wait(self, key: str, seconds: float) -> None:
        with self._changed:
            self._changed.wait(seconds)

    def _prune(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_SECONDS
        for entries in (self._locks, self._outcomes):
            for stale in [k for k, (_, until) in entries.items() if until <= now]:
                del entries[stale]


class RedisFlights:
    """Flights shared by every worker and host through the Redis store.

    :param client: the store's ``redis`` client.
    :param prefix: the store's key prefix.
    """

    def __init__(self, client: t.Any, prefix: str) -> None:
        self._client = client
        self._prefix = f"refresh:{prefix}"
        self._finish = client.register_script(_FINISH)

    def _keys(self, key: str) -> tuple[str, str]:
        tagged = f"{self._prefix}{{{key}}}"
        return f"{tagged}:lock", f"{tagged}:outcome"

    def look(self, key: str) -> tuple[str | None, str | None]:
        lock, outcome = call_store(self._client.mget, list(self._keys(key)))
        return _text(lock), _text(outcome)

    def begin(self, key: str, flight: str, ttl: float) -> bool:
        lock, _ = self._keys(key)
        return bool(call_store(self._client.set, lock, flight, nx=True, px=max(1, int(ttl * 1000))))

    def finish(self, key: str, flight: str, outcome: str | None, ttl: float) -> None:
        args = [flight, outcome or "", max(1, int(ttl + 0.999))]
        call_store(self._finish, keys=list(self._keys(key)), args=args)

    def wait(self, key: str, seconds: float) -> None:
        time.sleep(min(seconds, POLL_SECONDS))


def _text(value: t.Any) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


_LOCK = threading.Lock()
_FLIGHTS: weakref.WeakKeyDictionary[t.Any, Flights] = weakref.WeakKeyDictionary()


def flights_of(store: Store) -> Flights:
    """The flights over ``store``: its Redis client's, or this process's for a memory store (one
    per store, made on first use)."""
    found = _FLIGHTS.get(store)
    if found is None:
        with _LOCK:
            found = _FLIGHTS.get(store)
            if found is None:
                client = getattr(store, "client", None)
                found = MemoryFlights() if client is None else RedisFlights(client, store.prefix)
                _FLIGHTS[store] = found
    return found


__all__ = ["Flights", "MemoryFlights", "RedisFlights", "flights_of"]
