"""The token layer on its own: make, read and check NextAuth.js session cookies in Python.

Run it from a clone (after ``pip install -e .``)::

    python examples/tokens.py                      # a demo secret
    NEXTAUTH_SECRET=... python examples/tokens.py  # the secret your Next.js app uses

It encodes a session token exactly as next-auth v4 does, writes the ``Set-Cookie`` headers
next-auth would send (chunked when the token is long), reads them back from a request with
``get_token`` as a Flask API behind a Next.js front end does, and does the same for Auth.js v5.
"""

from __future__ import annotations

import os

from werkzeug.test import EnvironBuilder

from flask_authguard import decode, encode, get_token
from flask_authguard.core.http.cookies import chunk
from flask_authguard.core.settings.config import resolve_options

#: Demo only: use the secret of your next-auth app (NEXTAUTH_SECRET) for real cookies.
DEMO_SECRET = "demo-only-secret-change-me-0123456789abcdef"


def cookies_for(token: str, version: int, secure: bool = False) -> dict[str, str]:
    """The session cookie(s) a browser would hold after next-auth set ``token``."""
    config = resolve_options({"version": version, "secret": DEMO_SECRET}, warn_missing_secret=False)
    headers = chunk(config.session_cookie(secure), token, existing=(), chunk_size=config.chunk_size)
    return dict(h.split(";", 1)[0].split("=", 1) for h in headers)


def main() -> dict[str, object]:
    secret = os.environ.get("NEXTAUTH_SECRET") or DEMO_SECRET
    claims = {"name": "Alice", "email": "alice@example.com", "sub": "user-1", "role": "admin"}
    results: dict[str, object] = {}
    for version in (4, 5):
        salt = "authjs.session-token" if version == 5 else ""
        token = encode(token=claims, secret=secret, version=version, salt=salt, max_age=3600)
        print(f"v{version} token ({len(token)} characters): {token[:48]}...")
        print(f"  decode(): {decode(token=token, secret=secret, version=version, salt=salt)}")
        cookie = "; ".join(f"{k}={v}" for k, v in cookies_for(token, version).items())
        environ = EnvironBuilder(path="/api/me", headers={"Cookie": cookie}).get_environ()
        read = get_token(environ, secret=secret, version=version)
        print(f"  get_token() from the cookie: sub={read['sub'] if read else None}")
        results[f"v{version}"] = read
    big = encode(token={**claims, "groups": [f"group-{i:04d}" for i in range(600)]}, secret=secret)
    names = list(cookies_for(big, 4))
    print(f"a {len(big)}-character token is stored as {len(names)} cookies: {', '.join(names)}")
    results["chunks"] = names
    return results


if __name__ == "__main__":
    main()
