"""Provider token refresh with next-auth on the other side (issue 30.1): a session token written
by the real next-auth (its ``jwt`` callback keeping ``provider_tokens``, as the README shows) is
refreshed by Flask, and next-auth reads the cookie Flask rolled: the new tokens, or the ``error``
its ``session`` callback copies into ``session.error``."""

from __future__ import annotations

import pathlib
import typing as t

from conftest import SECRET
from support.handler_app import client_of
from support.nodejs import nextauth  # noqa: F401 - the session fixture
from support.oauth_app import PROFILE_CLAIMS
from support.oauth_flow import cookie_of, sign_in
from support.refresh_app import PROVIDER, flask_app, options

from flask_authguard import decode

if t.TYPE_CHECKING:
    from support.nodejs import NextAuth
    from support.oidc_server import OIDCServer

SESSION = "next-auth.session-token"


def test_flask_refreshes_a_nextauth_session_and_nextauth_reads_the_result(
    nextauth: NextAuth,  # noqa: F811 - the fixture imported above
    idp: OIDCServer,
    tmp_path: pathlib.Path,
) -> None:
    app = flask_app(options(idp.issuer))
    # A real refresh token of the provider, as next-auth's sign-in would have received it.
    idp.scenario(access_ttl=30, claims=PROFILE_CLAIMS)
    signer = client_of(app)
    sign_in(signer, PROVIDER)
    record = decode(token=cookie_of(signer, SESSION), secret=SECRET)["provider_tokens"][PROVIDER]

    claims = {
        "sub": "johndoe",
        "name": "Jo Doe",
        "email": "jo@example.com",
        "provider_tokens": {PROVIDER: record},
    }
    [written] = nextauth.values([{"op": "encode", "token": claims, "secret": SECRET, "maxAge": 3600}])
    client = client_of(app)
    client.set_cookie(SESSION, written)
    idp.scenario(access_ttl=3600)
    token = client.get("/token").get_json()["token"]
    assert token and token != record["access_token"]
    [read] = nextauth.values([{"op": "decode", "token": cookie_of(client, SESSION), "secret": SECRET}])
    kept = read["provider_tokens"][PROVIDER]
    assert kept["access_token"] == token and kept["refresh_token"] != record["refresh_token"]
    assert "error" not in read and read["email"] == "jo@example.com"

    # A refused refresh: next-auth finds the mark its session callback shows as session.error.
    due = {**read, "provider_tokens": {PROVIDER: {**kept, "expires_at": 1}}}
    [written] = nextauth.values([{"op": "encode", "token": due, "secret": SECRET, "maxAge": 3600}])
    client.set_cookie(SESSION, written)
    idp.scenario(refresh_refuse=True)
    assert client.get("/token").status_code == 401
    [read] = nextauth.values([{"op": "decode", "token": cookie_of(client, SESSION), "secret": SECRET}])
    assert read["error"] == "RefreshAccessTokenError"
    assert (
        read["provider_tokens"][PROVIDER]["refresh_token"] == kept["refresh_token"]
    )  # kept for the next try
