"""A plain WSGI app (no Flask) that signs users in and out through ``AuthEndpoints``.

Run it with one command, from the repository root::

    python examples/wsgi_app.py            # http://127.0.0.1:5004; --port 8000 (or PORT=8000) for another

What it shows:

- One wrap: ``with_auth(site, admins_only, options, matcher=...)``. Because the options have
  ``providers``, the same wrapper serves next-auth's routes under ``/api/auth``: the sign-in
  page, sign-in, the session JSON, the sign-out page and sign-out. The site itself writes no
  cookie.
- ``matcher``: only ``/dashboard`` and ``/admin`` (and below) are protected; ``/`` is public.
- The token: ``with_auth`` reads the next-auth session cookie (or an ``Authorization: Bearer``
  header), decodes it and leaves the claims in ``environ["authguard.token"]``.
- An inner middleware that reads the token: it lets only admins into ``/admin`` and answers
  403 to everyone else.
- Refusals: anonymous browsers are redirected (307) to ``/api/auth/signin?callbackUrl=...``,
  API clients (``Accept: application/json`` or a Bearer header) get 401 JSON.

DEMO ONLY: the users and their passwords are listed below (stored as hashes) and the secret
falls back to a built-in one; a real deployment takes it from ``NEXTAUTH_SECRET``.
"""

from __future__ import annotations

import html
import os
import sys
import typing as t

from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Request, Response

try:
    import flask_authguard  # noqa: F401
except ImportError:  # run from a clone without installing: use the package beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_authguard import TOKEN_ENVIRON_KEY, CredentialsProvider, encode, with_auth  # noqa: E402
from flask_authguard.wsgi.middleware import WithAuth  # noqa: E402

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: DEMO ONLY: used when ``NEXTAUTH_SECRET`` is not set. Never ship a secret in source code.
#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5004"
DEMO_SECRET = "demo-only-secret-do-not-use-in-production-0123456789"

#: DEMO ONLY: the users, ``username: (password, role)``; only the hashes are kept below.
DEMO_CREDENTIALS = {"alice": ("alice-admin-pw", "admin"), "bob": ("bob-user-pw", "user")}
USERS = {
    name: {"id": name, "name": name.capitalize(), "role": role, "hash": generate_password_hash(password)}
    for name, (password, role) in DEMO_CREDENTIALS.items()
}
# Checked for an unknown username too, so it costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("no such user")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1>{body}
<p><a href="/">home</a> · <a href="/dashboard">dashboard</a> · <a href="/admin">admin</a>
· <a id="signin-link" href="/api/auth/signin">sign in</a>
· <a id="signout-link" href="/api/auth/signout">sign out</a>
· <a href="/api/auth/session">session JSON</a></p></main></body></html>
"""


def page(title: str, body: str, status: int = 200) -> Response:
    return Response(PAGE.format(title=html.escape(title), body=body), status=status, mimetype="text/html")


def authorize(*, credentials: dict[str, str], **kwargs: t.Any) -> dict[str, t.Any] | None:
    """The credentials provider's check: the user (without the hash), or ``None``."""
    user = USERS.get(credentials.get("username", "").strip().lower())
    if not check_password_hash(user["hash"] if user else _DUMMY_HASH, credentials.get("password", "")):
        return None
    assert user is not None
    email = f"{user['id']}@example.com"
    return {"id": user["id"], "name": user["name"], "email": email, "role": user["role"]}


def jwt(*, token: dict[str, t.Any], user: t.Any = None, **kwargs: t.Any) -> dict[str, t.Any]:
    """Keep the role in the token at sign-in, so the inner middleware can read it."""
    if user:
        token["role"] = user["role"]
    return token


def site(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
    """The application itself: it knows nothing about authentication but the token it is given."""
    request = Request(environ)
    # with_auth leaves the decoded token here on the paths it protects (and lets through)
    token = request.environ.get(TOKEN_ENVIRON_KEY) or {}
    path = request.path
    if path == "/":
        response = page("Public home", '<p id="status">Anyone can see this page.</p>')
    elif path == "/dashboard" or path.startswith("/dashboard/"):
        claims = "".join(
            f"<li><code>{html.escape(str(k))}</code>: {html.escape(str(v))}</li>" for k, v in token.items()
        )
        body = f"<p>Your token:</p><ul id='claims'>{claims}</ul>"
        response = page(f"Hello, {token.get('name')}", body)
    elif path == "/admin" or path.startswith("/admin/"):
        response = page("Admin area", "<p>Only admins get here (the inner middleware checked).</p>")
    else:
        response = page("Not found", "", status=404)
    return response(environ, start_response)


def admins_only(request: Request) -> Response | None:
    """The inner middleware: runs for signed-in requests on protected paths, reads the token."""
    token = request.environ[TOKEN_ENVIRON_KEY]
    if request.path.startswith("/admin") and token.get("role") != "admin":
        return page("Admins only", f"<p>{html.escape(str(token.get('name')))} is not an admin.</p>", 403)
    return None  # go on to the app


def make_app(secret: str | None = None) -> WithAuth:
    """The protected app; the secret defaults to ``NEXTAUTH_SECRET``, then the demo secret."""
    options = {
        "secret": secret or os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET,
        "providers": [
            CredentialsProvider(
                authorize=authorize,
                credentials={
                    "username": {"label": "Username", "placeholder": "alice or bob"},
                    "password": {"label": "Password", "type": "password"},
                },
            )
        ],
        "callbacks": {"jwt": jwt},
    }
    return with_auth(site, admins_only, options, matcher=["/dashboard/:path*", "/admin/:path*"])


application = make_app()


def main(argv: t.Sequence[str] | None = None) -> None:
    """Serve the example: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5004."""
    import argparse

    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="flask_authguard WSGI example")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    port = args.port
    base = f"http://{args.host}:{port}"
    config = application.core.config
    token = encode(
        token={"name": "curl", "sub": "curl", "role": "admin"},
        secret=config.current_secrets()[0],
        max_age=3600,
    )
    if not os.environ.get("NEXTAUTH_SECRET"):
        print("NEXTAUTH_SECRET is not set: using the built-in DEMO secret (never do this for real).")
    print(f"flask_authguard WSGI demo on {base}/")
    print(f"  public:            {base}/")
    print(f"  protected:         {base}/dashboard   {base}/admin (admins only)")
    print(f"  sign in:           {base}/api/auth/signin   (DEMO users below)")
    for name, (password, role) in DEMO_CREDENTIALS.items():
        print(f"                     {name} / {password} / {role}")
    print(f"  session JSON:      {base}/api/auth/session")
    print(f"  sign out:          {base}/api/auth/signout")
    print(f'  with a token:      curl -H "Authorization: Bearer {token}" {base}/dashboard')
    run_simple(args.host, port, application, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
