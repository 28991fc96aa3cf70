"""A whole Flask site behind NextAuth.js-compatible sessions, in one file.

Run it from a clone of the repository::

    python examples/flask_app.py              # http://127.0.0.1:5001
    python examples/flask_app.py --port 8000

What it shows:

- the **whole site is protected** (``AuthGuard`` with no matcher): an anonymous visitor is sent
  to the built-in sign-in page (``/api/auth/signin``) and comes back once signed in;
- ``/about`` is **public**, marked with ``@guard.exempt``; static files are always public;
- ``/admin/`` is an **admin area**: a blueprint protected with ``authorized`` on the token's
  ``role`` claim; a signed-in user who is no admin gets 403, never a redirect loop;
- ``/api/me`` is a **JSON API** answering 401 JSON to any client without a session (``curl``
  included): it is exempt from the page redirect and reads the session itself. Elsewhere, API
  clients (``Accept: application/json``, ``X-Requested-With`` or a Bearer header) get 401 JSON
  from the guard instead of the redirect, and a plain ``curl`` the 307;
- sign-in and sign-out through the built-in ``/api/auth`` endpoints, with a
  ``CredentialsProvider`` over two demo users (``alice``/``alice-admin-pw``, an admin, and
  ``bob``/``bob-user-pw``);
- the ``jwt`` callback keeps the user's role in the token and the ``session`` callback shows it.

The cookie is next-auth's own (``next-auth.session-token``): a Next.js app using the same
secret reads these sessions, and this app reads the Next.js app's.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import typing as t

from flask import Blueprint, Flask, g, render_template_string

try:
    from flask_authguard import AuthGuard, CredentialsProvider, get_server_session
except ImportError:  # run from a clone without installing: use the package beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from flask_authguard import AuthGuard, CredentialsProvider, get_server_session

# DEMO ONLY: anyone can read this secret. Set NEXTAUTH_SECRET (or AUTHGUARD_SECRET) for real use.
#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5001"
DEMO_SECRET = "flask-authguard-example-secret-DO-NOT-USE-IN-PRODUCTION"

#: Demo users: username -> (password, profile). A real app keeps password hashes.
DEMO_USERS: dict[str, tuple[str, dict[str, str]]] = {
    "alice": ("alice-admin-pw", {"id": "1", "name": "Alice", "email": "alice@example.com", "role": "admin"}),
    "bob": ("bob-user-pw", {"id": "2", "name": "Bob", "email": "bob@example.com", "role": "user"}),
}


def authorize(*, credentials: dict[str, str], **_: t.Any) -> dict[str, str] | None:
    """The credentials provider's check: the user, or ``None`` to refuse."""
    password, user = DEMO_USERS.get(credentials.get("username", ""), ("", {}))
    if not user or not hmac.compare_digest(password.encode(), credentials.get("password", "").encode()):
        return None
    return user


def keep_role(
    *, token: dict[str, t.Any], user: dict[str, t.Any] | None = None, **_: t.Any
) -> dict[str, t.Any]:
    """``callbacks.jwt``: at sign-in (``user`` given) copy the role into the token."""
    if user is not None:
        token["role"] = user.get("role", "user")
    return token


def show_role(*, session: dict[str, t.Any], token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
    """``callbacks.session``: expose the user's id and role to views and templates."""
    session["user"]["id"] = token.get("sub")
    session["user"]["role"] = token.get("role")
    return session


def is_admin(*, token: dict[str, t.Any] | None, **_: t.Any) -> bool:
    """``authorized`` for the admin area: only a truthy answer lets a request through."""
    return token is not None and token.get("role") == "admin"


guard = AuthGuard(
    options={
        "providers": [
            CredentialsProvider(
                authorize=authorize,
                name="a demo account",
                credentials={
                    "username": {"label": "Username", "placeholder": "alice or bob"},
                    "password": {"label": "Password", "type": "password"},
                },
            )
        ],
        "callbacks": {"jwt": keep_role, "session": show_role},
    }
)  # no matcher: every path is protected

admin = guard.protect(Blueprint("admin", __name__, url_prefix="/admin"), authorized=is_admin)
api = Blueprint("api", __name__, url_prefix="/api")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<nav><a href="/">Home</a> · <a href="/about">About</a> · <a href="/admin/">Admin</a>
 · <a href="/api/me">/api/me</a></nav>
<h1>{{ title }}</h1>
{% set s = get_server_session() %}
{% if s %}
  <p>Signed in as <strong>{{ s.user.name }}</strong> ({{ s.user.role }}).
     <a href="/api/auth/signout">Sign out</a></p>
{% else %}
  <p>Not signed in. <a href="/api/auth/signin">Sign in</a></p>
{% endif %}
{{ body }}
</main></body></html>
"""


@admin.get("/")
def admin_home() -> str:
    return render_template_string(PAGE, title="Admin area", body="Only users whose role is admin see this.")


@api.get("/me")
@guard.exempt  # an API answers 401 to every client, not the browsers' redirect
def api_me() -> t.Any:
    """The session as JSON, or 401 JSON without one."""
    session = get_server_session()
    if session is None:
        body = {"error": "Unauthorized", "message": "Sign in to use this API."}
        return body, 401, {"WWW-Authenticate": 'Bearer realm="flask_app"'}
    return {"session": session, "sub": g.auth_token["sub"]}


def create_app(secret: str | None = None) -> Flask:
    """The example app. The secret: ``secret``, else ``NEXTAUTH_SECRET``, else the demo's own."""
    app = Flask(__name__)
    app.config["AUTHGUARD_SECRET"] = secret or os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET
    guard.init_app(app)

    @app.get("/")
    def home() -> str:
        return render_template_string(PAGE, title="Home", body="Every page here needs a session.")

    @app.get("/about")
    @guard.exempt
    def about() -> str:
        return render_template_string(PAGE, title="About", body="This page is public.")

    app.register_blueprint(admin)
    app.register_blueprint(api)
    return app


def main(argv: t.Sequence[str] | None = None) -> None:
    """Serve the example: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5001."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    app = create_app()
    print(f"flask_authguard example: http://{args.host}:{args.port}/")
    print("demo users: " + ", ".join(f"{name} / {pw}" for name, (pw, _) in DEMO_USERS.items()))
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
