"""A user's sessions as the store knows them: one record per session, one hash per user.

What "your devices" lists needs, per user, the sessions that are alive with their sign-in time,
when they were last seen and the user agent. The session cookie cannot tell (it lives in the
browser), so the sessions layer keeps a small record per session in the ``store``:

- ``<prefix>d:<user id>`` is a hash (Redis ``HSET``; a dict in this process for ``memory://``)
  whose fields are opaque session ids (:func:`opaque_id`, never a session token) and whose values
  are the records, JSON objects;
- each write sets the hash to expire after ``ttl`` seconds, so a user who never comes back leaves
  nothing behind; a record carries its own ``expires`` and readers drop the ones past it.

Store failures raise :class:`~flask_authguard.core.errors.BackendUnavailableError`, as every
other store operation does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import typing as t
import weakref

from . import _clock
from .defences.store import MemoryStore, Store
from .errors import BackendUnavailableError

#: What an opaque session id is derived with: HMAC-SHA256 under this label's key.
_ID_LABEL = b"flask_authguard session id"


def opaque_id(secret: str, value: str) -> str:
    """An id for the session ``value`` names (a database session token, a JWT session's
    ``sid``) that says nothing about it: 32 hex digits of an HMAC keyed with ``secret``."""
    key = hmac.new(secret.encode(), _ID_LABEL, hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


class SessionIndex:
    """The session records of every user in one store.

    :param store: the runtime's store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._prefix = f"{store.prefix}d:"
        # the hashes themselves: this process's for ``memory://``, else the Redis server's
        self._hashes: _Hashes = _memory(store) if isinstance(store, MemoryStore) else _RedisHashes(store)

    def _key(self, user_id: str) -> str:
        return self._prefix + user_id

    def put(self, user_id: str, session_id: str, record: t.Mapping[str, t.Any], ttl: float) -> None:
        """Write the record of one session; the user's hash then lives ``ttl`` seconds more.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        value = json.dumps(dict(record), separators=(",", ":"))
        self._hashes.put(self._key(user_id), session_id, value, max(1, int(ttl)))

    def get(self, user_id: str, session_id: str) -> dict[str, t.Any] | None:
        """The record of one session, or ``None`` (none, or past its ``expires``).

        :raises BackendUnavailableError: the store cannot be reached.
        """
        record = _record(self._hashes.field(self._key(user_id), session_id))
        return record if record is not None and _live(record) else None

    def all(self, user_id: str) -> dict[str, dict[str, t.Any]]:
        """Every live record of ``user_id`` by session id; records past their ``expires`` are
        deleted on the way.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        records: dict[str, dict[str, t.Any]] = {}
        dead: list[str] = []
        for field, value in self._hashes.all(self._key(user_id)).items():
            session_id = field.decode() if isinstance(field, bytes) else str(field)
            record = _record(value)
            if record is None or not _live(record):
                dead.append(session_id)
            else:
                records[session_id] = record
        if dead:
            self.remove(user_id, *dead)
        return records

    def remove(self, user_id: str, *session_ids: str) -> int:
        """Delete records; how many there were.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        if not session_ids:
            return 0
        return self._hashes.remove(self._key(user_id), session_ids)

    def extend(self, user_id: str, ttl: float) -> None:
        """Let the user's hash live ``ttl`` seconds from now.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        self._hashes.extend(self._key(user_id), max(1, int(ttl)))

    def clear(self, user_id: str) -> None:
        """Delete every record of ``user_id``.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        self._hashes.clear(self._key(user_id))


def _record(raw: t.Any) -> dict[str, t.Any] | None:
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _live(record: t.Mapping[str, t.Any]) -> bool:
    expires = record.get("expires")
    return not isinstance(expires, (int, float)) or expires > _clock.now()


def _client(store: Store) -> t.Any:
    client = getattr(store, "client", None)
    if client is None:
        raise TypeError(f"the session index needs a memory or Redis store, not {type(store).__name__}")
    return client


T = t.TypeVar("T")


def _redis(call: t.Callable[[], T]) -> T:
    """``call()``, a Redis failure raised as :class:`BackendUnavailableError`."""
    import redis

    try:
        return call()
    except (redis.RedisError, OSError) as exc:
        raise BackendUnavailableError(f"the store failed: {type(exc).__name__}") from exc


class _Hashes(t.Protocol):
    """Hashes of string fields that expire whole: what :class:`SessionIndex` keeps records in."""

    def put(self, key: str, field: str, value: str, ttl: float) -> None: ...
    def field(self, key: str, field: str) -> t.Any: ...
    def all(self, key: str) -> t.Mapping[t.Any, t.Any]: ...
    def remove(self, key: str, fields: t.Sequence[str]) -> int: ...
    def extend(self, key: str, ttl: float) -> None: ...
    def clear(self, key: str) -> None: ...


class _RedisHashes:
    """The hashes of a Redis store (``HSET`` and ``EXPIRE``), store failures raised as
    :class:`BackendUnavailableError`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, key: str, field: str, value: str, ttl: float) -> None:
        client = _client(self.store)
        _redis(lambda: client.pipeline(transaction=False).hset(key, field, value).expire(key, ttl).execute())

    def field(self, key: str, field: str) -> t.Any:
        client = _client(self.store)
        return _redis(lambda: client.hget(key, field))

    def all(self, key: str) -> t.Mapping[t.Any, t.Any]:
        client = _client(self.store)
        return t.cast("t.Mapping[t.Any, t.Any]", _redis(lambda: client.hgetall(key)))

    def remove(self, key: str, fields: t.Sequence[str]) -> int:
        client = _client(self.store)
        return int(_redis(lambda: client.hdel(key, *fields)))

    def extend(self, key: str, ttl: float) -> None:
        client = _client(self.store)
        _redis(lambda: client.expire(key, ttl))

    def clear(self, key: str) -> None:
        client = _client(self.store)
        _redis(lambda: client.delete(key))


class _MemoryHashes:
    """The hashes of one ``memory://`` store, in this process."""

    def __init__(self) -> None:
        self._hashes: dict[str, tuple[dict[str, str], float]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, field: str, value: str, ttl: float) -> None:
        with self._lock:
            found = self._current(key)
            self._hashes[key] = ({**found, field: value}, _clock.now() + ttl)

    def field(self, key: str, field: str) -> str | None:
        with self._lock:
            return self._current(key).get(field)

    def all(self, key: str) -> dict[str, str]:
        with self._lock:
            return dict(self._current(key))

    def remove(self, key: str, fields: t.Iterable[str]) -> int:
        with self._lock:
            entry = self._hashes.get(key)
            if entry is None:
                return 0
            drop = set(fields)
            kept = {f: v for f, v in entry[0].items() if f not in drop}
            removed = len(entry[0]) - len(kept)
            self._hashes[key] = (kept, entry[1])
            return removed

    def extend(self, key: str, ttl: float) -> None:
        with self._lock:
            found = self._current(key)
            if found:
                self._hashes[key] = (found, _clock.now() + ttl)

    def clear(self, key: str) -> None:
        with self._lock:
            self._hashes.pop(key, None)

    def _current(self, key: str) -> dict[str, str]:
        entry = self._hashes.get(key)
        if entry is None or entry[1] <= _clock.now():
            return {}
        return entry[0]


_MEMORY: weakref.WeakKeyDictionary[MemoryStore, _MemoryHashes] = weakref.WeakKeyDictionary()
_MEMORY_LOCK = threading.Lock()


def _memory(store: MemoryStore) -> _MemoryHashes:
    with _MEMORY_LOCK:
        found = _MEMORY.get(store)
        if found is None:
            found = _MEMORY[store] = _MemoryHashes()
        return found


__all__ = ["SessionIndex", "opaque_id"]
