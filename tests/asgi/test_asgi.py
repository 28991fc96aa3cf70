"""The ASGI layer: AuthMiddleware, get_server_session and require_auth on Starlette and FastAPI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import typing as t

import pytest

pytest.importorskip("starlette", reason="the ASGI tests need starlette: pip install -e '.[test]'")

import httpx  # noqa: E402
from conftest import SECRET, FrozenClock  # noqa: E402
from fastapi import Depends, FastAPI  # noqa: E402
from fastapi import Request as FastAPIRequest  # noqa: E402
from fastapi import Response as FastAPIResponse  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocket, WebSocketDisconnect  # noqa: E402

from flask_authguard import decode  # noqa: E402
from flask_authguard.asgi import AuthMiddleware, get_server_session, require_auth  # noqa: E402
from flask_authguard.asgi.fastapi import ServerSession, Token  # noqa: E402
from flask_authguard.asgi.scope import environ_from_scope  # noqa: E402

COOKIE = "next-auth.session-token"
OPTIONS = {"secret": SECRET}


def _is_admin(*, token: t.Any, **_: t.Any) -> bool:
    return bool(token) and token.get("role") == "admin"


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"token": request.state.auth_token, "path": request.url.path})


async def session_view(request: Request) -> JSONResponse:
    response = JSONResponse({})
    session = await get_server_session(request, response)
    response.body = response.render({"session": session})
    response.headers["content-length"] = str(len(response.body))
    return response


async def admin_view(request: Request) -> PlainTextResponse:
    token = await require_auth(authorized=_is_admin)(request)
    return PlainTextResponse("admin " + token["name"])


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"token": websocket.state.auth_token})
    await websocket.close()


async def session_socket(websocket: WebSocket) -> None:
    session = await get_server_session(websocket)  # read at the handshake, before accepting
    await websocket.accept()
    await websocket.send_json({"session": session})
    await websocket.close()


def starlette_app(**kwargs: t.Any) -> t.Any:
    app = Starlette(
        routes=[
            Route("/", lambda request: PlainTextResponse("home")),
            Route("/dashboard", whoami),
            Route("/dashboard/{rest:path}", whoami),
            Route("/public/session", session_view),
            Route("/public/admin", admin_view),
            WebSocketRoute("/dashboard/ws", socket),
            WebSocketRoute("/public/ws", session_socket),
        ]
    )
    return AuthMiddleware(app, kwargs.pop("options", OPTIONS), matcher=["/dashboard/:path*"], **kwargs)


def fastapi_app(options: t.Any = OPTIONS) -> FastAPI:
    app = FastAPI()
    app.add_middleware(AuthMiddleware, options=options, matcher=["/api/private/:path*"])

    @app.get("/api/private/me")
    async def me(request: FastAPIRequest) -> t.Any:
        return {"token": request.state.auth_token}

    @app.get("/api/token")
    async def token(token: Token) -> t.Any:
        return {"sub": token["sub"]}

    @app.get("/api/admin", dependencies=[Depends(require_auth(authorized=_is_admin))])
    async def admin() -> t.Any:
        return {"admin": True}

    @app.get("/api/session")
    async def session(session: ServerSession) -> t.Any:
        return {"session": session}

    @app.get("/api/session-by-hand")
    async def by_hand(request: FastAPIRequest, response: FastAPIResponse) -> t.Any:
        return {"session": await get_server_session(request, response)}

    return app


@pytest.fixture
def token(frozen_clock: FrozenClock, make_token: t.Callable[..., str]) -> str:
    return make_token(sub="u1", name="Ann", email="ann@example.com", role="user")


@pytest.fixture
def admin_token(frozen_clock: FrozenClock, make_token: t.Callable[..., str]) -> str:
    return make_token(sub="u2", name="Root", role="admin")


def set_cookie(response: t.Any, name: str = COOKIE) -> str | None:
    """The value a response sets for ``name`` (read from the header: the frozen clock's expiry
    is in the past for the client's cookie jar)."""
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";", 1)[0]
    return None


def client(app: t.Any, cookie: str | None = None) -> TestClient:
    test_client = TestClient(app, base_url="http://app.test", follow_redirects=False)
    if cookie is not None:
        test_client.cookies.set(COOKIE, cookie, domain="app.test")
    return test_client


# ------------------------------------------------------------------------------ the guard


def test_anonymous_page_request_is_redirected_to_sign_in_with_the_callback_url() -> None:
    app = starlette_app(options={**OPTIONS, "trusted_hosts": ["app.test"]})  # absolute links need it
    response = client(app).get("/dashboard/a?x=1")
    assert response.status_code == 307
    assert response.headers["location"] == (
        "http://app.test/api/auth/signin?callbackUrl=%2Fdashboard%2Fa%3Fx%3D1"
    )


def test_anonymous_api_request_gets_401_json() -> None:
    response = client(starlette_app()).get("/dashboard", headers={"accept": "application/json"})
    assert response.status_code == 401 and response.json()["error"] == "Unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_signed_in_request_reaches_the_app_with_the_token_in_request_state(token: str) -> None:
    response = client(starlette_app(), token).get("/dashboard")
    assert response.status_code == 200
    assert response.json()["token"]["sub"] == "u1" and response.json()["token"]["role"] == "user"


def test_a_bearer_token_works_as_in_with_auth(token: str) -> None:
    response = client(starlette_app()).get("/dashboard", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["token"]["sub"] == "u1"


def test_tampered_cookie_is_no_session(token: str) -> None:
    response = client(starlette_app(), token[:-2] + "AA").get("/dashboard")
    assert response.status_code == 307


def test_public_paths_are_not_checked() -> None:
    assert client(starlette_app()).get("/").text == "home"


def test_the_app_routes_on_the_normalised_path(token: str) -> None:
    # /public/../dashboard is /dashboard: checked, and served as /dashboard
    assert client(starlette_app()).get("/public/%2e%2e/dashboard").status_code == 307
    response = client(starlette_app(), token).get("/public/%2e%2e/dashboard/x")
    assert response.status_code == 200 and response.json()["path"] == "/dashboard/x"


def test_signed_in_but_refused_is_403(token: str) -> None:
    app = starlette_app(options={"secret": SECRET, "callbacks": {"authorized": _is_admin}})
    response = client(app, token).get("/dashboard")
    assert response.status_code == 403


def test_inner_middleware_answers_or_passes_on(token: str, admin_token: str) -> None:
    from werkzeug.wrappers import Response

    def inner(request: t.Any) -> t.Any:
        if request.environ["authguard.token"].get("role") != "admin":
            return Response("admins only", status=418)
        return None

    app = starlette_app(middleware=inner)
    assert client(app, token).get("/dashboard").status_code == 418
    assert client(app, admin_token).get("/dashboard").status_code == 200


def test_no_secret_is_the_configuration_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        app = starlette_app(options={})
    response = client(app).get("/dashboard")
    assert response.status_code == 307 and "error=Configuration" in response.headers["location"]


def test_websocket_handshake_is_checked_once(token: str) -> None:
    # the test client's websocket handshake carries no cookie jar: the header is sent by hand
    with client(starlette_app()).websocket_connect(
        "/dashboard/ws", headers={"cookie": f"{COOKIE}={token}"}
    ) as ws:
        assert ws.receive_json()["token"]["sub"] == "u1"
    with pytest.raises(WebSocketDisconnect) as refused:
        with client(starlette_app()).websocket_connect("/dashboard/ws") as ws:
            ws.receive_json()
    assert refused.value.code == 1008


def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: t.Any) -> t.AsyncIterator[None]:
        seen.append("startup")
        yield
        seen.append("shutdown")

    inner = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))], lifespan=lifespan)
    with TestClient(AuthMiddleware(inner, OPTIONS), follow_redirects=False) as test_client:
        assert test_client.get("/").status_code == 307  # the whole site is protected
    assert seen == ["startup", "shutdown"]


# ------------------------------------------------------------------------ the session read


def test_get_server_session_reads_and_rolls_the_cookie(token: str, frozen_clock: FrozenClock) -> None:
    frozen_clock.now += 60
    response = client(starlette_app(), token).get("/public/session")
    assert response.status_code == 200
    assert response.json()["session"]["user"] == {"name": "Ann", "email": "ann@example.com"}
    rolled = set_cookie(response)
    assert rolled and rolled != token and decode(token=rolled, secret=SECRET)["sub"] == "u1"
    assert "Cookie" in response.headers["vary"]


def test_get_server_session_without_a_cookie_is_none_and_sets_nothing() -> None:
    response = client(starlette_app()).get("/public/session")
    assert response.json() == {"session": None} and "set-cookie" not in response.headers


def test_require_auth_in_a_view(token: str, admin_token: str) -> None:
    assert client(starlette_app()).get("/public/admin").status_code == 307
    assert client(starlette_app(), token).get("/public/admin").status_code == 403
    response = client(starlette_app(), admin_token).get("/public/admin")
    assert response.status_code == 200 and response.text == "admin Root"


# ------------------------------------------------------------------------------- FastAPI


def test_fastapi_middleware_and_dependencies(token: str, admin_token: str) -> None:
    app = fastapi_app()
    assert client(app).get("/api/private/me").status_code == 307
    assert client(app, token).get("/api/private/me").json()["token"]["sub"] == "u1"
    anonymous = client(app).get("/api/token", headers={"accept": "application/json"})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "Unauthorized"
    assert client(app, token).get("/api/token").json() == {"sub": "u1"}
    assert client(app, token).get("/api/admin").status_code == 403
    assert client(app, admin_token).get("/api/admin").json() == {"admin": True}


@pytest.mark.parametrize("path", ["/api/session", "/api/session-by-hand"])
def test_fastapi_session_dependency_rolls_the_cookie(
    path: str, token: str, frozen_clock: FrozenClock
) -> None:
    frozen_clock.now += 60
    response = client(fastapi_app(), token).get(path)
    assert response.json()["session"]["user"]["name"] == "Ann"
    assert set_cookie(response) not in (None, token)
    assert client(fastapi_app()).get(path).json() == {"session": None}


def test_require_auth_without_the_middleware_says_what_to_add() -> None:
    from flask_authguard import ConfigurationError

    app = FastAPI()

    @app.get("/x")
    async def x(token: Token) -> t.Any:
        return token

    with pytest.raises(ConfigurationError, match="AuthMiddleware"):
        TestClient(app).get("/x")


# ------------------------------------------------------------------------- the scope bridge


def test_environ_from_scope_joins_http2_cookie_headers_with_semicolons() -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/caf\u00e9",
        "raw_path": b"/caf%C3%A9",
        "root_path": "",
        "query_string": b"a=1",
        "headers": [(b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"x-many", b"1"), (b"x-many", b"2")],
        "client": ("10.0.0.1", 5000),
        "server": ("app.test", 443),
        "scheme": "https",
        "http_version": "2",
    }
    environ = environ_from_scope(scope)
    assert environ["HTTP_COOKIE"] == "a=1; b=2" and environ["HTTP_X_MANY"] == "1,2"
    assert environ["PATH_INFO"] == "/caf\u00c3\u00a9" and environ["RAW_URI"] == "/caf%C3%A9?a=1"
    assert environ["wsgi.url_scheme"] == "https" and environ["REMOTE_ADDR"] == "10.0.0.1"


# ------------------------------------------------------------------- not blocking the loop


class SlowAdapter:
    """An adapter whose session lookup blocks (a slow database), for the event-loop test."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def get_session_and_user(self, token: str) -> t.Any:
        self.entered.set()
        self.release.wait(10)
        return None

    def __getattr__(self, name: str) -> t.Any:
        return lambda *args, **kwargs: None


def test_a_slow_database_does_not_block_other_requests() -> None:
    adapter = SlowAdapter()
    app = starlette_app(options={"secret": SECRET, "adapter": adapter})
    order: list[str] = []

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:

            async def slow() -> None:
                await http.get("/dashboard", headers={"cookie": f"{COOKIE}=some-session-token"})
                order.append("slow")

            async def fast() -> None:
                await asyncio.get_running_loop().run_in_executor(None, adapter.entered.wait, 10)
                response = await http.get("/")
                order.append(f"fast {response.status_code}")
                adapter.release.set()

            await asyncio.gather(slow(), fast())

    asyncio.run(scenario())
    assert order == ["fast 200", "slow"]  # the public request was answered while the lookup blocked


# ------------------------------------------------------ a session store that is down: 503


def _unreachable(kind: str) -> dict[str, t.Any]:
    """Options whose session read fails: a Redis store on a port nothing listens on (every JWT
    read asks it about revocations), or a database that refuses connections."""
    if kind == "redis":
        return {"secret": SECRET, "store": "redis://127.0.0.1:1/0"}
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter("postgresql+psycopg://postgres@127.0.0.1:1/test")
    return {"secret": SECRET, "adapter": adapter, "session": {"strategy": "database"}}


def _assert_503(response: t.Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["message"] == "The session store is unavailable. Try again shortly."
    assert "set-cookie" not in response.headers  # nobody is signed out


def _starlette_added(options: dict[str, t.Any]) -> Starlette:
    app = Starlette(routes=[Route("/public/session", session_view)])
    app.add_middleware(AuthMiddleware, options=options, matcher=["/dashboard/:path*"])
    return app


@pytest.mark.parametrize("kind", ["redis", "database"])
@pytest.mark.parametrize(
    ("front", "path"),
    [
        pytest.param("starlette", "/public/session", id="starlette-wrapped"),
        pytest.param("starlette-added", "/public/session", id="starlette-add_middleware"),
        pytest.param("fastapi", "/api/session", id="fastapi-ServerSession"),
        pytest.param("fastapi", "/api/session-by-hand", id="fastapi-by-hand"),
    ],
)
def test_get_server_session_answers_503_when_the_store_is_down(
    kind: str, front: str, path: str, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    options = _unreachable(kind)
    if front == "starlette":
        app = starlette_app(options=options)
    elif front == "starlette-added":
        app = _starlette_added(options)
    else:
        app = fastapi_app(options)
    test_client = TestClient(app, base_url="http://app.test", raise_server_exceptions=False)
    cookie = token if kind == "redis" else "a-database-session-token"
    test_client.cookies.set(COOKIE, cookie, domain="app.test")
    with caplog.at_level("ERROR", logger="flask_authguard"):
        _assert_503(test_client.get(path))
    assert "session store unavailable" in caplog.text and cookie not in caplog.text


@pytest.mark.parametrize("kind", ["redis", "database"])
def test_get_server_session_without_the_middleware_answers_503_too(kind: str, token: str) -> None:
    """No AuthMiddleware in front to send the guard's 503: Starlette's own HTTPException (503,
    the same message, Retry-After), never a 500."""
    options = _unreachable(kind)

    async def view(request: Request) -> JSONResponse:
        session = await get_server_session(request, None, options)
        return JSONResponse({"session": session})

    app = Starlette(routes=[Route("/s", view)])
    test_client = TestClient(app, base_url="http://app.test", raise_server_exceptions=False)
    cookie = token if kind == "redis" else "a-database-session-token"
    test_client.cookies.set(COOKIE, cookie, domain="app.test")
    response = test_client.get("/s")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.text == "The session store is unavailable. Try again shortly."


# ------------------------------------------------- WebSockets: the cross-site rule at the handshake

EVIL = "https://evil.example.com"
#: The test client's handshake names this host whatever the base URL: the app's own origin.
WS_OWN = "http://testserver"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"origin": EVIL}, id="other-origin"),
        pytest.param({"origin": EVIL, "sec-fetch-site": "cross-site"}, id="fetch-cross-site"),
        pytest.param({"origin": "null"}, id="opaque-origin"),
    ],
)
def test_a_cross_site_websocket_handshake_with_the_cookie_is_refused(
    token: str, headers: dict[str, str]
) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:
        with client(starlette_app()).websocket_connect(
            "/dashboard/ws", headers={"cookie": f"{COOKIE}={token}", **headers}
        ) as ws:
            ws.receive_json()
    assert refused.value.code == 1008


@pytest.mark.parametrize(
    ("headers", "options"),
    [
        pytest.param({"origin": WS_OWN}, OPTIONS, id="same-origin"),
        pytest.param(
            {"origin": "http://localhost:3000"},
            {**OPTIONS, "trusted_origins": ["http://localhost:3000"]},
            id="trusted",
        ),
        pytest.param({}, OPTIONS, id="no-origin"),
        pytest.param({"origin": EVIL}, {**OPTIONS, "cross_site_protection": False}, id="option-off"),
    ],
)
def test_an_allowed_websocket_handshake_is_accepted(
    token: str, headers: dict[str, str], options: dict[str, t.Any]
) -> None:
    with client(starlette_app(options=options)).websocket_connect(
        "/dashboard/ws", headers={"cookie": f"{COOKIE}={token}", **headers}
    ) as ws:
        assert ws.receive_json()["token"]["sub"] == "u1"


def test_a_cross_site_websocket_handshake_by_bearer_is_accepted(token: str) -> None:
    with client(starlette_app()).websocket_connect(
        "/dashboard/ws", headers={"authorization": f"Bearer {token}", "origin": EVIL}
    ) as ws:
        assert ws.receive_json()["token"]["sub"] == "u1"


@pytest.mark.parametrize(("origin", "signed_in"), [(EVIL, False), (WS_OWN, True)])
def test_get_server_session_in_a_websocket_follows_the_origin(
    token: str, origin: str, signed_in: bool
) -> None:
    # /public/ws is outside the matcher: the session read itself applies the rule
    with client(starlette_app()).websocket_connect(
        "/public/ws", headers={"cookie": f"{COOKIE}={token}", "origin": origin}
    ) as ws:
        session = ws.receive_json()["session"]
    assert (session is not None) is signed_in
    if signed_in:
        assert session["user"]["name"] == "Ann"


# ------------------------------------------------ the inner app routes on the path it was checked on


async def echo_scope(scope: t.Any, receive: t.Any, send: t.Any) -> None:
    """A bare ASGI app that shows what it would route on: ``path`` and ``raw_path``."""
    body = {"path": scope["path"], "raw_path": scope["raw_path"].decode("ascii")}
    await JSONResponse(body)(scope, receive, send)


@pytest.mark.parametrize(
    ("sent", "path", "raw_path"),
    [
        pytest.param("/public/..%2fdashboard/x", "/dashboard/x", "/dashboard/x", id="encoded-slash-dot-dot"),
        pytest.param("/public/%2e%2e/dashboard", "/dashboard", "/dashboard", id="encoded-dots"),
        pytest.param("/dashboard//x", "/dashboard/x", "/dashboard/x", id="double-slash"),
        pytest.param(
            "/dashboard/caf%C3%A9/../x%20y", "/dashboard/x y", "/dashboard/x%20y", id="escaped-kept"
        ),
        pytest.param("/dashboard/caf%C3%A9", "/dashboard/caf\u00e9", "/dashboard/caf%C3%A9", id="unchanged"),
        pytest.param("/dashboard/%61dmin", "/dashboard/admin", "/dashboard/admin", id="needless-escape"),
    ],
)
def test_the_inner_scope_carries_the_checked_path_in_path_and_raw_path(
    token: str, sent: str, path: str, raw_path: str
) -> None:
    from urllib.parse import unquote

    app = AuthMiddleware(echo_scope, OPTIONS, matcher=["/dashboard/:path*"])
    assert client(app).get(sent).status_code == 307  # the guard checked the normalised path
    seen = client(app, token).get(sent).json()
    assert seen == {"path": path, "raw_path": raw_path}
    assert unquote(seen["raw_path"]) == seen["path"]


def test_the_checked_raw_path_keeps_the_root_path(token: str) -> None:
    from support.asgi_driver import run_asgi
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path="/public/../dashboard", headers={"cookie": f"{COOKIE}={token}"}
    ).get_environ()
    environ.update(SCRIPT_NAME="/app", RAW_URI="/app/public/..%2fdashboard")  # mounted under /app
    app = AuthMiddleware(echo_scope, OPTIONS, matcher=["/dashboard/:path*"])
    chunks, status, _ = run_asgi(app, environ)
    assert status.startswith("200")
    assert json.loads(b"".join(chunks)) == {"path": "/app/dashboard", "raw_path": "/app/dashboard"}


def raw_request(
    app: t.Any, path: str, *, root_path: str = "", query: bytes = b"", cookie: str | None = None
) -> tuple[int, bytes]:
    """``GET path`` as a server sends it, with scope fields a test client cannot set (a root
    path the path lies outside, raw bytes in the query): the status and the body."""
    headers = [(b"host", b"app.test")] + ([(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else [])
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": root_path, "query_string": query,
        "headers": headers, "server": ("app.test", 80), "client": ("10.0.0.1", 5000),
    }  # fmt: skip
    sent: list[t.Any] = []

    async def receive() -> dict[str, t.Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: t.Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_root_path_applies_only_at_a_segment_boundary(token: str) -> None:
    """Starlette's rule: ``/apiary/x`` under the root ``/api`` is ``/apiary/x``, checked and
    routed whole (it was cut to ``/ary/x``, and the app served another route)."""
    app = AuthMiddleware(echo_scope, OPTIONS, matcher=["/ary/:path*"])
    status, body = raw_request(app, "/apiary/x", root_path="/api")
    assert (status, json.loads(body)) == (200, {"path": "/apiary/x", "raw_path": "/apiary/x"})
    assert raw_request(app, "/api/ary/x", root_path="/api")[0] == 307  # /ary/x under the root
    status, body = raw_request(app, "/api/ary/x", root_path="/api", cookie=token)
    assert (status, json.loads(body)) == (200, {"path": "/api/ary/x", "raw_path": "/api/ary/x"})


@pytest.mark.parametrize("path", ["//api/ary/x", "/x/../api/ary/x", "/./api/ary/x"])
def test_a_path_that_resolves_under_the_root_is_checked_under_it(token: str, path: str) -> None:
    """The root is decided on the resolved path: ``//api/ary/x`` was checked whole as
    ``/api/ary/x`` (outside the matcher), then routed under the root as the protected ``/ary/x``."""
    app = AuthMiddleware(echo_scope, OPTIONS, matcher=["/ary/:path*"])
    assert raw_request(app, path, root_path="/api")[0] == 307
    status, body = raw_request(app, path, root_path="/api", cookie=token)
    assert (status, json.loads(body)["path"]) == (200, "/api/ary/x")


@pytest.mark.parametrize("route", ["signin", "session", "csrf", "providers"])
def test_a_query_string_that_is_not_utf8_is_a_400_on_the_auth_routes(route: str) -> None:
    """A raw ``0xFF`` in the query (Daphne and HTTP/2 servers hand the bytes on) was a 500 from
    every ``/api/auth/*`` route; it is a 400 (tests/endpoints/test_handler.py, for WSGI)."""
    from flask_authguard import CredentialsProvider

    options = {**OPTIONS, "trust_host": True, "providers": [CredentialsProvider(authorize=lambda **kw: None)]}
    app = AuthMiddleware(Starlette(), options)
    assert raw_request(app, f"/api/auth/{route}", query=b"callbackUrl=/\xff")[0] == 400


@pytest.mark.parametrize("inner_kwargs", [{}, {"middleware": lambda request: None}], ids=["partial", "whole"])
def test_a_guarded_app_mounted_in_a_guarded_app_checks_its_own_paths(
    token: str, inner_kwargs: dict[str, t.Any]
) -> None:
    """Each guard reads the request under its own root: the mounted guard took the environ the
    outer one left in the scope (``/sub/admin``, no root), so its ``/admin`` matched nothing and
    an anonymous request got in, whenever it read the whole request (an inner middleware,
    ``authorized``, database sessions)."""
    from starlette.routing import Mount

    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"token": request.state.auth_token})

    mounted = AuthMiddleware(
        Starlette(routes=[Route("/admin", admin)]), OPTIONS, matcher=["/admin"], **inner_kwargs
    )
    outer = AuthMiddleware(
        Starlette(routes=[Mount("/sub", app=mounted)]), OPTIONS, matcher=["/outer/:path*"], **inner_kwargs
    )
    assert client(outer).get("/sub/admin").status_code == 307
    assert client(outer, token).get("/sub/admin").json()["token"]["sub"] == "u1"


def test_a_guard_behind_another_keeps_its_token_where_it_does_not_check(token: str) -> None:
    """The guard in front checked ``/dashboard`` and put the token in ``request.state``; one
    behind it that does not check the path left ``None`` there."""
    site = Starlette(routes=[Route("/dashboard", whoami)])
    behind = AuthMiddleware(site, {"secret": "another secret, another guard"}, matcher=["/other"])
    app = AuthMiddleware(behind, OPTIONS, matcher=["/dashboard/:path*"])
    assert client(app, token).get("/dashboard").json()["token"]["sub"] == "u1"


@pytest.mark.filterwarnings("ignore:The `root_path` parameter is deprecated")  # still honoured
def test_a_fastapi_root_path_is_checked_as_fastapi_routes_it(token: str) -> None:
    """``FastAPI(root_path="/api")`` wrapped whole, or behind another middleware: FastAPI sets
    the scope's root after the check, so ``/api/dashboard`` was checked whole (unprotected) and
    served as ``/dashboard``."""
    from starlette.middleware.cors import CORSMiddleware

    inner = FastAPI(root_path="/api")

    @inner.get("/dashboard")
    async def dashboard(request: FastAPIRequest) -> t.Any:
        return {"token": request.state.auth_token}

    for app in (
        AuthMiddleware(inner, OPTIONS, matcher=["/dashboard/:path*"]),
        AuthMiddleware(CORSMiddleware(inner, allow_origins=["*"]), OPTIONS, matcher=["/dashboard/:path*"]),
    ):
        for path in ("/api/dashboard", "//api/dashboard", "/x/../api/dashboard"):
            assert raw_request(app, path)[0] == 307, path
        assert client(app, token).get("/api/dashboard").json()["token"]["sub"] == "u1"


# ------------------------------------------------------------------- the inner middleware, last


@pytest.mark.parametrize("declared", ["route", "mounted"])
def test_the_inner_middleware_runs_after_a_stricter_require_auth(
    token: str, admin_token: str, declared: str
) -> None:
    """Site-wide protection lets any signed-in user in, the route's ``require_auth`` only admins:
    the inner middleware runs (and may answer) only once the route's check let the request
    through, as in Flask: its answer never stands in for a check."""
    from werkzeug.wrappers import Response

    ran: list[str] = []

    def inner(request: t.Any) -> t.Any:
        ran.append(request.path)
        return Response("the inner middleware's answer", status=418)

    admins = Depends(require_auth(authorized=_is_admin))
    app = FastAPI()
    app.add_middleware(AuthMiddleware, options=OPTIONS, middleware=inner)  # every path, any user
    if declared == "route":
        app.get("/admin/page", dependencies=[admins])(lambda: {"admin": True})
    else:
        sub = FastAPI()
        sub.get("/page", dependencies=[admins])(lambda: {"admin": True})
        app.mount("/admin", sub)
    app.get("/open")(lambda: {"open": True})

    refused = client(app, token).get("/admin/page")
    assert refused.status_code == 403 and ran == []  # refused by the route: no answer of its own
    assert client(app, token).get("/open").status_code == 418  # no later check: it runs first
    assert ran == ["/open"]
    admitted = client(app, admin_token).get("/admin/page")
    assert admitted.status_code == 418 and ran == ["/open", "/admin/page"]  # once, after the check


def test_require_auth_in_a_mounted_app_answers_the_refusal(token: str, admin_token: str) -> None:
    """A FastAPI app mounted under the guarded one has no handler of its own for the refusal:
    the middleware gives it one, so its ``require_auth()`` answers as the top app's does (it
    used to answer 500)."""
    app = FastAPI()
    app.add_middleware(AuthMiddleware, options=OPTIONS, matcher=[])  # nothing site-wide
    sub = FastAPI()
    sub.get("/page", dependencies=[Depends(require_auth(authorized=_is_admin))])(lambda: {"admin": True})
    app.mount("/admin", sub)
    assert client(app).get("/admin/page").status_code == 307
    api = client(app).get("/admin/page", headers={"accept": "application/json"})
    assert api.status_code == 401 and api.json()["error"] == "Unauthorized"
    assert client(app, token).get("/admin/page").status_code == 403
    assert client(app, admin_token).get("/admin/page").json() == {"admin": True}


def test_the_inner_middleware_is_never_left_out(token: str) -> None:
    """Where the lookup cannot be sure (a router FastAPI includes whole, an overridden
    dependency, a plain route beside checked ones), the inner middleware runs at the middleware:
    perhaps before a stricter check, but never not at all."""
    from fastapi import APIRouter
    from starlette.responses import PlainTextResponse as Plain
    from werkzeug.wrappers import Response

    ran: list[str] = []

    def inner(request: t.Any) -> t.Any:
        ran.append(request.path)
        return Response("the inner middleware's answer", status=418)

    check = Depends(require_auth())
    app = FastAPI()
    app.add_middleware(AuthMiddleware, options=OPTIONS, middleware=inner)
    items = APIRouter()
    items.get("/{item_id}")(lambda item_id: {"item": item_id})  # public
    items.get("/{a}/{b}", dependencies=[check])(lambda a, b: {"a": a})
    app.include_router(items, prefix="/items")
    admin = APIRouter()
    admin.add_route("/raw", lambda request: Plain("raw"))  # no dependency applies to it
    app.include_router(admin, prefix="/admin", dependencies=[check])

    async def who(claims: t.Any = check) -> t.Any:
        return claims

    who_depends = Depends(who)

    @app.get("/me")
    async def me(claims: t.Any = who_depends) -> t.Any:
        return {"sub": claims["sub"]}

    app.dependency_overrides[who] = lambda: {"sub": "fixed"}  # require_auth no longer runs
    signed_in = client(app, token)
    for path in ("/items/42", "/items/42/x", "/admin/raw", "/me"):
        assert signed_in.get(path).status_code == 418, path
    assert ran == ["/items/42", "/items/42/x", "/admin/raw", "/me"]
