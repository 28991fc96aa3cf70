"""``PasskeyProvider`` on the wire: Auth.js's options and callback, answered by a software
authenticator (``support/soft_authenticator.py``: real ES256 signatures, checked by py_webauthn),
on Flask, plain WSGI and ASGI, with JWT and database sessions."""

from __future__ import annotations

import copy
import json
import typing as t

import pytest

pytest.importorskip("webauthn", reason='py_webauthn is not installed: pip install -e ".[test]"')
from conftest import FrozenClock  # noqa: E402
from support.passkey_app import (  # noqa: E402
    FRONT_ENDS,
    ORIGIN,
    SECRET,
    STRATEGIES,
    USERS,
    Site,
    error_of,
)
from support.soft_authenticator import SoftAuthenticator, b64url  # noqa: E402

from flask_authguard import ConfigurationError, PasskeyProvider, decode  # noqa: E402
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402
from flask_authguard.core.settings.config import resolve_options  # noqa: E402
from flask_authguard.endpoints.handler import AuthHandler  # noqa: E402

CHALLENGE_COOKIE = "next-auth.challenge"
REFUSED = "WebAuthnVerificationError"


@pytest.fixture(params=[(f, s) for f in FRONT_ENDS for s in STRATEGIES], ids=lambda p: f"{p[0]}-{p[1]}")
def site(request: pytest.FixtureRequest) -> Site:
    front, strategy = request.param
    return Site(front, strategy)


@pytest.fixture
def jwt_site() -> Site:
    return Site("flask", "jwt")


def registered(site: Site, username: str = "alice", **kwargs: t.Any) -> SoftAuthenticator:
    """Sign ``username`` in with a password, add a passkey, sign out: the passkey."""
    site.sign_in_with_password(username)
    authenticator = SoftAuthenticator(**kwargs)
    response = site.register(authenticator)
    assert response.status_code == 302 and error_of(response) is None, response.headers
    site.sign_out()
    return authenticator


def assert_refused(site: Site, response: t.Any, code: str = REFUSED) -> None:
    assert response.status_code == 302, response.get_data(as_text=True)
    assert error_of(response) == code
    assert not site.session()


def challenge_cookie(response: t.Any) -> str:
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(CHALLENGE_COOKIE + "="))
    return header.split(";", 1)[0].split("=", 1)[1]


# -- the whole way, every front end and strategy --------------------------------------------------


def test_register_while_signed_in_then_sign_in_with_the_passkey(site: Site) -> None:
    register_then_sign_in(site)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("layout", ["prisma", "drizzle"])
def test_passkeys_in_the_prisma_and_drizzle_tables(layout: str, strategy: str) -> None:
    """Text user ids, Prisma's ``Authenticator`` and Drizzle's ``authenticator`` (SQLite: an
    INTEGER ``credentialBackedUp``, epoch-millisecond times)."""
    site = Site("wsgi", strategy, layout=layout)
    register_then_sign_in(site)
    names = {"prisma": "Authenticator", "drizzle": "authenticator"}
    assert site.adapter.tables.authenticators.name == names[layout]


def register_then_sign_in(site: Site) -> None:
    authenticator = registered(site)
    alice = site.adapter.get_user_by_email(USERS["alice"]["email"])
    assert alice is not None
    (stored,) = site.adapter.list_authenticators_by_user_id(alice["id"])
    assert stored["counter"] == authenticator.counter == 1
    assert stored["credentialDeviceType"] == "multiDevice" and stored["credentialBackedUp"] is True
    assert stored["transports"] == "internal,hybrid"
    user = site.adapter.get_user_by_account(
        {"provider": "passkey", "providerAccountId": stored["credentialID"]}
    )
    assert user is not None and user["email"] == "alice@example.com"  # Auth.js's webauthn account row

    response = site.authenticate(authenticator)
    assert response.status_code == 302 and response.headers["Location"] == ORIGIN + "/after"
    assert site.session()["user"]["email"] == "alice@example.com"
    challenge = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(CHALLENGE_COOKIE + "=")]
    assert challenge and all(c.startswith(CHALLENGE_COOKIE + "=;") and "Max-Age=0" in c for c in challenge)
    # the stored counter follows the authenticator's signature count
    assert site.adapter.get_authenticator(stored["credentialID"])["counter"] == authenticator.counter == 2


def test_a_cloned_counter_is_refused(site: Site) -> None:
    authenticator = registered(site)
    clone = copy.deepcopy(authenticator)
    assert site.authenticate(authenticator).status_code == 302
    site.sign_out()
    # the clone's counter is behind the one stored: a cloned authenticator
    assert_refused(site, site.authenticate(clone))


def test_an_assertion_for_another_origin_is_refused(site: Site) -> None:
    authenticator = registered(site)
    assert_refused(site, site.authenticate(authenticator, origin="http://evil.example"))
    assert_refused(site, site.authenticate(authenticator, rp_id="evil.example"))


def test_a_replayed_assertion_is_refused(site: Site) -> None:
    # a synced passkey's counter stays 0, so only the spent challenge stops the replay
    authenticator = registered(site, counting=False)
    options = site.options("authenticate")
    cookie = challenge_cookie(options)
    data = json.dumps(authenticator.authenticate(options.get_json()["options"], ORIGIN))
    first = site.post_callback("authenticate", data)
    assert first.status_code == 302 and error_of(first) is None
    site.sign_out()
    site.client.set_cookie(CHALLENGE_COOKIE, cookie, domain="localhost")  # the request again, cookie and all
    assert_refused(site, site.post_callback("authenticate", data))


def test_an_old_assertion_under_a_fresh_challenge_is_refused(site: Site) -> None:
    authenticator = registered(site, counting=False)
    old = authenticator.authenticate(site.options("authenticate").get_json()["options"], ORIGIN)
    site.options("authenticate")  # a fresh challenge in the cookie
    assert_refused(site, site.post_callback("authenticate", old))


def test_no_user_verification_no_session(site: Site) -> None:
    authenticator = registered(site)
    assert_refused(site, site.authenticate(authenticator, verified=False))


def test_a_removed_passkey_no_longer_signs_in(site: Site) -> None:
    authenticator = registered(site)
    site.sign_in_with_password("alice")
    page = site.client.get("/api/auth/passkeys")
    assert page.status_code == 200 and f'value="{authenticator.id}"' not in page.get_data(as_text=True)
    stored = site.adapter.get_user_by_email("alice@example.com")
    (record,) = site.adapter.list_authenticators_by_user_id(stored["id"])
    assert record["credentialID"] in page.get_data(as_text=True)
    response = site.client.post(
        "/api/auth/passkeys", data={"csrfToken": site.csrf(), "credentialID": record["credentialID"]}
    )
    assert response.status_code == 302 and "removed=1" in response.headers["Location"]
    assert site.adapter.list_authenticators_by_user_id(stored["id"]) == []
    site.sign_out()
    assert_refused(site, site.authenticate(authenticator))


# -- registration rules ----------------------------------------------------------------------------


def test_anonymous_register_with_an_email_gets_authenticate_options(jwt_site: Site) -> None:
    answer = jwt_site.options("register", email="alice@example.com")
    body = answer.get_json()
    assert answer.status_code == 200 and body["action"] == "authenticate"
    assert "allowCredentials" not in body["options"] or not body["options"]["allowCredentials"]
    # and a registration posted anonymously adds nothing to that account
    authenticator = SoftAuthenticator()
    fake = {
        "rp": {"id": "localhost"},
        "user": {"id": b64url(b"x")},
        "challenge": body["options"]["challenge"],
    }
    response = jwt_site.post_callback(
        "register", authenticator.register(fake, ORIGIN), email="alice@example.com"
    )
    assert response.status_code == 302 and error_of(response) == "SessionRequired"
    assert jwt_site.adapter.get_user_by_email("alice@example.com") is None
    assert not jwt_site.session()


def test_a_signed_in_user_must_name_the_action(jwt_site: Site) -> None:
    assert jwt_site.options().get_json()["action"] == "authenticate"  # anonymous: sign in
    jwt_site.sign_in_with_password("alice")
    answer = jwt_site.options()
    assert answer.status_code == 400 and answer.get_json() == {"error": "Invalid request"}


def test_registration_options_bind_the_user_and_exclude_their_passkeys(jwt_site: Site) -> None:
    jwt_site.sign_in_with_password("alice")
    first = SoftAuthenticator()
    assert error_of(jwt_site.register(first)) is None
    answer = jwt_site.options("register")
    options = answer.get_json()["options"]
    assert options["rp"] == {"id": "localhost", "name": "localhost"}
    assert options["user"]["name"] == "alice@example.com" and options["user"]["displayName"] == "Alice"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [c["id"] for c in options["excludeCredentials"]] == [first.id]
    # the challenge is in the cookie, never in clear
    cookie = challenge_cookie(answer)
    assert options["challenge"] not in cookie
    claims = decode(token=cookie, secret=SECRET, salt=CHALLENGE_COOKIE)
    assert claims is not None and claims["challenge"] == options["challenge"]
    assert claims["user"]["email"] == "alice@example.com"
    # the same passkey again is refused
    response = jwt_site.post_callback("register", first.register(options, ORIGIN))
    assert response.status_code == 302 and error_of(response) == "PasskeyExists"


def test_registration_for_another_signed_in_user_is_refused(jwt_site: Site) -> None:
    jwt_site.sign_in_with_password("alice")
    options = jwt_site.options("register").get_json()["options"]
    jwt_site.sign_out()
    jwt_site.sign_in_with_password("bob")
    response = jwt_site.post_callback("register", SoftAuthenticator().register(options, ORIGIN))
    assert error_of(response) == REFUSED
    assert jwt_site.adapter.get_user_by_email("alice@example.com") is None


def test_jwt_registration_finds_or_creates_the_adapter_user_by_email(jwt_site: Site) -> None:
    existing = jwt_site.adapter.create_user({"name": "Alice A.", "email": "alice@example.com"})
    jwt_site.adapter.create_user({"name": "Someone", "email": "someone@example.com"})  # id 2: bob's sub
    jwt_site.sign_in_with_password("alice")
    assert error_of(jwt_site.register(SoftAuthenticator())) is None
    assert len(jwt_site.adapter.list_authenticators_by_user_id(existing["id"])) == 1
    jwt_site.sign_out()
    jwt_site.sign_in_with_password("bob")  # sub "2" names another adapter user: found by email instead
    assert error_of(jwt_site.register(SoftAuthenticator())) is None
    bob = jwt_site.adapter.get_user_by_email("bob@example.com")
    assert bob is not None and bob["name"] == "Bob"
    assert len(jwt_site.adapter.list_authenticators_by_user_id(bob["id"])) == 1
    assert jwt_site.adapter.list_authenticators_by_user_id("2") == []


def test_an_account_without_email_gets_no_passkey(jwt_site: Site) -> None:
    jwt_site.sign_in_with_password("nomail")
    answer = jwt_site.options("register")
    assert answer.status_code == 400 and answer.get_json()["error"] == "NoEmail"


def test_registration_without_user_verification_is_refused(jwt_site: Site) -> None:
    jwt_site.sign_in_with_password("alice")
    response = jwt_site.register(SoftAuthenticator(), verified=False)
    assert error_of(response) == REFUSED
    assert "/api/auth/passkeys" in response.headers["Location"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_first_email_sign_in_is_offered_a_passkey(strategy: str) -> None:
    site = Site("wsgi", strategy)
    location = site.sign_in_with_email("new@example.com")
    assert location.startswith(ORIGIN + "/api/auth/passkeys?") and "welcome=1" in location
    page = site.client.get(location.removeprefix(ORIGIN))
    assert page.status_code == 200 and 'id="passkeys-welcome"' in page.get_data(as_text=True)
    assert error_of(site.register(SoftAuthenticator())) is None
    user = site.adapter.get_user_by_email("new@example.com")
    assert user is not None and user["emailVerified"] is not None
    assert len(site.adapter.list_authenticators_by_user_id(user["id"])) == 1
    site.sign_out()
    # the second email sign-in goes where it was asked to
    assert not site.sign_in_with_email("new@example.com").startswith(ORIGIN + "/api/auth/passkeys")


# -- bad requests: clear answers, never a 500 ----------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data"),
    [
        pytest.param("authenticate", None, id="no-data"),
        pytest.param("authenticate", "{not json", id="not-json"),
        pytest.param("authenticate", "[1, 2]", id="json-array"),
        pytest.param("authenticate", {"rawId": "x"}, id="no-id"),
        pytest.param("authenticate", {"id": "!!!"}, id="id-not-base64"),
        pytest.param("authenticate", {"id": "AAAA", "response": "nope"}, id="unknown-credential"),
        pytest.param("", {"id": "AAAA"}, id="no-action"),
        pytest.param("delete", {"id": "AAAA"}, id="unknown-action"),
        pytest.param("register", {"id": "AAAA"}, id="anonymous-register"),
        pytest.param("authenticate", "[" * 20000, id="nested-too-deep"),  # json: RecursionError
    ],
)
def test_malformed_bodies_get_a_clear_refusal(site: Site, action: str, data: t.Any) -> None:
    site.options("authenticate")
    response = site.post_callback(action, data)
    assert response.status_code == 302
    assert error_of(response) in (REFUSED, "SessionRequired")
    assert not site.session()


def test_a_known_credential_with_a_broken_response_is_refused(jwt_site: Site) -> None:
    authenticator = registered(jwt_site)
    options = jwt_site.options("authenticate").get_json()["options"]
    data = authenticator.authenticate(options, ORIGIN)
    data["response"]["signature"] = b64url(b"\x30\x00")
    assert_refused(jwt_site, jwt_site.post_callback("authenticate", data))
    data["response"] = {"clientDataJSON": 5}
    assert_refused(jwt_site, jwt_site.post_callback("authenticate", data))


def test_json_clients_get_the_refusal_as_json(jwt_site: Site) -> None:
    jwt_site.options("authenticate")
    response = jwt_site.post_callback("authenticate", "{", json="true")
    assert response.status_code == 200 and REFUSED in response.get_json()["url"]


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        pytest.param(
            "/api/auth/webauthn-options/passkey?action=delete", 400, "Invalid action", id="bad-action"
        ),
        pytest.param("/api/auth/webauthn-options/credentials", 400, "Invalid provider", id="not-a-passkey"),
        pytest.param("/api/auth/webauthn-options/nope", 400, "Invalid provider", id="unknown-provider"),
    ],
)
def test_options_refusals(jwt_site: Site, path: str, status: int, error: str) -> None:
    response = jwt_site.client.get(path)
    assert response.status_code == status and response.get_json() == {"error": error}


def test_the_csrf_token_is_required(jwt_site: Site) -> None:
    authenticator = registered(jwt_site)
    options = jwt_site.options("authenticate").get_json()["options"]
    body = {"action": "authenticate", "data": json.dumps(authenticator.authenticate(options, ORIGIN))}
    response = jwt_site.client.post("/api/auth/callback/passkey", data=body)
    assert response.status_code == 302 and "csrf=true" in response.headers["Location"]
    assert not jwt_site.session()


# -- the relying party comes from the trusted origin ------------------------------------------------


def test_the_relying_party_is_the_configured_url_whatever_the_host() -> None:
    site = Site("wsgi", "jwt", url="https://app.example.com")
    answer = site.client.get(
        "/api/auth/webauthn-options/passkey?action=authenticate", headers={"Host": "evil.example"}
    )
    assert answer.status_code == 200
    assert answer.get_json()["options"]["rpId"] == "app.example.com"


def test_an_untrusted_host_gets_no_options() -> None:
    site = Site("wsgi", "jwt", url=None, trusted_hosts=["app.example.com"])
    answer = site.client.get(
        "/api/auth/webauthn-options/passkey?action=authenticate", headers={"Host": "evil.example"}
    )
    assert answer.status_code == 400
    assert "challenge" not in answer.get_data(as_text=True)
    trusted = site.client.get(
        "/api/auth/webauthn-options/passkey?action=authenticate", headers={"Host": "app.example.com"}
    )
    assert trusted.get_json()["options"]["rpId"] == "app.example.com"


# -- start-up ------------------------------------------------------------------------------------------


def test_the_provider_needs_an_adapter_with_the_authenticator_methods() -> None:
    with pytest.raises(ConfigurationError, match="adapter"):
        AuthHandler(resolve_options({"secret": SECRET, "providers": [PasskeyProvider()]}))

    class Partial:
        def get_user(self, id: str) -> None:
            return None

    with pytest.raises(ConfigurationError, match="lacks .*create_authenticator"):
        opts = {"secret": SECRET, "adapter": Partial(), "session": {"strategy": "jwt"}}
        AuthHandler(resolve_options({**opts, "providers": [PasskeyProvider()]}))
    adapter = SQLAlchemyAdapter("sqlite://", create_tables=True)
    AuthHandler(resolve_options({"secret": SECRET, "adapter": adapter, "providers": [PasskeyProvider()]}))


@pytest.mark.parametrize("bad", [0, -1, True, "300"])
def test_bad_timeout(bad: t.Any) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        PasskeyProvider(timeout=bad)


@pytest.mark.parametrize("bad", [0, -1, True, "600", 1.5])
def test_bad_add_max_age(bad: t.Any) -> None:
    with pytest.raises(ConfigurationError, match="add_max_age"):
        PasskeyProvider(add_max_age=bad)


# -- adding a passkey needs a recent sign-in ---------------------------------------------------------


@pytest.mark.parametrize("strategy", ["jwt", "database"])
def test_an_old_sign_in_signs_in_again_before_adding_a_passkey(
    strategy: str, frozen_clock: FrozenClock
) -> None:
    """A passkey outlives the session that adds it: a sign-in older than ``add_max_age`` (ten
    minutes), or a stolen cookie, would otherwise make itself a fresh sign-in, past every
    ``max_age`` view. The options, the registration and the page send it to sign in again."""
    site = Site("flask", strategy)
    site.sign_in_with_password("alice")
    fresh = site.options("register")  # options fetched while the sign-in was recent...
    assert fresh.status_code == 200
    frozen_clock.now += 601
    again = f"{ORIGIN}/api/auth/signin?callbackUrl="
    stale = site.options("register")
    body = stale.get_json()
    assert stale.status_code == 401 and body["error"] == "SignInAgain"
    assert body["url"].startswith(again) and body["url"].endswith("&max_age=600")
    page = site.client.get("/api/auth/passkeys").get_data(as_text=True)
    assert 'id="sign-in-again-link"' in page
    answer = SoftAuthenticator().register(fresh.get_json()["options"], ORIGIN)
    refused = site.post_callback("register", answer)  # ...and used once it was not
    assert refused.status_code == 302 and refused.headers["Location"].startswith(again)
    assert refused.headers["Location"].endswith("&max_age=600")

    def passkeys() -> list[t.Any]:  # JWT sessions store the user with the first passkey
        alice = site.adapter.get_user_by_email(USERS["alice"]["email"])
        return [] if alice is None else site.adapter.list_authenticators_by_user_id(alice["id"])

    assert passkeys() == []
    site.sign_in_with_password("alice")  # a new sign-in is recent: it may
    assert site.register(SoftAuthenticator()).status_code == 302
    assert len(passkeys()) == 1
    assert 'id="sign-in-again-link"' not in site.client.get("/api/auth/passkeys").get_data(as_text=True)


def test_add_max_age_none_lets_any_session_add_a_passkey(frozen_clock: FrozenClock) -> None:
    from support.passkey_app import authorize

    from flask_authguard import CredentialsProvider

    password = CredentialsProvider(authorize=authorize, credentials={"username": {}, "password": {}})
    site = Site("flask", "jwt", providers=[password, PasskeyProvider(add_max_age=None)])
    site.sign_in_with_password("alice")
    frozen_clock.now += 86_400
    assert site.register(SoftAuthenticator()).status_code == 302


# -- a passkey and the second factor ---------------------------------------------------------------


def enrol_alice(site: Site) -> str:
    """Turn the second factor on for alice, straight in the adapter (not through a session):
    her id."""
    from flask_authguard.core.two_factor import current_step, new_record, new_recovery_codes, seal_secret

    alice = site.adapter.get_user_by_email(USERS["alice"]["email"])
    assert alice is not None
    user_id = str(alice["id"])
    sealed = seal_secret("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", user_id=user_id, secrets=[SECRET])
    assert site.adapter.save_two_factor(
        user_id, new_record(sealed, current_step(), new_recovery_codes()), None
    )
    return user_id


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_passkey_is_two_factors_by_itself(strategy: str) -> None:
    """A user enrolled in TOTP signs in with a passkey (user verification required): no code
    after it, and the session passes ``mfa=True`` (``amr``: ``hwk`` and ``mfa``)."""
    from flask_authguard.sessions.two_factor import passed

    site = Site("flask", strategy, two_factor=True)
    authenticator = registered(site)
    user_id = enrol_alice(site)

    response = site.authenticate(authenticator)
    assert response.status_code == 302 and response.headers["Location"] == ORIGIN + "/after"
    assert site.session()["user"]["email"] == "alice@example.com"  # signed in, no code asked
    config = resolve_options({"secret": SECRET, "two_factor": True, "adapter": site.adapter})
    if strategy == "jwt":
        from urllib.parse import urlsplit

        cookie = site.client.get_cookie("next-auth.session-token", domain=urlsplit(ORIGIN).hostname or "")
        assert cookie is not None
        assert decode(token=cookie.value, secret=SECRET)["amr"] == ["hwk", "mfa"]
        assert passed(config, {"sub": user_id, "amr": ["hwk", "mfa"]})
    assert not passed(config, {"sub": "someone", "amr": ["pwd"]})


def test_a_deeply_nested_registration_is_refused_not_a_500(jwt_site: Site) -> None:
    """The ``data`` form field is JSON the body's depth limit does not see (a field of a form):
    brackets nested too deep to decode are no WebAuthn response (it answered 500)."""
    jwt_site.sign_in_with_password("alice")
    response = jwt_site.post_callback("register", "[" * 20000)
    assert response.status_code == 302 and error_of(response) == REFUSED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_session_without_the_second_factor_cannot_manage_passkeys(strategy: str) -> None:
    """A session of an enrolled user that has not passed the second factor (a JWT session from
    before the user turned it on, or a stolen one) may not add a passkey: a passkey signs in
    with both factors, so it would get past every ``mfa=True`` route without a code. Nor may it
    remove one."""
    site = Site("flask", strategy, two_factor=True)
    first = registered(site)  # before the second factor: allowed
    site.sign_out()
    site.sign_in_with_password("alice")  # one factor: the user has not enrolled yet
    asked = site.options("register").get_json()  # the ceremony starts before the enrolment
    prepared = SoftAuthenticator().register(asked["options"], ORIGIN)
    user_id = enrol_alice(site)
    if strategy == "database":  # enrolling ends the user's other database sessions: none is left
        return
    options = site.options("register")
    assert options.status_code == 401 and options.get_json()["error"] == "SecondFactorRequired"
    response = site.post_callback("register", prepared)
    assert response.status_code == 302 and error_of(response) == "SecondFactorRequired"
    assert len(site.adapter.list_authenticators_by_user_id(user_id)) == 1  # only the first
    stored = site.adapter.list_authenticators_by_user_id(user_id)[0]
    removal = site.client.post(
        "/api/auth/passkeys", data={"csrfToken": site.csrf(), "credentialID": stored["credentialID"]}
    )
    assert removal.status_code == 302 and "error=SecondFactorRequired" in removal.headers["Location"]
    assert len(site.adapter.list_authenticators_by_user_id(user_id)) == 1
    site.sign_out()
    assert site.authenticate(first).status_code == 302  # the passkey of before still signs in
