"""OAuth 2.0 and OpenID Connect sign-in (issue 13) against a real provider process."""

from __future__ import annotations

import typing as t

import pytest
from conftest import SECRET
from oauth_flow import back, consent, cookie_of, query, sign_in, start
from oidc_server import OIDCServer, idp, oidc_server  # noqa: F401
from test_handler import client_of, make_app

from flask_authguard import OIDCProvider, decode

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


def session_token(client: t.Any) -> dict[str, t.Any] | None:
    value = cookie_of(client, SESSION)
    return None if value is None else decode(token=value, secret=SECRET)


def test_oidc_happy_path_jwt(idp: OIDCServer) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    seen: dict[str, t.Any] = {}

    def jwt(*, token: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        if kwargs.get("account"):
            seen.update(kwargs)
            token["access_token"] = kwargs["account"]["access_token"]
        return token

    client = client_of(make_app(providers=[oidc(idp)], callbacks={"jwt": jwt}))
    response = sign_in(client, "corp")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/private"
    token = session_token(client)
    assert token is not None
    assert token["sub"] == "johndoe"
    assert token["email"] == "jo@example.com"
    assert token["name"] == "Jo Doe"
    assert token["picture"] == "https://example.com/jo.png"
    assert token["access_token"] == seen["account"]["access_token"]
    assert seen["account"]["provider"] == "corp"
    assert seen["account"]["type"] == "oidc"
    assert seen["account"]["providerAccountId"] == "johndoe"
    assert seen["profile"]["iss"] == idp.issuer
    assert seen["trigger"] == "signIn" and seen["is_new_user"] is False
    session = client.get("/api/auth/session").get_json()
    assert session["user"] == {"name": "Jo Doe", "email": "jo@example.com", "image": "https://example.com/jo.png"}
