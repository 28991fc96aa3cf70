"""One guard decision (issue 29.2): every front end runs the same steps, the inner middleware
included, through :meth:`AuthCore.check`; one helper writes the private-cache headers."""

from __future__ import annotations

import typing as t

import pytest

pytest.importorskip("starlette", reason="the ASGI tests need starlette: pip install -e '.[test]'")

from conftest import SECRET, FrozenClock  # noqa: E402
from fastapi import Depends, FastAPI  # noqa: E402
from flask import Flask  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from werkzeug.test import Client  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from flask_authguard import AuthGuard, auth_required, with_auth  # noqa: E402
from flask_authguard.asgi import AuthMiddleware, require_auth  # noqa: E402
from flask_authguard.guard.caching import cache_headers  # noqa: E402

COOKIE = "next-auth.session-token"


def _inner(seen: list[str]) -> t.Callable[[Request], Response | None]:
    def inner(request: Request) -> Response | None:
        seen.append(request.path)
        if request.args.get("stop"):
            return Response("stopped by the inner middleware", status=418)
        return None

    return inner


@pytest.fixture
def token(frozen_clock: FrozenClock, make_token: t.Callable[..., str]) -> str:
    return make_token(sub="u1", name="Ann")


def test_asgi_require_auth_runs_the_inner_middleware(token: str) -> None:
    """As Flask's ``@auth_required`` does: a route outside the middleware's matcher, protected by
    the ``require_auth`` dependency, runs the inner middleware for an authorized request."""
    seen: list[str] = []
    app = FastAPI()

    @app.get("/api/me", dependencies=[Depends(require_auth())])
    def me() -> dict[str, bool]:
        return {"ok": True}

    guarded = AuthMiddleware(app, {"secret": SECRET}, matcher=["/private/:path*"], middleware=_inner(seen))
    client = TestClient(guarded)
    client.cookies.set(COOKIE, token)
    assert client.get("/api/me").json() == {"ok": True}
    assert seen == ["/api/me"]
    stopped = client.get("/api/me", params={"stop": "1"})
    assert stopped.status_code == 418 and stopped.text == "stopped by the inner middleware"


def test_flask_auth_required_runs_the_inner_middleware_too(token: str) -> None:
    seen: list[str] = []
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=["/private/:path*"], middleware=_inner(seen))

    @app.get("/api/me")
    @auth_required
    def me() -> str:
        return "ok"

    client = app.test_client()
    client.set_cookie(COOKIE, token)
    assert client.get("/api/me").get_data() == b"ok"
    assert client.get("/api/me?stop=1").status_code == 418
    assert seen == ["/api/me", "/api/me"]


def test_with_auth_runs_the_inner_middleware_once(token: str) -> None:
    seen: list[str] = []
    app = with_auth(lambda e, s: Response("page")(e, s), _inner(seen), {"secret": SECRET})
    client = Client(app)
    client.set_cookie(COOKIE, token)
    assert client.get("/p").status_code == 200
    assert client.get("/p?stop=1").status_code == 418
    assert seen == ["/p", "/p"]


@pytest.mark.parametrize(
    ("headers", "private", "expected"),
    [
        ([], True, [("Vary", "Cookie"), ("Cache-Control", "private")]),
        ([], False, [("Vary", "Cookie")]),
        ([("vary", "cookie")], False, [("Vary", "cookie")]),
        ([("Vary", "Origin")], True, [("Vary", "Origin, Cookie"), ("Cache-Control", "private")]),
        ([("Cache-Control", "no-store")], True, [("Cache-Control", "no-store"), ("Vary", "Cookie")]),
        ([("Vary", "*")], False, [("Vary", "*")]),
    ],
)
def test_one_helper_writes_vary_and_cache_control(
    headers: list[tuple[str, str]], private: bool, expected: list[tuple[str, str]]
) -> None:
    assert cache_headers(headers, private=private) == expected
