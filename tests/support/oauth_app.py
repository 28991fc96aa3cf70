"""The OAuth/OIDC providers of the sign-in suite (``tests/providers/test_oauth.py``) against the local
OIDC server, shared with the provider and interop suites."""

from __future__ import annotations

import typing as t

from flask_authguard import OAuthProvider, OIDCProvider
from support.oauth_flow import query

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer

BASE = "http://app.example.com"
SESSION = "next-auth.session-token"
PROFILE_CLAIMS = {"email": "jo@example.com", "name": "Jo Doe", "picture": "https://example.com/jo.png"}


def oidc(server: OIDCServer, **extra: t.Any) -> OIDCProvider:
    options: dict[str, t.Any] = {
        "id": "corp",
        "name": "Corp",
        "issuer": server.issuer,
        "client_id": "client-1",
        "client_secret": "client-secret-1",
    }
    options.update(extra)
    return OIDCProvider(**options)


def refused(response: t.Any, code: str) -> None:
    """The callback answered next-auth's error redirect with ``code`` and set no session."""
    assert response.status_code == 302, response.data[:300]
    location = response.headers["Location"]
    assert location.startswith(f"{BASE}/api/auth/error?"), location
    assert query(location)["error"] == code
    assert not any(h.startswith(SESSION) for h in response.headers.getlist("Set-Cookie"))


def generic(server: OIDCServer, **extra: t.Any) -> OAuthProvider:
    options: dict[str, t.Any] = {
        "id": "acme",
        "name": "Acme",
        "authorization_url": f"{server.issuer}/authorize",
        "token_url": f"{server.issuer}/token",
        "userinfo_url": f"{server.issuer}/userinfo",
        "client_id": "acme-client",
        "client_secret": "acme-secret",
        "scope": "profile",
    }
    options.update(extra)
    return OAuthProvider(**options)
