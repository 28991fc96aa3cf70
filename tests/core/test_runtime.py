"""One runtime per options (issue 29.1): every entry point given the same options shares one
resolved runtime (its store, revocations, throttle, strategy); nothing is cached on ``Config``."""

from __future__ import annotations

import time
import typing as t

from conftest import SECRET
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from flask_authguard import AuthEndpoints, AuthOptions, encode, get_server_session, with_auth
from flask_authguard.core.runtime import Runtime, runtime_for, runtime_of
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.sessions import strategy_of

BASE = "http://site.example"
V4 = "next-auth.session-token"


def site(environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
    return Response("page")(environ, start_response)


def _cookie(**claims: t.Any) -> str:
    claims.setdefault("auth_time", round(time.time(), 3) - 5)  # signed in before any revocation
    claims.setdefault("sid", "s-" + str(claims.get("sub")))
    return encode(token=claims, secret=SECRET)


def test_endpoints_beside_with_auth_revoke_what_the_guard_checks() -> None:
    """The form ``AuthEndpoints``' docstring shows: mounted beside ``with_auth`` with the same
    options dict, its ``revoke_user`` ends the session the guard lets in, on ``memory://``."""
    opts = {"secret": SECRET}
    guarded = with_auth(site, opts)
    endpoints = AuthEndpoints(opts)
    client = Client(guarded)
    client.set_cookie(V4, _cookie(sub="7", name="Ada"), domain="site.example")
    assert client.get("/page", base_url=BASE).status_code == 200
    endpoints.revoke_user("7")
    response = client.get("/page", base_url=BASE, headers={"Accept": "application/json"})
    assert response.status_code == 401
    # and the session read with the same dict sees the revocation too
    cookie = f"{V4}={_cookie(sub='7')}"
    environ = EnvironBuilder("/page", base_url=BASE, headers={"Cookie": cookie}).get_environ()
    assert get_server_session(Request(environ), None, opts) is None


def test_equal_options_given_twice_agree_on_a_revocation() -> None:
    """Two equal dicts (not the same object) still share the process's memory store."""
    guarded = with_auth(site, {"secret": SECRET})
    client = Client(guarded)
    client.set_cookie(V4, _cookie(sub="8"), domain="site.example")
    assert client.get("/page", base_url=BASE).status_code == 200
    AuthEndpoints({"secret": SECRET}).revoke_user("8")
    assert client.get("/page", base_url=BASE, headers={"Accept": "application/json"}).status_code == 401


def test_a_dict_is_resolved_once_while_unchanged(monkeypatch: t.Any) -> None:
    """``get_server_session(request, response, dict)`` resolves the dict once, not per call."""
    import flask_authguard.core.runtime as runtime_module

    calls: list[object] = []
    resolve = runtime_module.resolve_options

    def counting(options: t.Any, **kw: t.Any) -> t.Any:
        calls.append(options)
        return resolve(options, **kw)

    monkeypatch.setattr(runtime_module, "resolve_options", counting)
    opts: dict[str, t.Any] = {"secret": SECRET}
    cookie = _cookie(sub="9", name="Ada")
    for _ in range(5):
        environ = EnvironBuilder("/", base_url=BASE, headers={"Cookie": f"{V4}={cookie}"}).get_environ()
        session = get_server_session(Request(environ), Response(), opts)
        assert session is not None and session["user"]["name"] == "Ada"
    assert len(calls) == 1
    opts["session"] = {"max_age": 60}  # a changed dict is resolved again
    assert runtime_for(opts).config.session_max_age == 60
    monkeypatch.setenv("NEXTAUTH_URL", "https://elsewhere.example")  # so is a changed environment
    assert runtime_for(opts).config.url == "https://elsewhere.example"


def test_every_form_finds_the_same_runtime() -> None:
    options = AuthOptions(secret=SECRET)
    runtime = runtime_for(options)
    assert runtime_for(options) is runtime
    assert runtime_for(runtime) is runtime
    assert runtime_of(runtime.config) is runtime
    assert with_auth(site, options).core.runtime is runtime
    assert AuthEndpoints(options).runtime is runtime
    assert strategy_of(runtime.config) is runtime.sessions
    assert runtime.throttle.store is runtime.store
    assert runtime.revocations.store is runtime.store


def test_nothing_is_cached_on_the_config() -> None:
    config = resolve_options({"secret": SECRET})
    before = dict(vars(config))
    runtime = runtime_of(config)
    assert isinstance(runtime, Runtime)
    strategy_of(config)
    _ = runtime.store, runtime.revocations, runtime.throttle
    assert vars(config) == before
