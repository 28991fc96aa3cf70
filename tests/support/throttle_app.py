"""The app the throttling suite signs in to (``tests/core/defences/test_throttle.py``), shared
with the store and defence suites."""

from __future__ import annotations

import typing as t

from conftest import SECRET
from flask import Flask

from flask_authguard import AuthGuard, CredentialsProvider
from flask_authguard.providers.base import SignInResult
from support.handler_app import BASE, authorize, client_of, csrf_of

FIELDS = {"username": {"label": "Username"}, "password": {"label": "Password", "type": "password"}}


def make_app(providers: t.Sequence[t.Any] | None = None, **options: t.Any) -> Flask:
    app = Flask(__name__)
    opts: dict[str, t.Any] = {
        "secret": SECRET,
        "url": BASE,
        "providers": providers or [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
        "throttle": {"per_identifier": "3/minute", "per_address": "5/minute"},
    }
    opts.update(options)
    AuthGuard(app, opts)
    return app


def attempt(client: t.Any, username: str = "ada", password: str = "wrong", **extra: str) -> t.Any:
    data = {"csrfToken": csrf_of(client), "username": username, "password": password, **extra}
    return client.post("/api/auth/callback/credentials", data=data, environ_overrides=client.environ)


def new_client(app: Flask, address: str = "198.51.100.1") -> t.Any:
    client = client_of(app)
    client.environ = {"REMOTE_ADDR": address}
    return client


class EmailLike:
    """A minimal email provider: its sign-in starts at POST /signin/<id> (the mail is sent)."""

    id = "email"
    name = "Email"
    type = "email"
    callback_methods = ("GET",)
    callback_csrf = False

    def __init__(self) -> None:
        self.sent: list[str] = []

    def begin_sign_in(self, request: t.Any, *, callback_url: str, redirect_uri: str) -> t.Any:
        from werkzeug.wrappers import Response

        self.sent.append(request.form["email"])
        return Response(status=302, headers={"Location": BASE + "/api/auth/verify-request"})

    def handle_callback(self, request: t.Any, form: t.Any) -> SignInResult | None:
        return None
