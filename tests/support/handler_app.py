"""The test app of the endpoint suites (``tests/endpoints/test_handler.py`` and the suites built on it):
a Flask, plain WSGI, Starlette or FastAPI app, whichever ``app_kind`` the running test has, and the
client and cookie helpers that drive it."""

from __future__ import annotations

import asyncio
import functools
import threading
import typing as t
from urllib.parse import urlsplit

from conftest import SECRET
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client as WerkzeugClient
from werkzeug.wrappers import Response

from flask_authguard import (
    AuthEndpoints,
    AuthGuard,
    CredentialsProvider,
    with_auth,
)

BASE = "http://app.example.com"
V4 = "next-auth.session-token"
FIELDS = {
    "username": {"label": "Username", "placeholder": "ada"},
    "password": {"label": "Password", "type": "password"},
}
ADA = {
    "id": 1,
    "name": "Ada",
    "email": "ada@example.com",
    "image": "https://example.com/ada.png",
    "role": "admin",
}


def authorize(*, credentials: dict[str, str], request: t.Any) -> dict[str, t.Any] | None:
    if credentials == {"username": "ada", "password": "pw"}:
        return dict(ADA)
    return None


#: The kind of app :func:`make_app` builds in the running test: one of :data:`APP_KINDS`.
CURRENT_KIND = ["flask"]
#: Flask with AuthGuard, plain WSGI with with_auth, and the ASGI layer on Starlette and FastAPI
#: (driven through a2wsgi, so the same werkzeug test client speaks to all four).
APP_KINDS = ("flask", "wsgi", "starlette", "fastapi")


def _site(environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
    """The plain WSGI app: a protected ``/private``, nothing else."""
    if environ.get("PATH_INFO") == "/private":
        return Response("private")(environ, start_response)
    return Response("not found", status=404)(environ, start_response)


def make_app(
    *,
    providers: t.Sequence[t.Any] | None = None,
    template_folder: str | None = None,
    matcher: t.Sequence[str] = ("/private",),
    **options: t.Any,
) -> t.Any:
    """The test app, a Flask app or a plain WSGI one (``app_kind``), protecting ``/private``
    (the guard's ``matcher``: ``["/private"]`` unless given)."""
    opts: dict[str, t.Any] = {
        "secret": SECRET,
        "url": BASE,
        "providers": [CredentialsProvider(authorize=authorize, credentials=FIELDS)]
        if providers is None
        else providers,
    }
    opts.update(options)
    if CURRENT_KIND[0] in ("starlette", "fastapi"):
        assert template_folder is None, "template folders are Flask's: mark the test flask_only"
        return asgi_site(CURRENT_KIND[0], opts, list(matcher))
    if CURRENT_KIND[0] == "wsgi":
        assert template_folder is None, "template folders are Flask's: mark the test flask_only"
        if not opts["providers"]:
            # with_auth serves the routes only with providers: mount them beside the app instead.
            base = opts.get("base_path") or "/api/auth"
            mounted = DispatcherMiddleware(_site, {base: AuthEndpoints(opts)})
            return with_auth(mounted, options=opts, matcher=list(matcher))
        return with_auth(_site, options=opts, matcher=list(matcher))
    app = Flask(__name__, template_folder=template_folder) if template_folder else Flask(__name__)
    AuthGuard(app, opts, matcher=list(matcher))

    @app.get("/private")
    def private() -> str:
        return "private"

    return app


def asgi_site(kind: str, opts: dict[str, t.Any], matcher: t.Sequence[str] = ("/private",)) -> t.Any:
    """The ASGI test app (Starlette or FastAPI behind AuthMiddleware) as a WSGI app."""
    from a2wsgi import ASGIMiddleware
    from fastapi import FastAPI
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    from flask_authguard.asgi import AsgiEndpoints, AuthMiddleware

    async def private(request: t.Any) -> PlainTextResponse:
        return PlainTextResponse("private")

    routes: list[t.Any] = [Route("/private", private)]
    if not opts["providers"]:  # the middleware serves the routes only with providers: mount them
        routes.append(Mount(opts.get("base_path") or "/api/auth", app=AsgiEndpoints(opts)))
    if kind == "starlette":
        asgi: t.Any = AuthMiddleware(Starlette(routes=routes), opts, matcher=list(matcher))
    else:
        asgi = FastAPI()
        asgi.router.routes.extend(routes)
        asgi.add_middleware(AuthMiddleware, options=opts, matcher=list(matcher))
        # what a server's start-up (lifespan) does first: FastAPI builds its middleware then
        asgi.middleware_stack = asgi.build_middleware_stack()
    return ASGIMiddleware(asgi, loop=asgi_loop())


@functools.lru_cache(maxsize=1)
def asgi_loop() -> asyncio.AbstractEventLoop:
    """One event loop thread for every ASGI test app (a2wsgi starts one per app otherwise)."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return loop


class _OneOrigin:
    """Requests and ``set_cookie`` default to the client's origin; each response is read whole
    before ``open`` returns (``buffered``), so an ASGI app behind a2wsgi always gets to finish
    rather than wait on a reader that never comes."""

    base: str
    host: str

    def open(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if args and isinstance(args[0], str):
            kwargs.setdefault("base_url", self.base)
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)

    def set_cookie(self, key: str, value: str = "", **kwargs: t.Any) -> None:
        kwargs.setdefault("domain", self.host)
        super().set_cookie(key, value, **kwargs)

    def delete_cookie(self, key: str, **kwargs: t.Any) -> None:
        kwargs.setdefault("domain", self.host)
        super().delete_cookie(key, **kwargs)  # type: ignore[misc]


class Client(_OneOrigin, FlaskClient):
    """A Flask test client for one origin."""

    def __init__(self, *args: t.Any, base_url: str = BASE, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = base_url
        self.host = t.cast(str, urlsplit(base_url).hostname)


class WsgiClient(_OneOrigin, WerkzeugClient):
    """A werkzeug test client for one origin, for the plain WSGI app."""

    def __init__(self, app: t.Any, base_url: str = BASE) -> None:
        super().__init__(app)
        self.base = base_url
        self.host = t.cast(str, urlsplit(base_url).hostname)


def client_of(app: t.Any, base_url: str = BASE) -> t.Any:
    if not isinstance(app, Flask):
        return WsgiClient(app, base_url)
    app.test_client_class = Client
    return app.test_client(base_url=base_url)


def set_cookies(response: t.Any) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def cookie_names(response: t.Any) -> list[str]:
    return [h.split("=", 1)[0] for h in set_cookies(response)]


def cookie_header(response: t.Any, name: str) -> str | None:
    return next((h for h in set_cookies(response) if h.startswith(name + "=")), None)


def cookie_value(response: t.Any, name: str) -> str | None:
    header = cookie_header(response, name)
    return None if header is None else header.split(";", 1)[0].split("=", 1)[1]


def csrf_of(client: t.Any) -> str:
    return t.cast(str, client.get("/api/auth/csrf").get_json()["csrfToken"])


def sign_in(client: t.Any, username: str = "ada", password: str = "pw", **extra: t.Any) -> t.Any:
    data = {"csrfToken": csrf_of(client), "username": username, "password": password, **extra}
    return client.post("/api/auth/callback/credentials", data=data)
