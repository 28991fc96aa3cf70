"""OAuth 2.0 and OpenID Connect sign-in (issue 13) against a real provider process."""

from __future__ import annotations

import socket
import sys
import time
import typing as t

import pytest
from conftest import SECRET, FrozenClock
from flask import Flask
from support.handler_app import CURRENT_KIND, client_of, make_app
from support.oauth_app import BASE, PROFILE_CLAIMS, SESSION, generic, oidc, refused
from support.oauth_flow import back, consent, cookie_of, query, sign_in, start

from flask_authguard import ConfigurationError, OAuthProvider, OIDCProvider, decode

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer


def session_token(client: t.Any) -> dict[str, t.Any] | None:
    value = cookie_of(client, SESSION)
    return None if value is None else decode(token=value, secret=SECRET)


@pytest.fixture(params=["flask", "wsgi"])
def kind(request: pytest.FixtureRequest) -> t.Iterator[str]:
    """``make_app`` builds a Flask app (AuthGuard), then a plain WSGI app (with_auth)."""
    CURRENT_KIND[0] = request.param
    yield request.param
    CURRENT_KIND[0] = "flask"


def test_oidc_happy_path_jwt(idp: OIDCServer, kind: str) -> None:
    """The whole round trip, in a Flask app and in a plain WSGI app."""
    idp.scenario(claims=PROFILE_CLAIMS)
    seen: dict[str, t.Any] = {}

    def jwt(*, token: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        if kwargs.get("account"):
            seen.update(kwargs)
            token["access_token"] = kwargs["account"]["access_token"]
        return token

    app = make_app(providers=[oidc(idp)], callbacks={"jwt": jwt})
    assert (kind == "flask") == isinstance(app, Flask)
    client = client_of(app)
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
    assert session["user"] == {
        "name": "Jo Doe",
        "email": "jo@example.com",
        "image": "https://example.com/jo.png",
    }


# -- helpers for the failures -------------------------------------------------------------------


def check_cookies_cleared(response: t.Any, *names: str) -> None:
    headers = response.headers.getlist("Set-Cookie")
    for name in names:
        assert any(h.startswith(f"{name}=;") and "Max-Age=0" in h for h in headers), (name, headers)


@pytest.fixture
def corp_client(idp: OIDCServer) -> t.Any:
    return client_of(make_app(providers=[oidc(idp)]))


def test_check_cookies_as_next_auth_writes_them(corp_client: t.Any, idp: OIDCServer) -> None:
    begun = start(corp_client, "corp")
    headers = {h.split("=", 1)[0]: h for h in begun.headers.getlist("Set-Cookie")}
    url = query(begun.headers["Location"])
    for name in ("next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce"):
        header = headers[name]
        assert (
            "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header and "Expires=" in header
        )
        assert ("Max-Age=900" in header) == (name != "next-auth.nonce")
        claims = decode(token=cookie_of(corp_client, name), secret=SECRET, salt=name)
        assert claims is not None and claims["provider"] == "corp"
        assert claims["exp"] - claims["iat"] == 900
    assert (
        decode(token=cookie_of(corp_client, "next-auth.state"), secret=SECRET, salt="next-auth.state")[
            "value"
        ]
        == url["state"]
    )
    assert (
        url["nonce"]
        == decode(token=cookie_of(corp_client, "next-auth.nonce"), secret=SECRET, salt="next-auth.nonce")[
            "value"
        ]
    )
    assert url["code_challenge_method"] == "S256" and url["client_id"] == "client-1"
    assert url["redirect_uri"] == f"{BASE}/api/auth/callback/corp"
    assert url["scope"] == "openid email profile"
    # Used once, then cleared.
    done = back(corp_client, consent(begun.headers["Location"]))
    assert done.status_code == 302 and cookie_of(corp_client, SESSION)
    check_cookies_cleared(done, "next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce")


def test_secure_cookie_names_on_https(idp: OIDCServer) -> None:
    client = client_of(
        make_app(providers=[oidc(idp)], url="https://app.example.com"), "https://app.example.com"
    )
    begun = start(client, "corp")
    names = {h.split("=", 1)[0] for h in begun.headers.getlist("Set-Cookie")}
    assert {  # issue 27: __Host- (next-auth writes __Secure-)
        "__Host-next-auth.state",
        "__Host-next-auth.pkce.code_verifier",
        "__Host-next-auth.nonce",
    } <= names
    assert all("Secure" in h for h in begun.headers.getlist("Set-Cookie") if "next-auth.state" in h)
    done = back(client, consent(begun.headers["Location"]))
    assert done.headers["Location"] == "https://app.example.com/private"
    assert cookie_of(client, "__Secure-next-auth.session-token")


def test_denied_consent(corp_client: t.Any, idp: OIDCServer) -> None:
    idp.scenario(authorize_error="access_denied")
    response = sign_in(corp_client, "corp")
    refused(response, "Callback")
    check_cookies_cleared(response, "next-auth.state")
    # The error route sends the code on to the sign-in page, which explains it.
    page = corp_client.get(response.headers["Location"])
    assert query(page.headers["Location"])["error"] == "Callback"


def test_missing_state_cookie(corp_client: t.Any) -> None:
    begun = start(corp_client, "corp")
    corp_client.delete_cookie("next-auth.state")
    refused(back(corp_client, consent(begun.headers["Location"])), "OAuthCallback")


def test_forged_state(corp_client: t.Any) -> None:
    begun = start(corp_client, "corp")
    redirect = consent(begun.headers["Location"])
    forged = redirect.replace(f"state={query(redirect)['state']}", "state=forged")
    refused(back(corp_client, forged), "OAuthCallback")


def test_forged_state_cookie(corp_client: t.Any) -> None:
    begun = start(corp_client, "corp")
    corp_client.set_cookie("next-auth.state", "not-a-jwe")
    refused(back(corp_client, consent(begun.headers["Location"])), "OAuthCallback")


def test_state_cookie_of_another_provider(idp: OIDCServer) -> None:
    client = client_of(make_app(providers=[oidc(idp), oidc(idp, id="other", name="Other")]))
    other = start(client, "other")
    other_cookies = {
        n: cookie_of(client, n)
        for n in ("next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce")
    }
    redirect = consent(other.headers["Location"]).replace("/callback/other", "/callback/corp")
    refused(back(client, redirect), "OAuthCallback")
    assert all(other_cookies.values())


def test_replayed_state(corp_client: t.Any) -> None:
    begun = start(corp_client, "corp")
    cookies = {
        n: cookie_of(corp_client, n)
        for n in ("next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce")
    }
    redirect = consent(begun.headers["Location"])
    assert back(corp_client, redirect).status_code == 302 and cookie_of(corp_client, SESSION)
    # An attacker who copied the cookies and the callback URL replays them in a fresh browser.
    attacker = client_of(corp_client.application)
    for name, value in cookies.items():
        attacker.set_cookie(name, value)
    refused(back(attacker, redirect), "OAuthCallback")


def _two_flows(client: t.Any) -> tuple[str, dict[str, str | None], dict[str, str | None]]:
    names = ("next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce")
    first = start(client, "corp")
    first_cookies = {n: cookie_of(client, n) for n in names}
    start(client, "corp")
    second_cookies = {n: cookie_of(client, n) for n in names}
    for name, value in first_cookies.items():
        client.set_cookie(name, value)
    return first.headers["Location"], first_cookies, second_cookies


def test_pkce_mismatch(corp_client: t.Any) -> None:
    url, _, second = _two_flows(corp_client)
    corp_client.set_cookie("next-auth.pkce.code_verifier", second["next-auth.pkce.code_verifier"])
    refused(back(corp_client, consent(url)), "OAuthCallback")


def test_nonce_mismatch(corp_client: t.Any) -> None:
    url, _, second = _two_flows(corp_client)
    corp_client.set_cookie("next-auth.nonce", second["next-auth.nonce"])
    refused(back(corp_client, consent(url)), "OAuthCallback")


def test_the_first_flow_of_two_still_works(corp_client: t.Any) -> None:
    url, _, _ = _two_flows(corp_client)
    assert back(corp_client, consent(url)).headers["Location"] == f"{BASE}/private"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "http://127.0.0.1:1/evil"},
        {"aud": "another-client"},
        {"exp": 1_000_000_000, "iat": 999_999_000, "nbf": 999_999_000},
        {"nonce": "replayed-nonce"},
    ],
    ids=["issuer", "audience", "expired", "nonce"],
)
def test_id_token_claims_refused(corp_client: t.Any, idp: OIDCServer, claims: dict[str, t.Any]) -> None:
    idp.scenario(claims=claims)
    refused(sign_in(corp_client, "corp"), "OAuthCallback")


def test_id_token_bad_signature(corp_client: t.Any, idp: OIDCServer) -> None:
    idp.scenario(tamper_signature=True)
    refused(sign_in(corp_client, "corp"), "OAuthCallback")


def test_token_endpoint_garbage(corp_client: t.Any, idp: OIDCServer) -> None:
    idp.scenario(token_garbage=True)
    refused(sign_in(corp_client, "corp"), "OAuthCallback")


@pytest.mark.parametrize(
    "body",
    [{"error": "invalid_grant"}, {"token_type": "Bearer"}, ["not", "an", "object"], "just a string"],
    ids=["oauth-error", "no-access-token", "list", "string"],
)
def test_token_endpoint_unusable_json(corp_client: t.Any, idp: OIDCServer, body: t.Any) -> None:
    idp.scenario(token_response=body, token_status=400 if isinstance(body, dict) and "error" in body else 200)
    refused(sign_in(corp_client, "corp"), "OAuthCallback")


def test_no_id_token(corp_client: t.Any, idp: OIDCServer) -> None:
    idp.scenario(token_response={"access_token": "at", "token_type": "Bearer"})
    refused(sign_in(corp_client, "corp"), "OAuthCallback")


def test_key_rotation(idp: OIDCServer) -> None:
    provider = oidc(idp)
    client = client_of(make_app(providers=[provider]))
    assert sign_in(client, "corp").headers["Location"] == f"{BASE}/private"
    old_keys = provider._jwks
    new_kid = idp.rotate()
    fresh = client_of(client.application)
    assert sign_in(fresh, "corp").headers["Location"] == f"{BASE}/private"
    assert provider._jwks is not old_keys
    assert new_kid in [key.kid for key in provider._jwks.keys]


def test_no_secret_in_logs(corp_client: t.Any, idp: OIDCServer, caplog: pytest.LogCaptureFixture) -> None:
    idp.scenario(token_response={"error": "invalid_grant", "error_description": "bad"}, token_status=400)
    caplog.set_level("DEBUG", logger="flask_authguard")
    begun = start(corp_client, "corp")
    redirect = consent(begun.headers["Location"])
    refused(back(corp_client, redirect), "OAuthCallback")
    text = caplog.text
    assert "invalid_grant" in text
    for secret in (
        "client-secret-1",
        SECRET,
        query(redirect)["code"],
        cookie_of(corp_client, "next-auth.state") or "x",
    ):
        assert secret not in text


# -- the provider down or hanging ----------------------------------------------------------------


@pytest.fixture
def silent_port() -> t.Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return t.cast(int, probe.getsockname()[1])


def test_issuer_down_at_sign_in(caplog: pytest.LogCaptureFixture) -> None:
    provider = OIDCProvider(
        id="corp", name="Corp", issuer=f"http://127.0.0.1:{closed_port()}", client_id="c", client_secret="s"
    )
    client = client_of(make_app(providers=[provider]))
    begun = start(client, "corp")
    assert begun.status_code == 302
    assert query(begun.headers["Location"])["error"] == "OAuthSignin"
    assert "ConnectionError" in caplog.text


def test_issuer_hanging_at_sign_in(silent_port: int) -> None:
    provider = OIDCProvider(
        id="corp",
        name="Corp",
        issuer=f"http://127.0.0.1:{silent_port}",
        client_id="c",
        client_secret="s",
        timeout=0.5,
    )
    client = client_of(make_app(providers=[provider]))
    began = time.monotonic()
    begun = start(client, "corp")
    assert time.monotonic() - began < 3
    assert query(begun.headers["Location"])["error"] == "OAuthSignin"


def test_token_endpoint_hanging(idp: OIDCServer, silent_port: int) -> None:
    provider = oidc(idp, token_url=f"http://127.0.0.1:{silent_port}/token", timeout=0.5)
    client = client_of(make_app(providers=[provider]))
    began = time.monotonic()
    refused(sign_in(client, "corp"), "OAuthCallback")
    assert time.monotonic() - began < 3


def test_token_endpoint_down(idp: OIDCServer) -> None:
    provider = oidc(idp, token_url=f"http://127.0.0.1:{closed_port()}/token")
    refused(sign_in(client_of(make_app(providers=[provider])), "corp"), "OAuthCallback")


def test_default_timeout() -> None:
    """Issue 27: 10 s for each request in total (next-auth's 3.5 s bounds each socket read)."""
    assert OIDCProvider(id="x", name="X", issuer="https://id.example.com", client_id="c").timeout == 10


# -- generic OAuth 2.0 ---------------------------------------------------------------------------


def test_oauth_happy_path_jwt(idp: OIDCServer) -> None:
    idp.scenario(userinfo={"uid": 42, "display": "Ann", "mail": "ann@example.com"})
    seen: list[t.Any] = []

    def profile(profile: dict[str, t.Any], tokens: dict[str, t.Any]) -> dict[str, t.Any]:
        seen.append((profile, tokens))
        return {"id": profile["uid"], "name": profile["display"], "email": profile["mail"]}

    provider = generic(idp, profile=profile, authorization_params={"prompt": "consent"})
    client = client_of(make_app(providers=[provider]))
    begun = start(client, "acme")
    url = query(begun.headers["Location"])
    assert url["prompt"] == "consent" and url["scope"] == "profile"
    assert url["code_challenge_method"] == "S256"  # issue 27: PKCE by default
    names = {h.split("=", 1)[0] for h in begun.headers.getlist("Set-Cookie")}
    assert "next-auth.state" in names and "next-auth.pkce.code_verifier" in names
    done = back(client, consent(begun.headers["Location"]))
    assert done.headers["Location"] == f"{BASE}/private"
    token = session_token(client)
    assert token is not None and token["sub"] == "42" and token["name"] == "Ann"
    assert seen[0][1]["access_token"] and seen[0][1]["token_type"] == "Bearer"


def test_oauth_with_pkce_and_post_auth(idp: OIDCServer) -> None:
    idp.scenario(userinfo={"id": "u-7", "name": "Bo"})
    provider = generic(idp, checks=["state", "pkce"], token_endpoint_auth_method="client_secret_post")
    client = client_of(make_app(providers=[provider]))
    begun = start(client, "acme")
    assert query(begun.headers["Location"])["code_challenge_method"] == "S256"
    assert back(client, consent(begun.headers["Location"])).headers["Location"] == f"{BASE}/private"
    assert session_token(client)["sub"] == "u-7"  # type: ignore[index]


def test_oauth_userinfo_failure(idp: OIDCServer) -> None:
    idp.scenario(userinfo={"error": "invalid_token"})
    refused(sign_in(client_of(make_app(providers=[generic(idp)])), "acme"), "OAuthCallback")


def test_oauth_profile_without_id(idp: OIDCServer) -> None:
    idp.scenario(userinfo={"name": "nobody"})
    refused(sign_in(client_of(make_app(providers=[generic(idp)])), "acme"), "OAuthCallback")


def test_sign_in_callback_refuses(idp: OIDCServer) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    seen: dict[str, t.Any] = {}

    def sign_in_callback(**kwargs: t.Any) -> bool:
        seen.update(kwargs)
        return False

    client = client_of(make_app(providers=[oidc(idp)], callbacks={"sign_in": sign_in_callback}))
    response = sign_in(client, "corp")
    assert query(response.headers["Location"])["error"] == "AccessDenied"
    assert cookie_of(client, SESSION) is None
    assert seen["account"]["provider"] == "corp" and seen["profile"]["email"] == "jo@example.com"


def test_events_sign_in(idp: OIDCServer) -> None:
    events: list[t.Any] = []
    client = client_of(make_app(providers=[oidc(idp)], events={"sign_in": lambda **kw: events.append(kw)}))
    sign_in(client, "corp")
    assert events[0]["account"]["provider"] == "corp" and events[0]["is_new_user"] is False


# -- configuration -------------------------------------------------------------------------------


def test_without_authlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "authlib.integrations.requests_client", None)
    with pytest.raises(ConfigurationError, match=r"pip install flask_authguard\[oauth\]"):
        OIDCProvider(id="x", name="X", issuer="https://id.example.com", client_id="c")


@pytest.mark.parametrize(
    "options",
    [
        {"checks": ["state", "magic"]},
        {"checks": "state"},
        {"client_id": ""},
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"issuer": "ftp://id.example.com"},
        {"id": "a/b"},
        {"profile": "not callable"},
        {"checks": []},
        {"timeout": 0},
        {"timeout": "10"},
    ],
)
def test_bad_configuration(options: dict[str, t.Any]) -> None:
    base = {"id": "x", "name": "X", "issuer": "https://id.example.com", "client_id": "c"}
    with pytest.raises(ConfigurationError):
        OIDCProvider(**{**base, **options})


def test_oauth_needs_its_urls() -> None:
    with pytest.raises(ConfigurationError, match="token_url"):
        OAuthProvider(id="x", name="X", authorization_url="https://a.example/auth", client_id="c")


def test_providers_route_and_sign_in_page(idp: OIDCServer) -> None:
    client = client_of(make_app(providers=[oidc(idp), generic(idp)]))
    listed = client.get("/api/auth/providers").get_json()
    assert listed["corp"] == {
        "id": "corp",
        "name": "Corp",
        "type": "oidc",
        "signinUrl": f"{BASE}/api/auth/signin/corp",
        "callbackUrl": f"{BASE}/api/auth/callback/corp",
    }
    assert listed["acme"]["type"] == "oauth"
    page = client.get("/api/auth/signin").get_data(as_text=True)
    assert f'action="{BASE}/api/auth/signin/corp"' in page and "Sign in with Corp" in page
    assert f'action="{BASE}/api/auth/signin/acme"' in page and "Sign in with Acme" in page


def test_sign_in_start_needs_csrf(idp: OIDCServer) -> None:
    client = client_of(make_app(providers=[oidc(idp)]))
    response = client.post("/api/auth/signin/corp", data={"csrfToken": "forged"})
    assert response.headers["Location"] == f"{BASE}/api/auth/signin?csrf=true"
    assert not any("next-auth.state" in h for h in response.headers.getlist("Set-Cookie"))


def test_json_sign_in_start(idp: OIDCServer) -> None:
    client = client_of(make_app(providers=[oidc(idp)]))
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    response = client.post("/api/auth/signin/corp", data={"csrfToken": csrf, "json": "true"})
    assert response.get_json()["url"].startswith(f"{idp.issuer}/authorize?")
    assert any(h.startswith("next-auth.state=") for h in response.headers.getlist("Set-Cookie"))


def test_callback_methods(idp: OIDCServer) -> None:
    client = client_of(make_app(providers=[oidc(idp)]))
    assert client.put("/api/auth/callback/corp").status_code == 400


def test_auth_js_v5_cookie_names(idp: OIDCServer) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    client = client_of(make_app(providers=[oidc(idp)], version=5))
    begun = start(client, "corp")
    names = {h.split("=", 1)[0] for h in begun.headers.getlist("Set-Cookie")}
    assert {"authjs.state", "authjs.pkce.code_verifier", "authjs.nonce"} <= names
    assert decode(token=cookie_of(client, "authjs.state"), secret=SECRET, salt="authjs.state", version=5)
    done = back(client, consent(begun.headers["Location"]))
    assert done.headers["Location"] == f"{BASE}/private"
    claims = decode(
        token=cookie_of(client, "authjs.session-token"), secret=SECRET, salt="authjs.session-token", version=5
    )
    assert claims is not None and claims["email"] == "jo@example.com"


def test_form_post_callback(corp_client: t.Any) -> None:
    """``response_mode=form_post``: the identity provider POSTs the code and state back (no CSRF
    token: the state check replaces it)."""
    begun = start(corp_client, "corp")
    redirect = consent(begun.headers["Location"])
    response = corp_client.post("/api/auth/callback/corp", data=query(redirect))
    assert response.headers["Location"] == f"{BASE}/private"
    assert cookie_of(corp_client, SESSION)


# -- issue 27: defaults, the ID token's azp, the check cookies on https ---------------------------


@pytest.mark.parametrize("cls", [OAuthProvider, OIDCProvider])
def test_no_checks_is_a_configuration_error(cls: type) -> None:
    options: dict[str, t.Any] = {"id": "x", "name": "X", "client_id": "c", "checks": []}
    if cls is OIDCProvider:
        options["issuer"] = "https://id.example.com"
    else:
        options.update(authorization_url="https://a.example/auth", token_url="https://a.example/token")
        options["userinfo_url"] = "https://a.example/me"
    with pytest.raises(ConfigurationError, match=r"checks must list one or more of .*\['pkce', 'state'\]"):
        cls(**options)


@pytest.mark.parametrize("checks", [["nonce"], ("nonce",)])
def test_plain_oauth_refuses_a_nonce_alone(checks: t.Sequence[str]) -> None:
    """Plain OAuth 2.0 has no ID token to compare a nonce with: ``checks=["nonce"]`` alone bound the
    callback to nothing (a code from another browser's flow signed in: login CSRF)."""
    options: dict[str, t.Any] = {
        "id": "acme",
        "name": "Acme",
        "client_id": "c",
        "authorization_url": "https://a.example/auth",
        "token_url": "https://a.example/token",
        "userinfo_url": "https://a.example/me",
    }
    with pytest.raises(ConfigurationError, match=r"'acme': checks must include 'state' or 'pkce'"):
        OAuthProvider(**options, checks=checks)
    assert OAuthProvider(**options, checks=["nonce", "state"]).checks == ["nonce", "state"]
    assert OAuthProvider(**options, checks=["pkce", "nonce"]).checks == ["pkce", "nonce"]
    # OpenID Connect verifies it in the ID token (tests/providers/test_oidc.py)
    assert OIDCProvider(id="x", name="X", issuer="https://id.example.com", client_id="c", checks=checks)


def test_default_oauth_provider_sends_a_code_challenge(idp: OIDCServer) -> None:
    """Auth.js's default: PKCE (S256) and the state, verified by the provider on the way back."""
    idp.scenario(userinfo={"id": "u-1", "name": "Pat"})
    provider = generic(idp)
    assert provider.checks == ("pkce", "state")
    client = client_of(make_app(providers=[provider]))
    begun = start(client, "acme")
    url = query(begun.headers["Location"])
    assert url["code_challenge_method"] == "S256" and len(url["code_challenge"]) == 43 and url["state"]
    names = {h.split("=", 1)[0] for h in begun.headers.getlist("Set-Cookie")}
    assert {"next-auth.state", "next-auth.pkce.code_verifier"} <= names
    assert back(client, consent(begun.headers["Location"])).headers["Location"] == f"{BASE}/private"
    assert session_token(client)["sub"] == "u-1"  # type: ignore[index]


def test_default_oauth_provider_has_its_verifier_checked(idp: OIDCServer) -> None:
    """The provider checks the verifier against the challenge: another sign-in's is refused."""
    client = client_of(make_app(providers=[generic(idp)]))
    first = start(client, "acme")
    state = cookie_of(client, "next-auth.state")
    start(client, "acme")  # a second sign-in replaces both cookies
    client.set_cookie("next-auth.state", state or "")  # the first one's state, the second's verifier
    refused(back(client, consent(first.headers["Location"])), "OAuthCallback")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": ["client-1", "another-client"]},
        {"aud": ["client-1", "another-client"], "azp": "another-client"},
        {"aud": "client-1", "azp": "another-client"},
    ],
    ids=["several-audiences-no-azp", "several-audiences-wrong-azp", "wrong-azp"],
)
def test_id_token_azp_refused(corp_client: t.Any, idp: OIDCServer, claims: dict[str, t.Any]) -> None:
    idp.scenario(claims=claims)
    refused(sign_in(corp_client, "corp"), "OAuthCallback")


def test_id_token_several_audiences_with_our_azp(corp_client: t.Any, idp: OIDCServer) -> None:
    idp.scenario(claims={**PROFILE_CLAIMS, "aud": ["client-1", "another-client"], "azp": "client-1"})
    assert sign_in(corp_client, "corp").headers["Location"] == f"{BASE}/private"


HTTPS = "https://app.example.com"
HOST_CHECKS = ("__Host-next-auth.state", "__Host-next-auth.pkce.code_verifier", "__Host-next-auth.nonce")


def test_check_cookies_are_host_cookies_on_https(idp: OIDCServer) -> None:
    """``__Host-``, as Auth.js names its CSRF cookie: ``Secure``, ``Path=/``, no ``Domain``, so a
    sibling subdomain can neither plant nor overwrite a state or a PKCE verifier."""
    idp.scenario(claims=PROFILE_CLAIMS)
    client = client_of(make_app(providers=[oidc(idp)], url=HTTPS), HTTPS)
    begun = start(client, "corp")
    headers = {h.split("=", 1)[0]: h for h in begun.headers.getlist("Set-Cookie")}
    for name in HOST_CHECKS:
        attributes = [a.strip().split("=")[0] for a in headers[name].split(";")[1:]]
        assert "Secure" in attributes and "Path=/" in headers[name] and "Domain" not in attributes
        assert decode(token=cookie_of(client, name), secret=SECRET, salt=name)["provider"] == "corp"  # type: ignore[index]
    assert not any(
        n.startswith("__Secure-next-auth.") and n.endswith(("state", "verifier", "nonce")) for n in headers
    )
    done = back(client, consent(begun.headers["Location"]))
    assert done.headers["Location"] == f"{HTTPS}/private"
    check_cookies_cleared(done, *HOST_CHECKS)
    assert cookie_of(client, "__Secure-next-auth.session-token")


def test_check_cookies_v5_on_https(idp: OIDCServer) -> None:
    client = client_of(make_app(providers=[oidc(idp)], url=HTTPS, version=5), HTTPS)
    begun = start(client, "corp")
    names = {h.split("=", 1)[0] for h in begun.headers.getlist("Set-Cookie")}
    assert {"__Host-authjs.state", "__Host-authjs.pkce.code_verifier", "__Host-authjs.nonce"} <= names
    assert back(client, consent(begun.headers["Location"])).headers["Location"] == f"{HTTPS}/private"


def test_custom_check_cookies(idp: OIDCServer) -> None:
    """``cookies.state`` / ``pkce_code_verifier`` / ``nonce`` rename a check cookie or change its
    attributes; the name is the value's salt, as in next-auth."""
    cookies = {
        "state": {"name": "corp-state", "options": {"same_site": "None", "path": "/api/auth"}},
        "pkce_code_verifier": {"name": "corp-pkce"},
        "nonce": {"name": "corp-nonce", "options": {"domain": "app.example.com"}},
    }
    client = client_of(make_app(providers=[oidc(idp)], url=HTTPS, cookies=cookies), HTTPS)
    begun = start(client, "corp")
    headers = {h.split("=", 1)[0]: h for h in begun.headers.getlist("Set-Cookie")}
    assert "SameSite=None" in headers["corp-state"] and "Path=/api/auth" in headers["corp-state"]
    assert "Domain=app.example.com" in headers["corp-nonce"] and "corp-pkce" in headers
    assert not any("next-auth.state" in n or "next-auth.nonce" in n for n in headers)
    state = client.get_cookie("corp-state", domain="app.example.com", path="/api/auth")
    assert decode(token=state.value, secret=SECRET, salt="corp-state")["provider"] == "corp"  # type: ignore[union-attr,index]
    done = back(client, consent(begun.headers["Location"]))
    assert done.headers["Location"] == f"{HTTPS}/private"
    check_cookies_cleared(done, "corp-state", "corp-pkce", "corp-nonce")


def test_a_check_cookie_of_the_old_secure_name_fails_once(idp: OIDCServer) -> None:
    """A sign-in started before the deploy holds ``__Secure-next-auth.state``: its callback is
    refused (the user starts again) and the new names work at once."""
    client = client_of(make_app(providers=[oidc(idp)], url=HTTPS), HTTPS)
    begun = start(client, "corp")
    for name in HOST_CHECKS:
        value = cookie_of(client, name)
        client.delete_cookie(name)
        client.set_cookie(name.replace("__Host-", "__Secure-"), value or "", secure=True)
    response = back(client, consent(begun.headers["Location"]))
    assert query(response.headers["Location"])["error"] == "OAuthCallback"
    assert sign_in(client, "corp").headers["Location"] == f"{HTTPS}/private"


@pytest.mark.parametrize(
    "checks",
    [
        pytest.param(None, id="default"),
        pytest.param(("state", "pkce"), id="state-pkce"),
        pytest.param(("pkce",), id="pkce"),
        pytest.param(("state",), id="state"),
        pytest.param(("nonce",), id="nonce"),
    ],
)
def test_step_up_max_age_is_checked_whatever_the_checks(
    idp: OIDCServer, checks: tuple[str, ...] | None
) -> None:
    """A step-up sign-in (``?max_age=300``) keeps ``max_age`` for the callback in a check cookie
    the provider has, whichever checks it uses: an ID token whose ``auth_time`` is a day old is
    refused, a fresh one signs in."""
    provider = oidc(idp) if checks is None else oidc(idp, checks=checks)
    client = client_of(make_app(providers=[provider]))

    def step_up(auth_time: int) -> t.Any:
        idp.scenario(claims={**PROFILE_CLAIMS, "auth_time": auth_time})
        csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
        begun = client.post(
            "/api/auth/signin/corp?max_age=300", data={"csrfToken": csrf, "callbackUrl": "/private"}
        )
        assert (query(begun.headers["Location"])["max_age"], query(begun.headers["Location"])["prompt"]) == (
            "300",
            "login",
        )
        return back(client, consent(begun.headers["Location"]))

    refused(step_up(int(time.time()) - 86400), "OAuthCallback")
    assert step_up(int(time.time())).headers["Location"] == f"{BASE}/private"


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"expires_at": "soon"}, id="word"),
        pytest.param({"expires_at": ""}, id="empty"),
        pytest.param({"expires_at": "1e9"}, id="exponent-string"),
        pytest.param({"expires_at": [1]}, id="list"),
        pytest.param({"expires_in": "soon"}, id="expires-in-word"),
    ],
)
def test_token_answer_with_unusable_expiry_is_refused(idp: OIDCServer, answer: dict[str, t.Any]) -> None:
    """An ``expires_at`` (or ``expires_in``) that is not a number refuses the sign-in as any other
    unusable token answer: ``OAuthCallback``, the check cookies cleared."""
    idp.scenario(
        userinfo={"id": "u-1"}, token_response={"access_token": "at", "token_type": "Bearer", **answer}
    )
    client = client_of(make_app(providers=[generic(idp)]))
    response = sign_in(client, "acme")
    refused(response, "OAuthCallback")
    check_cookies_cleared(response, "next-auth.state", "next-auth.pkce.code_verifier")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param({"expires_at": 1_900_000_000}, 1_900_000_000, id="int"),
        pytest.param({"expires_at": "1900000000"}, 1_900_000_000, id="digits"),
        pytest.param({"expires_at": 1_900_000_000.7}, 1_900_000_000, id="float"),
        pytest.param({"expires_at": 10**30}, 10**12, id="huge-capped"),
        pytest.param({"expires_in": 3600}, 3600, id="expires-in"),
    ],
)
def test_token_answer_expiry_kept_as_whole_seconds(
    idp: OIDCServer, frozen_clock: FrozenClock, answer: dict[str, t.Any], expected: int
) -> None:
    """``account["expires_at"]`` is whole seconds since the epoch (from ``expires_in``, as Auth.js
    computes it, when the provider sends no ``expires_at``), capped as the refresh grant caps it."""
    frozen_clock.now = time.time()
    seen: dict[str, t.Any] = {}

    def jwt(*, token: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        seen.update(kwargs.get("account") or {})
        return token

    idp.scenario(
        userinfo={"id": "u-1"}, token_response={"access_token": "at", "token_type": "Bearer", **answer}
    )
    client = client_of(make_app(providers=[generic(idp)], callbacks={"jwt": jwt}))
    assert sign_in(client, "acme").headers["Location"] == f"{BASE}/private"
    if "expires_in" in answer:
        assert abs(seen["expires_at"] - (time.time() + expected)) < 5
    else:
        assert seen["expires_at"] == expected
    assert type(seen["expires_at"]) is int
