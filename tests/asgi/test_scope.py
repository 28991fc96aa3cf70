"""The two environs of an ASGI request: the guard's (what its check reads) and the whole one,
and the set-up decision which one ``AuthMiddleware`` builds."""

from __future__ import annotations

import asyncio
import json
import typing as t

import pytest

pytest.importorskip("starlette", reason="the ASGI tests need starlette: pip install -e '.[test]'")

from conftest import SECRET, FrozenClock  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from flask_authguard.asgi import AuthMiddleware, get_server_session  # noqa: E402
from flask_authguard.asgi.guard import needs_whole_environ  # noqa: E402
from flask_authguard.asgi.scope import (  # noqa: E402
    ENVIRON_KEY,
    GUARD_KEYS,
    PARTIAL_KEY,
    environ_from_scope,
    environ_of,
    guard_environ,
)
from flask_authguard.core.tokens.request_token import TOKEN_ENVIRON_KEY  # noqa: E402
from flask_authguard.guard.decision import AuthCore  # noqa: E402

COOKIE = "next-auth.session-token"
NOISE = [(b"accept-language", b"en"), (b"x-team", b"blue"), (b"dnt", b"1"), (b"sec-ch-ua", b'"X";v="1"')]


def scope_for(
    method: str = "GET",
    path: str = "/dashboard",
    headers: t.Sequence[tuple[bytes, bytes]] = (),
    kind: str = "http",
    query: bytes = b"",
) -> dict[str, t.Any]:
    return {
        "type": kind,
        "http_version": "1.1",
        "method": method,
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"app.test"), *headers, *NOISE],
        "server": ("app.test", 80),
        "client": ("10.0.0.1", 5000),
    }


class ReadRecorder(dict):  # type: ignore[type-arg]
    """An environ that notes every key looked up (present or not); iterating it reads all."""

    def __init__(self, environ: t.Mapping[str, t.Any]) -> None:
        super().__init__(environ)
        self.read: set[str] = set()

    def get(self, key: str, default: t.Any = None) -> t.Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> t.Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(t.cast(str, key))
        return super().__contains__(key)

    def setdefault(self, key: str, default: t.Any = None) -> t.Any:
        self.read.add(key)
        return super().setdefault(key, default)

    def pop(self, key: str, *default: t.Any) -> t.Any:
        self.read.add(key)
        return super().pop(key, *default)

    def __iter__(self) -> t.Iterator[str]:
        self.read.add("*every key*")
        return super().__iter__()

    def keys(self) -> t.Any:
        self.read.add("*every key*")
        return super().keys()

    def items(self) -> t.Any:
        self.read.add("*every key*")
        return super().items()

    def values(self) -> t.Any:
        self.read.add("*every key*")
        return super().values()


def _requests(token: str, other_token: str) -> list[t.Any]:
    cookie = (b"cookie", f"{COOKIE}={token}".encode())
    return [
        pytest.param(scope_for(headers=[cookie]), id="signed in"),
        pytest.param(scope_for(headers=[(b"accept", b"text/html")], query=b"a=1"), id="page, anonymous"),
        pytest.param(scope_for(path="/dashboard/a%2Fb/../c", headers=[]), id="odd path, anonymous"),
        pytest.param(scope_for(headers=[(b"accept", b"application/json")]), id="API, anonymous"),
        pytest.param(scope_for(headers=[(b"x-requested-with", b"fetch")]), id="XHR, anonymous"),
        pytest.param(scope_for(headers=[(b"authorization", f"Bearer {token}".encode())]), id="Bearer"),
        pytest.param(scope_for(headers=[(b"authorization", b"Bearer nope")]), id="bad Bearer"),
        pytest.param(scope_for(headers=[(b"cookie", f"{COOKIE}=nope".encode())]), id="tampered cookie"),
        pytest.param(scope_for(headers=[(b"cookie", f"{COOKIE}={other_token}".encode())]), id="expired"),
        pytest.param(scope_for(headers=[(b"cookie", f"{COOKIE}.0={token[:30]}".encode())]), id="chunks"),
        pytest.param(
            scope_for("POST", headers=[cookie, (b"origin", b"https://evil.test")]), id="cross-site POST"
        ),
        pytest.param(
            scope_for("POST", headers=[cookie, (b"sec-fetch-site", b"cross-site")]), id="Sec-Fetch-Site"
        ),
        pytest.param(scope_for("PUT", headers=[cookie, (b"referer", b"https://evil.test/x")]), id="Referer"),
        pytest.param(
            scope_for("POST", headers=[cookie, (b"origin", b"http://app.test")]), id="same-site POST"
        ),
        pytest.param(
            scope_for(headers=[cookie, (b"origin", b"https://evil.test")], kind="websocket"), id="WebSocket"
        ),
        pytest.param(scope_for(headers=[cookie, (b"upgrade", b"websocket")]), id="Upgrade header"),
        pytest.param(
            scope_for(
                "OPTIONS",
                headers=[(b"origin", b"https://front.test"), (b"access-control-request-method", b"POST")],
            ),
            id="preflight",
        ),
        pytest.param(scope_for(headers=[cookie, (b"user-agent", b"Firefox")]), id="user agent"),
    ]


OPTION_SETS = [
    pytest.param({"secret": SECRET}, id="defaults"),
    pytest.param({"secret": SECRET, "cors_preflight": True, "api_mode": "json"}, id="preflight, JSON"),
    pytest.param({"secret": SECRET, "trusted_hosts": ["other.test"]}, id="untrusted host"),
    pytest.param({"secret": SECRET, "trust_host": True}, id="trust_host"),
    pytest.param({"secret": SECRET, "url": "https://app.test"}, id="url"),
]


@pytest.mark.parametrize("options", OPTION_SETS)
def test_the_guard_environ_holds_every_key_the_check_reads(
    options: dict[str, t.Any], frozen_clock: FrozenClock, make_token: t.Callable[..., str]
) -> None:
    """What the check reads of a request (its refusals' answers included) is in GUARD_KEYS, or
    is a key no ASGI request's environ holds (the guard's own ``authguard.*``, ``REQUEST_URI``)."""
    token = make_token(sub="u1", name="Ann", sid="s1")
    expired = make_token(sub="u1", exp=frozen_clock.now - 10)
    core = AuthCore(options, matcher=["/dashboard/:path*"])
    assert not needs_whole_environ(core)
    for param in _requests(token, expired):
        (scope,) = param.values
        whole = environ_from_scope(scope)
        environ = ReadRecorder(whole)
        if core.is_protected(environ, core.path(environ)):
            core.check(environ)
        beyond = {key for key in environ.read - GUARD_KEYS if key in whole or key.startswith("HTTP_")}
        assert beyond == set(), param.id


def test_the_guard_environ_is_the_whole_one_restricted_to_the_guard_keys() -> None:
    scope = scope_for(
        headers=[(b"cookie", b"a=1"), (b"Cookie", b"b=2"), (b"ACCEPT", b"text/html"), (b"x-many", b"1")],
        query=b"q=%C3%A9",
    )
    scope["path"], scope["root_path"] = "/app/caf\u00e9", "/app"
    whole = environ_from_scope(scope)
    partial = guard_environ(dict(scope))
    assert partial.pop(PARTIAL_KEY) is True
    assert partial == {key: value for key, value in whole.items() if key in GUARD_KEYS}
    assert partial["HTTP_COOKIE"] == "a=1; b=2" and partial["HTTP_ACCEPT"] == "text/html"
    assert partial["SCRIPT_NAME"] == "/app" and partial["PATH_INFO"] == "/caf\u00c3\u00a9"


def test_environ_of_completes_the_guard_environ_in_place() -> None:
    scope = scope_for(path="/a//b", headers=[(b"cookie", b"a=1"), (b"content-type", b"text/plain")])
    environ = guard_environ(scope)
    environ["PATH_INFO"] = "/a/b"  # as the guard normalised it
    environ[TOKEN_ENVIRON_KEY] = {"sub": "u1"}
    assert "HTTP_X_TEAM" not in environ and "wsgi.input" not in environ

    completed = environ_of(scope)
    assert completed is environ and scope[ENVIRON_KEY] is environ
    assert PARTIAL_KEY not in environ
    assert environ["PATH_INFO"] == "/a/b" and environ[TOKEN_ENVIRON_KEY] == {"sub": "u1"}
    whole = environ_from_scope(scope)
    assert set(environ) == set(whole) | {TOKEN_ENVIRON_KEY}
    assert environ["HTTP_X_TEAM"] == "blue" and environ["CONTENT_TYPE"] == "text/plain"
    assert environ["HTTP_COOKIE"] == "a=1" and environ["REMOTE_ADDR"] == "10.0.0.1"
    assert environ_of(scope) is environ


def _team_is_blue(*, request: t.Any, token: t.Any) -> bool:
    return token is not None and request.headers.get("X-Team") == "blue"


def _has_team(request: t.Any) -> t.Any:
    request.environ["test.team"] = request.headers.get("X-Team")
    return None


@pytest.mark.parametrize(
    ("options", "kwargs", "whole"),
    [
        pytest.param({"secret": SECRET}, {}, False, id="defaults"),
        pytest.param({"secret": SECRET, "jwt": {"decode": lambda **_: None}}, {}, False, id="decode hook"),
        pytest.param({"secret": SECRET, "trusted_hosts": ["app.test"]}, {}, False, id="trusted hosts"),
        pytest.param(
            {"secret": SECRET, "callbacks": {"authorized": _team_is_blue}}, {}, True, id="authorized"
        ),
        pytest.param({"secret": SECRET, "forbidden": lambda **_: None}, {}, True, id="forbidden"),
        pytest.param({"secret": SECRET}, {"middleware": _has_team}, True, id="inner middleware"),
        pytest.param(
            {"secret": SECRET},
            {"matcher": [{"source": "/x", "has": [{"type": "header", "key": "x-team"}]}]},
            True,
            id="matcher condition",
        ),
        pytest.param({"secret": SECRET}, {"matcher": ["/x/:path*"]}, False, id="plain matcher"),
    ],
)
def test_the_whole_environ_is_built_when_the_options_hand_the_request_to_the_app(
    options: dict[str, t.Any], kwargs: dict[str, t.Any], whole: bool
) -> None:
    assert needs_whole_environ(AuthCore(options, **kwargs)) is whole


async def whoami(request: Request) -> JSONResponse:
    token = request.state.auth_token
    return JSONResponse({"sub": token["sub"] if token else None})


def _app(**kwargs: t.Any) -> TestClient:
    app = Starlette(routes=[Route("/dashboard", whoami)])
    guarded = AuthMiddleware(app, kwargs.pop("options", {"secret": SECRET}), **kwargs)
    return TestClient(guarded, base_url="http://app.test", follow_redirects=False)


def test_an_authorized_callback_reads_any_header(
    frozen_clock: FrozenClock, make_token: t.Callable[..., str]
) -> None:
    test_client = _app(options={"secret": SECRET, "callbacks": {"authorized": _team_is_blue}})
    test_client.cookies.set(COOKIE, make_token(sub="u1"), domain="app.test")
    assert test_client.get("/dashboard", headers={"X-Team": "blue"}).json() == {"sub": "u1"}
    assert test_client.get("/dashboard", headers={"X-Team": "red"}).status_code == 403


def test_a_matcher_condition_reads_any_header(frozen_clock: FrozenClock) -> None:
    matcher = [{"source": "/dashboard", "has": [{"type": "header", "key": "x-team", "value": "blue"}]}]
    test_client = _app(matcher=matcher)
    assert test_client.get("/dashboard", headers={"X-Team": "blue"}).status_code == 307
    assert test_client.get("/dashboard", headers={"X-Team": "red"}).json() == {"sub": None}


def test_a_header_name_not_in_lower_case_is_still_read(
    frozen_clock: FrozenClock, make_token: t.Callable[..., str]
) -> None:
    """ASGI servers send names in lower case; one that does not is read all the same."""
    sent: list[dict[str, t.Any]] = []

    async def receive() -> dict[str, t.Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        sent.append(message)

    app = AuthMiddleware(Starlette(routes=[Route("/dashboard", whoami)]), {"secret": SECRET})
    scope = scope_for(headers=[(b"Cookie", f"{COOKIE}={make_token(sub='u7')}".encode())])
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200 and sent[1]["body"] == b'{"sub":"u7"}'


# ------------------------------------- header names with "_": dropped, as werkzeug and gunicorn do

#: ``sec_fetch_site`` would read as ``Sec-Fetch-Site`` (both are ``HTTP_SEC_FETCH_SITE``): a
#: client could pass a cross-site request off as same-origin with a name no browser sends.
SPELLINGS = [
    pytest.param(b"sec-fetch-site", True, id="dashed: read"),
    pytest.param(b"sec_fetch_site", False, id="underscored: dropped"),
    pytest.param(b"Sec_Fetch_Site", False, id="underscored, capitals: dropped"),
]


def _accept_any_token(*, token: t.Any, **_: t.Any) -> bool:
    return token is not None


async def notes(request: Request) -> JSONResponse:
    session = await get_server_session(request)
    return JSONResponse({"signed_in": session is not None})


def _post(app: t.Any, name: bytes, token: str) -> tuple[int, bytes]:
    """A cookie POST from another origin that says ``same-origin`` under header ``name``."""
    sent: list[dict[str, t.Any]] = []

    async def receive() -> dict[str, t.Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        sent.append(message)

    headers = [
        (b"cookie", f"{COOKIE}={token}".encode()),
        (b"origin", b"http://evil.test"),
        (name, b"same-origin"),
    ]
    asyncio.run(app(scope_for("POST", path="/dashboard", headers=headers), receive, send))
    return sent[0]["status"], sent[1]["body"]


@pytest.mark.parametrize(("name", "same_origin"), SPELLINGS)
@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"secret": SECRET}, id="guard environ"),
        pytest.param({"secret": SECRET, "callbacks": {"authorized": _accept_any_token}}, id="whole environ"),
    ],
)
def test_the_cross_site_verdict_is_the_same_in_both_environs(
    options: dict[str, t.Any],
    name: bytes,
    same_origin: bool,
    frozen_clock: FrozenClock,
    make_token: t.Callable[..., str],
) -> None:
    app = AuthMiddleware(Starlette(routes=[Route("/dashboard", whoami, methods=["POST"])]), options)
    assert _post(app, name, make_token(sub="u1"))[0] == (200 if same_origin else 403)


@pytest.mark.parametrize(("name", "same_origin"), SPELLINGS)
def test_the_session_read_on_an_unchecked_route_drops_them_too(
    name: bytes, same_origin: bool, frozen_clock: FrozenClock, make_token: t.Callable[..., str]
) -> None:
    inner = Starlette(routes=[Route("/dashboard", notes, methods=["POST"])])
    app = AuthMiddleware(inner, {"secret": SECRET}, matcher=["/other"])  # /dashboard unchecked
    status, body = _post(app, name, make_token(sub="u1"))
    assert status == 200 and json.loads(body) == {"signed_in": same_origin}


@pytest.mark.parametrize("name", [b"x_trace", b"X_Trace", b"sec_fetch_site"])
def test_neither_environ_holds_a_header_whose_name_has_an_underscore(name: bytes) -> None:
    scope = scope_for(headers=[(name, b"1")])
    whole, partial = environ_from_scope(scope), guard_environ(dict(scope))
    assert "HTTP_X_TRACE" not in whole and "HTTP_SEC_FETCH_SITE" not in whole
    assert "HTTP_SEC_FETCH_SITE" not in partial
    assert whole["HTTP_X_TEAM"] == "blue"  # the other headers are read as ever
