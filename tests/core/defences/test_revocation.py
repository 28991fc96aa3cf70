"""Revocation: sign out everywhere, end a user's or one session's tokens, JWT included.

Tokens we issue carry ``auth_time`` and ``sid`` from sign-in on; a user revocation compares
``auth_time`` (so refreshed descendants of an old sign-in stay refused), a session revocation
names the ``sid`` (so the session's later refreshes stay refused).
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
import time
import typing as t

import pytest
from conftest import SECRET, FrozenClock
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from support.handler_app import V4, client_of, cookie_value, csrf_of
from support.properties import BOUNDED
from support.revocation_app import bearer, make_app, signed_in

from flask_authguard import (
    AuthGuard,
    ConfigurationError,
    InvalidTokenError,
    decode,
    encode,
)
from flask_authguard.core.defences import redis_store as redis_store_module
from flask_authguard.core.defences import store as store_module
from flask_authguard.core.defences.revocation import (
    AUTH_TIME,
    IDP_AUTH_TIME,
    RevocationList,
    authenticated_time,
    carry_sign_in_claims,
    sign_in_claims,
    sign_in_time,
    user_of,
)
from flask_authguard.core.defences.store import MemoryStore
from flask_authguard.core.runtime import runtime_of
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.core.tokens.jwt import verified_tokens
from flask_authguard.sessions.revoke import Revoker


@pytest.fixture
def clock(frozen_clock: FrozenClock) -> FrozenClock:
    return frozen_clock


# -- the claims -------------------------------------------------------------------------------


def test_sign_in_sets_auth_time_and_sid_and_refresh_keeps_them(clock: FrozenClock) -> None:
    app, _ = make_app()
    client, value = signed_in(app)
    first = decode(token=value, secret=SECRET)
    assert first is not None
    assert first["auth_time"] == clock.now
    assert isinstance(first["sid"], str) and len(first["sid"]) == 36
    clock.now += 3600
    response = client.get("/api/auth/session")
    refreshed = decode(token=cookie_value(response, V4), secret=SECRET)
    assert refreshed is not None
    assert (refreshed["auth_time"], refreshed["sid"]) == (first["auth_time"], first["sid"])
    assert refreshed["iat"] == first["iat"] + 3600 and refreshed["jti"] != first["jti"]


def test_a_jwt_callback_cannot_drop_or_change_the_sign_in_claims(clock: FrozenClock) -> None:
    def jwt(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        return {"sub": token["sub"], "auth_time": 1, "role": "x"}  # a fresh dict

    app, _ = make_app(callbacks={"jwt": jwt})
    client, value = signed_in(app)
    first = decode(token=value, secret=SECRET)
    assert first is not None and first["auth_time"] == clock.now and "sid" in first
    refreshed = decode(token=cookie_value(client.get("/api/auth/session"), V4), secret=SECRET)
    assert refreshed is not None and refreshed["sid"] == first["sid"] and refreshed["auth_time"] == clock.now


def test_carry_and_sign_in_time() -> None:
    assert carry_sign_in_claims({"sid": "s", "auth_time": 5}, {"a": 1}) == {
        "a": 1,
        "sid": "s",
        "auth_time": 5,
    }
    assert sign_in_time({"auth_time": 5, "iat": 9}) == 5
    assert sign_in_time({"iat": 9}) == 9
    assert sign_in_time({"iat": "9"}) is None


def test_the_providers_auth_time_is_kept_beside_the_sign_in(clock: FrozenClock) -> None:
    """An OpenID Connect sign-in keeps the provider's ``auth_time`` as ``idp_auth_time`` (at most
    now), carried on every refresh like ``auth_time``; a step-up measures from the earlier of the
    two, revocations from ``auth_time`` alone."""
    started = sign_in_claims(clock.now - 86400)
    assert started[AUTH_TIME] == clock.now and started[IDP_AUTH_TIME] == clock.now - 86400
    assert sign_in_claims(clock.now + 60)[IDP_AUTH_TIME] == clock.now  # a provider clock ahead
    assert IDP_AUTH_TIME not in sign_in_claims()  # a sign-in that authenticated now (credentials)
    assert carry_sign_in_claims(started, {"a": 1}) == {"a": 1, **started}
    assert authenticated_time(started) == clock.now - 86400
    assert sign_in_time(started) == clock.now
    assert authenticated_time({AUTH_TIME: 5}) == 5
    assert authenticated_time({AUTH_TIME: 5, IDP_AUTH_TIME: None}) is None
    assert authenticated_time({IDP_AUTH_TIME: 5}) is None


# -- revoke_user --------------------------------------------------------------------------------


def test_revoke_user_refuses_every_earlier_session_and_its_refreshes(clock: FrozenClock) -> None:
    app, guard = make_app()
    client_a, token_a = signed_in(app)
    clock.now += 10
    client_b, _ = signed_in(app)
    clock.now += 10
    refreshed = cookie_value(client_a.get("/api/auth/session"), V4)  # a descendant of session A
    assert refreshed and refreshed != token_a
    clock.now += 10
    with app.app_context():
        guard.revoke_user("1")
    for client in (client_a, client_b):
        assert client.get("/private").status_code == 307
    assert bearer(app, token_a) == 401 and bearer(app, refreshed) == 401
    # Re-issued after the revocation by someone else (next-auth keeps the claims): still refused.
    claims = decode(token=refreshed, secret=SECRET)
    assert claims is not None
    clock.now += 10
    outside = encode(token={k: v for k, v in claims.items() if k not in ("iat", "exp", "jti")}, secret=SECRET)
    assert bearer(app, outside) == 401
    # The session read says "no session" and clears the cookie.
    response = client_b.get("/me")
    assert response.get_json() == {"session": None}
    assert any(h.startswith(V4 + "=;") for h in response.headers.getlist("Set-Cookie"))
    # A new sign-in is a new session.
    clock.now += 1
    client_c, _ = signed_in(app)
    assert client_c.get("/private").get_json() == {"sub": "1"}


def test_revoke_user_leaves_other_users_alone(clock: FrozenClock) -> None:
    app, guard = make_app()
    other = encode(token={"sub": "2", "auth_time": clock.now - 5, "sid": "x"}, secret=SECRET)
    guard.revoke_user(1, app=app)  # outside an app context, int id
    assert bearer(app, other) == 200


def _numeric_sub(*, token: dict[str, t.Any], user: t.Any = None, **_: t.Any) -> dict[str, t.Any]:
    """An app's jwt callback keeping its user's numeric id as ``sub``."""
    if user is not None:
        token["sub"] = int(user["id"])
    return token


def test_a_numeric_sub_is_revoked_listed_and_signed_out_everywhere(clock: FrozenClock) -> None:
    app, guard = make_app(callbacks={"jwt": _numeric_sub})
    client, value = signed_in(app)
    claims = decode(token=value, secret=SECRET)
    assert claims is not None and claims["sub"] == 1
    assert client.get("/private").get_json() == {"sub": 1}
    assert [entry["current"] for entry in guard.list_sessions(1, app=app)] == [False]
    clock.now += 10
    guard.revoke_user(1, app=app)
    assert client.get("/private").status_code == 307
    # sign-out everywhere: the user's other browsers end too
    clock.now += 10
    first, _ = signed_in(app)
    second, _ = signed_in(app)
    clock.now += 10
    data = {"csrfToken": csrf_of(first), "everywhere": "true"}
    assert first.post("/api/auth/signout", data=data).status_code == 302
    assert second.get("/private").status_code == 307


@pytest.mark.parametrize(
    ("sub", "user"),
    [("7", "7"), (7, "7"), ("", None), (None, None), (True, None), (7.0, None), (["7"], None)],
)
def test_user_of(sub: t.Any, user: str | None) -> None:
    assert user_of({"sub": sub}) == user


def test_a_verified_token_cache_hit_is_still_checked(clock: FrozenClock) -> None:
    app, guard = make_app()
    client, value = signed_in(app)
    assert client.get("/private").status_code == 200
    assert any(key[0] == value for key in verified_tokens._entries)
    guard.revoke_user("1", app=app)
    assert client.get("/private").status_code == 307


def test_next_auth_tokens_without_auth_time_compare_iat(clock: FrozenClock) -> None:
    app, guard = make_app()
    before = encode(token={"sub": "1"}, secret=SECRET)  # iat = now
    guard.revoke_user("1", app=app)
    clock.now += 1
    after = encode(token={"sub": "1"}, secret=SECRET)
    assert bearer(app, before) == 401
    assert bearer(app, after) == 200  # what a next-auth refresh without auth_time looks like


def test_revoke_user_needs_an_id() -> None:
    app, guard = make_app()
    with pytest.raises(ValueError):
        guard.revoke_user("", app=app)


# -- revoke_token ---------------------------------------------------------------------------------


def test_revoke_token_ends_that_session_and_its_refreshes_only(clock: FrozenClock) -> None:
    app, guard = make_app()
    client_a, token_a = signed_in(app)
    client_b, _ = signed_in(app)
    clock.now += 60
    refreshed = cookie_value(client_a.get("/api/auth/session"), V4)
    assert guard.revoke_token(token_a, app=app) == "sid"  # the old token names the session
    assert client_a.get("/private").status_code == 307
    assert refreshed and bearer(app, refreshed) == 401
    assert client_b.get("/private").status_code == 200


def test_revoke_token_accepts_claims_and_expired_tokens(clock: FrozenClock) -> None:
    app, guard = make_app()
    _, value = signed_in(app)
    claims = decode(token=value, secret=SECRET)
    assert claims is not None
    assert guard.revoke_token(claims, app=app) == "sid"
    assert bearer(app, value) == 401
    expired = encode(token={"sub": "1", "sid": "old"}, secret=SECRET, max_age=1)
    clock.now += 100
    assert guard.revoke_token(expired, app=app) == "sid"


def test_revoke_token_without_sid_revokes_the_jti(clock: FrozenClock) -> None:
    app, guard = make_app()
    one = encode(token={"sub": "1"}, secret=SECRET)
    two = encode(token={"sub": "1"}, secret=SECRET)
    assert guard.revoke_token(one, app=app) == "jti"
    assert (bearer(app, one), bearer(app, two)) == (401, 200)
    with pytest.raises(ValueError, match="neither"):
        guard.revoke_token({"sub": "1"}, app=app)


def test_revoke_token_refuses_a_forged_token() -> None:
    app, guard = make_app()
    with pytest.raises(InvalidTokenError):
        guard.revoke_token(encode(token={"sub": "1", "sid": "s"}, secret="another-secret"), app=app)
    with pytest.raises(InvalidTokenError):
        guard.revoke_token("not-a-token", app=app)


def test_revoke_token_v5_tries_both_cookie_salts(clock: FrozenClock) -> None:
    app, guard = make_app(version=5)
    secure = encode(
        token={"sub": "1", "sid": "s5"}, secret=SECRET, version=5, salt="__Secure-authjs.session-token"
    )
    assert guard.revoke_token(secure, app=app) == "sid"


# -- sign out everywhere --------------------------------------------------------------------------


def sign_out(client: t.Any, **extra: str) -> t.Any:
    return client.post("/api/auth/signout", data={"csrfToken": csrf_of(client), **extra})


def test_sign_out_everywhere_ends_the_other_browsers_too(clock: FrozenClock) -> None:
    app, _ = make_app()
    client_a, _ = signed_in(app)
    client_b, _ = signed_in(app)
    clock.now += 1
    assert sign_out(client_a).status_code == 302
    assert client_b.get("/private").status_code == 200  # a plain sign-out ends this browser only
    client_a, _ = signed_in(app)
    clock.now += 1
    response = sign_out(client_a, everywhere="true")
    assert response.status_code == 302
    assert any(h.startswith(V4 + "=;") for h in response.headers.getlist("Set-Cookie"))
    assert client_b.get("/private").status_code == 307


def test_sign_out_everywhere_needs_the_csrf_token(clock: FrozenClock) -> None:
    app, _ = make_app()
    client_a, _ = signed_in(app)
    client_b, _ = signed_in(app)
    response = client_a.post("/api/auth/signout", data={"csrfToken": "wrong", "everywhere": "true"})
    assert "csrf=true" in response.headers["Location"]
    assert client_b.get("/private").status_code == 200


# -- the store --------------------------------------------------------------------------------------


def test_one_store_round_trip_per_request(clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    app, guard = make_app()
    client, _ = signed_in(app)
    guard.revoke_user("someone-else", app=app)  # the store is not empty
    calls: list[t.Sequence[str]] = []
    original = MemoryStore.get_many

    def counting(self: MemoryStore, keys: t.Sequence[str]) -> list[str | None]:
        calls.append(keys)
        return original(self, keys)

    monkeypatch.setattr(MemoryStore, "get_many", counting)
    response = client.get("/me")  # the guard's token and the session read
    assert response.get_json()["session"]["user"]["name"] == "Ada"
    assert len(calls) == 1 and len(calls[0]) == 2  # one MGET: the user key and the session key


def test_store_down_answers_503_and_signs_nobody_out(clock: FrozenClock) -> None:
    app, _ = make_app(store="redis://127.0.0.1:1/0")
    first = client_of(app)
    data = {"csrfToken": csrf_of(first), "username": "ada", "password": "pw"}
    assert first.post("/api/auth/callback/credentials", data=data).status_code == 503  # throttle
    app, _ = make_app(store="redis://127.0.0.1:1/0", throttle={"enabled": False})
    client, _ = signed_in(app)
    response = client.get("/private", headers={"Accept": "application/json"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    response = client.get("/me")
    assert response.status_code == 503
    assert not any(h.startswith(V4 + "=") for h in response.headers.getlist("Set-Cookie"))
    assert client.get("/api/auth/session").status_code == 503


def test_revoking_with_the_store_down_raises() -> None:
    from flask_authguard.core.errors import BackendUnavailableError

    app, guard = make_app(store="redis://127.0.0.1:1/0")
    with pytest.raises(BackendUnavailableError):
        guard.revoke_user("1", app=app)


@pytest.mark.parametrize("entry", ["garbage", "nan", "NaN", "inf", "-inf", "1e999"])
def test_the_revocation_list_refuses_an_unreadable_entry(entry: str) -> None:
    """An entry that is no finite number: refused rather than guessed (``nan`` compares as
    neither before nor after any sign-in, and once let a revoked user in)."""
    from flask_authguard.core.settings.config import resolve_options

    config = resolve_options({"secret": SECRET})
    store = MemoryStore("p:")
    store.put("p:u:1", entry)
    assert RevocationList(store, config).is_revoked({"sub": "1", "auth_time": 5})
    store.put("p:u:1", "4")  # a readable entry before the sign-in: not revoked
    assert not RevocationList(store, config).is_revoked({"sub": "1", "auth_time": 5})


@pytest.mark.parametrize("started", [10**400, 1e300, -1, float("nan"), True])
def test_a_sign_in_time_that_is_no_moment_is_unknown(started: t.Any) -> None:
    """``auth_time`` that no clock reads (a huge number would not even convert to a float):
    unknown, so no lifetime is left and a user revocation applies."""
    from flask_authguard.core.defences.revocation import lifetime_left, sign_in_time
    from flask_authguard.core.settings.config import resolve_options

    assert sign_in_time({"auth_time": started}) is None
    config = resolve_options({"secret": SECRET, "session": {"max_lifetime": 3600}})
    assert lifetime_left({"auth_time": started}, config) == 0.0


def test_a_bad_store_fails_at_start_up() -> None:
    with pytest.raises(ConfigurationError, match="store"):
        make_app(store="memcached://x")


def test_redis_without_the_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_redis(name: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if name == "redis":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redis)
    with pytest.raises(ConfigurationError, match=r"flask-authguard\[redis\]"):
        make_app(store="redis://127.0.0.1:6379/0")
    assert store_module.open_store("memory://", "p:").is_empty()


def test_redis_shared_between_workers(clock: FrozenClock, redis_store: dict[str, str]) -> None:
    """Two apps on one Redis stand for two workers: a revocation on one holds on the other."""
    app_one, guard_one = make_app(**redis_store)
    app_two, _ = make_app(**redis_store)
    _, value = signed_in(app_one)
    _, other = signed_in(app_one)
    assert bearer(app_two, value) == 200
    guard_one.revoke_token(value, app=app_one)
    assert (bearer(app_two, value), bearer(app_two, other)) == (401, 200)
    clock.now += 1
    guard_one.revoke_user("1", app=app_one)
    assert bearer(app_two, other) == 401


# -- outside an app context (admin scripts, jobs) ----------------------------------------------

ADMIN_APP = """
from flask import Flask, g
from flask_authguard import AuthGuard

app = Flask(__name__)
guard = AuthGuard(app, {options!r}, matcher=["/private"])


@app.get("/private")
def private():
    return {{"sub": g.auth_token["sub"]}}
"""
REVOKE_SCRIPT = """
from admin_app import guard

guard.revoke_user("7")
print("revoked")
"""


def _user_token(sub: str = "7") -> str:
    started = time.time() - 60
    return encode(token={"sub": sub, "auth_time": started, "sid": f"sid-{sub}"}, secret=SECRET)


def test_revoke_user_from_a_plain_script(tmp_path: pathlib.Path, redis_store: dict[str, str]) -> None:
    """Issue 28: an admin script that imports the app module and calls ``guard.revoke_user``
    with no app context revokes through the app's store; every worker then refuses the token."""
    (tmp_path / "admin_app.py").write_text(ADMIN_APP.format(options={"secret": SECRET, **redis_store}))
    (tmp_path / "revoke.py").write_text(REVOKE_SCRIPT)
    spec = importlib.util.spec_from_file_location(f"admin_app_{tmp_path.name}", tmp_path / "admin_app.py")
    assert spec is not None and spec.loader is not None
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)  # the app as a web worker loads it, in this process
    token, other = _user_token("7"), _user_token("8")
    assert (bearer(worker.app, token), bearer(worker.app, other)) == (200, 200)
    script = subprocess.run(
        [sys.executable, "revoke.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert script.returncode == 0 and script.stdout.strip() == "revoked", script.stderr
    assert (bearer(worker.app, token), bearer(worker.app, other)) == (401, 200)


def test_revoke_without_an_app_context_uses_the_guards_app() -> None:
    app, guard = make_app()
    token, other = _user_token("7"), _user_token("8")
    guard.revoke_user("7")
    assert (bearer(app, token), bearer(app, other)) == (401, 200)
    assert guard.revoke_token(other) == "sid"
    assert bearer(app, other) == 401


def test_revoke_without_an_app_context_or_a_guard_app_says_what_to_pass() -> None:
    guard = AuthGuard(options={"secret": SECRET})
    app = Flask(__name__)
    guard.init_app(app)
    with pytest.raises(ConfigurationError, match="app=your_app"):
        guard.revoke_user("7")
    guard.revoke_user("7", app=app)  # the init_app pattern names the app
    # every path is protected: the revoked user is refused, another gets through (no such route)
    assert (bearer(app, _user_token("7")), bearer(app, _user_token("8"))) == (401, 404)


# -- database sessions ---------------------------------------------------------------------------------


@pytest.fixture
def db_app(tmp_path: t.Any) -> tuple[Flask, AuthGuard, t.Any]:
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter(f"sqlite:///{tmp_path}/auth.db", create_tables=True)
    app, guard = make_app(adapter=adapter)
    return app, guard, adapter


def test_database_revoke_user_deletes_the_rows(db_app: tuple[Flask, AuthGuard, t.Any]) -> None:
    app, guard, adapter = db_app
    client_a, token_a = signed_in(app)
    client_b, _ = signed_in(app)
    found = adapter.get_session_and_user(token_a)
    assert found is not None
    guard.revoke_user(found["user"]["id"], app=app)
    assert adapter.get_session_and_user(token_a) is None
    assert client_b.get("/private").status_code == 307


def test_database_sign_out_everywhere(db_app: tuple[Flask, AuthGuard, t.Any]) -> None:
    app, _, adapter = db_app
    client_a, _ = signed_in(app)
    client_b, token_b = signed_in(app)
    sign_out(client_a, everywhere="true")
    assert adapter.get_session_and_user(token_b) is None
    assert client_b.get("/private").status_code == 307


def test_database_revoke_token_deletes_one_row(db_app: tuple[Flask, AuthGuard, t.Any]) -> None:
    app, guard, adapter = db_app
    _, token_a = signed_in(app)
    _, token_b = signed_in(app)
    assert guard.revoke_token(token_a, app=app) == "session"
    assert adapter.get_session_and_user(token_a) is None
    assert adapter.get_session_and_user(token_b) is not None


def test_database_revoke_user_needs_the_adapter_method() -> None:
    class Minimal:
        def get_session_and_user(self, token: str) -> None:
            return None

    app, guard = make_app(adapter=Minimal(), providers=[])
    with pytest.raises(ConfigurationError, match="delete_user_sessions"):
        guard.revoke_user("1", app=app)


def test_revoker_is_framework_free() -> None:
    from flask_authguard.core.settings.config import resolve_options

    config = resolve_options({"secret": SECRET})
    revoker = Revoker(config)
    value = encode(token={"sub": "9", "sid": "abc"}, secret=SECRET)
    assert revoker.revoke_token(value) == "sid"
    assert RevocationList(runtime_of(config).store, config).is_revoked({"sub": "9", "sid": "abc"})


def test_the_store_config_key(redis_store: dict[str, str]) -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_STORE"] = redis_store["store"]
    guard = AuthGuard(app, {"secret": SECRET, "store_prefix": redis_store["store_prefix"]})
    assert app.extensions["authguard"].config.store == redis_store["store"]
    guard.revoke_user("7", app=app)
    assert runtime_of(app.extensions["authguard"].config).store.get_many(
        [redis_store["store_prefix"] + "u:7"]
    ) != [None]
    bad = Flask(__name__)
    bad.config["AUTHGUARD_STORE"] = 6379
    with pytest.raises(ConfigurationError, match="AUTHGUARD_STORE"):
        AuthGuard(bad, {"secret": SECRET})


def test_sign_out_everywhere_without_a_user_id_signs_out_here_only(clock: FrozenClock) -> None:
    app, guard = make_app()
    client = client_of(app)
    client.set_cookie(V4, encode(token={"name": "anonymous-ish"}, secret=SECRET))
    response = sign_out(client, everywhere="true")
    assert response.status_code == 302
    assert any(h.startswith(V4 + "=;") for h in response.headers.getlist("Set-Cookie"))
    assert runtime_of(app.extensions["authguard"].config).store.is_empty()


# -- the Redis store's kept connections ------------------------------------------------------------


def _redis_keys(redis_store: dict[str, str]) -> tuple[redis_store_module.RedisStore, list[str]]:
    store = redis_store_module.RedisStore(redis_store["store"], redis_store["store_prefix"])
    store.put(redis_store["store_prefix"] + "u:1", "5")
    return store, [redis_store["store_prefix"] + "u:1", redis_store["store_prefix"] + "s:none"]


def test_redis_reads_keep_one_connection_per_thread(redis_store: dict[str, str]) -> None:
    import threading

    store, keys = _redis_keys(redis_store)
    assert store.get_many(keys) == ["5", None]
    mine = store._connection()[0]
    assert store.get_many(keys) == ["5", None] and store._connection()[0] is mine  # kept
    seen: list[t.Any] = []

    def other() -> None:
        seen.append((store.get_many(keys), store._connection()[0]))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen[0][0] == ["5", None] and seen[0][1] is not mine


def test_redis_read_survives_a_connection_the_server_closed(redis_store: dict[str, str]) -> None:
    import redis

    store, keys = _redis_keys(redis_store)
    assert store.get_many(keys) == ["5", None]
    connection = store._connection()[0]
    connection.send_command("CLIENT", "ID")
    client_id = connection.read_response()
    admin = redis.Redis.from_url(redis_store["store"])
    try:
        assert admin.client_kill_filter(_id=client_id) == 1
    finally:
        admin.close()
    assert store.get_many(keys) == ["5", None]  # one more try, on a new connection
    assert store._connection()[0] is not connection


def test_redis_connection_kept_before_a_fork_is_not_the_childs(redis_store: dict[str, str]) -> None:
    store, keys = _redis_keys(redis_store)
    assert store.get_many(keys) == ["5", None]
    before = store._connection()[0]
    redis_store_module._forked()  # what os.register_at_fork runs in a child
    assert store._connection()[0] is not before
    assert store.get_many(keys) == ["5", None]


def test_redis_read_failure_is_503_and_forgets_the_connection() -> None:
    from flask_authguard.core.errors import BackendUnavailableError

    store = redis_store_module.RedisStore("redis://127.0.0.1:1/0", "p:")
    for _ in range(2):  # the failed connection is not kept: each read tries a new one
        with pytest.raises(BackendUnavailableError, match="the store \\(Redis\\) failed: ConnectionError"):
            store.get_many(["p:u:1"])
        assert store._local.held is None


# -- properties: a user revocation ---------------------------------------------------------------

#: The options the revocation list reads (as the cross-site property's, in test_crosssite.py).
CROSS = resolve_options({"secret": SECRET, "trusted_origins": ["http://localhost:3000"]})


@BOUNDED
@given(
    st.floats(1_600_000_000, 1_800_000_000),
    st.floats(-1000, 1000),
    st.one_of(st.none(), st.text(max_size=10)),
)
def test_a_user_revocation_refuses_exactly_the_earlier_sign_ins(
    revoked_at: float, offset: float, sid: str | None
) -> None:
    store = MemoryStore("p:")
    store.put("p:u:u1", repr(revoked_at))
    claims: dict[str, t.Any] = {"sub": "u1", "auth_time": revoked_at + offset, "iat": 2_000_000_000}
    if sid:
        claims["sid"] = sid
    assert RevocationList(store, CROSS).is_revoked(claims) == (revoked_at + offset <= revoked_at)
