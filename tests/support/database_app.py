"""The app of the database-session suite (``tests/sessions/test_database.py``), shared with the adapter
timeout suite."""

from __future__ import annotations

import typing as t

import pytest

pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from flask import Flask, g, jsonify  # noqa: E402

from flask_authguard import (  # noqa: E402
    AuthGuard,
    CredentialsProvider,
    get_server_session,
)

SECRET = "database-session-secret-0123456789abcdef"
COOKIE = "next-auth.session-token"
DIRECTORY = {
    "ann": {"id": "u-ann", "name": "Ann", "email": "ann@example.com", "image": None},
    "bob": {"id": "u-bob", "name": "Bob", "email": "bob@example.com", "image": None},
    "nomail": {"id": "u-nomail", "name": "No Mail"},
    "nobody": {"name": "Nameless"},
}


def authorize(*, credentials: dict[str, str], **kwargs: t.Any) -> dict[str, t.Any] | None:
    user = DIRECTORY.get(credentials.get("username", ""))
    return dict(user) if user and credentials.get("password") == "pw" else None


def make_app(adapter: t.Any, **extra: t.Any) -> Flask:
    app = Flask(__name__)
    options = {
        "secret": SECRET,
        "adapter": adapter,
        "providers": [CredentialsProvider(authorize=authorize, credentials={"username": {}, "password": {}})],
        **extra,
    }
    AuthGuard(app, options, matcher=["/dashboard/:path*", "/api/private/:path*"])

    @app.get("/dashboard")
    def dashboard() -> t.Any:
        return jsonify(token=g.auth_token)

    @app.get("/api/private/data")
    def private_data() -> t.Any:
        return jsonify(ok=True)

    @app.get("/")
    def home() -> t.Any:
        return "home"

    @app.get("/whoami")
    def whoami() -> t.Any:
        return jsonify(session=get_server_session(), token=g.auth_token)

    return app


def assert_503(response: t.Any, *, api: bool) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    if api:
        assert response.mimetype == "application/json"
    else:
        assert response.mimetype == "text/html"
    assert not [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE)]
