"""flask_authguard demo on database sessions: the session lives in a SQLite table.

Run it from a clone of the repository (after ``pip install -e ".[sqlalchemy]"``)::

    python examples/database_app.py                   # http://127.0.0.1:5003
    python examples/database_app.py --port 8000
    python examples/database_app.py --database-url postgresql://postgres@127.0.0.1:5432/test --schema demo

What it shows, as the JWT demo (``examples/demo``) does, but with ``adapter=...``:

- ``/``: a public home page that reads the session with ``get_server_session()``;
- ``/dashboard``: protected by ``AuthGuard``'s matcher (next-auth's ``withAuth`` cannot protect
  pages with database sessions; here the guard looks the session up);
- ``/admin``: ``auth_required`` with a role check: 403 for a signed-in user who is no admin;
- ``/api/me``: a JSON API: the session, or 401 JSON without one;
- sign-in and sign-out through the built-in ``/api/auth`` pages, with the credentials
  provider over two demo users. Signing in adds a row to the ``sessions`` table (the cookie
  holds only its random token); signing out deletes it. Roles stay in the demo's user
  directory, looked up by email: the ``users`` table has next-auth's columns only.

The database is a SQLite file in the temporary directory (``--database-url`` or ``DATABASE_URL``
to choose another, such as PostgreSQL; ``sqlite://`` for memory), its tables in ``--schema`` (or
``DATABASE_SCHEMA``; PostgreSQL) when given; the tables are created on start when missing.
A database that stops answering costs a prompt 503 (nobody is signed out): opening a
connection may take 3 s, a statement 5 s (the adapter's defaults, spelled out below).
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import tempfile
import typing as t

from flask import Flask, g, jsonify, render_template_string
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.serving import make_server

from flask_authguard import AuthGuard, CredentialsProvider, auth_required, get_server_session
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

# DEMO ONLY: a secret anyone can read (it signs the CSRF cookie here). Set NEXTAUTH_SECRET to
# use your own; a real app must never embed one.
#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5003"
DEMO_SECRET = "flask-authguard-database-demo-secret-DO-NOT-USE-IN-PRODUCTION"
DEFAULT_DATABASE_URL = "sqlite:///" + os.path.join(tempfile.gettempdir(), "flask_authguard_demo.sqlite3")

#: The demo users and their passwords (shown on start-up; stored only as hashes below).
DEMO_CREDENTIALS = {
    "alice": ("alice-admin-pw", "admin"),
    "bob": ("bob-user-pw", "user"),
}

DIRECTORY: dict[str, dict[str, t.Any]] = {
    username: {
        "id": username,
        "name": username.capitalize(),
        "email": f"{username}@example.com",
        "role": role,
        "password_hash": generate_password_hash(password),
    }
    for username, (password, role) in DEMO_CREDENTIALS.items()
}
ROLES = {user["email"]: user["role"] for user in DIRECTORY.values()}
# Checked when the username is unknown, so a wrong username costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("no such user")


def authorize(*, credentials: dict[str, str], **kwargs: t.Any) -> dict[str, t.Any] | None:
    """The credentials check: the user (its ``id`` names the linked account), or ``None``."""
    user = DIRECTORY.get(credentials.get("username", "").strip().lower())
    password = credentials.get("password", "")
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user["password_hash"], password):
        return None
    return {key: user[key] for key in ("id", "name", "email")}


def session_callback(
    *, session: dict[str, t.Any], user: dict[str, t.Any], **kwargs: t.Any
) -> dict[str, t.Any]:
    """Show the database user's id and the role in the session (next-auth's ``session``
    callback; with database sessions it gets the ``users`` row as ``user``)."""
    session["user"]["id"] = user["id"]
    session["user"]["role"] = ROLES.get(user.get("email") or "", "user")
    return session


def is_admin(*, token: dict[str, t.Any] | None, **kwargs: t.Any) -> bool:
    """For ``auth_required``: the token is the session's user (``sub``, ``email``, ...)."""
    return bool(token) and ROLES.get(token.get("email") or "") == "admin"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · flask_authguard database demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}
nav a{margin-right:1rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>
<body><nav><a href="/">Home</a><a href="/dashboard">Dashboard</a><a href="/admin">Admin</a>
<a href="/api/me">/api/me</a>
{% if auth_session %}<a href="/api/auth/signout">Sign out</a>
{% else %}<a href="/api/auth/signin">Sign in</a>{% endif %}
</nav><h1>{{ title }}</h1>{{ body | safe }}
{% if auth_session %}<p>Your session (from the <code>sessions</code> table):</p>
<pre>{{ auth_session | tojson(indent=2) }}</pre>{% endif %}</body></html>
"""


def page(title: str, body: str) -> str:
    return render_template_string(PAGE, title=title, body=body, auth_session=get_server_session())


def create_app(
    database_url: str | None = None, secret: str | None = None, schema: str | None = None
) -> Flask:
    """The demo app on ``database_url`` (default ``DATABASE_URL``, else a SQLite file in the
    temporary directory), its tables in ``schema`` (default ``DATABASE_SCHEMA``, else the
    connection's ``search_path``); the tables are created when missing."""
    adapter = SQLAlchemyAdapter(
        database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        schema=schema or os.environ.get("DATABASE_SCHEMA") or None,
        create_tables=True,  # in production: migrations (see docs/howto/database.rst)
        connect_timeout=3,  # seconds to open a connection
        statement_timeout=5,  # seconds a statement may run (SQLite: wait for a lock)
    )
    app = Flask(__name__)
    AuthGuard(
        app,
        {
            "secret": secret or os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET,
            "adapter": adapter,  # session.strategy is "database" from here on
            "providers": [
                CredentialsProvider(
                    authorize=authorize,
                    name="your demo account",
                    credentials={
                        "username": {"label": "Username", "placeholder": "alice or bob"},
                        "password": {"label": "Password", "type": "password"},
                    },
                )
            ],
            "callbacks": {"session": session_callback},
        },
        matcher=["/dashboard/:path*"],
    )

    @app.get("/")
    def home() -> str:
        session = get_server_session()
        who = html.escape(session["user"]["name"] or session["user"]["email"]) if session else "stranger"
        return page("Home", f"<p>Hello, {who}. This page is public.</p>")

    @app.get("/dashboard")
    def dashboard() -> str:
        token = html.escape(repr(g.auth_token))
        name = html.escape(g.auth_token["name"] or "")
        return page(
            "Dashboard", f"<p>Welcome, {name}.</p><p><code>g.auth_token</code>: <code>{token}</code></p>"
        )

    @app.get("/admin")
    @auth_required(authorized=is_admin)
    def admin() -> str:
        return page("Admin", "<p>Only admins see this page.</p>")

    @app.get("/api/me")
    def api_me() -> t.Any:
        session = get_server_session()
        if session is None:
            body = {"error": "Unauthorized", "message": "Sign in to use this API."}
            return jsonify(body), 401, {"WWW-Authenticate": 'Bearer realm="demo"'}
        return jsonify(session)

    return app


def main(argv: t.Sequence[str] | None = None) -> None:
    """Start the demo: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5003."""
    parser = argparse.ArgumentParser(description="flask_authguard database-session demo")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)), help="0 picks a free port"
    )
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL, else a SQLite file")
    parser.add_argument(
        "--schema", default=None, help="PostgreSQL schema for the tables; default DATABASE_SCHEMA"
    )
    args = parser.parse_args(argv)
    app = create_app(args.database_url, schema=args.schema)
    adapter = app.extensions["authguard"].config.options.adapter
    server = make_server(args.host, args.port, app, threaded=True)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"flask_authguard database demo running on http://{host}:{server.server_port}/", flush=True)
    print(f"Sessions are stored in {adapter.engine.url.render_as_string(hide_password=True)}", flush=True)
    print("Demo users (username / password / role):", flush=True)
    for username, (password, role) in DEMO_CREDENTIALS.items():
        print(f"  {username} / {password} / {role}", flush=True)
    if not os.environ.get("NEXTAUTH_SECRET"):
        print(
            "Using the demo's built-in secret (demo only): set NEXTAUTH_SECRET to use your own.", flush=True
        )
    print("Press Ctrl+C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        adapter.close()


if __name__ == "__main__":
    sys.exit(main())
