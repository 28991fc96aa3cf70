"""The second factor after every kind of first factor (issue 32, item 2): an OpenID Connect
sign-in at the real provider the suite starts (``tests/node_oidc``), and an email link; the
credentials sign-in is ``tests/endpoints/test_two_factor.py``'s. Each on every front end, with
JWT sessions and database sessions, and the session's ``amr`` naming both factors
(``["fed", "otp"]``, ``["email", "otp"]``)."""

from __future__ import annotations

import time
import typing as t
from urllib.parse import urlsplit

import pytest
from conftest import SECRET, FrozenClock
from support.handler_app import client_of, csrf_of
from support.oauth_app import PROFILE_CLAIMS, oidc
from support.oauth_flow import sign_in as oauth_sign_in
from support.two_factor_app import KINDS, STRATEGIES, code_at, make_site, options, post_code

from flask_authguard import EmailProvider, decode
from flask_authguard.core.two_factor import current_step, new_record, new_recovery_codes, seal_secret

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer

SESSION = "next-auth.session-token"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
VERIFY = "http://app.example.com/api/auth/two-factor/verify"


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


def turn_on(store: t.Any, strategy: str, user_id: str) -> None:
    """Enrol ``user_id`` with :data:`TOTP_SECRET`, as the enrolment page stores it."""
    sealed = seal_secret(TOTP_SECRET, user_id=user_id, secrets=[SECRET])
    record = new_record(sealed, current_step() - 10, new_recovery_codes())
    if strategy == "database" or hasattr(store, "save_two_factor"):
        assert store.save_two_factor(user_id, record, None)
    else:
        store.rows[user_id] = record


def amr_or_none(client: t.Any) -> t.Any:
    cookie = client.get_cookie(SESSION, domain=client.host)
    claims = decode(token=cookie.value, secret=SECRET)
    return None if claims is None else claims.get("amr")


def finish(client: t.Any, clock: FrozenClock, strategy: str, first: str) -> None:
    """The waiting sign-in: refused everywhere until the code, then signed in with both factors."""
    assert client.get("/api/auth/session").get_json() == {}
    assert client.get("/private").status_code == 307
    done = post_code(client, code_at(TOTP_SECRET, clock.now))
    assert done.status_code == 302 and done.headers["Location"] == "http://app.example.com/mfa"
    assert client.get("/api/auth/session").get_json()["user"]["email"] == "jo@example.com"
    assert client.get("/mfa").status_code == 200
    if strategy == "jwt":
        assert amr_or_none(client) == [first, "otp"]


def test_oidc_sign_in_then_the_code(
    idp: OIDCServer, kind: str, strategy: str, frozen_clock: FrozenClock
) -> None:
    frozen_clock.now = time.time()  # frozen at the provider's time: its ID tokens are checked on it
    idp.scenario(claims=PROFILE_CLAIMS)
    opts, store = options(strategy, providers=[oidc(idp)])
    client = client_of(make_site(kind, opts))
    # the first sign-in makes the user (database sessions: the adapter's), who then enrols
    first = oauth_sign_in(client, "corp", "/mfa")
    assert first.headers["Location"] == "http://app.example.com/mfa"
    if strategy == "jwt":
        assert amr_or_none(client) == ["fed"]
        user_id = "johndoe"
    else:
        user_id = store.get_user_by_email("jo@example.com")["id"]
    turn_on(store, strategy, user_id)
    client.post("/api/auth/signout", data={"csrfToken": csrf_of(client)})
    # signed in silently from the provider's day-old session: the code is new, that is not
    day_old = int(frozen_clock.now) - 86400
    idp.scenario(claims={**PROFILE_CLAIMS, "auth_time": day_old})
    held = oauth_sign_in(client, "corp", "/mfa")
    assert held.status_code == 302 and held.headers["Location"] == VERIFY
    finish(client, frozen_clock, strategy, "fed")
    if strategy == "jwt":
        cookie = client.get_cookie(SESSION, domain=client.host)
        assert decode(token=cookie.value, secret=SECRET)["idp_auth_time"] == day_old


def test_email_link_then_the_code(kind: str, strategy: str, frozen_clock: FrozenClock) -> None:
    sent: list[dict[str, t.Any]] = []
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    # email needs an adapter: the JWT variant keeps JWT sessions beside it (records in its table)
    opts, store = options("database", providers=[provider], session={"strategy": strategy})
    client = client_of(make_site(kind, opts))
    user = store.create_user({"name": "Jo", "email": "jo@example.com"})
    turn_on(store, strategy, user["id"])
    csrf = csrf_of(client)
    client.post(
        "/api/auth/signin/email", data={"csrfToken": csrf, "email": "jo@example.com", "callbackUrl": "/mfa"}
    )
    link = urlsplit(sent[-1]["url"])
    held = client.get(f"{link.path}?{link.query}")
    assert held.status_code == 302 and held.headers["Location"] == VERIFY
    finish(client, frozen_clock, strategy, "email")
