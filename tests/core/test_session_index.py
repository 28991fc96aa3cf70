"""The per-user session records in the store (``core/session_index.py``): memory and Redis alike."""

from __future__ import annotations

import typing as t

import pytest
from conftest import FrozenClock

from flask_authguard import BackendUnavailableError
from flask_authguard.core.defences.store import open_store
from flask_authguard.core.session_index import SessionIndex, opaque_id


@pytest.fixture(params=["memory", "redis"])
def index(request: pytest.FixtureRequest) -> SessionIndex:
    if request.param == "memory":
        return SessionIndex(open_store("memory://", "idx-test:"))
    options = request.getfixturevalue("redis_store")
    return SessionIndex(open_store(options["store"], options["store_prefix"]))


def test_put_get_all_remove(index: SessionIndex) -> None:
    index.put("u1", "a", {"signed_in": 1.0}, 60)
    index.put("u1", "b", {"signed_in": 2.0}, 60)
    index.put("u2", "c", {"signed_in": 3.0}, 60)
    assert index.get("u1", "a") == {"signed_in": 1.0}
    assert index.get("u1", "c") is None
    assert index.all("u1") == {"a": {"signed_in": 1.0}, "b": {"signed_in": 2.0}}
    assert index.remove("u1", "a", "zz") == 1
    assert index.all("u1") == {"b": {"signed_in": 2.0}}
    index.clear("u1")
    assert index.all("u1") == {} and index.all("u2") == {"c": {"signed_in": 3.0}}
    assert index.remove("u1") == 0


def test_records_past_their_expiry_are_dropped(index: SessionIndex, frozen_clock: FrozenClock) -> None:
    index.put("u1", "old", {"expires": frozen_clock.now + 10}, 600)
    index.put("u1", "new", {"expires": frozen_clock.now + 100}, 600)
    frozen_clock.now += 50
    assert index.get("u1", "old") is None
    assert set(index.all("u1")) == {"new"}
    assert index.remove("u1", "old") == 0  # all() deleted it on the way


def test_the_memory_hash_expires_with_its_ttl(frozen_clock: FrozenClock) -> None:
    index = SessionIndex(open_store("memory://", "idx-ttl:"))
    index.put("u1", "a", {}, 60)
    frozen_clock.now += 30
    index.extend("u1", 60)
    frozen_clock.now += 45
    assert index.all("u1") == {"a": {}}
    frozen_clock.now += 16
    assert index.all("u1") == {}


def test_unreadable_records_are_dropped(index: SessionIndex) -> None:
    index.put("u1", "a", {"ok": True}, 60)
    store = index.store
    if hasattr(store, "client"):
        store.client.hset(f"{store.prefix}d:u1", "bad", "not json")  # type: ignore[attr-defined]
    assert index.all("u1") == {"a": {"ok": True}}


def test_opaque_ids_depend_on_the_secret_and_hide_the_value() -> None:
    first = opaque_id("secret-one", "3f2a-session-token")
    assert len(first) == 32 and "3f2a" not in first
    assert first == opaque_id("secret-one", "3f2a-session-token")
    assert first != opaque_id("secret-two", "3f2a-session-token")


def test_redis_down_is_backend_unavailable() -> None:
    index = SessionIndex(open_store("redis://127.0.0.1:1/0", "idx-down:"))
    calls: list[t.Callable[[], t.Any]] = [
        lambda: index.put("u1", "a", {}, 60),
        lambda: index.get("u1", "a"),
        lambda: index.all("u1"),
        lambda: index.remove("u1", "a"),
        lambda: index.clear("u1"),
    ]
    for call in calls:
        with pytest.raises(BackendUnavailableError):
            call()
