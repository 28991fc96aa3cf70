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
import json
import logging
import random
import typing as t
from urllib.parse import parse_qs, quote, unquote_to_bytes, urljoin, urlsplit

import pytest
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request, Response

from flask_authguard import TOKEN_ENVIRON_KEY, AuthOptions, ConfigurationError, encode, with_auth
from flask_authguard.hooks import hs256_decoder
from flask_authguard.middleware import WithAuth, form_encode, normalize_path

from conftest import SECRET, FrozenClock, load_vectors

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
    # The origin is the request's, as the WSGI server reports it: no Next.js host rewriting.
    "loopback_ip_origin_rewritten": (
        "loopback-origin-not-rewritten",
        {"kind": "redirect", "location": "http://127.0.0.1:3000/api/auth/signin?callbackUrl=%2Fdashboard"},
    ),
    # A signed-in user that `authorized` refuses gets 403, never a redirect back to sign-in.
    "always_false_with_valid_token": ("no-redirect-loop-403", _HTML_403),
    "role_admin_with_user_token": ("no-redirect-loop-403", _HTML_403),
    "path_rule_admin_path_user_token": ("no-redirect-loop-403", _HTML_403),
    "returns_zero_with_token": ("no-redirect-loop-403", _HTML_403),
    # Only a truthy `authorized` result authorizes (next-auth: null/undefined -> !!token).
    "returns_null_with_token": ("truthy-authorized", _HTML_403),
    # Every candidate value is tried (joined chunks, each bare cookie): a valid one wins.
    "chunked_and_unchunked_both_present": ("strict-chunks", {"kind": "next"}),
    "duplicate_cookie_last_wins_garbage_last": ("strict-chunks", {"kind": "next"}),
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


@pytest.mark.parametrize("case", _replay_params())
def test_recorded_case(
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
        caplog.clear()  # the construction warning (no secret) is checked elsewhere
        expect = case["expect"]
        if expect["kind"] == "throws":
            with pytest.raises(RuntimeError):
                run_wsgi_app(app, case_environ(case))
            return
        app_iter, status, headers = run_wsgi_app(app, case_environ(case))
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
        for call, recorded in zip(recorder.decode, expect["decode_calls"]):
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
