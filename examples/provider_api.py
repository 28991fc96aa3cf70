"""flask_authguard calling the identity provider's API with the user's access token, refreshed
for you (``refresh=True``).

Run it from a clone of the repository (after ``pip install -e ".[oauth]"``) against any OpenID
Connect issuer (Keycloak, Okta, Auth0...) whose client has the redirect URI
``http://127.0.0.1:5013/api/auth/callback/oidc`` and may use refresh tokens::

    OIDC_ISSUER=https://kc.example.com/realms/acme OIDC_ID=... OIDC_SECRET=... \\
        python examples/provider_api.py                     # http://127.0.0.1:5013
    REDIS_URL=redis://127.0.0.1:6379/0 ... gunicorn -w 4 'examples.provider_api:create_app()'

What it shows:

- ``OIDCProvider(..., refresh=True)``: the sign-in keeps the provider's access token, refresh
  token and expiry (in the encrypted session cookie here; in the accounts row with an adapter);
- ``/api/profile``: ``get_access_token("oidc")`` hands the view the current access token,
  refreshed at the provider when it expires within 60 s (the new tokens go into the rolled
  cookie), and the view calls the provider's userinfo endpoint with it;
- a refresh the provider refuses (the user revoked the app, the refresh token expired) or a
  provider that is down gives ``AccessTokenError``: the view answers 401 JSON asking to sign in
  again; nobody is signed out, and the session (``/api/auth/session``, the home page) carries
  ``"error": "RefreshAccessTokenError"`` until a refresh works or the user signs in again;
- with ``REDIS_URL`` the workers share one store: concurrent requests refresh once between them.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import typing as t

import requests
from flask import Flask, jsonify, render_template_string
from werkzeug.serving import make_server

from flask_authguard import AccessTokenError, AuthGuard, OIDCProvider, get_access_token, get_server_session

#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5013"
# DEMO ONLY: a secret anyone can read. Set NEXTAUTH_SECRET to use your own.
DEMO_SECRET = "flask-authguard-provider-api-demo-secret-DO-NOT-USE-IN-PRODUCTION"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flask_authguard: the provider's API</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}
pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>
<body><h1>The provider's API, with a fresh token</h1>{{ body | safe }}</body></html>
"""


def create_app(issuer: str | None = None, *, secret: str | None = None, url: str | None = None) -> Flask:
    """The app, for the issuer ``issuer`` (default ``OIDC_ISSUER``); the client from ``OIDC_ID``
    and ``OIDC_SECRET``, the store from ``REDIS_URL`` (default: this process's memory)."""
    provider = OIDCProvider(
        id="oidc",
        name=os.environ.get("OIDC_NAME", "your identity provider"),
        issuer=issuer or os.environ["OIDC_ISSUER"],
        client_id=os.environ.get("OIDC_ID", ""),
        client_secret=os.environ.get("OIDC_SECRET"),
        # offline_access: a refresh token from issuers that want it asked for (Keycloak gives one anyway)
        scope=os.environ.get("OIDC_SCOPE", "openid email profile offline_access"),
        refresh=True,
    )
    app = Flask(__name__)
    AuthGuard(
        app,
        {
            "secret": secret or os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET,
            "url": url or os.environ.get("NEXTAUTH_URL"),
            "providers": [provider],
            "store": os.environ.get("REDIS_URL", "memory://"),
        },
        matcher=["/api/profile"],
    )

    @app.get("/")
    def home() -> str:
        session = get_server_session()
        if session is None:
            body = '<p><a href="/api/auth/signin">Sign in</a> to call the provider\'s API.</p>'
        elif session.get("error") == "RefreshAccessTokenError":
            body = (
                "<p>Your provider session needs a new sign-in (the access token could not be "
                'refreshed). <a href="/api/auth/signin">Sign in again</a>.</p>'
            )
        else:
            name = html.escape(session["user"].get("name") or session["user"].get("email") or "")
            body = f'<p>Hello, {name}. <a href="/api/profile">Your profile at the provider</a>.</p>'
        return render_template_string(PAGE, body=body)

    @app.get("/api/profile")
    def profile() -> t.Any:
        try:
            token = get_access_token("oidc")
        except AccessTokenError as exc:
            # still signed in: ask for a new sign-in with the provider, do not sign out
            return jsonify(error="RefreshAccessTokenError", reason=exc.reason, signIn="/api/auth/signin"), 401
        userinfo = provider.endpoints()["userinfo_endpoint"]
        answer = requests.get(userinfo, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        return jsonify(status=answer.status_code, profile=answer.json())

    return app


def main(argv: t.Sequence[str] | None = None) -> None:
    """Start the app: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5013."""
    parser = argparse.ArgumentParser(description="flask_authguard: the provider's API with refreshed tokens")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)), help="0 picks a free port"
    )
    parser.add_argument("--issuer", default=os.environ.get("OIDC_ISSUER"), help="default: OIDC_ISSUER")
    args = parser.parse_args(argv)
    if not args.issuer:
        parser.error("set OIDC_ISSUER (and OIDC_ID, OIDC_SECRET), or pass --issuer")
    # links (the redirect URI) are built on the request's origin: loopback is trusted in development
    server = make_server(args.host, args.port, create_app(args.issuer), threaded=True)
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{server.server_port}"
    print(f"flask_authguard provider API example running on {base}/", flush=True)
    print(f"Register the redirect URI {base}/api/auth/callback/oidc with {args.issuer}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
