"""The app of the "sessions that stay alive" suites (issue 30: a user's sessions, step-up sign-in,
server-side session update), on either strategy: ``jwt`` (memory or Redis store) or ``database``
(SQLite or PostgreSQL through :class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter`).

Routes: ``/private`` (the guard's matcher), ``/devices`` (``list_sessions`` of the signed-in
user, ``POST /devices/<id>/end``), ``/sensitive`` (``@auth_required(max_age=STEP_UP)``),
``/admin/<...>`` (a blueprint behind ``protect(max_age=STEP_UP)``), ``/nickname`` (``POST``:
``update_session``), ``/me`` (the session and ``g.auth_token``).
"""

from __future__ import annotations

import typing as t

import pytest
from conftest import SECRET
from flask import Blueprint, Flask, g, jsonify, request

from flask_authguard import (
    AuthGuard,
    CredentialsProvider,
    auth_required,
    get_server_session,
    update_session,
)
from support.handler_app import BASE, client_of, csrf_of

#: The step-up views' ``max_age``, seconds.
STEP_UP = 300
#: The strategies (and their stores) the suites run on.
#: The database kinds: (database, layout) of their adapter.
DATABASES = {
    "database": ("sqlite", "pg"),
    "database-postgres": ("postgresql", "pg"),
    "database-prisma-mysql": ("mysql", "prisma"),
    "database-drizzle": ("sqlite", "drizzle"),
}
#: The stores: JWT (in memory, Redis) and :data:`DATABASES`.
KINDS = ("jwt", "jwt-redis", *DATABASES)
USERS = {
    "ada": {"id": "u-ada", "name": "Ada", "email": "ada@example.com"},
    "bob": {"id": "u-bob", "name": "Bob", "email": "bob@example.com"},
}


def authorize(*, credentials: dict[str, str], **kwargs: t.Any) -> dict[str, t.Any] | None:
    user = USERS.get(credentials.get("username", ""))
    return dict(user) if user and credentials.get("password") == "pw" else None


def jwt_callback(
    *, token: dict[str, t.Any], trigger: str | None = None, session: t.Any = None, **kw: t.Any
) -> t.Any:
    """next-auth's documented pattern: an update may change the nickname, nothing else."""
    if trigger == "update" and isinstance(session, dict) and isinstance(session.get("nickname"), str):
        token["nickname"] = session["nickname"]
    return token


def session_callback(
    *, session: dict[str, t.Any], token: t.Any = None, user: t.Any = None, **kw: t.Any
) -> t.Any:
    """JWT: the nickname from the token; database: the update's data is echoed (next-auth hands
    the callback ``newSession``; what it keeps is the app's business)."""
    if token is not None:
        session["nickname"] = token.get("nickname")
    elif kw.get("trigger") == "update":
        session["nickname"] = (kw.get("new_session") or {}).get("nickname")
    return session


def options_for(kind: str, request_: pytest.FixtureRequest, **extra: t.Any) -> dict[str, t.Any]:
    """The options of ``kind`` (a Redis store, or an adapter with empty tables, made for this test)."""
    options: dict[str, t.Any] = {
        "secret": SECRET,
        "url": BASE,
        "providers": [CredentialsProvider(authorize=authorize, credentials={"username": {}, "password": {}})],
        "callbacks": {"jwt": jwt_callback, "session": session_callback},
    }
    if kind == "jwt-redis":
        options.update(request_.getfixturevalue("redis_store"))
    if kind.startswith("database"):
        from support.adapters import make_adapter

        database, layout = DATABASES[kind]
        options["adapter"] = make_adapter(database, request_, layout)
    options.update(extra)
    return options


def make_app(options: dict[str, t.Any]) -> tuple[Flask, AuthGuard]:
    app = Flask(__name__)
    guard = AuthGuard(app, options, matcher=["/private", "/devices/:path*"])

    @app.get("/private")
    def private() -> t.Any:
        return jsonify(sub=g.auth_token["sub"])

    @app.get("/devices")
    def devices() -> t.Any:
        return jsonify(guard.list_sessions(g.auth_token["sub"]))

    @app.post("/devices/<session_id>/end")
    def end(session_id: str) -> t.Any:
        return jsonify(ended=guard.end_session(g.auth_token["sub"], session_id))

    @app.get("/sensitive")
    @auth_required(max_age=STEP_UP)
    def sensitive() -> t.Any:
        return jsonify(sensitive=True, sub=g.auth_token["sub"])

    admin = Blueprint("admin", __name__, url_prefix="/admin")

    @admin.get("/keys")
    def keys() -> t.Any:
        return jsonify(keys=True)

    guard.protect(admin, max_age=STEP_UP)
    app.register_blueprint(admin)

    @app.post("/nickname")
    def nickname() -> t.Any:
        updated = update_session({"nickname": request.form["nickname"]})
        return jsonify(session=updated, again=get_server_session(), token=g.get("auth_token"))

    @app.get("/me")
    def me() -> t.Any:
        return jsonify(session=get_server_session(), token=g.get("auth_token"))

    return app, guard


def device(app: Flask, user_agent: str) -> t.Any:
    """A test client standing for one browser: its own cookies and user agent."""
    client = client_of(app)
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def sign_in(client: t.Any, username: str = "ada", callback_url: str = "/private") -> t.Any:
    data = {"csrfToken": csrf_of(client), "username": username, "password": "pw", "callbackUrl": callback_url}
    response = client.post("/api/auth/callback/credentials", data=data)
    assert response.status_code == 302, response.headers
    return response
