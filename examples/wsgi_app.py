"""A plain WSGI app (no Flask) behind ``with_auth``, next-auth's ``withAuth`` for any WSGI app.

Run it with one command, from the repository root::

    python examples/wsgi_app.py            # http://127.0.0.1:5004; --port 8000 (or PORT=8000) for another

What it shows:

- ``matcher``: only ``/dashboard`` and ``/admin`` (and below) are protected; ``/`` is public.
- The token: ``with_auth`` reads the next-auth session cookie (or an ``Authorization: Bearer``
  header), decodes it and leaves the claims in ``environ["authguard.token"]``.
- An inner middleware that reads the token: it lets only admins into ``/admin`` and answers
  403 to everyone else.
- Refusals: anonymous browsers are redirected (307) to ``/login?callbackUrl=...``, API clients
  (``Accept: application/json`` or a Bearer header) get 401 JSON.

DEMO ONLY: ``/login?user=...&role=...`` signs anyone in as anyone, without a password, by
writing the session cookie itself (``flask_authguard.cookies.chunk`` + ``encode``). In a real
deployment the cookie comes from your Next.js app (next-auth) or from ``AuthGuard``'s
``/api/auth`` endpoints, and the secret comes from ``NEXTAUTH_SECRET``.
"""

from __future__ import annotations

import html
import os
import sys
import typing as t

from werkzeug.wrappers import Request, Response

try:
    import flask_authguard  # noqa: F401
except ImportError:  # run from a clone without installing: use the package beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_authguard import TOKEN_ENVIRON_KEY, encode, with_auth  # noqa: E402
from flask_authguard.cookies import chunk, clean  # noqa: E402
from flask_authguard.middleware import WithAuth  # noqa: E402

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: DEMO ONLY: used when ``NEXTAUTH_SECRET`` is not set. Never ship a secret in source code.
#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5004"
DEMO_SECRET = "demo-only-secret-do-not-use-in-production-0123456789"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1>{body}
<p><a href="/">home</a> · <a href="/dashboard">dashboard</a> · <a href="/admin">admin</a>
· <a href="/login">sign in</a> · <a href="/logout">sign out</a></p></main></body></html>
"""


def page(title: str, body: str, status: int = 200) -> Response:
    return Response(PAGE.format(title=html.escape(title), body=body), status=status, mimetype="text/html")


def safe_callback(url: str | None) -> str:
    """Only local paths: ``callbackUrl`` comes from the query string (no open redirect)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/dashboard"


class Site:
    """The application itself: it knows nothing about authentication but the token it is given."""

    def __init__(self) -> None:
        #: Set by :func:`make_app` once ``with_auth`` has resolved the options.
        self.guarded: WithAuth | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        # with_auth leaves the decoded token here on the paths it protects (and lets through)
        token = request.environ.get(TOKEN_ENVIRON_KEY) or {}
        path = request.path
        if path == "/":
            return page("Public home", "<p>Anyone can see this page.</p>")
        if path == "/login":
            return self.login(request)
        if path == "/logout":
            return self.logout(request)
        if path == "/dashboard" or path.startswith("/dashboard/"):
            claims = "".join(
                f"<li><code>{html.escape(str(k))}</code>: {html.escape(str(v))}</li>"
                for k, v in token.items()
            )
            return page(f"Hello, {token.get('name')}", f"<p>Your token:</p><ul>{claims}</ul>")
        if path == "/admin" or path.startswith("/admin/"):
            return page("Admin area", "<p>Only admins get here (the inner middleware checked).</p>")
        return page("Not found", "", status=404)

    # -- DEMO ONLY: signing in and out without any check ---------------------------------------

    def login(self, request: Request) -> Response:
        user = request.args.get("user", "").strip()
        callback = safe_callback(request.args.get("callbackUrl"))
        if not user:
            form = (
                '<form method="get" action="/login">'
                '<p><label>user <input name="user" value="ada"></label> '
                '<label>role <select name="role"><option>admin</option><option>user</option></select></label>'
                f'<input type="hidden" name="callbackUrl" value="{html.escape(callback)}"> '
                "<button>sign in</button></p></form>"
                "<p><strong>Demo only:</strong> no password, anyone can be anyone.</p>"
            )
            return page("Sign in", form)
        assert self.guarded is not None
        config = self.guarded.core.config
        spec = config.session_cookie(config.is_secure(request.scheme))
        claims = {
            "name": user,
            "email": f"{user}@example.com",
            "sub": user,
            "role": request.args.get("role", "user"),
        }
        value = encode(token=claims, secret=config.current_secrets()[0], max_age=config.session_max_age)
        response = Response(status=303, headers={"Location": callback})
        for header in chunk(spec, value, existing=request.cookies, chunk_size=config.chunk_size):
            response.headers.add("Set-Cookie", header)
        return response

    def logout(self, request: Request) -> Response:
        assert self.guarded is not None
        config = self.guarded.core.config
        spec = config.session_cookie(config.is_secure(request.scheme))
        response = Response(status=303, headers={"Location": "/"})
        for header in clean(spec, existing=request.cookies):
            response.headers.add("Set-Cookie", header)
        return response


def admins_only(request: Request) -> Response | None:
    """The inner middleware: runs for signed-in requests on protected paths, reads the token."""
    token = request.environ[TOKEN_ENVIRON_KEY]
    if request.path.startswith("/admin") and token.get("role") != "admin":
        return page("Admins only", f"<p>{html.escape(str(token.get('name')))} is not an admin.</p>", 403)
    return None  # go on to the app


def make_app(secret: str | None = None) -> WithAuth:
    """The protected app; the secret defaults to ``NEXTAUTH_SECRET``, then the demo secret."""
    site = Site()
    options = {
        "secret": secret or os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET,
        "pages": {"sign_in": "/login"},
    }
    site.guarded = with_auth(site, admins_only, options, matcher=["/dashboard/:path*", "/admin/:path*"])
    return site.guarded


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
    print(f"  sign in (DEMO):    {base}/login?user=ada&role=admin   (role=user is refused on /admin)")
    print(f"  sign out:          {base}/logout")
    print(f'  with a token:      curl -H "Authorization: Bearer {token}" {base}/dashboard')
    run_simple(args.host, port, application, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
