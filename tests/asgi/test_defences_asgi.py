"""The defences through the ASGI layer: ``AuthMiddleware`` shares ``AuthCore`` (the cross-site
refusal) and the WSGI endpoints (throttling, sign-out everywhere); a Redis store makes JWT reads
blocking, so they leave the event loop."""

from __future__ import annotations

import typing as t

import pytest

pytest.importorskip("starlette", reason="the ASGI tests need starlette: pip install -e '.[test]'")

from conftest import SECRET  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from flask_authguard import CredentialsProvider, encode  # noqa: E402
from flask_authguard.asgi import AuthMiddleware  # noqa: E402
from flask_authguard.asgi.guard import runs_inline  # noqa: E402
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.sessions import strategy_of  # noqa: E402
from flask_authguard.wsgi.middleware import AuthCore  # noqa: E402

BASE = "http://testserver"
COOKIE = "next-auth.session-token"
FIELDS = {"username": {"label": "Username"}, "password": {"label": "Password", "type": "password"}}


def authorize(*, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any] | None:
    if credentials.get("username") == "ada" and credentials.get("password") == "pw":
        return {"id": "1", "name": "Ada"}
    return None


async def notes(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.auth_token["sub"]})


def make_client(**options: t.Any) -> TestClient:
    opts: dict[str, t.Any] = {
        "secret": SECRET,
        "providers": [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
        "throttle": {"per_identifier": "2/minute", "per_address": "100/minute"},
        "url": BASE,  # sign-in redirects need a trusted origin
        **options,
    }
    app = Starlette(routes=[Route("/api/notes", notes, methods=["GET", "POST"])])
    return TestClient(AuthMiddleware(app, options=opts), base_url=BASE)


def csrf_of(client: TestClient) -> str:
    return t.cast(str, client.get("/api/auth/csrf").json()["csrfToken"])


def attempt(client: TestClient, password: str = "wrong", **extra: str) -> t.Any:
    data = {"csrfToken": csrf_of(client), "username": "ada", "password": password, **extra}
    return client.post("/api/auth/callback/credentials", data=data, follow_redirects=False)


def test_asgi_refuses_a_cross_site_cookie_post() -> None:
    client = make_client()
    client.cookies.set(COOKIE, encode(token={"sub": "1"}, secret=SECRET))
    refused = client.post("/api/notes", headers={"Origin": "https://evil.example.com"})
    assert refused.status_code == 403 and refused.json()["error"] == "CrossSiteRequest"
    assert "Cookie" in refused.headers["Vary"]  # kept out of shared caches, as every checked answer
    assert client.post("/api/notes", headers={"Origin": BASE}).json() == {"sub": "1"}


def test_asgi_sign_in_is_throttled_through_the_bridged_endpoints() -> None:
    client = make_client()
    assert [attempt(client, json="true").status_code for _ in range(2)] == [401, 401]
    throttled = attempt(client, json="true")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]
    assert "error=TooManyRequests" in throttled.json()["url"]


def test_asgi_sign_out_everywhere() -> None:
    # The real clock (httpx drops cookies that expired by it); one app, so one memory store.
    phone = make_client()
    laptop = TestClient(phone.app, base_url=BASE)
    for client in (phone, laptop):
        assert attempt(client, password="pw").status_code == 302
    assert laptop.get("/api/notes").json() == {"sub": "1"}
    data = {"csrfToken": csrf_of(phone), "everywhere": "true"}
    assert phone.post("/api/auth/signout", data=data, follow_redirects=False).status_code == 302
    assert laptop.get("/api/notes", headers={"Accept": "application/json"}).status_code == 401


@pytest.mark.parametrize(("store", "blocking"), [("memory://", False), ("redis://127.0.0.1:6379/0", True)])
def test_jwt_reads_block_with_a_redis_store(store: str, blocking: bool) -> None:
    config = resolve_options({"secret": SECRET, "store": store})
    assert strategy_of(config).blocking is blocking
    assert runs_inline(AuthCore(config)) is not blocking
