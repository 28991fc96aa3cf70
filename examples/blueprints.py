"""Protect blueprints, not the whole site, and read the session in their views.

Run it from a clone of the repository::

    python examples/blueprints.py             # http://127.0.0.1:5002
    python examples/blueprints.py --port 8000

What it shows:

- ``AuthGuard(matcher=[])``: nothing is protected site-wide; ``/`` stays public;
- ``guard.protect(account)``: every view of the ``account`` blueprint needs a session; its
  views call ``get_server_session()`` (the refreshed cookie reaches the response by itself);
- ``guard.protect(reports, authorized=...)``: a blueprint for one group of users only (403 for
  the others); templates call ``get_server_session()`` and read ``auth_token`` directly;
- an app factory: ``create_app()`` may run several times with the one ``guard``.

Sign in at ``/api/auth/signin`` as ``alice``/``alice-admin-pw`` (a reporter) or ``bob``/``bob-user-pw``.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import typing as t

from flask import Blueprint, Flask, render_template_string

try:
    from flask_authguard import AuthGuard, CredentialsProvider, get_server_session
except ImportError:  # run from a clone without installing: use the package beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from flask_authguard import AuthGuard, CredentialsProvider, get_server_session

# DEMO ONLY: anyone can read this secret. Set NEXTAUTH_SECRET (or AUTHGUARD_SECRET) for real use.
#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5002"
DEMO_SECRET = "flask-authguard-blueprints-secret-DO-NOT-USE-IN-PRODUCTION"

#: Demo users: username -> (password, profile with the groups the token carries).
DEMO_USERS: dict[str, tuple[str, dict[str, t.Any]]] = {
    "alice": (
        "alice-admin-pw",
        {"id": "alice", "name": "Alice", "email": "alice@example.com", "groups": ["reporters"]},
    ),
    "bob": ("bob-user-pw", {"id": "bob", "name": "Bob", "email": "bob@example.com", "groups": []}),
}


def authorize(*, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any] | None:
    password, user = DEMO_USERS.get(credentials.get("username", ""), ("", {}))
    if not user or not hmac.compare_digest(password.encode(), credentials.get("password", "").encode()):
        return None
    return user


def keep_groups(
    *, token: dict[str, t.Any], user: dict[str, t.Any] | None = None, **_: t.Any
) -> dict[str, t.Any]:
    """``callbacks.jwt``: at sign-in, keep the user's groups in the token."""
    if user is not None:
        token["groups"] = list(user.get("groups", []))
    return token


def is_reporter(*, token: dict[str, t.Any] | None, **_: t.Any) -> bool:
    return token is not None and "reporters" in token.get("groups", [])


guard = AuthGuard(
    options={
        "providers": [
            CredentialsProvider(
                authorize=authorize,
                credentials={
                    "username": {"label": "Username"},
                    "password": {"label": "Password", "type": "password"},
                },
            )
        ],
        "callbacks": {"jwt": keep_groups},
    },
    matcher=[],  # nothing site-wide: the blueprints below say what is protected
)

account = guard.protect(Blueprint("account", __name__, url_prefix="/account"))
reports = guard.protect(Blueprint("reports", __name__, url_prefix="/reports"), authorized=is_reporter)


@account.get("/")
def profile() -> str:
    session = get_server_session()
    if session is None:  # protected, so signed in; but a jwt callback may still sign the user out
        return "<h1>Signed out</h1>"
    return f"<h1>Hello {session['user']['name']}</h1><p>Your session lasts until {session['expires']}.</p>"


@account.get("/session.json")
def session_json() -> dict[str, t.Any]:
    return {"session": get_server_session()}


@reports.get("/")
def report_list() -> str:
    return render_template_string(
        "<h1>Reports</h1><p>For {{ get_server_session().user.name }}, "
        "member of {{ auth_token.groups | join(', ') }}.</p>"
    )


def create_app(secret: str | None = None) -> Flask:
    """The example app. The secret: ``secret``, else ``NEXTAUTH_SECRET``, else the demo's own."""
    app = Flask(__name__)
    app.config["AUTHGUARD_SECRET"] = secret or os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET
    guard.init_app(app)

    @app.get("/")
    def index() -> str:
        session = get_server_session()  # public pages may read the session too
        who = session["user"]["name"] if session else "stranger"
        return (
            f"<h1>Hello {who}</h1><ul><li><a href='/account/'>Account</a> (signed-in users)</li>"
            "<li><a href='/reports/'>Reports</a> (reporters only)</li>"
            "<li><a href='/api/auth/signin'>Sign in</a> · <a href='/api/auth/signout'>Sign out</a></li></ul>"
        )

    app.register_blueprint(account)
    app.register_blueprint(reports)
    return app


def main(argv: t.Sequence[str] | None = None) -> None:
    """Serve the example: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5002."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    app = create_app()
    print(f"flask_authguard blueprints example: http://{args.host}:{args.port}/")
    print("demo users: " + ", ".join(f"{name} / {pw}" for name, (pw, _) in DEMO_USERS.items()))
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
