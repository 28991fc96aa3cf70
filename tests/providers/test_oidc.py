"""``OIDCProvider`` (``flask_authguard/providers/oidc.py``) against the real provider the suite
starts: the ID token is verified whatever reads the profile (``userinfo_request`` too), must carry
``iat``, and a userinfo answer about another ``sub`` is refused. The sign-in round trips of every
provider are in ``test_oauth.py``; key rotation in ``test_oidc_keys.py``."""

from __future__ import annotations

import time
import typing as t

import pytest
from support.handler_app import client_of, make_app
from support.oauth_app import BASE, PROFILE_CLAIMS, oidc, refused
from support.oauth_flow import back, consent, query, sign_in, start

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer


def read_userinfo(*, session: t.Any, tokens: t.Mapping[str, t.Any], provider: t.Any) -> t.Any:
    """An app's own profile read: the issuer's userinfo endpoint, with the access token."""
    return session.get(f"{provider.issuer}/userinfo", timeout=10).json()


def keeping(accounts: list[dict[str, t.Any]]) -> t.Callable[..., t.Any]:
    """A ``callbacks.jwt`` that keeps each sign-in's ``account`` in ``accounts``."""

    def jwt(*, token: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        if kwargs.get("account"):
            accounts.append(kwargs["account"])
        return token

    return jwt


def test_userinfo_request_reads_the_profile_once_the_id_token_verified(idp: OIDCServer) -> None:
    idp.scenario(claims=PROFILE_CLAIMS, userinfo={"sub": "johndoe", "name": "Jo from userinfo"})
    accounts: list[dict[str, t.Any]] = []
    app = make_app(
        providers=[oidc(idp, userinfo_request=read_userinfo)], callbacks={"jwt": keeping(accounts)}
    )
    client = client_of(app)
    assert sign_in(client, "corp").headers["Location"] == f"{BASE}/private"
    assert client.get("/api/auth/session").get_json()["user"]["name"] == "Jo from userinfo"
    assert accounts[0]["providerAccountId"] == "johndoe" and accounts[0]["id_token"]


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param({"tamper_signature": True}, id="bad-signature"),
        pytest.param({"claims": {"aud": "another-client"}}, id="other-audience"),
        pytest.param({"claims": {"iss": "https://evil.example"}}, id="other-issuer"),
        pytest.param({"claims": {"exp": 1_000_000_000, "iat": 999_999_000}}, id="expired"),
        pytest.param({"claims": {"nonce": "nonce-of-another-flow"}}, id="foreign-nonce"),
        pytest.param({"drop_claims": ["iat"]}, id="no-iat"),
    ],
)
def test_userinfo_request_does_not_skip_the_id_token(idp: OIDCServer, scenario: dict[str, t.Any]) -> None:
    """With ``userinfo_request`` the ID token was neither verified nor refused, yet kept in the
    account: now it is refused as without it (next-auth v4 verifies it in ``client.callback()``
    whatever ``userinfo.request`` does)."""
    userinfo = {"sub": "johndoe", "email": "jo@example.com"}
    idp.scenario(
        userinfo=userinfo, **{**scenario, "claims": {**PROFILE_CLAIMS, **scenario.get("claims", {})}}
    )
    accounts: list[dict[str, t.Any]] = []
    app = make_app(
        providers=[oidc(idp, userinfo_request=read_userinfo)], callbacks={"jwt": keeping(accounts)}
    )
    refused(sign_in(client_of(app), "corp"), "OAuthCallback")
    assert accounts == []


def test_userinfo_about_another_sub_is_refused(idp: OIDCServer) -> None:
    """OpenID Connect Core 5.3.2: the userinfo answer's ``sub`` must be the ID token's."""
    idp.scenario(claims=PROFILE_CLAIMS, userinfo={"sub": "someone-else", "email": "else@example.com"})
    client = client_of(make_app(providers=[oidc(idp, userinfo_request=read_userinfo)]))
    refused(sign_in(client, "corp"), "OAuthCallback")
    # an answer without a sub (an app's own mapping) is the ID token's user's
    idp.scenario(claims=PROFILE_CLAIMS, userinfo={"id": "jo", "email": "jo@example.com"})
    assert sign_in(client, "corp").headers["Location"] == f"{BASE}/private"


def test_userinfo_request_step_up_checks_auth_time(idp: OIDCServer) -> None:
    """A step-up sign-in (``max_age``) is refused when the ID token's ``auth_time`` is a day old,
    ``userinfo_request`` or not."""
    idp.scenario(
        claims={**PROFILE_CLAIMS, "auth_time": int(time.time()) - 86400}, userinfo={"sub": "johndoe"}
    )
    client = client_of(make_app(providers=[oidc(idp, userinfo_request=read_userinfo)]))
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    begun = client.post(
        "/api/auth/signin/corp?max_age=300", data={"csrfToken": csrf, "callbackUrl": "/private"}
    )
    assert query(begun.headers["Location"])["max_age"] == "300"
    refused(back(client, consent(begun.headers["Location"])), "OAuthCallback")


@pytest.mark.parametrize("reads", ["id-token", "userinfo-request"])
def test_nonce_alone_binds_the_callback_to_its_browser(idp: OIDCServer, reads: str) -> None:
    """``checks=["nonce"]`` is enough for OpenID Connect: the nonce is compared with the ID
    token's, so a code from another browser's flow (login CSRF) signs nobody in, with or without
    ``userinfo_request``."""
    idp.scenario(claims=PROFILE_CLAIMS, userinfo={"sub": "johndoe"})
    extra = {"userinfo_request": read_userinfo} if reads == "userinfo-request" else {}
    app = make_app(providers=[oidc(idp, checks=["nonce"], **extra)])
    attacker, victim = client_of(app), client_of(app)
    code = query(consent(start(attacker, "corp").headers["Location"]))["code"]
    start(victim, "corp")  # the victim's own nonce cookie
    refused(victim.get(f"/api/auth/callback/corp?code={code}"), "OAuthCallback")
    assert sign_in(victim, "corp").headers["Location"] == f"{BASE}/private"  # its own flow works


def test_id_token_without_iat_is_refused(idp: OIDCServer) -> None:
    """OpenID Connect Core 3.1.3.7 requires ``iat``."""
    idp.scenario(claims=PROFILE_CLAIMS, drop_claims=["iat"])
    client = client_of(make_app(providers=[oidc(idp)]))
    refused(sign_in(client, "corp"), "OAuthCallback")
    idp.scenario(claims=PROFILE_CLAIMS)
    assert sign_in(client, "corp").headers["Location"] == f"{BASE}/private"
