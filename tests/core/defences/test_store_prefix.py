"""The store's key prefix (issue 27): by default derived from the app's secret, so two apps on
one Redis neither revoke each other's users nor share throttle counters."""

from __future__ import annotations

import typing as t
import uuid

import pytest
from conftest import SECRET, FrozenClock
from support.defences_app import BASE, attempt, client_of, options, site

from flask_authguard import AuthEndpoints, ConfigurationError, with_auth
from flask_authguard.core.runtime import runtime_of
from flask_authguard.core.settings.config import resolve_options


def prefix_of(**opts: t.Any) -> str:
    return runtime_of(resolve_options(opts, warn_missing_secret=False)).store.prefix


@pytest.fixture
def shared_redis(redis_store: dict[str, str]) -> t.Iterator[tuple[str, list[str]]]:
    """The test Redis without the fixture's prefix (the default is under test); the test lists
    the prefixes it used, whose keys are deleted afterwards."""
    import redis

    used: list[str] = []
    yield redis_store["store"], used
    client = redis.Redis.from_url(redis_store["store"])
    for prefix in used:
        assert prefix.startswith("authguard:") and len(prefix) > len("authguard:")  # never the bare default
        for key in client.scan_iter(match=f"*{prefix}*", count=500):
            client.delete(key)
    client.close()


def test_two_apps_on_one_redis_keep_apart(
    shared_redis: tuple[str, list[str]], frozen_clock: FrozenClock
) -> None:
    url, used = shared_redis
    secrets = [f"app-one-{uuid.uuid4().hex}", f"app-two-{uuid.uuid4().hex}"]
    apps = [with_auth(site, options=options(secret=s, store=url), matcher=["/private"]) for s in secrets]
    prefixes = [runtime_of(app.core.config).store.prefix for app in apps]
    assert prefixes[0] != prefixes[1]
    used.extend(prefixes)
    clients = [client_of(app) for app in apps]
    for client in clients:
        assert attempt(client, password="pw").status_code == 302
    frozen_clock.now += 1
    AuthEndpoints(apps[0].core.config).revoke_user("1")  # user 1 of app one only
    api = {"Accept": "application/json"}
    assert clients[0].get("/private", base_url=BASE, headers=api).status_code == 401
    assert clients[1].get("/private", base_url=BASE).get_data() == b"site /private 1"
    # Nor do they share throttle counters (three a minute in these options).
    assert [attempt(clients[0]).status_code for _ in range(4)] == [302, 302, 302, 429]
    assert attempt(clients[1]).status_code == 302


def test_the_default_prefix_is_derived_from_the_secret() -> None:
    one = prefix_of(secret=SECRET)
    assert one == prefix_of(secret=SECRET)  # every worker, every restart
    assert one.startswith("authguard:") and one != "authguard:" and SECRET not in one
    assert prefix_of(secret="another-secret-0123456789abcdef") != one
    assert prefix_of(secret=["a-newer-secret-0123456789abcdef", SECRET]) == one  # rotation keeps it
    assert prefix_of(secret=SECRET, store_prefix="mine:") == "mine:"


def test_a_secret_from_the_environment_later_sets_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEXTAUTH_SECRET", raising=False)
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    config = resolve_options({}, warn_missing_secret=False)
    monkeypatch.setenv("NEXTAUTH_SECRET", SECRET)
    assert runtime_of(config).store.prefix == prefix_of(secret=SECRET)


def test_no_secret_at_all_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEXTAUTH_SECRET", raising=False)
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    endpoints = AuthEndpoints(resolve_options({}, warn_missing_secret=False))
    with pytest.raises(ConfigurationError, match="store_prefix"):
        endpoints.revoke_user("1")
    assert prefix_of(store_prefix="mine:") == "mine:"  # an explicit prefix needs no secret


def test_revocations_outlive_dropping_the_oldest_secret(
    shared_redis: tuple[str, list[str]], frozen_clock: FrozenClock
) -> None:
    url, used = shared_redis
    old, new = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    before, during, after = (
        with_auth(site, options=options(secret=s, store=url), matcher=["/private"])
        for s in (old, [new, old], new)
    )
    used.extend({runtime_of(app.core.config).store.prefix for app in (before, during, after)})
    assert runtime_of(before.core.config).store.prefix == runtime_of(during.core.config).store.prefix
    client = client_of(during)
    assert attempt(client, password="pw").status_code == 302  # a token signed with the new secret
    client.application = after  # the same browser on a worker that dropped the old secret
    assert client.get("/private", base_url=BASE).get_data() == b"site /private 1"
    frozen_clock.now += 1
    AuthEndpoints(during.core.config).revoke_user("1")  # written while both secrets are in use
    api = {"Accept": "application/json"}
    for app in (during, after):  # is seen by either, though "after" reads another prefix
        client.application = app
        assert client.get("/private", base_url=BASE, headers=api).status_code == 401
