"""The plain WSGI site and options of the defence suite (``tests/wsgi/test_defences_wsgi.py``), shared
with the pages and store-prefix suites."""

from __future__ import annotations

import typing as t

from conftest import SECRET
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from flask_authguard import (
    CredentialsProvider,
)

BASE = "http://api.example.com"
FIELDS = {"username": {"label": "Username"}, "password": {"label": "Password", "type": "password"}}


def authorize(*, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any] | None:
    if credentials.get("username") == "ada" and credentials.get("password") == "pw":
        return {"id": "1", "name": "Ada", "email": "ada@example.com"}
    return None


def options(**extra: t.Any) -> dict[str, t.Any]:
    opts: dict[str, t.Any] = {
        "secret": SECRET,
        "url": BASE,
        "providers": [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
        "throttle": {"per_identifier": "3/minute", "per_address": "100/minute"},
    }
    opts.update(extra)
    return opts


def site(environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
    token = environ.get("authguard.token")
    return Response(f"site {Request(environ).path} {token and token.get('sub')}")(environ, start_response)


def client_of(app: t.Any) -> Client:
    return Client(app)


def csrf_of(client: Client) -> str:
    return t.cast(str, client.get("/api/auth/csrf", base_url=BASE).get_json()["csrfToken"])


def attempt(client: Client, password: str = "wrong", **extra: str) -> t.Any:
    data = {"csrfToken": csrf_of(client), "username": "ada", "password": password, **extra}
    return client.post("/api/auth/callback/credentials", data=data, base_url=BASE)
