"""The worker's copy of the revocation entries (``store_cache``): exact through Redis's pushes.

Every test runs against the real Redis on 127.0.0.1:6379 (the ``redis_store`` fixture); writes
made by other clients stand for other workers and for admin tools.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import typing as t

import pytest
from conftest import SECRET, FrozenClock
from flask import Flask
from support.revocation_app import bearer, make_app, signed_in

from flask_authguard import AuthGuard, ConfigurationError
from flask_authguard.core.defences import redis_store as redis_store_module
from flask_authguard.core.defences import store_cache
from flask_authguard.core.defences.store_cache import TrackedCache
from flask_authguard.core.runtime import runtime_of


@pytest.fixture
def admin(redis_store: dict[str, str]) -> t.Iterator[t.Any]:
    """A plain redis-py client of the same server: another worker, or an admin's tool."""
    import redis

    client = redis.Redis.from_url(redis_store["store"])
    yield client
    client.close()


def counted_store(redis_store: dict[str, str]) -> tuple[redis_store_module.RedisStore, list[int]]:
    """A caching store whose ``MGET`` round trips are counted."""
    store = redis_store_module.RedisStore(redis_store["store"], redis_store["store_prefix"], cache=True)
    calls = [0]
    mget = store._mget

    def counting(keys: t.Sequence[str]) -> list[t.Any]:
        calls[0] += 1
        return mget(keys)

    store._mget = counting  # type: ignore[method-assign]
    return store, calls


def keys_of(redis_store: dict[str, str]) -> list[str]:
    return [redis_store["store_prefix"] + "u:1", redis_store["store_prefix"] + "s:abc"]


def write_elsewhere(admin: t.Any, *commands: tuple[t.Any, ...]) -> None:
    """Commands from another client, then the store's own barrier (one ``PING`` round trip)."""
    for command in commands:
        if command[0] == "sleep":
            time.sleep(float(command[1]))
        else:
            admin.execute_command(*command)
    admin.ping()


def test_a_read_before_is_answered_without_a_round_trip(redis_store: dict[str, str], admin: t.Any) -> None:
    store, calls = counted_store(redis_store)
    keys = keys_of(redis_store)
    admin.set(keys[0], "5")
    assert store.get_many(keys) == ["5", None]
    assert [store.get_many(keys) for _ in range(5)] == [["5", None]] * 5
    assert calls == [1]
    assert store.get_many(keys[::-1]) == [None, "5"] and calls == [1]  # each key is an entry
    assert store.get_many([keys[0], redis_store["store_prefix"] + "s:other"]) == ["5", None]
    assert calls == [2]  # a key never read is read


@pytest.mark.parametrize(
    "commands, expected",
    [
        ([("SET", "{s}", "1")], ["5", "1"]),  # a revocation by another worker
        ([("DEL", "{u}")], [None, None]),  # an entry removed by hand
        ([("SET", "{u}", "9")], ["9", None]),  # a newer "revoked before"
        ([("PEXPIRE", "{u}", "1"), ("sleep", "0.01"), ("GET", "{u}")], [None, None]),  # expires
        ([("FLUSHDB",)], [None, None]),  # Redis sends a flush push, for every key
    ],
)
def test_a_write_by_anyone_is_seen_by_the_next_read(
    redis_store: dict[str, str], admin: t.Any, commands: list[tuple[str, ...]], expected: list[t.Any]
) -> None:
    store, calls = counted_store(redis_store)
    keys = keys_of(redis_store)
    admin.set(keys[0], "5")
    assert store.get_many(keys) == store.get_many(keys) == ["5", None] and calls == [1]
    names = {"{u}": keys[0], "{s}": keys[1]}
    write_elsewhere(admin, *(tuple(names.get(part, part) for part in c) for c in commands))
    assert store.get_many(keys) == expected
    assert calls == [2]
    assert store.get_many(keys) == expected and calls == [2]  # the new values are kept again


def test_a_write_outside_the_prefix_keeps_the_copy(redis_store: dict[str, str], admin: t.Any) -> None:
    store, calls = counted_store(redis_store)
    keys = keys_of(redis_store)
    assert store.get_many(keys) == [None, None]
    write_elsewhere(admin, ("SET", "other" + redis_store["store_prefix"], "1"))
    assert store.get_many(keys) == [None, None] and calls == [1]


def test_a_write_racing_the_read_is_not_remembered(redis_store: dict[str, str], admin: t.Any) -> None:
    store, calls = counted_store(redis_store)
    cache = store.cache
    assert cache is not None
    keys = keys_of(redis_store)
    kept, generation = cache.lookup(keys)
    assert kept is None
    read_at = time.monotonic()
    stale = store._mget(keys)  # read before the write below...
    write_elsewhere(admin, ("SET", keys[1], "1"))
    cache.remember(generation, keys, [None, None], read_at)  # ...and handed in after its push
    assert stale == [None, None]
    assert store.get_many(keys) == [None, "1"]  # read again, not the stale value


def test_a_revocation_through_the_guard_reaches_the_other_worker_at_once(
    frozen_clock: FrozenClock, redis_store: dict[str, str]
) -> None:
    app_one, guard_one = make_app(**redis_store)
    app_two, _ = make_app(**redis_store)
    _, value = signed_in(app_one)
    assert [bearer(app_two, value) for _ in range(3)] == [200] * 3  # kept on worker two
    guard_one.revoke_token(value, app=app_one)
    assert bearer(app_two, value) == 401
    assert bearer(app_one, value) == 401


def test_a_lost_tracking_connection_drops_the_copy(redis_store: dict[str, str], admin: t.Any) -> None:
    store, calls = counted_store(redis_store)
    cache = store.cache
    assert cache is not None
    keys = keys_of(redis_store)
    assert store.get_many(keys) == store.get_many(keys) and calls == [1]
    tracking = cache._connection
    tracking.send_command("CLIENT", "ID")  # the push connection answers commands too
    client_id = tracking.read_response()
    assert admin.client_kill_filter(_id=client_id) == 1
    admin.set(keys[1], "1")  # written while nobody tracks for this worker
    assert store.get_many(keys) == [None, "1"]  # the loss is noticed: read from Redis
    assert calls == [2] and cache._connection is None
    # The next connection is tried a second later (not on every request); then the copy is back.
    cache._next_attempt = 0.0
    assert store.get_many(keys) == [None, "1"] and calls == [3]
    assert store.get_many(keys) == [None, "1"] and calls == [3]
    assert cache._connection is not None and cache._connection is not tracking


def test_an_entry_is_read_again_after_cache_seconds(
    redis_store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, calls = counted_store(redis_store)
    keys = keys_of(redis_store)
    store.get_many(keys)
    store.get_many(keys)
    assert calls == [1]
    monkeypatch.setattr(store_cache, "CACHE_SECONDS", -1.0)  # every entry is too old
    store.get_many(keys)
    store.get_many(keys)
    assert calls == [3]


def test_the_copy_is_bounded(redis_store: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_cache, "CACHE_ENTRIES", 4)
    store, calls = counted_store(redis_store)
    cache = store.cache
    assert cache is not None
    prefix = redis_store["store_prefix"]
    for i in range(10):
        store.get_many([f"{prefix}u:{i}", f"{prefix}s:{i}"])
        assert len(cache._entries) <= 4
    store.get_many([f"{prefix}u:9", f"{prefix}s:9"])
    assert calls == [10]  # the newest pair is still kept


def test_a_forked_child_makes_its_own_connection(redis_store: dict[str, str]) -> None:
    store, calls = counted_store(redis_store)
    cache = store.cache
    assert cache is not None
    keys = keys_of(redis_store)
    store.get_many(keys)
    parent = cache._connection
    store_cache._forked()  # what os.register_at_fork runs in a child
    assert cache._connection is None and not cache._entries
    assert parent is not None and parent.can_read(timeout=0) is False  # not shut down: still the parent's
    assert store.get_many(keys) == [None, None] and calls == [2]
    assert cache._connection is not None and cache._connection is not parent


def test_a_real_fork_sees_revocations_made_after_it(redis_store: dict[str, str], admin: t.Any) -> None:
    store, _ = counted_store(redis_store)
    keys = keys_of(redis_store)
    assert store.get_many(keys) == [None, None]
    to_parent, from_child = os.pipe()
    to_child, from_parent = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, wait for the parent's revocation, read again
        try:
            first = store.get_many(keys)
            os.write(from_child, b"r")
            os.read(to_child, 1)
            second = store.get_many(keys)
            os._exit(0 if (first, second) == ([None, None], [None, "1"]) else 1)
        except BaseException:
            os._exit(2)
    os.read(to_parent, 1)  # the child has read (and kept) the entries
    store.put(keys[1], "1")
    os.write(from_parent, b"g")
    _, status = os.waitpid(pid, 0)
    for fd in (to_parent, from_child, to_child, from_parent):
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get_many(keys) == [None, "1"]  # the parent's own copy followed too


class _OldRedis:
    """A server that answers like Redis 5: every command, HELLO included, is unknown."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        with conn:
            while conn.recv(65536):
                conn.sendall(b"-ERR unknown command 'HELLO', with args beginning with: '3'\r\n")


def test_a_server_that_cannot_track_is_read_every_time() -> None:
    import redis

    server = _OldRedis()
    try:
        cache = TrackedCache(
            lambda: redis.Connection(host="127.0.0.1", port=server.port, protocol=3, socket_timeout=1),
            "p:",
            (redis.RedisError, OSError),
            redis.ResponseError,
        )
        assert cache.lookup(["p:u:1"]) == (None, 0)
        assert cache.unsupported
        cache.remember(0, ["p:u:1"], [None], time.monotonic())
        cache._next_attempt = 0.0
        assert cache.lookup(["p:u:1"])[0] is None  # nothing remembered, and never asked again
        assert server.accepted == 1
    finally:
        server.sock.close()


def test_store_cache_off_reads_every_time(redis_store: dict[str, str]) -> None:
    app, _ = make_app(**redis_store, store_cache=False)
    store = runtime_of(app.extensions["authguard"].config).store
    assert isinstance(store, redis_store_module.RedisStore) and store.cache is None
    app, _ = make_app(**redis_store)
    store = runtime_of(app.extensions["authguard"].config).store
    assert isinstance(store, redis_store_module.RedisStore) and store.cache is not None


def test_store_cache_must_be_a_flag() -> None:
    with pytest.raises(ConfigurationError, match="store_cache"):
        make_app(store_cache="yes")
    app = Flask(__name__)
    app.config["AUTHGUARD_STORE_CACHE"] = "no"
    with pytest.raises(ConfigurationError, match="AUTHGUARD_STORE_CACHE"):
        AuthGuard(app, {"secret": SECRET})
    app = Flask(__name__)
    app.config["AUTHGUARD_STORE_CACHE"] = False
    AuthGuard(app, {"secret": SECRET})
    assert app.extensions["authguard"].config.store_cache is False
