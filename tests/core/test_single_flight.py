"""One flight per key (``core/single_flight.py``): the lock, the outcome, the owner-only release,
in this process and through Redis."""

from __future__ import annotations

import threading
import time
import typing as t

import pytest

from flask_authguard.core.defences.store import open_store
from flask_authguard.core.errors import BackendUnavailableError
from flask_authguard.core.single_flight import Flights, MemoryFlights, RedisFlights, flights_of


@pytest.fixture(params=["memory", "redis"])
def flights(request: pytest.FixtureRequest) -> Flights:
    if request.param == "memory":
        return MemoryFlights()
    options = request.getfixturevalue("redis_store")
    store = open_store(options["store"], options["store_prefix"])
    found = flights_of(store)
    assert isinstance(found, RedisFlights)
    return found


def test_one_owner_at_a_time_and_its_outcome(flights: Flights) -> None:
    assert flights.look("k") == (None, None)
    assert flights.begin("k", "f1", 5)
    assert not flights.begin("k", "f2", 5)
    assert flights.look("k") == ("f1", None)
    flights.finish("k", "f1", "answer", 60)
    assert flights.look("k") == (None, "answer")
    assert flights.begin("k", "f3", 5)  # free again; the outcome stays
    assert flights.look("k") == ("f3", "answer")


def test_only_the_owner_releases(flights: Flights) -> None:
    assert flights.begin("k", "f1", 5)
    flights.finish("k", "intruder", None, 0)
    assert flights.look("k") == ("f1", None)


def test_a_lock_expires(flights: Flights) -> None:
    assert flights.begin("k", "f1", 0.2)
    time.sleep(0.4)
    assert flights.look("k")[0] is None
    assert flights.begin("k", "f2", 5)


def test_waiters_wake_when_the_flight_ends() -> None:
    flights = MemoryFlights()
    flights.begin("k", "f1", 5)
    woke: list[float] = []

    def waiter() -> None:
        started = time.monotonic()
        flights.wait("k", 5)
        woke.append(time.monotonic() - started)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.1)
    flights.finish("k", "f1", "done", 60)
    thread.join(5)
    assert woke and woke[0] < 2


def test_redis_down_is_backend_unavailable() -> None:
    store = open_store("redis://127.0.0.1:1/0", "t-down:")
    flights = flights_of(store)
    with pytest.raises(BackendUnavailableError):
        flights.look("k")
    with pytest.raises(BackendUnavailableError):
        flights.begin("k", "f", 1)


def test_keys_stay_outside_the_tracked_prefix(redis_store: dict[str, t.Any]) -> None:
    """A flight's writes must not reach the workers' copies of the revocation entries, which
    track every key under the store's prefix."""
    import redis

    store = open_store(redis_store["store"], redis_store["store_prefix"])
    flights_of(store).begin("abc", "f", 5)
    client = redis.Redis.from_url(redis_store["store"])
    keys = [k.decode() for k in client.scan_iter(match=f"*{redis_store['store_prefix']}*")]
    client.close()
    assert keys and all(not k.startswith(redis_store["store_prefix"]) for k in keys)
