"""A Flask app behind a reverse proxy (nginx, a load balancer): ``url``, ``trusted_hosts`` and
werkzeug's ``ProxyFix``.

Run it with one command, from the repository root::

    python examples/proxy_app.py           # http://localhost:5008; --port 8000 (or PORT=8000) for another

Behind your proxy, say what the public URL is and which host names it serves::

    NEXTAUTH_URL=https://app.example.com TRUSTED_HOSTS=app.example.com python examples/proxy_app.py

What it shows:

- ``url`` (``NEXTAUTH_URL``): the public URL. Links and redirects are built on it, whatever
  ``Host`` a request claims, and its scheme picks the cookie names (``__Secure-`` on https).
- ``trusted_hosts``: the host names the app answers for; any other ``Host`` gets 400 before a
  link is built.
- ``ProxyFix(x_for=1, x_proto=1, x_host=1)``: one proxy's ``X-Forwarded-For``, ``-Proto`` and
  ``-Host`` become the request's client address (what sign-in throttling counts), scheme and
  host. Trust exactly as many hops as you run, or clients can pick their own address.
- ``/`` (public) shows what the app sees; ``/dashboard`` is protected.

Demo users: ``alice`` / ``alice-admin-pw`` and ``bob`` / ``bob-user-pw``.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing as t

from flask import Flask, request
from markupsafe import escape
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import check_password_hash, generate_password_hash

try:
    import flask_authguard  # noqa: F401
except ImportError:  # run from a clone without installing: use the package beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_authguard import AuthGuard, CredentialsProvider, get_server_session  # noqa: E402

#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5008"
#: DEMO ONLY: used when ``NEXTAUTH_SECRET`` is not set. Never ship a secret in source code.
DEMO_SECRET = "flask-authguard-proxy-demo-secret-DO-NOT-USE-IN-PRODUCTION"

#: DEMO ONLY: the users, ``username: (password, role)``; only the hashes are kept below.
DEMO_CREDENTIALS = {"alice": ("alice-admin-pw", "admin"), "bob": ("bob-user-pw", "user")}
USERS = {
    name: {"id": name, "name": name.capitalize(), "role": role, "hash": generate_password_hash(password)}
    for name, (password, role) in DEMO_CREDENTIALS.items()
}
# Checked for an unknown username too, so it costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("no such user")


def authorize(*, credentials: dict[str, str], **kwargs: t.Any) -> dict[str, t.Any] | None:
    user = USERS.get(credentials.get("username", ""))
    if not check_password_hash(user["hash"] if user else _DUMMY_HASH, credentials.get("password", "")):
        return None
    return {"id": user["id"], "name": user["name"]} if user else None


def create_app(
    secret: str | None = None, url: str | None = None, trusted_hosts: list[str] | None = None
) -> Flask:
    """The app; ``url`` defaults to ``NEXTAUTH_URL``, ``trusted_hosts`` to ``TRUSTED_HOSTS``
    (comma-separated), both to this machine's own address when unset."""
    hosts = trusted_hosts or [h for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h]
    app = Flask(__name__)
    AuthGuard(
        app,
        {
            "secret": secret or os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET,
            "url": url or os.environ.get("NEXTAUTH_URL") or f"http://localhost:{DEFAULT_PORT}",
            "trusted_hosts": hosts or ["localhost", "127.0.0.1"],
            "providers": [
                CredentialsProvider(
                    authorize=authorize,
                    credentials={
                        "username": {"label": "Username", "placeholder": "alice or bob"},
                        "password": {"label": "Password", "type": "password"},
                    },
                )
            ],
        },
        matcher=["/dashboard/:path*"],
    )
    # After AuthGuard, so that ProxyFix runs first: the guard sees the public scheme, host and
    # client address. One proxy in front: one hop of each header is trusted.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    @app.get("/")
    def home() -> str:
        session = get_server_session()
        who = escape(session["user"]["name"]) if session else "not signed in"
        return (
            f"<h1>Behind a proxy</h1><p>{who}</p><ul>"
            f"<li>client address: {escape(request.remote_addr or '')}</li>"
            f"<li>scheme: {escape(request.scheme)}</li><li>host: {escape(request.host)}</li></ul>"
            "<p><a href='/dashboard'>Dashboard</a> (signed-in users)</p>"
        )

    @app.get("/dashboard")
    def dashboard() -> str:
        return f"<h1>Dashboard</h1><p>Hello {escape(get_server_session()['user']['name'])}</p>"

    return app


def main(argv: t.Sequence[str] | None = None) -> None:
    """Serve the example: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5008."""
    parser = argparse.ArgumentParser(description="flask_authguard behind a proxy")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    if not os.environ.get("NEXTAUTH_URL"):
        os.environ["NEXTAUTH_URL"] = f"http://localhost:{args.port}"
    print(f"flask_authguard proxy example: {os.environ['NEXTAUTH_URL']}/ (listening on {args.host})")
    print("Demo users: alice / alice-admin-pw, bob / bob-user-pw")
    create_app().run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
