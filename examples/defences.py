"""A Flask API behind a Next.js front end, with its defences configured.

Run it from a clone of the repository::

    python examples/defences.py            # http://127.0.0.1:5006, memory store, one process
    REDIS_URL=redis://127.0.0.1:6379/0 python examples/defences.py   # shared by many workers
    REDIS_URL=redis+sentinel://127.0.0.1:26379/mymaster python examples/defences.py  # behind Sentinel
    REDIS_URL=... STORE_CACHE=off python examples/defences.py         # ask Redis on every request
    NEXTAUTH_URL=https://app.example.com python examples/defences.py  # links on that origin only

What it shows:

- **cross-site defence**: ``POST /api/notes`` with the session cookie is refused (403 JSON) when it
  comes from another origin; the Next.js front end at ``http://localhost:3000`` is listed in
  ``trusted_origins``, so its ``fetch(..., {credentials: "include"})`` goes through. ``POST
  /api/feedback`` is outside the matcher and asks ``get_server_session()`` who sent it: from
  another site it is anonymous, never the victim;
- **trusted hosts**: links (sign-in redirects, email links, OAuth ``redirect_uri``) are built only
  on ``NEXTAUTH_URL`` or a host in ``TRUSTED_HOSTS`` (default ``localhost,127.0.0.1``); a request
  for another ``Host`` gets 400 on the auth routes and protected paths;
- **sign-in throttling**: five wrong passwords a minute for one user from one address (25 from all
  addresses together, so one address cannot lock the owner out), then 429 with ``Retry-After``;
- **sign out everywhere**: the home page's form posts ``everywhere=true`` to ``/api/auth/signout``;
- **revocation by an admin**: ``POST /admin/revoke/<user_id>`` (admins only) ends every session of
  that user, on every worker sharing the store, from its next request (with Redis, each worker's
  copy of the entries it read is dropped by Redis's push before ``revoke_user`` returns);
- **absolute lifetime**: a session ends 12 hours after sign-in, however often it is refreshed.

Demo users: ``alice``/``alice-admin-pw`` (an admin) and ``bob``/``bob-user-pw``. Behind a proxy,
wrap ``app.wsgi_app`` in werkzeug's ``ProxyFix`` so throttling counts the client's address, not
the proxy's.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import typing as t

from flask import Flask, g, render_template_string

try:
    from flask_authguard import AuthGuard, CredentialsProvider, get_server_session
except ImportError:  # run from a clone without installing: use the package beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from flask_authguard import AuthGuard, CredentialsProvider, get_server_session

# DEMO ONLY: anyone can read this secret. Set NEXTAUTH_SECRET (or AUTHGUARD_SECRET) for real use.
DEMO_SECRET = "flask-authguard-defences-example-DO-NOT-USE-IN-PRODUCTION"
DEFAULT_PORT = "5006"

DEMO_USERS: dict[str, tuple[str, dict[str, str]]] = {
    "alice": ("alice-admin-pw", {"id": "1", "name": "Alice", "role": "admin"}),
    "bob": ("bob-user-pw", {"id": "2", "name": "Bob", "role": "user"}),
}
NOTES: list[str] = []


def authorize(*, credentials: dict[str, str], **_: t.Any) -> dict[str, str] | None:
    password, user = DEMO_USERS.get(credentials.get("username", ""), ("", {}))
    if not user or not hmac.compare_digest(password.encode(), credentials.get("password", "").encode()):
        return None
    return user


def keep_role(
    *, token: dict[str, t.Any], user: dict[str, t.Any] | None = None, **_: t.Any
) -> dict[str, t.Any]:
    if user is not None:
        token["role"] = user.get("role", "user")
    return token


app = Flask(__name__)
app.config["AUTHGUARD_SECRET"] = os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET
guard = AuthGuard(
    app,
    {
        "providers": [
            CredentialsProvider(
                authorize=authorize,
                credentials={
                    "username": {"label": "Username"},
                    "password": {"label": "Password", "type": "password"},
                },
            )
        ],
        "callbacks": {"jwt": keep_role},
        "trusted_origins": ["http://localhost:3000"],  # the Next.js front end
        # The hosts links may be built on (without NEXTAUTH_URL); any other Host gets 400.
        "trusted_hosts": os.environ.get("TRUSTED_HOSTS", "localhost,127.0.0.1").split(","),
        "store": os.environ.get("REDIS_URL", "memory://"),
        # With Redis, each worker keeps the revocation entries it read and Redis pushes when to
        # forget them (the default; False asks Redis on every request).
        "store_cache": os.environ.get("STORE_CACHE", "on") != "off",
        "throttle": {"per_identifier": "5/minute;20/hour"},
        "session": {"max_lifetime": 12 * 60 * 60},
    },
    matcher=["/api/notes", "/admin/:path*"],
)

# "Sign out everywhere" as next-auth's client signs out: fetch the CSRF token, then POST
# /api/auth/signout (here with everywhere=true).
HOME = """<!doctype html><title>Defences</title>
<h1>An API with its defences configured</h1>
<p>The routes (see the module's docstring for each defence):</p>
<ul>
<li><code>POST /api/notes</code>: signed-in users; refused (403) when cookie-authenticated from
another origin than <code>http://localhost:3000</code></li>
<li><code>POST /api/feedback</code>: public; from another site the session reads as nobody</li>
<li><code>POST /admin/revoke/&lt;user_id&gt;</code>: admins end every session of a user</li>
<li><a href="/api/auth/session"><code>GET /api/auth/session</code></a>: the session as JSON</li>
<li><a href="/api/auth/signin"><code>/api/auth/signin</code></a>: five wrong passwords a minute,
then 429</li>
</ul>
{% if session %}<p>Signed in as {{ session.user.name }}.</p>
<button id="everywhere">Sign out everywhere</button>
<script>
document.getElementById("everywhere").onclick = async () => {
  const { csrfToken } = await (await fetch("/api/auth/csrf")).json();
  const body = new URLSearchParams({ csrfToken, everywhere: "true", json: "true" });
  await fetch("/api/auth/signout", { method: "POST", body });
  location.reload();
};
</script>
{% else %}<p><a href="/api/auth/signin">Sign in</a></p>{% endif %}
"""


@app.get("/")
def home() -> str:
    return render_template_string(HOME, session=get_server_session())


@app.post("/api/notes")
def add_note() -> dict[str, t.Any]:
    NOTES.append(f"note by {g.auth_token['sub']}")
    return {"notes": NOTES}


@app.post("/api/feedback")
def feedback() -> dict[str, t.Any]:
    # Outside the matcher: the session read decides who sent it, and a cross-site POST with the
    # victim's cookie reads no session.
    session = get_server_session()
    return {"from": session["user"]["name"] if session else None}


@app.post("/admin/revoke/<user_id>")
def revoke(user_id: str) -> tuple[dict[str, t.Any], int]:
    if g.auth_token.get("role") != "admin":
        return {"error": "Forbidden"}, 403
    guard.revoke_user(user_id)
    return {"revoked": user_id}, 200


def main(argv: t.Sequence[str] | None = None) -> None:
    """Serve the example: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5006."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    print(f"flask_authguard defences example: http://{args.host}:{args.port}/")
    print("demo users: " + ", ".join(f"{name} / {pw}" for name, (pw, _) in DEMO_USERS.items()))
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
