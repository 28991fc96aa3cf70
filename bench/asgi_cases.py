"""The ASGI rows of ``bench/run.py``: ``AuthMiddleware`` over a bare Starlette route, side by side
with fastapi-nextauth-jwt decoding the same token in a Starlette middleware.

Every row calls the app with a prepared ``http`` scope on one event loop, so what the loop and
Starlette cost is in the bare row too and the difference is the guard's. The requests are timed
in batches of :data:`BATCH`, awaited one after the other inside one ``run_until_complete``, as
a server's loop runs them: starting and stopping the loop for every request cost more than the
request and inflated the differences between rows.
"""

from __future__ import annotations

import asyncio
import typing as t
import warnings

from bench import apps
from bench.rows import Case, Context, Skip, Timed

ASGI = "ASGI: Starlette apps called directly with an http scope (one event loop)"

_LOOP = asyncio.new_event_loop()
HELLO = ("hello " + apps.CLAIMS["name"]).encode()


def _scope(cookie: str | None) -> dict[str, t.Any]:
    headers = [(b"host", b"localhost:3000"), (b"accept", b"text/html")]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": apps.PROTECTED,
        "raw_path": apps.PROTECTED.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("localhost", 3000),
        "client": ("127.0.0.1", 50000),
    }


async def _receive() -> dict[str, t.Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _caller(app: t.Any, scope: dict[str, t.Any], status: int, body: bytes | None) -> Timed:
    """Check one request answers as the row claims, then return the timed caller."""
    sent: list[dict[str, t.Any]] = []

    async def record(message: dict[str, t.Any]) -> None:
        sent.append(message)

    _LOOP.run_until_complete(app(dict(scope), _receive, record))
    got = next(m["status"] for m in sent if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if got != status or (body is not None and text != body):
        raise RuntimeError(f"expected {status} {body!r}, got {got} {text[:200]!r}")

    async def ignore(message: dict[str, t.Any]) -> None:
        return None

    return Batched(app, scope, ignore)


#: Requests per timed call of an ASGI row.
BATCH = 20


class Batched:
    """A timed caller that awaits :data:`BATCH` requests in one run of the loop (``batch``
    tells the timing how many requests one call made)."""

    batch = BATCH

    def __init__(self, app: t.Any, scope: dict[str, t.Any], send: t.Any) -> None:
        self.app, self.scope, self.send = app, scope, send

    async def _many(self) -> None:
        app, scope, send = self.app, self.scope, self.send
        for _ in range(BATCH):
            await app(dict(scope), _receive, send)

    def __call__(self) -> None:
        _LOOP.run_until_complete(self._many())


def _starlette(route: t.Callable[..., t.Any]) -> t.Any:
    try:
        from starlette.applications import Starlette
        from starlette.routing import Route
    except ImportError:
        raise Skip("not installed: starlette (pip install -e '.[asgi]')") from None
    return Starlette(routes=[Route(apps.PROTECTED, route)])


async def _hello_state(request: t.Any) -> t.Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("hello " + request.state.auth_token["name"])


async def _hello(request: t.Any) -> t.Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("hello")


def _guarded(ctx: Context, cookie: str | None, status: int, body: bytes | None) -> Timed:
    from flask_authguard.asgi import AuthMiddleware

    app = AuthMiddleware(_starlette(_hello_state), {"secret": apps.SECRET}, matcher=[apps.PROTECTED])
    return _caller(app, _scope(cookie), status, body)


def _nextauth_jwt(ctx: Context) -> Timed:
    """fastapi-nextauth-jwt's ``NextAuthJWTv4`` in a pure ASGI middleware in front of the route,
    putting the claims where the route reads them."""
    try:
        from fastapi_nextauth_jwt import NextAuthJWTv4
        from fastapi_nextauth_jwt.exceptions import NextAuthJWTException
    except ImportError:
        raise Skip("not installed: fastapi-nextauth-jwt") from None
    from starlette.requests import Request
    from starlette.responses import RedirectResponse

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoder = NextAuthJWTv4(secret=apps.SECRET, secure_cookie=False, csrf_prevention_enabled=False)
    inner = _starlette(_hello_state)

    async def middleware(scope: t.Any, receive: t.Any, send: t.Any) -> None:
        try:
            claims = decoder(Request(scope))
        except NextAuthJWTException:
            await RedirectResponse("/api/auth/signin", 307)(scope, receive, send)
            return
        scope.setdefault("state", {})["auth_token"] = claims
        await inner(scope, receive, send)

    return _caller(middleware, _scope(ctx.cookie), 200, HELLO)


ASGI_CASES: list[Case] = [
    Case(
        "starlette_bare",
        ASGI,
        "Bare Starlette route (no auth)",
        None,
        lambda ctx: _caller(_starlette(_hello), _scope(ctx.cookie), 200, b"hello"),
    ),
    Case(
        "asgi_valid",
        ASGI,
        "AuthMiddleware, valid cookie (authorized, request.state.auth_token)",
        "starlette_bare",
        lambda ctx: _guarded(ctx, ctx.cookie, 200, HELLO),
    ),
    Case(
        "asgi_no_cookie",
        ASGI,
        "AuthMiddleware, no session cookie (307 to sign-in)",
        "starlette_bare",
        lambda ctx: _guarded(ctx, apps.NOISE_COOKIES, 307, None),
    ),
    Case(
        "asgi_fastapi_nextauth_jwt",
        ASGI,
        "fastapi-nextauth-jwt NextAuthJWTv4 in an ASGI middleware (same token)",
        "starlette_bare",
        _nextauth_jwt,
    ),
]
