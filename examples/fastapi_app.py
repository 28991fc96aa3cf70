"""A FastAPI app behind ``AuthMiddleware``: the guard, sign-in and the session, as in Flask.

Run it with one command, from the repository root (``pip install -e ".[asgi]" fastapi uvicorn``)::

    python examples/fastapi_app.py         # http://127.0.0.1:5005; --port 8000 (or PORT=8000) for another

What it shows, with the same options object the Flask and WSGI layers take:

- ``app.add_middleware(AuthMiddleware, options=..., matcher=[...])``: ``/dashboard`` is protected
  (307 to the sign-in page for browsers, 401 JSON for API clients); with ``providers`` in the
  options the middleware also serves next-auth's ``/api/auth/*`` routes (sign-in page, sign-in,
  session JSON, sign-out), the very endpoints of the WSGI layer.
- ``request.state.auth_token``: the decoded token of a checked request.
- FastAPI dependencies: ``Token`` (the token, or the guard's refusal), ``require_auth(authorized=)``
  for a role check (403 for a signed-in user who lacks it), and ``ServerSession`` (the session,
  with the rolled cookie set on the response).
- A state-changing route (``POST /api/notes``), checked like any other.

DEMO ONLY: the users and their passwords are listed below (stored as hashes) and the secret falls
back to a built-in one; a real deployment takes it from ``NEXTAUTH_SECRET``.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import typing as t

from werkzeug.security import check_password_hash, generate_password_hash

try:
    import flask_authguard  # noqa: F401
except ImportError:  # run from a clone without installing: use the package beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastapi import Depends, FastAPI, Request  # noqa: E402
from fastapi.responses import HTMLResponse  # noqa: E402

from flask_authguard import CredentialsProvider  # noqa: E402
from flask_authguard.asgi import AuthMiddleware, require_auth  # noqa: E402
from flask_authguard.asgi.fastapi import ServerSession, Token  # noqa: E402

#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5005"
#: DEMO ONLY: used when ``NEXTAUTH_SECRET`` is not set. Never ship a secret in source code.
DEMO_SECRET = "demo-only-secret-do-not-use-in-production-0123456789"
#: DEMO ONLY: the users, ``username: (password, role)``; only the hashes are kept below.
DEMO_CREDENTIALS = {"alice": ("alice-admin-pw", "admin"), "bob": ("bob-user-pw", "user")}
USERS = {
    name: {"id": name, "name": name.capitalize(), "role": role, "hash": generate_password_hash(password)}
    for name, (password, role) in DEMO_CREDENTIALS.items()
}
_DUMMY_HASH = generate_password_hash("no such user")  # an unknown user costs a wrong password's time

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1>{body}
<p><a href="/">home</a> · <a href="/dashboard">dashboard</a> · <a href="/api/admin">admin API</a>
· <a id="signout-link" href="/api/auth/signout">sign out</a>
· <a href="/api/auth/session">session JSON</a></p></main></body></html>
"""


def page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body))


def authorize(*, credentials: dict[str, str], **kwargs: t.Any) -> dict[str, t.Any] | None:
    """The credentials provider's check: the user (without the hash), or ``None``."""
    user = USERS.get(credentials.get("username", "").strip().lower())
    if not check_password_hash(user["hash"] if user else _DUMMY_HASH, credentials.get("password", "")):
        return None
    assert user is not None
    return {
        "id": user["id"],
        "name": user["name"],
        "email": f"{user['id']}@example.com",
        "role": user["role"],
    }


def jwt(*, token: dict[str, t.Any], user: t.Any = None, **kwargs: t.Any) -> dict[str, t.Any]:
    """Keep the role in the token at sign-in."""
    if user:
        token["role"] = user["role"]
    return token


def is_admin(*, token: t.Any, **kwargs: t.Any) -> bool:
    return bool(token) and token.get("role") == "admin"


def make_app(secret: str | None = None) -> FastAPI:
    """The example app; ``secret`` defaults to ``NEXTAUTH_SECRET``, then the demo secret."""
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
    app = FastAPI(title="flask_authguard FastAPI example")
    app.add_middleware(AuthMiddleware, options=options, matcher=["/dashboard/:path*"])

    @app.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        return page("Public home", '<p id="status">Anyone can see this page.</p>')

    @app.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request) -> HTMLResponse:
        token = request.state.auth_token  # the middleware checked this path
        claims = "".join(
            f"<li><code>{html.escape(str(k))}</code>: {html.escape(str(v))}</li>" for k, v in token.items()
        )
        return page(f"Hello, {token.get('name')}", f"<p>Your token:</p><ul id='claims'>{claims}</ul>")

    @app.get("/api/me")
    async def me(token: Token) -> dict[str, t.Any]:
        return {"sub": token.get("sub"), "name": token.get("name"), "role": token.get("role")}

    @app.get("/api/admin", dependencies=[Depends(require_auth(authorized=is_admin))])
    async def admin() -> dict[str, t.Any]:
        return {"admin": True}

    @app.get("/api/session")
    async def session(session: ServerSession) -> dict[str, t.Any]:
        return {"session": session}

    @app.post("/api/notes", status_code=201)
    async def add_note(token: Token) -> dict[str, t.Any]:
        return {"saved": True, "by": token.get("sub")}

    return app


def main(argv: t.Sequence[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="The flask_authguard FastAPI example.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    print(
        f"FastAPI example on http://{args.host}:{args.port}/"
        "  (demo users: alice / alice-admin-pw, bob / bob-user-pw)"
    )
    uvicorn.run(make_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
