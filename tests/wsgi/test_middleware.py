"""``with_auth``: the recorded next-auth ``withAuth`` cases replayed, then our own rules.

Every case of ``tests/data/middleware.json`` runs through :func:`with_auth` on a WSGI environ
built from the recorded request. Where flask_authguard deliberately differs from next-auth the
case is listed in :data:`DEVIATIONS` with the rule's name (it shows in the test id) and our
expected outcome; every other case must give next-auth's outcome.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import http.client
import importlib.util
import json
import logging
import os
import pathlib
import random
import socket
import subprocess
import sys
import time
import typing as t
from urllib.parse import parse_qs, unquote_to_bytes, urljoin, urlsplit

import pytest
from conftest import SECRET, FrozenClock, load_vectors
from support import ROOT
from support.asgi_driver import run_asgi
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request, Response

from flask_authguard import TOKEN_ENVIRON_KEY, AuthOptions, ConfigurationError, with_auth
from flask_authguard.core.tokens.hooks import hs256_decoder
from flask_authguard.wsgi.middleware import WithAuth, form_encode, normalize_path

VECTORS = load_vectors("middleware.json")
CASES: list[dict[str, t.Any]] = VECTORS["cases"]
TOKENS: dict[str, str] = {name: entry["token"] for name, entry in VECTORS["tokens"].items()}
NOW = 1_700_000_000
MISSING = object()

# --------------------------------------------------------------------------- descriptors


def _role(token: t.Any) -> t.Any:
    return token.get("role") if isinstance(token, dict) else None


async def _async_role_admin(*, token: t.Any, **_: t.Any) -> bool:
    await asyncio.sleep(0)
    return _role(token) == "admin"


def _authorized_throws(**_: t.Any) -> t.NoReturn:
    raise RuntimeError("authorized boom")


#: ``options.callbacks.authorized`` descriptors (README of the vectors) as Python callables.
AUTHORIZED: dict[str, t.Callable[..., t.Any]] = {
    "token_present": lambda *, token, **_: token is not None,
    "role_admin": lambda *, token, **_: _role(token) == "admin",
    "async_role_admin": _async_role_admin,
    "always_false": lambda **_: False,
    "always_true": lambda **_: True,
    "returns_null": lambda **_: None,
    "returns_undefined": lambda **_: None,
    "returns_zero": lambda **_: 0,
    "returns_string": lambda **_: "yes",
    # req.nextUrl.pathname excludes the basePath; so does werkzeug's request.path (PATH_INFO).
    "path_admin_requires_role": lambda *, request, token, **_: (
        _role(token) == "admin" if request.path.startswith("/admin") else token is not None
    ),
    "throws": _authorized_throws,
}


def _decode_throws(**_: t.Any) -> t.NoReturn:
    raise RuntimeError("decode boom")


#: ``options.jwt.decode`` descriptors. ``hs256_jws`` is jose's ``jwtVerify(token, secret,
#: {algorithms: ["HS256"]})``: our PyJWT hook keyed with the secret it is called with.
DECODE: dict[str, t.Callable[..., t.Any]] = {
    "hs256_jws": hs256_decoder(None, require=()),
    "throws": _decode_throws,
    "returns_fixed": lambda **_: {"sub": "fixed", "role": "admin"},
}


def _next(**headers: str) -> Response:
    # NextResponse.next(): "go on"; recorded as 200 with x-middleware-next.
    return Response(status=200, headers={"x-middleware-next": "1", **headers})


def _json_403() -> Response:
    return Response('{"error":"Forbidden"}', status=403, content_type="application/json")


def _token_of(request: Request) -> t.Any:
    return request.environ[TOKEN_ENVIRON_KEY]


#: The inner middleware descriptors, returning werkzeug responses.
INNER: dict[str, t.Callable[[Request], t.Any]] = {
    "returns_undefined": lambda request: None,
    "returns_next": lambda request: _next(),
    "returns_next_with_sub_header": lambda request: _next(
        **{"x-user-sub": str((_token_of(request) or {}).get("sub") or "<none>")}
    ),
    "returns_json_403": lambda request: _json_403(),
    "role_gate_json_403": lambda request: _next() if _role(_token_of(request)) == "admin" else _json_403(),
    "rewrite": lambda request: _next(**{"x-middleware-rewrite": urljoin(request.url, "/rewritten")}),
}

# --------------------------------------------------------------------------- deviations

_HTML_403 = {"kind": "forbidden", "status": 403, "content_type": "text/html"}
_JSON_401 = {"kind": "unauthorized", "status": 401, "content_type": "application/json"}
_SIGNIN = "http://localhost:3000/api/auth/signin?callbackUrl="

#: Where our design deliberately differs: case name -> (rule, our expected outcome).
DEVIATIONS: dict[str, tuple[str, dict[str, t.Any]]] = {
    # Skip prefixes end on a path-segment boundary: these paths are protected.
    "auth_prefix_without_segment_boundary": (
        "segment-boundary",
        {"kind": "redirect", "location": _SIGNIN + "%2Fapi%2Fauthentication%2Fsecret"},
    ),
    "next_prefix_without_boundary": (
        "segment-boundary",
        {"kind": "redirect", "location": _SIGNIN + "%2F_nextfoo%2Fbar"},
    ),
    "favicon_prefix": ("segment-boundary", {"kind": "redirect", "location": _SIGNIN + "%2Ffavicon.ico.bak"}),
    "short_auth_path_prefix": (
        "segment-boundary",
        {"kind": "redirect", "location": "http://localhost:3000/a/signin?callbackUrl=%2Fabc"},
    ),
    # The path is normalised before matching, and what WSGI hands us is already decoded.
    "double_slash_path": ("normalised-path", {"kind": "next"}),
    "encoded_slash_not_decoded": ("wsgi-decoded-path", {"kind": "next"}),
    # Default pages live under the auth base path (NEXTAUTH_URL's path).
    "custom_auth_path_default_api_auth_protected": (
        "pages-follow-base-path",
        {
            "kind": "redirect",
            "location": "http://localhost:3000/custom/auth/signin?callbackUrl=%2Fapi%2Fauth%2Fsession",
        },
    ),
    "custom_auth_path_default_signin_still_exempt": (
        "pages-follow-base-path",
        {
            "kind": "redirect",
            "location": "http://localhost:3000/custom/auth/signin?callbackUrl=%2Fapi%2Fauth%2Fsignin",
        },
    ),
    # Links are built on url's origin when it is set (the trusted-origin rule), not the request's.
    "https_request_origin": (
        "links-on-url-origin",
        {"kind": "redirect", "location": "http://localhost:3000/api/auth/signin?callbackUrl=%2Fdashboard"},
    ),
    # No url and a host nobody said to trust (next-auth trusts it on VERCEL): a relative redirect.
    "vercel_env_plain_cookie_rejected": (
        "untrusted-host-relative",
        {"kind": "redirect", "location": "/api/auth/signin?callbackUrl=%2Fdashboard"},
    ),
    # A signed-in user that `authorized` refuses gets 403, never a redirect back to sign-in.
    "always_false_with_valid_token": ("no-redirect-loop-403", _HTML_403),
    "role_admin_with_user_token": ("no-redirect-loop-403", _HTML_403),
    "path_rule_admin_path_user_token": ("no-redirect-loop-403", _HTML_403),
    "returns_zero_with_token": ("no-redirect-loop-403", _HTML_403),
    # Only a truthy `authorized` result authorizes (next-auth: null/undefined -> !!token).
    "returns_null_with_token": ("truthy-authorized", _HTML_403),
    # Every candidate value is tried (joined chunks, each bare cookie): a valid one wins, unless
    # two valid ones disagree on the identity (then no session: tests/flask/test_guard_security.py).
    "chunked_and_unchunked_both_present": ("strict-chunks", {"kind": "next"}),
    "duplicate_cookie_last_wins_garbage_last": ("strict-chunks", {"kind": "next"}),
    # What is public is decided on PATH_INFO, the path the app routes on, never on SCRIPT_NAME
    # (a client can set it): a mounted app sets base_path to the path it routes on.
    "base_path_auth_route_nextauth_url_with_base": (
        "routed-path-only",
        {
            "kind": "redirect",
            "location": "http://localhost:3000/app/api/auth/signin?callbackUrl=%2Fapp%2Fapi%2Fauth%2Fsession",
        },
    ),
    # A Bearer header makes it an API request: 401 JSON instead of a redirect.
    "bearer_token_invalid": ("api-401-json", _JSON_401),
    "bad_cookie_shadows_valid_bearer": ("api-401-json", _JSON_401),
}


def _recorded(case: dict[str, t.Any]) -> dict[str, t.Any]:
    expect = case["expect"]
    return {"kind": expect["kind"], "status": expect["status"], "location": expect["location"]}


def test_every_deviation_names_a_recorded_case_and_really_differs() -> None:
    names = {case["name"] for case in CASES}
    assert set(DEVIATIONS) <= names, set(DEVIATIONS) - names
    for name, (rule, ours) in DEVIATIONS.items():
        recorded = _recorded(next(c for c in CASES if c["name"] == name))
        assert rule and ours != {k: v for k, v in recorded.items() if k in ours}, name
    # the replay below covers every case once: matching, or listed here with our outcome
    assert len(names) == len(CASES) == len(_replay_params())


# --------------------------------------------------------------------------- the replay


@dataclasses.dataclass
class Recorder:
    """What the callbacks, the inner middleware and the app saw."""

    authorized: list[t.Any] = dataclasses.field(default_factory=list)
    decode: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    inner: list[t.Any] = dataclasses.field(default_factory=list)
    app_calls: list[tuple[t.Any, str]] = dataclasses.field(default_factory=list)

    def wrap_authorized(self, fn: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        if asyncio.iscoroutinefunction(fn):

            async def recorded_async(*, request: Request, token: t.Any) -> t.Any:
                self.authorized.append(token)
                return await fn(request=request, token=token)

            return recorded_async

        def recorded(*, request: Request, token: t.Any) -> t.Any:
            self.authorized.append(token)
            return fn(request=request, token=token)

        return recorded

    def wrap_decode(self, fn: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        def recorded(**kwargs: t.Any) -> t.Any:
            self.decode.append(kwargs)
            return fn(**kwargs)

        return recorded

    def wrap_inner(self, fn: t.Callable[[Request], t.Any]) -> t.Callable[[Request], t.Any]:
        def recorded(request: Request) -> t.Any:
            self.inner.append(request.environ.get(TOKEN_ENVIRON_KEY, MISSING))
            return fn(request)

        return recorded

    def app(self, environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        self.app_calls.append((environ.get(TOKEN_ENVIRON_KEY, MISSING), environ["PATH_INFO"]))
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", "reached")])
        return [b"the app"]


def case_environ(case: dict[str, t.Any]) -> dict[str, t.Any]:
    """The WSGI environ a server would build for the recorded request.

    The request target is sent as recorded (a raw client, no browser normalisation): PATH_INFO
    is it percent-decoded, SCRIPT_NAME takes the Next.js basePath, QUERY_STRING stays raw, and
    RAW_URI/REQUEST_URI carry the target as werkzeug's and gunicorn's servers report it.
    """
    request = case["request"]
    url = urlsplit(request["url"])
    headers = [(name, value) for name, value in request["headers"] if name != "host"]
    # In WSGI the Host header *is* the URL's host; the recorded `host` header is Next.js-only.
    builder = EnvironBuilder(
        path="/", base_url=f"{url.scheme}://{url.netloc}", method=request["method"], headers=headers
    )
    environ = builder.get_environ()
    builder.close()

    def wsgi(text: str) -> str:
        return text.encode("utf-8").decode("latin-1")

    raw_path = url.path or "/"
    decoded = unquote_to_bytes(raw_path.encode("utf-8")).decode("latin-1")
    base_path = (case["next_config"] or {}).get("basePath") or ""
    script = ""
    if base_path and (decoded == base_path or decoded.startswith(base_path + "/")):
        script, decoded = base_path, decoded[len(base_path) :]
    target = wsgi(raw_path + (f"?{url.query}" if url.query else ""))
    environ.update(
        SCRIPT_NAME=script,
        PATH_INFO=decoded,
        QUERY_STRING=wsgi(url.query),
        RAW_URI=target,
        REQUEST_URI=target,
    )
    for name, value in headers:  # byte for byte, as a server passes them
        key = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        environ[key] = wsgi(value)
    return environ


def case_app(case: dict[str, t.Any], recorder: Recorder) -> WithAuth:
    descriptor = case["options_descriptor"]
    options: dict[str, t.Any] = {}
    if descriptor["secret"] is not None:
        options["secret"] = descriptor["secret"]
    pages = descriptor["pages"] or {}
    if pages:
        names = {"signIn": "sign_in", "error": "error", "signOut": "sign_out"}
        options["pages"] = {names[key]: value for key, value in pages.items()}
    if descriptor["cookies_session_token_name"]:
        options["cookies"] = {"session_token": {"name": descriptor["cookies_session_token_name"]}}
    if descriptor["authorized"] != "default":
        authorized = recorder.wrap_authorized(AUTHORIZED[descriptor["authorized"]])
        options["callbacks"] = {"authorized": authorized}
    if descriptor["decode"] != "default":
        options["jwt"] = {"decode": recorder.wrap_decode(DECODE[descriptor["decode"]])}
    inner = None if descriptor["inner"] == "none" else recorder.wrap_inner(INNER[descriptor["inner"]])
    form = descriptor["form"]
    if form == "withAuth(options)":
        assert inner is None
        return with_auth(recorder.app, options)
    if form == "withAuth(middleware, options)":
        return with_auth(recorder.app, inner, options)
    assert not options, form  # the two forms without options
    if form == "withAuth(middleware)":
        return with_auth(recorder.app, inner)
    assert form == "withAuth(req)" and inner is None
    return with_auth(recorder.app)


def _apply_env(case: dict[str, t.Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in case["env"].items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def _replay_params() -> list[t.Any]:
    params = []
    for case in CASES:
        name = case["name"]
        rule = DEVIATIONS.get(name, (None,))[0]
        params.append(pytest.param(case, id=f"{rule}:{name}" if rule else name))
    return params


def asgi_twin(app: WithAuth, recorder: Recorder) -> t.Any:
    """The same rules (one resolved options object) as ASGI: ``AuthMiddleware`` in front of an
    ASGI app that records what it sees, as :meth:`Recorder.app` does."""
    from flask_authguard.asgi import AuthMiddleware

    async def recorded_app(scope: t.Any, receive: t.Any, send: t.Any) -> None:
        path = scope["path"][len(scope.get("root_path", "")) :]
        token = scope.get("state", {}).get("auth_token", MISSING)
        recorder.app_calls.append((token, path.encode("utf-8", "surrogateescape").decode("latin-1")))
        headers = [(b"content-type", b"text/plain"), (b"x-app", b"reached")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"the app"})

    return AuthMiddleware(recorded_app, app.core.config, middleware=app.core.middleware)


#: The front ends the recorded cases run through: ``with_auth`` and the ASGI middleware.
FRONT_ENDS = ("wsgi", "asgi")


@pytest.mark.parametrize("front", FRONT_ENDS)
@pytest.mark.parametrize("case", _replay_params())
def test_recorded_case(
    front: str,
    case: dict[str, t.Any],
    monkeypatch: pytest.MonkeyPatch,
    frozen_clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _apply_env(case, monkeypatch)
    frozen_clock.now = case["now"]
    recorder = Recorder()
    with caplog.at_level(logging.DEBUG, logger="flask_authguard"):
        app = case_app(case, recorder)
        run: t.Callable[..., t.Any] = run_wsgi_app
        if front == "asgi":
            app, run = asgi_twin(app, recorder), run_asgi
        caplog.clear()  # the construction warning (no secret) is checked elsewhere
        expect = case["expect"]
        if expect["kind"] == "throws":
            with pytest.raises(RuntimeError):
                run(app, case_environ(case))
            return
        app_iter, status, headers = run(app, case_environ(case))
        body = b"".join(app_iter)
    status_code = int(status.split()[0])
    deviation = DEVIATIONS.get(case["name"])
    ours = deviation[1] if deviation else _recorded(case)
    kind = ours["kind"]

    if kind == "next":
        assert recorder.app_calls, f"the app was not reached: {status} {headers.get('Location')}"
        assert len(recorder.app_calls) == 1 and body == b"the app"
    else:
        assert recorder.app_calls == [], "the app must not run for a refused or answered request"
    if kind == "redirect":
        assert status_code == 307
        assert headers["Location"] == ours["location"]
        assert body == b""
    if kind in ("forbidden", "unauthorized"):
        assert status_code == ours["status"]
        assert headers["Content-Type"].split(";")[0] == ours["content_type"]
        assert "Location" not in headers
    if kind == "unauthorized":
        assert headers["WWW-Authenticate"].startswith("Bearer ")
        assert json.loads(body)["url"].startswith("http://localhost:3000/api/auth/signin?callbackUrl=")
    if kind == "inner":
        assert status_code == expect["status"]
        for name, value in expect["headers"]:
            assert headers.get(name) == value, name
        if expect["body"] is not None:
            assert json.loads(body) == json.loads(expect["body"])

    # the inner middleware: called exactly when next-auth called it, with the same token
    if deviation is None:
        assert len(recorder.inner) == int(expect["inner_called"])
        if expect["inner_called"]:
            assert recorder.inner[0] == expect["inner_token"]
        if expect["authorized_called"]:
            assert recorder.authorized == [expect["authorized_token"]]
        elif case["options_descriptor"]["authorized"] != "default":
            assert recorder.authorized == []
    elif kind != "next":
        assert recorder.inner == []

    # what the app sees: the decoded token (or None) for protected paths, nothing for skipped ones
    if recorder.app_calls and expect["authorized_called"]:
        assert recorder.app_calls[0][0] == expect["authorized_token"]
    if recorder.app_calls and recorder.inner:
        assert recorder.app_calls[0][0] == recorder.inner[0]

    # a custom decode gets exactly {token, secret}
    if deviation is None or kind != "next":
        assert len(recorder.decode) == len(expect["decode_calls"])
        for call, recorded in zip(recorder.decode, expect["decode_calls"], strict=True):
            assert sorted(call) == recorded["param_keys"]
            assert call["secret"] == recorded["secret"]
            assert len(call["token"]) == recorded["token_length"]
            if recorded["token_name"]:
                assert call["token"] == TOKENS[recorded["token_name"]]

    # NO_SECRET: an error log that says what to set
    if any(log["first"] == "[next-auth][error][NO_SECRET]" for log in expect["logs"]):
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert errors and "NEXTAUTH_SECRET" in errors[0]
    else:
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_authorized_throws_propagates(frozen_clock: FrozenClock) -> None:
    """``authorized`` raising is a bug in the app, not bad input: like next-auth's rejected
    promise, the error propagates (the WSGI server answers 500 and logs it)."""
    recorder = Recorder()
    app = with_auth(recorder.app, {"secret": SECRET, "callbacks": {"authorized": _authorized_throws}})
    with pytest.raises(RuntimeError, match="authorized boom"):
        call(app, "/dashboard")
    assert recorder.app_calls == []


# --------------------------------------------------------------------------- helpers


@dataclasses.dataclass
class Result:
    status: int
    headers: t.Any
    body: bytes
    environ: dict[str, t.Any]

    @property
    def location(self) -> str | None:
        return t.cast("str | None", self.headers.get("Location"))

    def json(self) -> t.Any:
        return json.loads(self.body)


def make_environ(
    path: str = "/dashboard",
    *,
    method: str = "GET",
    query: str = "",
    script: str = "",
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    base_url: str = "http://localhost:3000",
) -> dict[str, t.Any]:
    """A WSGI environ with ``PATH_INFO`` exactly ``path`` (already percent-decoded, as servers
    hand it over)."""
    environ = EnvironBuilder(method=method, base_url=base_url, headers=headers or {}).get_environ()
    environ.update(PATH_INFO=path, SCRIPT_NAME=script, QUERY_STRING=query)
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    return environ


def call(app: t.Any, path: str = "/dashboard", **kwargs: t.Any) -> Result:
    """Run one request; :attr:`Result.environ` is the environ the wrapper (and app) worked on."""
    seen: list[dict[str, t.Any]] = []

    def capture(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        seen.append(environ)  # run_wsgi_app copies the environ it is given
        return app(environ, start_response)

    app_iter, status, headers = run_wsgi_app(capture, make_environ(path, **kwargs))
    return Result(int(status.split()[0]), headers, b"".join(app_iter), seen[0])


def cookie_for(token: str) -> str:
    return f"next-auth.session-token={token}"


OTHER_SECRET = "middleware-other-secret-0123456789abcdef"


@pytest.fixture
def tokens(frozen_clock: FrozenClock, make_token: t.Callable[..., str]) -> dict[str, str]:
    frozen_clock.now = NOW - 7200
    expired = make_token(sub="old", role="admin", max_age=60)
    frozen_clock.now = NOW
    return {
        "user": make_token(sub="u1", role="user"),
        "admin": make_token(sub="a1", role="admin"),
        "expired": expired,
        "other_secret": make_token(sub="x", role="admin", secret=OTHER_SECRET),
        "garbage": "not-a-token",
    }


def signin(callback: str, origin: str = "http://localhost:3000", page: str = "/api/auth/signin") -> str:
    return f"{origin}{page}?callbackUrl={form_encode(callback)}"


def _who(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    """An app that answers with the ``sub`` of the token it was handed."""
    token = environ.get(TOKEN_ENVIRON_KEY)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str((token or {}).get("sub", "-")).encode()]


# --------------------------------------------------------------------------- call forms


def _inner_tag(request: Request) -> None:
    request.environ["test.inner_saw"] = request.environ[TOKEN_ENVIRON_KEY]


def _forms() -> list[t.Any]:
    options = {"secret": SECRET}
    return [
        pytest.param(lambda app: with_auth(app), False, True, id="with_auth(app)"),
        pytest.param(lambda app: with_auth(app, _inner_tag), True, True, id="with_auth(app, middleware)"),
        pytest.param(
            lambda app: with_auth(app, _inner_tag, options),
            True,
            False,
            id="with_auth(app, middleware, options)",
        ),
        pytest.param(
            lambda app: with_auth(app, options=options), False, False, id="with_auth(app, options=options)"
        ),
        pytest.param(lambda app: with_auth(app, options), False, False, id="with_auth(app, options-dict)"),
        pytest.param(
            lambda app: with_auth(app, AuthOptions(secret=SECRET)),
            False,
            False,
            id="with_auth(app, AuthOptions)",
        ),
        pytest.param(
            lambda app: with_auth(app, middleware=_inner_tag, options=AuthOptions(secret=SECRET)),
            True,
            False,
            id="keywords",
        ),
    ]


@pytest.mark.parametrize(("build", "has_inner", "secret_from_env"), _forms())
def test_call_forms(
    build: t.Callable[[t.Any], WithAuth],
    has_inner: bool,
    secret_from_env: bool,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if secret_from_env:
        monkeypatch.setenv("NEXTAUTH_SECRET", SECRET)
    app = build(_who)
    assert isinstance(app, WithAuth)
    anonymous = call(app, "/dashboard")
    assert (anonymous.status, anonymous.location) == (307, signin("/dashboard"))
    assert "test.inner_saw" not in anonymous.environ
    signed_in = call(app, "/dashboard", cookie=cookie_for(tokens["user"]))
    assert (signed_in.status, signed_in.body) == (200, b"u1")
    assert signed_in.environ[TOKEN_ENVIRON_KEY]["sub"] == "u1"
    if has_inner:
        assert signed_in.environ["test.inner_saw"]["sub"] == "u1"
    else:
        assert "test.inner_saw" not in signed_in.environ


def test_matcher_keyword_limits_the_protected_paths(tokens: dict[str, str]) -> None:
    app = with_auth(_who, {"secret": SECRET}, matcher=["/dashboard/:path*", "/admin"])
    assert call(app, "/public").status == 200
    assert call(app, "/dashboard").status == 307
    assert call(app, "/dashboard/a/b").status == 307
    assert call(app, "/admin").status == 307
    assert call(app, "/admin/x").status == 200  # not matched: "/admin" only
    assert call(app, "/dashboard/a", cookie=cookie_for(tokens["user"])).body == b"u1"


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        pytest.param((None,), {}, TypeError, id="app-not-callable"),
        pytest.param((_who, {"secret": SECRET}, {"secret": SECRET}), {}, TypeError, id="options-twice"),
        pytest.param((_who, "secret"), {}, TypeError, id="string-as-options"),
        pytest.param((_who, None, "secret"), {}, ConfigurationError, id="string-options"),
        pytest.param((_who,), {"middleware": 42}, TypeError, id="middleware-not-callable-keyword"),
    ],
)
def test_bad_call_forms_fail_at_construction(
    args: tuple[t.Any, ...], kwargs: dict[str, t.Any], error: type
) -> None:
    with pytest.raises(error):
        with_auth(*args, **kwargs)


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("options", "matcher", "names"),
    [
        pytest.param({"api_mode": "xml"}, None, "api_mode", id="api_mode"),
        pytest.param({"callbacks": {"authorized": "yes"}}, None, "callbacks.authorized", id="authorized"),
        pytest.param({"callbacks": {"authorised": bool}}, None, "authorised", id="callbacks-typo"),
        pytest.param({"jwt": {"decode": 1}}, None, "jwt.decode", id="jwt.decode"),
        pytest.param({"pages": {"sign_in": ""}}, None, "pages.sign_in", id="pages.sign_in"),
        pytest.param({"pages": {"signIn": "/login"}}, None, "signIn", id="pages-camelCase"),
        pytest.param({"secret": 123}, None, "secret", id="secret"),
        pytest.param({"base_path": "api/auth"}, None, "base_path", id="base_path"),
        pytest.param({"forbidden": "403"}, None, "forbidden", id="forbidden"),
        pytest.param({"session": {"strategy": "cookie"}}, None, "session.strategy", id="session.strategy"),
        pytest.param({"version": 3}, None, "version", id="version"),
        pytest.param({"secreet": "x"}, None, "secreet", id="unknown-key"),
        pytest.param({"url": "http://"}, None, "NEXTAUTH_URL", id="url"),
        pytest.param({"secret": SECRET}, ["dashboard"], "dashboard", id="matcher-pattern"),
        pytest.param({"secret": SECRET}, 42, "matcher", id="matcher-type"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, t.Any], matcher: t.Any, names: str) -> None:
    with pytest.raises(ConfigurationError, match=names.replace(".", r"\.")):
        with_auth(_who, options, matcher=matcher)


def test_no_secret_warns_at_construction_then_answers_the_configuration_error(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tokens: dict[str, str]
) -> None:
    with caplog.at_level(logging.WARNING, logger="flask_authguard"):
        app = with_auth(_who)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "NEXTAUTH_SECRET" in warnings[0].getMessage()
    caplog.clear()

    with caplog.at_level(logging.ERROR, logger="flask_authguard"):
        result = call(app, "/dashboard", cookie=cookie_for(tokens["user"]))
    assert (result.status, result.location) == (
        307,
        "http://localhost:3000/api/auth/error?error=Configuration",
    )
    assert any("NEXTAUTH_SECRET" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    # exemptions come first, as in next-auth
    assert call(app, "/api/auth/session").status == 200
    assert call(app, "/dashboard", script="/base").location == (
        "http://localhost:3000/base/api/auth/error?error=Configuration"
    )
    # the secret may still arrive through the environment
    monkeypatch.setenv("NEXTAUTH_SECRET", SECRET)
    assert call(app, "/dashboard", cookie=cookie_for(tokens["user"])).body == b"u1"


def test_a_configured_secret_does_not_warn(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caplog.at_level(logging.DEBUG, logger="flask_authguard"):
        with_auth(_who, {"secret": SECRET})
        monkeypatch.setenv("AUTH_SECRET", SECRET)
        with_auth(_who)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_default_pages_follow_the_auth_base_path(
    monkeypatch: pytest.MonkeyPatch, tokens: dict[str, str]
) -> None:
    monkeypatch.setenv("NEXTAUTH_URL", "https://x.example/custom/auth/")
    app = with_auth(_who, {"secret": SECRET})
    result = call(app, "/dashboard", base_url="https://x.example")
    assert result.location == signin("/dashboard", "https://x.example", "/custom/auth/signin")
    assert call(app, "/custom/auth/signin", base_url="https://x.example").status == 200
    assert call(app, "/custom/authx", base_url="https://x.example").status == 307
    # next-auth's own default page is an ordinary path now
    assert call(app, "/api/auth/signin", base_url="https://x.example").status == 307
    nosecret = with_auth(_who, {"url": "https://x.example/custom/auth"})
    monkeypatch.delenv("NEXTAUTH_SECRET", raising=False)
    assert call(nosecret, "/p", base_url="https://x.example").location == (
        "https://x.example/custom/auth/error?error=Configuration"
    )
    explicit = with_auth(_who, {"secret": SECRET, "base_path": "/auth"})
    assert call(explicit, "/p", base_url="https://x.example").location == signin(
        "/p", "https://x.example", "/auth/signin"
    )


# --------------------------------------------------------------------------- skipping and paths


@pytest.mark.parametrize(
    ("path", "protected"),
    [
        pytest.param("/api/auth", False, id="auth-base"),
        pytest.param("/api/auth/", False, id="auth-base-slash"),
        pytest.param("/api/auth/session", False, id="auth-endpoint"),
        pytest.param("/api/authentication", True, id="auth-prefix-no-boundary"),
        pytest.param("/api/auth.json", True, id="auth-prefix-dot"),
        pytest.param("/api/auth/signin", False, id="signin-page"),
        pytest.param("/_next", False, id="next"),
        pytest.param("/_next/static/x.js", False, id="next-static"),
        pytest.param("/_nextfoo", True, id="next-prefix-no-boundary"),
        pytest.param("/favicon.ico", False, id="favicon"),
        pytest.param("/favicon.ico.bak", True, id="favicon-prefix"),
        pytest.param("/favicon.icon", True, id="favicon-longer"),
        pytest.param("/API/AUTH/session", True, id="case-sensitive"),
        pytest.param("/", True, id="root"),
        pytest.param("", True, id="empty-path-info"),
    ],
)
def test_skip_list_on_segment_boundaries(path: str, protected: bool) -> None:
    result = call(with_auth(_who, {"secret": SECRET}), path)
    assert result.status == (307 if protected else 200)


@pytest.mark.parametrize(
    ("path", "normalised", "protected"),
    [
        pytest.param("/api/auth/../dashboard", "/api/dashboard", True, id="dotdot-out-of-auth"),
        pytest.param("/api/auth/./../x", "/api/x", True, id="dot-dotdot"),
        pytest.param("//api/auth/x", "/api/auth/x", False, id="double-slash-leading"),
        pytest.param("/./dashboard", "/dashboard", True, id="leading-dot"),
        pytest.param(
            "/api/auth/.%2e/dashboard".replace("%2e", "."), "/api/dashboard", True, id="decoded-%2e"
        ),
        pytest.param("/_next/../admin", "/admin", True, id="out-of-next"),
        pytest.param("/favicon.ico/../admin", "/admin", True, id="out-of-favicon"),
        pytest.param("/api/auth/signin/../../../dashboard", "/dashboard", True, id="out-of-signin"),
        pytest.param("/../../../etc/passwd", "/etc/passwd", True, id="above-root"),
        pytest.param("/dashboard/..", "/", True, id="trailing-dotdot"),
        pytest.param("/dashboard/.", "/dashboard/", True, id="trailing-dot"),
        pytest.param("/a//b///c", "/a/b/c", True, id="inner-double-slashes"),
        pytest.param("/x/../api/auth/session", "/api/auth/session", False, id="into-auth"),
        pytest.param("/...", "/...", True, id="three-dots-is-a-name"),
        pytest.param("/%2e%2e/dashboard", "/%2e%2e/dashboard", True, id="double-encoded-stays-literal"),
    ],
)
def test_path_is_normalised_before_matching_and_the_app_sees_it(
    path: str, normalised: str, protected: bool, tokens: dict[str, str]
) -> None:
    seen: list[str] = []

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    guarded = with_auth(app, {"secret": SECRET})
    anonymous = call(guarded, path)
    if protected:
        assert (anonymous.status, anonymous.location) == (307, signin(normalised))
        assert seen == []
        assert call(guarded, path, cookie=cookie_for(tokens["user"])).status == 200
    else:
        assert anonymous.status == 200
    assert seen[-1] == normalised


def test_normalised_path_meets_the_matcher(tokens: dict[str, str]) -> None:
    app = with_auth(_who, {"secret": SECRET}, matcher=["/dashboard/:path*"])
    assert call(app, "/public/../dashboard").status == 307
    assert call(app, "/public/..//dashboard/x").status == 307
    passed = call(app, "/dashboard/../public")
    assert (passed.status, passed.environ["PATH_INFO"]) == (200, "/public")


@pytest.mark.parametrize(
    ("path", "normalised"),
    [
        pytest.param("", "/", id="empty"),
        pytest.param("/", "/", id="root"),
        pytest.param("a/b", "/a/b", id="relative"),
        pytest.param("/a/b/", "/a/b/", id="trailing-slash-kept"),
        pytest.param("/a/./b/../c", "/a/c", id="mixed"),
        pytest.param("/a/b/..", "/a/", id="trailing-dotdot"),
        pytest.param("/..", "/", id="dotdot-at-root"),
        pytest.param("//", "/", id="only-slashes"),
        pytest.param("/a/..b/c", "/a/..b/c", id="dotdot-prefix-is-a-name"),
    ],
)
def test_normalize_path(path: str, normalised: str) -> None:
    assert normalize_path(path) == normalised
    assert normalize_path(normalised) == normalised


def test_preflights_pass_untouched_with_the_path_normalised(tokens: dict[str, str]) -> None:
    # Issue 11: only a genuine CORS preflight, and only with cors_preflight, passes unchecked.
    preflight = {"Origin": "https://spa.example", "Access-Control-Request-Method": "POST"}
    app = with_auth(_who, {"secret": SECRET, "cors_preflight": True})
    result = call(app, "/api/auth/../dashboard", method="OPTIONS", headers=preflight)
    assert (result.status, result.environ["PATH_INFO"]) == (200, "/api/dashboard")
    no_secret = with_auth(_who, {"cors_preflight": True})
    assert call(no_secret, "/dashboard", method="OPTIONS", headers=preflight).status == 200
    assert call(with_auth(_who, {"secret": SECRET}), "/dashboard", method="OPTIONS").status == 307


def test_pages_with_a_query_are_still_skipped() -> None:
    """next-auth compares the whole ``pages.signIn`` string with the path, so a page with a
    query is itself redirected to sign-in (a loop); we compare its path."""
    app = with_auth(_who, {"secret": SECRET, "pages": {"sign_in": "/login?source=mw", "error": "/oops#top"}})
    assert (
        call(app, "/dashboard").location == "http://localhost:3000/login?source=mw&callbackUrl=%2Fdashboard"
    )
    assert call(app, "/login", query="callbackUrl=%2Fdashboard").status == 200
    assert call(app, "/oops").status == 200
    assert call(app, "/login/").status == 307  # exact path, as next-auth


def test_script_name_is_the_base_path(tokens: dict[str, str]) -> None:
    app = with_auth(_who, {"secret": SECRET, "pages": {"sign_in": "/login"}})
    assert call(app, "/dashboard", script="/app", query="x=1").location == (
        "http://localhost:3000/app/login?callbackUrl=%2Fapp%2Fdashboard%3Fx%3D1"
    )
    assert call(app, "/login", script="/app").status == 200
    assert call(app, "/api/auth/session", script="/app").status == 200
    absolute = with_auth(_who, {"secret": SECRET, "pages": {"sign_in": "https://sso.example/login"}})
    assert call(absolute, "/d", script="/app").location == "https://sso.example/login?callbackUrl=%2Fapp%2Fd"


@pytest.mark.parametrize(
    ("path", "query", "raw_uri", "callback"),
    [
        pytest.param("/files/a/b", "", "/files/a%2Fb", "%2Ffiles%2Fa%252Fb", id="raw-keeps-%2F"),
        pytest.param("/files/a/b", "", "/other", "%2Ffiles%2Fa%2Fb", id="raw-of-another-path-ignored"),
        pytest.param("/x", "", "/a/../x", "%2Fx", id="raw-before-normalising-ignored"),
        pytest.param("/d b/\xc3\xbc", "", None, "%2Fd%2520b%2F%25C3%25BC", id="decoded-utf8-reencoded"),
        pytest.param(
            "/p", "a=1&b=two%20words&e=x+y", None, "%2Fp%3Fa%3D1%26b%3Dtwo%2520words%26e%3Dx%2By", id="query"
        ),
        pytest.param(
            "/p", "x=a'b\"c<d>e{f}", None, "%2Fp%3Fx%3Da%2527b%2522c%253Cd%253Ee%7Bf%7D", id="query-specials"
        ),
        pytest.param("/pA", "", "http://localhost:3000/p%41", "%2Fp%2541", id="absolute-form-target"),
        pytest.param("/~u/*a!", "", None, "%2F%7Eu%2F*a%21", id="tilde-star-bang"),
    ],
)
def test_callback_url_is_encoded_as_next_auth_does(
    path: str, query: str, raw_uri: str | None, callback: str
) -> None:
    environ = make_environ(path, query=query)
    if raw_uri is not None:
        environ["RAW_URI"] = raw_uri
    app_iter, status, headers = run_wsgi_app(with_auth(_who, {"secret": SECRET}), environ)
    assert headers["Location"] == "http://localhost:3000/api/auth/signin?callbackUrl=" + callback


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        pytest.param(" ", "+", id="space"),
        pytest.param("~", "%7E", id="tilde"),
        pytest.param("*-._", "*-._", id="kept"),
        pytest.param("!'()", "%21%27%28%29", id="escaped"),
        pytest.param("/?=&%", "%2F%3F%3D%26%25", id="delimiters"),
        pytest.param("ü", "%C3%BC", id="utf8"),
    ],
)
def test_form_encode_matches_url_search_params(value: str, encoded: str) -> None:
    assert form_encode(value) == encoded


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("headers", "api"),
    [
        pytest.param({}, False, id="no-accept"),
        pytest.param({"Accept": "application/json"}, True, id="accept-json"),
        pytest.param({"Accept": "application/json;q=0.5, text/html;q=0.4"}, True, id="json-preferred"),
        pytest.param({"Accept": "application/json, text/html"}, False, id="json-and-html-equal"),
        pytest.param({"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, False, id="browser"),
        pytest.param({"Accept": "*/*"}, False, id="anything"),
        pytest.param({"Accept": ";;;,,q=x"}, False, id="garbage-accept"),
        pytest.param({"X-Requested-With": "XMLHttpRequest"}, True, id="x-requested-with"),
        pytest.param({"Authorization": "Bearer nope"}, True, id="bearer"),
        pytest.param({"Authorization": "bearer nope"}, False, id="lowercase-bearer-is-not-read"),
        pytest.param({"Authorization": "Basic dTpw"}, False, id="basic"),
    ],
)
def test_api_requests_get_401_json_instead_of_a_redirect(headers: dict[str, str], api: bool) -> None:
    result = call(with_auth(_who, {"secret": SECRET}), "/api/data", query="x=1", headers=headers)
    if not api:
        assert (result.status, result.location) == (307, signin("/api/data?x=1"))
        return
    assert result.status == 401
    assert result.headers["Content-Type"] == "application/json"
    assert result.headers["WWW-Authenticate"] == 'Bearer realm="localhost:3000"'
    assert result.headers["Cache-Control"] == "no-store"
    assert "Location" not in result.headers
    assert result.json() == {
        "error": "Unauthorized",
        "message": "Sign in to access this resource.",
        "url": signin("/api/data?x=1"),
    }


@pytest.mark.parametrize(
    ("mode", "headers", "status"),
    [
        pytest.param("json", {}, 401, id="json-forces-401-for-browsers"),
        pytest.param("redirect", {"Accept": "application/json"}, 307, id="redirect-forces-307-for-apis"),
        pytest.param("auto", {"Accept": "application/json"}, 401, id="auto"),
    ],
)
def test_api_mode_option(mode: str, headers: dict[str, str], status: int) -> None:
    assert call(with_auth(_who, {"secret": SECRET, "api_mode": mode}), headers=headers).status == status


def _admins_only(*, token: t.Any, **_: t.Any) -> bool:
    return _role(token) == "admin"


@pytest.mark.parametrize(
    ("headers", "content_type"),
    [
        pytest.param({}, "text/html", id="page"),
        pytest.param({"Accept": "application/json"}, "application/json", id="api"),
    ],
)
def test_signed_in_but_refused_is_403_never_a_redirect(
    headers: dict[str, str], content_type: str, tokens: dict[str, str]
) -> None:
    app = with_auth(_who, {"secret": SECRET, "callbacks": {"authorized": _admins_only}})
    result = call(app, "/admin", cookie=cookie_for(tokens["user"]), headers=headers)
    assert result.status == 403
    assert result.headers["Content-Type"].split(";")[0] == content_type
    assert "Location" not in result.headers
    if content_type == "application/json":
        assert result.json()["error"] == "Forbidden"
    # anonymous, or with an unusable token, is still "sign in first"
    for token in ("expired", "other_secret", "garbage"):
        assert call(app, "/admin", cookie=cookie_for(tokens[token])).status == 307
    assert call(app, "/admin", cookie=cookie_for(tokens["admin"])).body == b"a1"


@pytest.mark.parametrize(
    ("result", "authorized"),
    [
        pytest.param(True, True, id="true"),
        pytest.param("yes", True, id="truthy-string"),
        pytest.param({"ok": 1}, True, id="truthy-dict"),
        pytest.param(False, False, id="false"),
        pytest.param(None, False, id="truthy-authorized:none"),
        pytest.param(0, False, id="zero"),
        pytest.param("", False, id="empty-string"),
        pytest.param([], False, id="empty-list"),
    ],
)
def test_only_a_truthy_authorized_result_authorizes(
    result: t.Any, authorized: bool, tokens: dict[str, str]
) -> None:
    app = with_auth(_who, {"secret": SECRET, "callbacks": {"authorized": lambda **_: result}})
    assert call(app, cookie=cookie_for(tokens["user"])).status == (200 if authorized else 403)
    assert call(app).status == (200 if authorized else 307)


def test_forbidden_replaces_the_403(tokens: dict[str, str]) -> None:
    calls: list[tuple[str, t.Any]] = []

    def forbidden(*, request: Request, token: t.Any) -> Response:
        calls.append((request.path, token["sub"]))
        return Response("go away", status=451)

    app = with_auth(
        _who, {"secret": SECRET, "callbacks": {"authorized": _admins_only}, "forbidden": forbidden}
    )
    result = call(app, "/admin", cookie=cookie_for(tokens["user"]))
    assert (result.status, result.body) == (451, b"go away")
    assert calls == [("/admin", "u1")]
    assert call(app, "/admin").status == 307  # anonymous: not forbidden's business


def test_async_forbidden_and_forbidden_returning_a_wsgi_app(tokens: dict[str, str]) -> None:
    def teapot(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
        return [b"short and stout"]

    async def forbidden(**_: t.Any) -> t.Any:
        return teapot

    app = with_auth(
        _who, {"secret": SECRET, "callbacks": {"authorized": _admins_only}, "forbidden": forbidden}
    )
    assert call(app, "/admin", cookie=cookie_for(tokens["user"])).status == 418


def test_forbidden_returning_none_still_refuses(tokens: dict[str, str]) -> None:
    """``None`` from ``forbidden`` means "the default answer", never "let it through"."""
    recorder = Recorder()
    options = {"secret": SECRET, "callbacks": {"authorized": _admins_only}, "forbidden": lambda **_: None}
    result = call(with_auth(recorder.app, options), "/admin", cookie=cookie_for(tokens["user"]))
    assert result.status == 403
    assert recorder.app_calls == []


def test_forbidden_returning_junk_is_a_type_error(tokens: dict[str, str]) -> None:
    options = {"secret": SECRET, "callbacks": {"authorized": _admins_only}, "forbidden": lambda **_: 403}
    with pytest.raises(TypeError, match="forbidden"):
        call(with_auth(_who, options), "/admin", cookie=cookie_for(tokens["user"]))


# --------------------------------------------------------------------------- the inner middleware


def test_inner_gets_a_werkzeug_request_with_the_token_and_none_passes_on(tokens: dict[str, str]) -> None:
    seen: list[tuple[type, str, t.Any]] = []

    def inner(request: Request) -> None:
        seen.append((type(request), request.path, request.environ[TOKEN_ENVIRON_KEY]["sub"]))

    result = call(with_auth(_who, inner, {"secret": SECRET}), "/dashboard", cookie=cookie_for(tokens["user"]))
    assert (result.status, result.body) == (200, b"u1")
    assert seen == [(Request, "/dashboard", "u1")]


def test_inner_runs_only_for_authorized_requests_on_protected_paths(tokens: dict[str, str]) -> None:
    seen: list[str] = []
    app = with_auth(
        _who, lambda request: seen.append(request.path), {"secret": SECRET}, matcher=["/dashboard/:path*"]
    )
    call(app, "/dashboard")  # anonymous
    call(app, "/dashboard", cookie=cookie_for(tokens["expired"]))
    call(app, "/public", cookie=cookie_for(tokens["user"]))  # outside the matcher
    call(app, "/api/auth/session", cookie=cookie_for(tokens["user"]))  # skipped
    assert seen == []
    call(app, "/dashboard/x", cookie=cookie_for(tokens["user"]))
    assert seen == ["/dashboard/x"]


def test_inner_may_answer_with_a_wsgi_app(tokens: dict[str, str]) -> None:
    def plain(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        start_response("202 Accepted", [("X-From", "inner")])
        return [b"queued"]

    recorder = Recorder()
    result = call(
        with_auth(recorder.app, lambda request: plain, {"secret": SECRET}), cookie=cookie_for(tokens["user"])
    )
    assert (result.status, result.headers["X-From"], result.body) == (202, "inner", b"queued")
    assert recorder.app_calls == []


def test_async_inner_and_async_authorized(tokens: dict[str, str]) -> None:
    async def authorized(*, token: t.Any, **_: t.Any) -> bool:
        await asyncio.sleep(0)
        return token is not None

    async def inner(request: Request) -> Response | None:
        await asyncio.sleep(0)
        if request.path == "/blocked":
            return Response("blocked by inner", status=403)
        return None

    app = with_auth(_who, inner, {"secret": SECRET, "callbacks": {"authorized": authorized}})
    assert call(app, "/dashboard", cookie=cookie_for(tokens["admin"])).body == b"a1"
    assert call(app, "/blocked", cookie=cookie_for(tokens["admin"])).body == b"blocked by inner"
    assert call(app, "/dashboard").status == 307


def test_inner_returning_junk_is_a_type_error(tokens: dict[str, str]) -> None:
    with pytest.raises(TypeError, match="inner middleware"):
        call(with_auth(_who, lambda request: "ok", {"secret": SECRET}), cookie=cookie_for(tokens["user"]))


def test_nested_wrappers_each_decide_with_their_own_options(
    tokens: dict[str, str], make_token: t.Callable[..., str]
) -> None:
    """Two layers with different cookies and secrets: each decodes its own token, and each
    inner middleware runs once."""
    ran: list[str] = []
    api_token = make_token(sub="svc", role="service", secret=OTHER_SECRET)
    inner_layer = with_auth(
        _who,
        lambda request: ran.append("api") or None,
        {"secret": OTHER_SECRET, "cookies": {"session_token": {"name": "api.session"}}},
        matcher=["/api/:path*"],
    )
    outer = with_auth(inner_layer, lambda request: ran.append("site") or None, {"secret": SECRET})
    both = f"{cookie_for(tokens['user'])}; api.session={api_token}"
    assert call(outer, "/api/data", cookie=both).body == b"svc"
    assert ran == ["site", "api"]
    assert call(outer, "/api/data", cookie=cookie_for(tokens["user"])).status == 307
    assert call(outer, "/page", cookie=cookie_for(tokens["user"])).body == b"u1"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("next-auth.session-token=" + "a" * 1_000_000, id="1MB-session-cookie"),
        pytest.param("; ".join(f"c{i}=v" for i in range(100_000)), id="100k-tiny-cookies"),
        pytest.param(
            "; ".join(f"next-auth.session-token.{i}=abc" for i in range(10_000)), id="10k-session-chunks"
        ),
        pytest.param("x" * 1_000_000, id="1MB-without-equals"),
        pytest.param("next-auth.session-token=%E0%A4%A; a=\xff\xfe", id="bad-escapes-and-bytes"),
        pytest.param('next-auth.session-token="\\"quoted\\""', id="quoted"),
    ],
)
def test_huge_or_malformed_cookie_headers_are_no_token(cookie: str) -> None:
    recorder = Recorder()
    result = call(with_auth(recorder.app, {"secret": SECRET}), "/dashboard", cookie=cookie)
    assert (result.status, result.location) == (307, signin("/dashboard"))
    assert recorder.app_calls == []


def test_a_valid_token_among_100k_cookies_still_counts(tokens: dict[str, str]) -> None:
    cookie = "; ".join([*(f"c{i}=v" for i in range(100_000)), cookie_for(tokens["user"])])
    assert call(with_auth(_who, {"secret": SECRET}), cookie=cookie).body == b"u1"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/dash\x00board", id="nul"),
        pytest.param("/caf\xe9", id="latin-1-byte"),
        pytest.param("/\xc3\xbc/\r\n", id="crlf"),
        pytest.param("/" + "a/" * 50_000, id="100k-path"),
        pytest.param("/" + "../" * 10_000 + "x", id="many-dotdots"),
        pytest.param("/%", id="lone-percent"),
    ],
)
def test_odd_paths_redirect_without_crashing(path: str) -> None:
    result = call(with_auth(_who, {"secret": SECRET}), path)
    assert result.status == 307
    location = t.cast(str, result.location)
    assert location.isascii() and "\r" not in location and "\n" not in location and " " not in location
    callback = parse_qs(urlsplit(location).query)["callbackUrl"][0]
    assert unquote_to_bytes(callback) == normalize_path(path).encode("latin-1")


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        pytest.param("evil.example\r\nX-Injected: 1", "", id="crlf-host"),
        pytest.param("", "", id="empty-host"),
        pytest.param("a b", "", id="space"),
        pytest.param("[::1]:3000", "http://[::1]:3000", id="ipv6"),
        pytest.param("LocalHost:80", "http://localhost", id="lowercased-default-port-dropped"),
        pytest.param("example.com", "", id="valid-but-untrusted"),
    ],
)
def test_invalid_hosts_give_relative_redirects(host: str, origin: str) -> None:
    """An invalid ``Host`` (werkzeug's check) must not yield ``http:///api/auth/signin``, which
    a browser reads as host ``api``: the redirect is relative instead. So is one that gives no
    trusted origin (no url, trusted_hosts or trust_host, not loopback)."""
    environ = make_environ("/dashboard")
    environ["HTTP_HOST"] = host
    app_iter, status, headers = run_wsgi_app(with_auth(_who, {"secret": SECRET}), environ)
    assert status.startswith("307")
    assert headers["Location"] == signin("/dashboard", origin)
    assert "X-Injected" not in headers


def test_concurrent_requests_each_get_their_own_decision(tokens: dict[str, str]) -> None:
    options = {
        "secret": SECRET,
        "callbacks": {
            "authorized": lambda *, request, token, **_: (
                _role(token) == "admin" if request.path.startswith("/admin") else token is not None
            )
        },
    }
    app = with_auth(_who, lambda request: None, options, matcher=["/dashboard/:path*", "/admin/:path*"])
    rng = random.Random(1234)
    kinds = ["user", "admin", "expired", "other_secret", "garbage", None]
    jobs = []
    for i in range(400):
        kind = rng.choice(kinds)
        area = rng.choice(["dashboard", "admin", "public"])
        bearer = kind is not None and rng.random() < 0.25
        jobs.append((i, kind, f"/{area}/{i}", bearer))

    def expected(kind: str | None, path: str, bearer: bool) -> tuple[int, t.Any]:
        valid = {"user": "u1", "admin": "a1"}.get(kind or "")
        if path.startswith("/public"):
            return 200, b"-"  # not protected: no token handed over
        if valid and (not path.startswith("/admin") or kind == "admin"):
            return 200, valid.encode()
        if valid:
            return 403, None
        if bearer:
            return 401, None
        return 307, signin(path)

    def run(job: tuple[int, str | None, str, bool]) -> tuple[int, t.Any]:
        _, kind, path, bearer = job
        headers, cookie = {}, None
        if kind is not None:
            if bearer:
                headers["Authorization"] = f"Bearer {tokens[kind]}"
            else:
                cookie = cookie_for(tokens[kind])
        result = call(app, path, cookie=cookie, headers=headers)
        return result.status, result.location if result.status == 307 else result.body

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, jobs))
    for (i, kind, path, bearer), (status, detail) in zip(jobs, results, strict=True):
        want_status, want_detail = expected(kind, path, bearer)
        assert status == want_status, (i, kind, path, bearer)
        if want_detail is not None:
            assert detail == want_detail, (i, kind, path, bearer)
    assert {status for status, _ in results} == {200, 307, 401, 403}


def test_core_modules_do_not_import_flask() -> None:
    import ast

    import flask_authguard.wsgi.middleware as middleware

    tree = ast.parse(pathlib.Path(middleware.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] == "flask"}


# --------------------------------------------------------------------------- examples/wsgi_app.py

EXAMPLE = ROOT / "examples" / "wsgi_app.py"


@pytest.fixture
def example() -> t.Any:
    spec = importlib.util.spec_from_file_location("example_wsgi_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_wsgi_app(example: t.Any) -> None:
    """Sign-in -> protected page -> session JSON -> sign-out, all through the one wrap."""
    assert isinstance(example.application, WithAuth)
    client = Client(example.make_app(secret=SECRET))
    assert client.get("/").status_code == 200
    anonymous = client.get("/dashboard/x?tab=1")
    assert (anonymous.status_code, anonymous.location) == (
        307,
        "http://localhost/api/auth/signin?callbackUrl=%2Fdashboard%2Fx%3Ftab%3D1",
    )
    assert client.get("/dashboard", headers={"Accept": "application/json"}).status_code == 401
    signin_page = client.get(anonymous.location).get_data(as_text=True)  # the built-in page
    assert 'action="http://localhost/api/auth/callback/credentials"' in signin_page

    def sign_in(username: str, password: str, callback: str = "/dashboard") -> t.Any:
        csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
        form = {"csrfToken": csrf, "username": username, "password": password, "callbackUrl": callback}
        return client.post("/api/auth/callback/credentials", data=form)

    wrong = sign_in("bob", "nope")
    assert wrong.status_code == 302 and "error=CredentialsSignin" in wrong.location
    signed_in = sign_in("bob", example.DEMO_CREDENTIALS["bob"][0], "/admin")
    assert (signed_in.status_code, signed_in.location) == (302, "http://localhost/admin")
    assert any(h.startswith("next-auth.session-token=") for h in signed_in.headers.getlist("Set-Cookie"))
    assert b"bob@example.com" in client.get("/dashboard").data
    refused = client.get("/admin")  # the inner middleware reads the role
    assert refused.status_code == 403 and b"Bob is not an admin" in refused.data
    session = client.get("/api/auth/session").get_json()
    assert session["user"] == {"name": "Bob", "email": "bob@example.com"}
    assert sign_in("eve", "x", "https://evil.example/").location.startswith("http://localhost/api/auth/error")

    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    out = client.post("/api/auth/signout", data={"csrfToken": csrf})
    assert (out.status_code, out.location) == (302, "http://localhost")
    assert client.get("/api/auth/session").get_json() == {}
    assert client.get("/dashboard").status_code == 307

    sign_in("alice", example.DEMO_CREDENTIALS["alice"][0])
    assert client.get("/admin").status_code == 200


def test_example_runs_with_one_command() -> None:
    """``python examples/wsgi_app.py`` serves on 127.0.0.1 and prints where and how."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1", "NEXTAUTH_SECRET": SECRET}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        status = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/dashboard")
                response = connection.getresponse()
                status, location = response.status, response.getheader("Location")
                connection.close()
                break
            except OSError:
                time.sleep(0.1)
        assert status == 307, "the example did not start"
        assert location == f"http://127.0.0.1:{port}/api/auth/signin?callbackUrl=%2Fdashboard"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in output
    assert "/api/auth/signin" in output and "Authorization: Bearer " in output


@pytest.mark.parametrize("host", ["x:99999", "x:-1", "x:abc", "[::1]:70000"])
def test_bad_host_port_gives_a_relative_redirect_not_a_500(host: str) -> None:
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    app = with_auth(lambda e, s: Response("ok")(e, s), {"secret": "s"})
    environ = EnvironBuilder(path="/x", headers={"Host": host}).get_environ()
    _, status, headers = run_wsgi_app(app, environ)
    assert status.startswith("307")
    assert headers["Location"].startswith("/api/auth/signin?callbackUrl=")
