"""The test app of the second-factor suites: ``/private`` (signed in) and ``/mfa`` (signed in with
the second factor) on Flask (``@auth_required(mfa=True)``), plain WSGI (``with_auth(...,
mfa=True)``), Starlette (``await require_auth(mfa=True)(request)``) and FastAPI
(``Depends(require_auth(mfa=True))``), with JWT sessions (records through the ``load``/``save``
callbacks) or database sessions (records in the adapter's ``authguard_two_factor`` table)."""

from __future__ import annotations

import html
import re
import typing as t

import pyotp
from conftest import SECRET
from flask import Flask
from werkzeug.wrappers import Response

from flask_authguard import AuthGuard, CredentialsProvider, auth_required, with_auth
from support.handler_app import BASE, FIELDS, asgi_loop, csrf_of

#: Every front end, and both session strategies.
KINDS = ("flask", "wsgi", "starlette", "fastapi")
STRATEGIES = ("jwt", "database")
ADA = {"id": "1", "name": "Ada", "email": "ada@example.com"}


def authorize(*, credentials: dict[str, str], request: t.Any) -> dict[str, t.Any] | None:
    if credentials == {"username": "ada", "password": "pw"}:
        return dict(ADA)
    return None


class Records:
    """``two_factor.load`` / ``two_factor.save`` over a dict: an app without an adapter."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, t.Any]] = {}

    def load(self, *, user_id: str) -> dict[str, t.Any] | None:
        return self.rows.get(user_id)

    def save(self, *, user_id: str, record: dict[str, t.Any] | None, previous: t.Any) -> bool:
        if self.rows.get(user_id) != previous:
            return False
        if record is None:
            self.rows.pop(user_id, None)
        else:
            self.rows[user_id] = record
        return True


def options(strategy: str, **extra: t.Any) -> tuple[dict[str, t.Any], t.Any]:
    """The app's options, and where the records live (the adapter or a :class:`Records`)."""
    opts: dict[str, t.Any] = {
        "secret": SECRET,
        "url": BASE,
        "providers": [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
    }
    if strategy == "database":
        from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

        adapter = SQLAlchemyAdapter("sqlite://", create_tables=True)
        adapter.create_user({"name": "Ada", "email": "ada@example.com"})  # id 1
        opts.update(adapter=adapter, two_factor=True)
        store: t.Any = adapter
    else:
        store = Records()
        opts["two_factor"] = {"load": store.load, "save": store.save}
    opts.update(extra)
    return opts, store


def make_site(kind: str, opts: dict[str, t.Any], middleware: t.Any = None) -> t.Any:
    """The app of ``kind`` with ``opts``, as a WSGI app; ``middleware``: the guard's inner
    middleware (on the ``/mfa`` check)."""
    if kind == "flask":
        app = Flask(__name__)
        AuthGuard(app, opts, matcher=["/private"], middleware=middleware)

        @app.get("/private")
        def private() -> str:
            return "private"

        @app.get("/mfa")
        @auth_required(mfa=True)
        def mfa() -> str:
            return "mfa"

        return app
    if kind == "wsgi":

        def site(environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
            path = environ.get("PATH_INFO")
            body, status = (path[1:], 200) if path in ("/private", "/mfa") else ("not found", 404)
            return Response(body, status=status)(environ, start_response)

        inner = with_auth(site, middleware, opts, matcher=["/mfa"], mfa=True)
        return with_auth(inner, options=opts, matcher=["/private"])
    return _asgi_site(kind, opts, middleware)


def _asgi_site(kind: str, opts: dict[str, t.Any], middleware: t.Any) -> t.Any:
    from a2wsgi import ASGIMiddleware
    from fastapi import Depends, FastAPI
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from flask_authguard.asgi import AuthMiddleware, require_auth

    async def private(request: t.Any) -> PlainTextResponse:
        return PlainTextResponse("private")

    if kind == "starlette":

        async def mfa(request: t.Any) -> PlainTextResponse:
            await require_auth(mfa=True)(request)
            return PlainTextResponse("mfa")

        routes = [Route("/private", private), Route("/mfa", mfa)]
        asgi: t.Any = AuthMiddleware(
            Starlette(routes=routes), opts, matcher=["/private"], middleware=middleware
        )
    else:
        asgi = FastAPI()
        asgi.router.routes.append(Route("/private", private))

        @asgi.get("/mfa", response_class=PlainTextResponse)
        async def mfa_view(token: t.Any = Depends(require_auth(mfa=True))) -> str:  # noqa: B008
            return "mfa"

        asgi.add_middleware(AuthMiddleware, options=opts, matcher=["/private"], middleware=middleware)
        asgi.middleware_stack = asgi.build_middleware_stack()
    return ASGIMiddleware(asgi, loop=asgi_loop())


# -- driving it ------------------------------------------------------------------------------


def sign_in(client: t.Any, callback_url: str = "/mfa") -> t.Any:
    data = {"csrfToken": csrf_of(client), "username": "ada", "password": "pw", "callbackUrl": callback_url}
    return client.post("/api/auth/callback/credentials", data=data)


def enrol_page_secret(page: str) -> str:
    """The secret the enrolment page shows as text."""
    found = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', page)
    assert found, page[:2000]
    return found.group(1).replace(" ", "")


def recovery_codes(page: str) -> list[str]:
    block = page.split('<ul id="recovery-codes">', 1)[1].split("</ul>", 1)[0]
    return [html.unescape(c) for c in re.findall(r"<code>([a-z2-9-]+)</code>", block)]


def code_at(secret: str, now: float) -> str:
    return pyotp.TOTP(secret).at(now)


def post_code(client: t.Any, code: str, field: str = "code", **extra: t.Any) -> t.Any:
    data = {"csrfToken": csrf_of(client), field: code, **extra}
    return client.post("/api/auth/two-factor/verify", data=data)


def enrol(client: t.Any, now: float, action: str = "enable") -> tuple[str, list[str], t.Any]:
    """Enrol the signed-in user: the secret, the recovery codes and the answer."""
    page = client.get("/api/auth/two-factor")
    assert page.status_code == 200, page.data[:500]
    secret = enrol_page_secret(page.get_data(as_text=True))
    data = {
        "csrfToken": csrf_of(client),
        "action": action,
        "code": code_at(secret, now),
        "callbackUrl": "/mfa",
    }
    answer = client.post("/api/auth/two-factor", data=data)
    assert answer.status_code == 200, answer.data[:800]
    return secret, recovery_codes(answer.get_data(as_text=True)), answer
