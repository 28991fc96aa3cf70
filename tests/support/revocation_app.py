"""The app the revocation suite signs in and out of (``tests/core/defences/test_revocation.py``),
shared with the store and session-lifetime suites."""

from __future__ import annotations

import typing as t

from conftest import SECRET
from flask import Flask, g

from flask_authguard import (
    AuthGuard,
    CredentialsProvider,
    get_server_session,
)
from support.handler_app import BASE, V4, authorize, client_of, cookie_value, csrf_of

FIELDS = {"username": {"label": "Username"}, "password": {"label": "Password", "type": "password"}}


def make_app(**options: t.Any) -> tuple[Flask, AuthGuard]:
    app = Flask(__name__)
    opts: dict[str, t.Any] = {
        "secret": SECRET,
        "url": BASE,
        "providers": [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
    }
    opts.update(options)
    guard = AuthGuard(app, opts, matcher=["/private"])

    @app.get("/private")
    def private() -> dict[str, t.Any]:
        return {"sub": g.auth_token["sub"]}

    @app.get("/me")
    def me() -> dict[str, t.Any]:
        return {"session": get_server_session()}

    return app, guard


def signed_in(app: Flask) -> tuple[t.Any, str]:
    client = client_of(app)
    data = {"csrfToken": csrf_of(client), "username": "ada", "password": "pw"}
    response = client.post("/api/auth/callback/credentials", data=data)
    assert response.status_code == 302, response.headers
    value = cookie_value(response, V4)
    assert value
    return client, value


def bearer(app: Flask, value: str) -> int:
    response = app.test_client().get(
        "/private", headers={"Authorization": f"Bearer {value}", "Accept": "application/json"}
    )
    return response.status_code
