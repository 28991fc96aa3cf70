"""The Flask API behind the Next.js example (``examples/nextjs``).

next-auth (in the Next.js app) signs users in and owns ``/api/auth/*``; this API only reads the
session cookie next-auth set, which reaches it through the Next.js rewrite of ``/api/py/*``.
Settings that must agree with ``lib/auth.js``: the secret (``NEXTAUTH_SECRET``), the public URL
(``NEXTAUTH_URL``: its scheme picks the cookie names on both sides), the session strategy and,
for database sessions, the PostgreSQL tables. Started by ``run.py``; on its own::

    NEXTAUTH_SECRET=... NEXTAUTH_URL=http://127.0.0.1:3000 python examples/nextjs/api.py --port 5009

Routes (all JSON):

- ``GET /api/py/public``: anyone;
- ``GET /api/py/me``: a session (401 otherwise); the user from ``g.auth_token``;
- ``GET /api/py/admin``: the admin role (403 for other users);
- ``GET /api/py/session``: ``get_server_session()``, which also rolls the session cookie;
- ``POST /api/py/notes``: a state-changing route; a cookie-authenticated POST from another site
  is refused by the guard's cross-site defence (``trusted_origins`` lists front ends on other
  origins that may send one).
"""

from __future__ import annotations

import argparse
import os
import threading
import typing as t

from flask import Flask, g, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_authguard import AuthGuard, auth_required, get_server_session

DEFAULT_ADMIN_EMAILS = "alice@example.com"


def admin_emails() -> frozenset[str]:
    """Who is an admin under database sessions (the cookie carries no role there)."""
    raw = os.environ.get("ADMIN_EMAILS", DEFAULT_ADMIN_EMAILS)
    return frozenset(e.strip() for e in raw.split(",") if e.strip())


def role_of(token: t.Mapping[str, t.Any]) -> str:
    """The role: in the JWT (next-auth's ``jwt`` callback put it there), else from the email."""
    role = token.get("role")
    if isinstance(role, str):
        return role
    return "admin" if token.get("email") in admin_emails() else "user"


def is_admin(*, token: t.Mapping[str, t.Any] | None, **_: t.Any) -> bool:
    """``authorized`` for the admin route: a signed-in user refused here gets 403."""
    return token is not None and role_of(token) == "admin"


def session_callback(
    *,
    session: dict[str, t.Any],
    token: dict[str, t.Any] | None = None,
    user: dict[str, t.Any] | None = None,
    **_: t.Any,
) -> dict[str, t.Any]:
    """The same session shape as next-auth's ``session`` callback in ``lib/auth.js``."""
    if token is not None:  # JWT sessions
        session["user"]["id"] = token.get("sub")
        session["user"]["role"] = token.get("role")
    elif user is not None:  # database sessions
        session["user"]["id"] = user.get("id")
        session["user"]["role"] = role_of({"email": user.get("email")})
    return session


def sqlalchemy_url(url: str) -> str:
    """``postgresql://...`` as node-postgres takes it, with the psycopg 3 driver for SQLAlchemy."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_app(
    *,
    secret: str | None = None,
    url: str | None = None,
    database_url: str | None = None,
    schema: str | None = None,
) -> Flask:
    """The API. ``database_url`` switches to database sessions on next-auth's tables there."""
    app = Flask(__name__)
    options: dict[str, t.Any] = {
        "secret": secret or os.environ.get("NEXTAUTH_SECRET"),
        "url": url or os.environ.get("NEXTAUTH_URL"),  # the Next.js app's public URL
        "endpoints": False,  # next-auth serves /api/auth/*; this API never signs anyone in
        "api_mode": "json",  # refusals answer 401/403 JSON, never a redirect
        "callbacks": {"session": session_callback},
    }
    if database_url:
        from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

        # create_tables: the tables of @auth/pg-adapter, made here if missing; next-auth uses them too.
        adapter = SQLAlchemyAdapter(sqlalchemy_url(database_url), schema=schema, create_tables=True)
        options["adapter"] = adapter
    AuthGuard(app, options, matcher=[])  # nothing site-wide: each view says what it needs
    # The Next.js rewrite proxies with X-Forwarded-*: redirects, the secure-cookie choice and the
    # same-origin check then see the browser's origin, not 127.0.0.1:<api port>.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]

    notes: dict[str, list[str]] = {}
    notes_lock = threading.Lock()

    def user_of(token: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        return {
            "id": token.get("sub"),
            "name": token.get("name"),
            "email": token.get("email"),
            "role": role_of(token),
        }

    @app.get("/api/py/public")
    def public() -> t.Any:
        return {"message": "Anyone may read this.", "signedIn": g.auth_token is not None}

    @app.get("/api/py/me")
    @auth_required
    def me() -> t.Any:
        token = g.auth_token
        groups = token.get("groups")
        return {"user": user_of(token), "groups": len(groups) if isinstance(groups, list) else 0}

    @app.get("/api/py/admin")
    @auth_required(authorized=is_admin)
    def admin() -> t.Any:
        return {"admin": True, "user": user_of(g.auth_token)}

    @app.get("/api/py/session")
    def session() -> t.Any:
        found = get_server_session()  # next-auth's session shape; the cookie is re-set, rolled
        if found is None:
            return jsonify(error="Unauthorized", session=None), 401
        return {"session": found}

    @app.post("/api/py/notes")
    @auth_required
    def add_note() -> t.Any:
        body = request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > 500:
            return jsonify(error="BadRequest", message='send {"text": "..."} (1-500 characters)'), 400
        key = str(g.auth_token.get("sub"))
        with notes_lock:
            mine = notes.setdefault(key, [])
            mine.append(text.strip())
            answer = list(mine)
        return jsonify(notes=answer), 201

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("API_PORT", "5009")))
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL: database sessions")
    parser.add_argument("--schema", default=None, help="the PostgreSQL schema of the tables")
    args = parser.parse_args(argv)
    try:
        app = create_app(database_url=args.database_url, schema=args.schema)
    except Exception as exc:  # the database is down or the URL wrong: say so, without a traceback
        if not args.database_url:
            raise
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SystemExit(f"cannot use the database of --database-url: {reason}") from None
    print(f" * Flask API running on http://{args.host}:{args.port}/", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
