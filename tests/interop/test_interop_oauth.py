"""The real next-auth reads what an OAuth sign-in here wrote (issue 13): ``getToken`` decodes the
session cookie, ``jwt.decode`` the check cookies (salted as next-auth salts them), and
``@auth/pg-adapter``'s ``getUserByAccount`` finds the user and account rows in PostgreSQL,
whose database session next-auth's ``getServerSession`` then reads.

Needs Node.js/npm (and PostgreSQL for the adapter test); skipped with the reason without them,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import secrets
import typing as t

import pytest
from conftest import SECRET
from support import missing
from support.handler_app import client_of, make_app
from support.oauth_app import BASE, PROFILE_CLAIMS, oidc
from support.oauth_flow import cookie_of, sign_in, start

if t.TYPE_CHECKING:
    from support.nodejs import NextAuth
    from support.oidc_server import OIDCServer


def test_get_token_reads_the_session_cookie_of_an_oauth_sign_in(nextauth: NextAuth, idp: OIDCServer) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)

    def jwt(
        *, token: dict[str, t.Any], account: dict[str, t.Any] | None = None, **kw: t.Any
    ) -> dict[str, t.Any]:
        if account:
            token["access_token"] = account["access_token"]
        return token

    client = client_of(make_app(providers=[oidc(idp)], callbacks={"jwt": jwt}))
    assert sign_in(client, "corp").headers["Location"] == f"{BASE}/private"
    cookie = cookie_of(client, "next-auth.session-token")
    [token] = nextauth.values(
        [
            {
                "op": "getToken",
                "req": {"headers": {"cookie": f"next-auth.session-token={cookie}"}},
                "secret": SECRET,
            }
        ]
    )
    assert token["sub"] == "johndoe"
    assert token["email"] == "jo@example.com" and token["name"] == "Jo Doe"
    assert token["picture"] == "https://example.com/jo.png"
    assert isinstance(token["access_token"], str) and token["access_token"]


def test_next_auth_decodes_the_check_cookies(nextauth: NextAuth, idp: OIDCServer) -> None:
    client = client_of(make_app(providers=[oidc(idp)]))
    start(client, "corp")
    names = ("next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce")
    decoded = nextauth.values(
        [{"op": "decode", "token": cookie_of(client, n), "secret": SECRET, "salt": n} for n in names]
    )
    for claims in decoded:
        assert claims["provider"] == "corp" and isinstance(claims["value"], str)
        assert claims["exp"] - claims["iat"] == 900


def test_pg_adapter_finds_the_oauth_user_and_reads_the_session(idp: OIDCServer) -> None:
    sa = pytest.importorskip("sqlalchemy")
    from support.adapters import postgres_url, require_postgres
    from support.nextauth_pg import NextAuthPg, install
    from support.nodejs import NodeUnavailable

    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    try:
        node_dir = install()
    except NodeUnavailable as exc:
        missing(f"next-auth interop needs Node.js and npm: {exc}")
    engine = require_postgres()
    schema = f"authguard_oauth_{os.getpid()}_{secrets.token_hex(4)}"
    adapter = SQLAlchemyAdapter(engine, schema=schema, create_tables=True)
    url = sa.engine.make_url(postgres_url()).set(drivername="postgresql")
    node = NextAuthPg(node_dir, url.render_as_string(hide_password=False), schema)
    try:
        idp.scenario(claims=PROFILE_CLAIMS)
        client = client_of(make_app(providers=[oidc(idp)], adapter=adapter))
        assert sign_in(client, "corp").headers["Location"] == f"{BASE}/private"
        theirs = node.run("getUserByAccount", provider="corp", providerAccountId="johndoe")
        ours = adapter.get_user_by_account({"provider": "corp", "providerAccountId": "johndoe"})
        assert ours is not None and theirs is not None
        assert str(theirs["id"]) == ours["id"]
        assert theirs["email"] == "jo@example.com" and theirs["name"] == "Jo Doe"
        session_token = cookie_of(client, "next-auth.session-token")
        read = node.run("getServerSession", cookies={"next-auth.session-token": session_token})
        assert read["session"]["user"]["email"] == "jo@example.com"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
