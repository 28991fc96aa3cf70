"""flask_authguard demo: a Flask app that signs users in on its own, with JWT sessions.

Run it from a clone of the repository (after ``pip install -e .``)::

    python examples/demo/app.py                 # http://127.0.0.1:5000
    python examples/demo/app.py --port 8000     # or HOST=0.0.0.0 PORT=8000 python examples/demo/app.py
    python -m examples.demo                     # the same, as a module

Reached at another address than ``localhost``/``127.0.0.1`` (``HOST=0.0.0.0``, a container),
say which, or it answers 400 (links are built only on a trusted origin, and the demo trusts
those two hosts unless told otherwise): ``NEXTAUTH_URL=http://192.168.1.5:8000``, or
``AUTH_TRUST_HOST=true`` behind a proxy you run.

What it shows:

- ``/``: a public home page that reads the session with ``get_server_session()``;
- ``/dashboard``: protected by ``AuthGuard``'s matcher; anonymous visitors go to the built-in
  sign-in page and come back here (``callbackUrl``) once signed in;
- ``/admin``: ``auth_required`` with a role check (403 for a signed-in user who is no admin) and
  ``mfa=True``: only after the second factor;
- ``/api/me``: a JSON API: the session, or 401 JSON without one;
- ``/account``: a sensitive page, ``auth_required(max_age=...)``: a sign-in older than five
  minutes (``DEMO_STEP_UP_MAX_AGE`` seconds) is asked to sign in again, and comes back;
- ``/devices``: "your devices": every session of the signed-in user (``guard.list_sessions``)
  with when it signed in, when it was last seen and its browser; end any of them
  (``guard.end_session``): that browser is signed out at its next request;
- the dashboard's nickname form: the server updates the session (``update_session``), the
  ``jwt`` callback decides what an update may change;
- sign-in and sign-out through the built-in ``/api/auth`` endpoints and pages, with the
  credentials provider over a few demo users whose passwords are hashed with
  ``werkzeug.security``;
- a second factor (``two_factor``, ``pip install -e ".[two-factor]"``): alice has an
  authenticator app already (the demo's fixed TOTP secret, printed at start-up: add it to your
  app, or run ``python -c "import pyotp; print(pyotp.TOTP('<secret>').now())"``), so her
  sign-in asks for a code; bob turns his on at ``/api/auth/two-factor``. The records live in
  this process (the ``load``/``save`` callbacks), so a restart forgets bob's.

No other service: the session lives in the (encrypted) next-auth cookie.

Passkeys (``pip install -e ".[passkeys,sqlalchemy]"``): signed in as alice, open "Passkeys"
(``/api/auth/passkeys``), add one (the browser's passkey prompt), sign out, and "Sign in with
a passkey" on the sign-in page: no username, no password. The passkeys live in an in-memory
SQLite database (``DEMO_DATABASE_URL`` to keep them elsewhere, e.g. ``sqlite:///demo.db``);
sessions stay JWTs. Use ``http://localhost:5000/``: browsers allow passkeys on ``localhost``, not
on ``127.0.0.1``.

Sign in with GitHub, Google or any OpenID Connect issuer too (``pip install -e ".[oauth]"``):
set ``GITHUB_ID``/``GITHUB_SECRET``, ``GOOGLE_ID``/``GOOGLE_SECRET`` or
``OIDC_ISSUER``/``OIDC_ID``/``OIDC_SECRET`` and the sign-in page shows their buttons (register
``http://127.0.0.1:5000/api/auth/callback/<github|google|oidc>`` as the callback URL). Without
them the demo needs no network.

Or try OpenID Connect and email sign-in with no account anywhere (``pip install -e ".[demo]"``,
and Node.js with npm)::

    python examples/demo/app.py --local

starts a local OpenID Connect provider and an SMTP sink that prints the sign-in links
(``examples/demo/local.py``).

Several workers sharing Redis: ``examples/cluster`` serves this app under gunicorn.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import typing as t

from flask import Flask, Response, g, jsonify, redirect, render_template, request, url_for
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.serving import make_server

from flask_authguard import (
    AuthGuard,
    ConfigurationError,
    CredentialsProvider,
    auth_required,
    get_server_session,
    update_session,
)
from flask_authguard.core.two_factor import new_record, provisioning_uri, seal_secret

# DEMO ONLY: a secret anyone can read. It signs and encrypts the session cookies of this demo
# and nothing else. Set NEXTAUTH_SECRET to use your own; a real app must never embed one.
#: Each example has its own default port, so any of them runs beside the others.
DEFAULT_PORT = "5000"
DEMO_SECRET = "flask-authguard-demo-secret-DO-NOT-USE-IN-PRODUCTION"
#: How recent a sign-in the account page wants by default, seconds (step-up sign-in).
STEP_UP_MAX_AGE = 300
#: The longest nickname an update may set.
MAX_NICKNAME = 40

#: The demo users and their passwords (shown on start-up; stored only as hashes below).
DEMO_CREDENTIALS = {
    "alice": ("alice-admin-pw", "admin"),
    "bob": ("bob-user-pw", "user"),
}

USERS: dict[str, dict[str, t.Any]] = {
    username: {
        "id": username,
        "name": username.capitalize(),
        "email": f"{username}@example.com",
        "role": role,
        "password_hash": generate_password_hash(password),
    }
    for username, (password, role) in DEMO_CREDENTIALS.items()
}
#: The second factor needs ``pip install -e ".[two-factor]"``; without it the demo runs without.
TWO_FACTOR = all(importlib.util.find_spec(name) is not None for name in ("pyotp", "segno"))
#: DEMO ONLY: alice's authenticator secret (base32) and recovery codes, printed at start-up.
DEMO_TOTP_SECRET = "DEMOALICEDEMOALICEDEMOALICE23456"
DEMO_RECOVERY_CODES = [f"alice-demo{n}" for n in range(10)]

# Checked when the username is unknown, so a wrong username costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("no such user")


def authorize(*, credentials: dict[str, str], **kwargs: t.Any) -> dict[str, t.Any] | None:
    """The credentials provider's check: the user (without the hash), or ``None``."""
    user = USERS.get(credentials.get("username", "").strip().lower())
    password = credentials.get("password", "")
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user["password_hash"], password):
        return None
    return {key: value for key, value in user.items() if key != "password_hash"}


def jwt_callback(
    *,
    token: dict[str, t.Any],
    user: dict[str, t.Any] | None = None,
    trigger: str | None = None,
    session: t.Any = None,
    **kwargs: t.Any,
) -> dict[str, t.Any]:
    """At sign-in, keep the role in the token (next-auth's ``jwt`` callback; a passkey signs in
    the database's user, which has no role: the demo's directory has it, by email); on an update
    (``update_session`` here, ``update()`` in a Next.js front end), take the nickname and nothing
    else: the role must never come from an update."""
    if user is not None:
        known = next((u for u in USERS.values() if u["email"] == user.get("email")), {})
        token["role"] = user.get("role") or known.get("role", "user")
    if trigger == "update" and isinstance(session, dict):
        nickname = session.get("nickname")
        if isinstance(nickname, str) and 0 < len(nickname.strip()) <= MAX_NICKNAME:
            token["nickname"] = nickname.strip()
    return token


def session_callback(
    *, session: dict[str, t.Any], token: dict[str, t.Any], **kwargs: t.Any
) -> dict[str, t.Any]:
    """Show the user's id and role in the session (next-auth's ``session`` callback)."""
    session["user"]["id"] = token.get("sub")
    session["user"]["role"] = token.get("role")
    if token.get("nickname"):
        session["user"]["nickname"] = token["nickname"]
    return session


class TwoFactorRecords:
    """Each user's second factor (``two_factor``'s ``load``/``save``), in this process: an app
    with a database keeps them in the adapter's ``authguard_two_factor`` table instead."""

    def __init__(self, secret: str) -> None:
        # alice enrolled already: her record as the enrolment page stores it (secret sealed
        # with the app's secret, recovery codes hashed)
        sealed = seal_secret(DEMO_TOTP_SECRET, user_id=USERS["alice"]["id"], secrets=[secret])
        self.rows = {USERS["alice"]["id"]: new_record(sealed, 0, DEMO_RECOVERY_CODES)}

    def load(self, *, user_id: str, **kwargs: t.Any) -> dict[str, t.Any] | None:
        return self.rows.get(user_id)

    def save(
        self, *, user_id: str, record: dict[str, t.Any] | None, previous: t.Any, **kwargs: t.Any
    ) -> bool:
        if self.rows.get(user_id) != previous:
            return False  # used meanwhile by another request: refused like a replay
        if record is None:
            self.rows.pop(user_id, None)
        else:
            self.rows[user_id] = record
        return True


def is_admin(*, token: dict[str, t.Any] | None, **kwargs: t.Any) -> bool:
    return bool(token) and token.get("role") == "admin"


def forbidden(*, request: t.Any, token: dict[str, t.Any] | None, **kwargs: t.Any) -> Response:
    """The 403 page for a signed-in user the role check refuses (the ``forbidden`` option)."""
    html = render_template("forbidden.html", auth_session=get_server_session())
    return Response(html, status=403, mimetype="text/html")


def oauth_providers(env: t.Mapping[str, str]) -> list[t.Any]:
    """The OAuth/OIDC providers whose environment variables are set (next-auth's names)."""
    providers: list[t.Any] = []
    if env.get("GITHUB_ID") and env.get("GITHUB_SECRET"):
        from flask_authguard import GitHubProvider

        providers.append(GitHubProvider(client_id=env["GITHUB_ID"], client_secret=env["GITHUB_SECRET"]))
    if env.get("GOOGLE_ID") and env.get("GOOGLE_SECRET"):
        from flask_authguard import GoogleProvider

        providers.append(GoogleProvider(client_id=env["GOOGLE_ID"], client_secret=env["GOOGLE_SECRET"]))
    if env.get("OIDC_ISSUER") and env.get("OIDC_ID"):
        from flask_authguard import OIDCProvider

        providers.append(
            OIDCProvider(
                id="oidc",
                name=env.get("OIDC_NAME") or "OpenID Connect",
                issuer=env["OIDC_ISSUER"],
                client_id=env["OIDC_ID"],
                client_secret=env.get("OIDC_SECRET"),
            )
        )
    return providers


def passkey_options(env: t.Mapping[str, str]) -> dict[str, t.Any]:
    """Passkeys and the database that keeps them, when their extras are installed."""
    try:
        from flask_authguard import PasskeyProvider
        from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

        provider = PasskeyProvider()
    except Exception:  # py_webauthn or SQLAlchemy missing: the demo runs without passkeys
        return {}
    adapter = SQLAlchemyAdapter(env.get("DEMO_DATABASE_URL") or "sqlite://", create_tables=True)
    return {"adapter": adapter, "session": {"strategy": "jwt"}, "passkey": provider}


def _origin_from_environment() -> bool:
    return any(os.environ.get(name) for name in ("NEXTAUTH_URL", "AUTH_URL", "AUTH_TRUST_HOST"))


def create_app(secret: str | None = None, *, store: str | None = None, local: t.Any = None) -> Flask:
    """The demo app. The secret: ``secret``, else ``NEXTAUTH_SECRET``, else the demo's own;
    the account page's ``max_age``: ``DEMO_STEP_UP_MAX_AGE`` seconds, else five minutes.

    :param store: where throttle counters and revocations live (``redis://...`` for several
        workers: ``examples/cluster``); default the process's memory.
    :param local: a running ``local.LocalProviders``: its OpenID Connect and email providers
        are offered too, with its database for the email tokens (and the passkeys).
    """
    max_age = int(os.environ.get("DEMO_STEP_UP_MAX_AGE") or STEP_UP_MAX_AGE)
    extra: dict[str, t.Any] = {}
    if store is not None:
        extra["store"] = store
    if local is not None:
        extra.update(adapter=local.adapter, session={"strategy": "jwt"})
    app = Flask(
        __name__, template_folder=os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
    )
    secret = secret or os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET
    records = TwoFactorRecords(secret)
    passkeys = passkey_options(os.environ)
    passkey = passkeys.pop("passkey", None)
    app.config["DEMO_PASSKEYS"] = passkey is not None
    guard = AuthGuard(
        app,
        {
            **passkeys,
            "secret": secret,
            "providers": [
                CredentialsProvider(
                    authorize=authorize,
                    name="your demo account",
                    credentials={
                        "username": {"label": "Username", "placeholder": "alice or bob"},
                        "password": {"label": "Password", "type": "password"},
                    },
                ),
                *oauth_providers(os.environ),
                *([passkey] if passkey is not None else []),
                *(local.providers if local is not None else []),
            ],
            "callbacks": {"jwt": jwt_callback, "session": session_callback},
            "forbidden": forbidden,
            "two_factor": {"load": records.load, "save": records.save, "issuer": "flask_authguard demo"}
            if TWO_FACTOR
            else False,
            # Links are built on a trusted origin only: these hosts, unless the environment
            # names the public URL (NEXTAUTH_URL / AUTH_URL) or a proxy's Host (AUTH_TRUST_HOST).
            "trusted_hosts": None if _origin_from_environment() else ["localhost", "127.0.0.1"],
            **extra,
        },
        matcher=["/dashboard/:path*", "/devices/:path*"],
    )

    app.jinja_env.globals["two_factor"] = TWO_FACTOR

    @app.get("/")
    def home() -> str:
        return render_template("home.html", auth_session=get_server_session())

    @app.get("/dashboard")
    def dashboard() -> str:
        return render_template("dashboard.html", auth_session=get_server_session())

    @app.get("/admin")
    @auth_required(authorized=is_admin, mfa=TWO_FACTOR)
    def admin() -> str:
        return render_template("admin.html", auth_session=get_server_session(), users=USERS.values())

    @app.post("/dashboard/nickname")
    def nickname() -> t.Any:
        # the session is updated from the server: callbacks.jwt (trigger="update") decides
        update_session({"nickname": request.form.get("nickname", "")})
        return redirect(url_for("dashboard"), 303)

    @app.get("/account")
    @auth_required(max_age=max_age)
    def account() -> str:
        return render_template(
            "account.html",
            auth_session=get_server_session(),
            signed_in_at=g.auth_token.get("auth_time"),
            max_age=max_age,
        )

    @app.get("/devices")
    def devices() -> str:
        sessions = guard.list_sessions(g.auth_token["sub"])
        return render_template("devices.html", auth_session=get_server_session(), sessions=sessions)

    @app.post("/devices/<session_id>/end")
    def end_device(session_id: str) -> t.Any:
        # the guard refuses this POST from another site (cross-site protection), so no form token
        guard.end_session(g.auth_token["sub"], session_id)
        return redirect(url_for("devices"), 303)

    @app.get("/api/me")
    def api_me() -> t.Any:
        session = get_server_session()
        if session is None:
            body = {"error": "Unauthorized", "message": "Sign in to use this API."}
            return jsonify(body), 401, {"WWW-Authenticate": 'Bearer realm="demo"'}
        return jsonify(session)

    return app


def main(argv: t.Sequence[str] | None = None) -> None:
    """Start the demo: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5000."""
    parser = argparse.ArgumentParser(description="flask_authguard demo app")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)), help="0 picks a free port"
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="also sign in through a local OpenID Connect provider and an SMTP sink (examples/demo/local.py)",
    )
    args = parser.parse_args(argv)
    local = None
    try:
        if args.local:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # local.py, beside this file
            from local import LocalProviders  # type: ignore[import-not-found]

            local = LocalProviders()
            # SIGTERM too ends serve_forever through ``finally``, which stops the local services.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        app = create_app(local=local)
    except ConfigurationError as exc:  # a provider set in the environment without its extra, ...
        parser.exit(2, f"flask_authguard demo: {exc}\n")
    except ImportError as exc:
        parser.exit(2, f'flask_authguard demo: {exc}; --local needs pip install -e ".[demo]"\n')
    server = make_server(args.host, args.port, app, threaded=True)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"flask_authguard demo running on http://{host}:{server.server_port}/", flush=True)
    if app.config["DEMO_PASSKEYS"]:
        print(f"Passkeys: open http://localhost:{server.server_port}/ (not 127.0.0.1)", flush=True)
    print("Demo users (username / password / role):", flush=True)
    for username, (password, role) in DEMO_CREDENTIALS.items():
        print(f"  {username} / {password} / {role}", flush=True)
    if TWO_FACTOR:
        uri = provisioning_uri(DEMO_TOTP_SECRET, account="alice@example.com", issuer="flask_authguard demo")
        print(f"alice's authenticator (demo only): secret {DEMO_TOTP_SECRET}", flush=True)
        print(f"  {uri}", flush=True)
        print(f"  recovery codes: {', '.join(DEMO_RECOVERY_CODES)}", flush=True)
    else:
        print('No second factor: pip install -e ".[two-factor]" to try it.', flush=True)
    if not os.environ.get("NEXTAUTH_SECRET"):
        print(
            "Using the demo's built-in secret (demo only): set NEXTAUTH_SECRET to use your own.", flush=True
        )
    if local is not None:
        print(
            f"Local OpenID Connect provider: {local.oidc.issuer} (signs in as alice@example.com)", flush=True
        )
        print(f"Local SMTP sink: 127.0.0.1:{local.smtp.port} (sign-in links are printed here)", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if local is not None:
            local.stop()


if __name__ == "__main__":
    sys.exit(main())
