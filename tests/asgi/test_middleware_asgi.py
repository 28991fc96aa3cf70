"""``AuthMiddleware`` (``asgi/middleware.py``) around apps with no exception handlers of their own,
and the ``/api/auth/*`` routes it bridges to: served on the path it checked, as ``with_auth`` does."""

from __future__ import annotations

import asyncio
import json
import typing as t

import pytest

pytest.importorskip("starlette", reason="the ASGI tests need starlette: pip install -e '.[test]'")

from conftest import SECRET, FrozenClock  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route, Router, WebSocketRoute  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocket, WebSocketDisconnect  # noqa: E402
from support.asgi_driver import run_asgi  # noqa: E402
from werkzeug.test import EnvironBuilder, run_wsgi_app  # noqa: E402

from flask_authguard import CredentialsProvider, with_auth  # noqa: E402
from flask_authguard.asgi import AuthMiddleware, require_auth  # noqa: E402
from flask_authguard.asgi.middleware import POLICY_VIOLATION  # noqa: E402

COOKIE = "next-auth.session-token"


# ------------------------------------------- require_auth() refusing a WebSocket, no handlers


async def page(request: Request) -> PlainTextResponse:
    await require_auth()(request)
    return PlainTextResponse("ok")


async def checked_socket(websocket: WebSocket) -> None:
    token = await require_auth()(websocket)  # at the handshake, before accepting
    await websocket.accept()
    await websocket.send_json({"sub": token["sub"]})
    await websocket.close()


async def late_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await require_auth()(websocket)  # after accepting: too late to refuse the handshake


def router_app() -> AuthMiddleware:
    """A plain Router (no exception handlers, unlike a Starlette app), nothing matched."""
    routes = [
        Route("/page", page),
        WebSocketRoute("/ws", checked_socket),
        WebSocketRoute("/late", late_socket),
    ]
    return AuthMiddleware(Router(routes=routes), {"secret": SECRET}, matcher=[])


def test_require_auth_refusing_a_websocket_handshake_closes_it_with_1008() -> None:
    test_client = TestClient(router_app(), base_url="http://app.test")
    assert test_client.get("/page", follow_redirects=False).status_code == 307  # HTTP, as before
    with pytest.raises(WebSocketDisconnect) as refused:
        with test_client.websocket_connect("/ws") as ws:
            ws.receive_json()
    assert refused.value.code == POLICY_VIOLATION == 1008


def test_require_auth_lets_a_signed_in_websocket_handshake_through(
    frozen_clock: FrozenClock, make_token: t.Callable[..., str]
) -> None:
    cookie = f"{COOKIE}={make_token(sub='u1')}"
    with TestClient(router_app()).websocket_connect("/ws", headers={"cookie": cookie}) as ws:
        assert ws.receive_json() == {"sub": "u1"}


def _websocket(app: t.Any, path: str) -> tuple[list[dict[str, t.Any]], BaseException | None]:
    """The messages ``app`` sends for a WebSocket handshake on ``path``, and what it raised."""
    sent: list[dict[str, t.Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, t.Any]:
        if incoming:
            return incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, t.Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "scheme": "ws",
        "server": ("app.test", 80),
        "headers": [(b"host", b"app.test")],
        "subprotocols": [],
    }
    try:
        asyncio.run(app(scope, receive, send))
    except Exception as exc:
        return sent, exc
    return sent, None


def test_a_refusal_before_accept_is_a_close_not_an_exception() -> None:
    sent, raised = _websocket(router_app(), "/ws")
    assert raised is None
    assert sent == [{"type": "websocket.close", "code": POLICY_VIOLATION}]


def test_a_refusal_after_accept_still_raises() -> None:
    """Once accepted the handshake cannot be refused: the error is the app's, as an HTTP
    refusal after the response started."""
    from flask_authguard.asgi.middleware import AuthRefusal

    sent, raised = _websocket(router_app(), "/late")
    assert isinstance(raised, AuthRefusal)
    assert [message["type"] for message in sent] == ["websocket.accept"]


# ----------------------------------------------- the auth routes on the path that was checked


def _credentials(**_: t.Any) -> None:
    return None


OPTIONS = {
    "secret": SECRET,
    "url": "http://app.test",
    "providers": [CredentialsProvider(authorize=_credentials, credentials={"username": {"label": "U"}})],
}


async def unreachable(scope: t.Any, receive: t.Any, send: t.Any) -> None:
    raise AssertionError(f"the app is not reached: {scope['path']}")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/auth/csrf", id="plain"),
        pytest.param("/api//auth/csrf", id="double-slash"),
        pytest.param("/x/../api/auth/csrf", id="dot-dot"),
        pytest.param("/api/auth/./providers", id="dot"),
        pytest.param("/api/auth//providers", id="double-slash-after-base"),
        pytest.param("/api/auth/%2e/providers", id="encoded-dot"),
    ],
)
def test_the_auth_routes_answer_as_with_auth_on_the_normalised_path(path: str) -> None:
    # one request line for both front ends, as sent (an HTTP client would resolve the dots)
    def environ() -> dict[str, t.Any]:
        return EnvironBuilder(path=path, base_url="http://app.test").get_environ()

    wsgi_body, wsgi_status, wsgi_headers = run_wsgi_app(
        with_auth(lambda environ, start_response: [], OPTIONS), environ(), buffered=True
    )
    asgi_body, asgi_status, asgi_headers = run_asgi(AuthMiddleware(unreachable, OPTIONS), environ())
    assert wsgi_status.startswith("200")
    assert asgi_status.split()[0] == wsgi_status.split()[0]
    assert asgi_headers["content-type"] == wsgi_headers["content-type"]
    if path.endswith("providers"):
        assert json.loads(b"".join(asgi_body)) == json.loads(b"".join(wsgi_body))
