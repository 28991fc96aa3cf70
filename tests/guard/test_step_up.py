"""Step-up sign-in (issue 30, item 3): ``@auth_required(max_age=...)``, ``protect(..., max_age=...)``
and the ASGI ``require_auth(max_age=...)`` send an old sign-in to sign in again and back, on both
strategies; OpenID Connect providers are asked for ``max_age`` and ``prompt=login`` (against the
real provider the suite starts). Chromium walks the demo's version in
``tests/examples/test_browser.py``."""

from __future__ import annotations

import time
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import FrozenClock
from fastapi import Depends
from flask import Flask
from support.adapters import pg_engine, pg_schema  # noqa: F401 - fixtures
from support.handler_app import BASE, asgi_loop, client_of, csrf_of
from support.oauth_app import PROFILE_CLAIMS, generic, oidc
from support.oauth_flow import back, consent, query
from support.session_ops_app import KINDS, STEP_UP, device, make_app, options_for, sign_in

from flask_authguard import AuthGuard, auth_required
from flask_authguard.asgi import require_auth
from flask_authguard.guard.step_up import INSUFFICIENT

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer

JSON = {"Accept": "application/json"}
#: FastAPI dependencies: a sign-in at most STEP_UP seconds old, and any sign-in.
Recent = t.Annotated[dict[str, t.Any], Depends(require_auth(max_age=STEP_UP))]
SignedIn = t.Annotated[dict[str, t.Any], Depends(require_auth())]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


def _step_up_location(response: t.Any, path: str) -> str:
    assert response.status_code == 307, response.data[:300]
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/api/auth/signin"
    assert parse_qs(parts.query) == {"callbackUrl": [path], "max_age": [str(STEP_UP)]}
    return t.cast(str, location)


@pytest.mark.parametrize("path", ["/sensitive", "/admin/keys"])
def test_an_old_sign_in_signs_in_again_and_comes_back(
    kind: str, path: str, request: pytest.FixtureRequest, frozen_clock: FrozenClock
) -> None:
    app, _ = make_app(options_for(kind, request))
    client = device(app, "Laptop")
    sign_in(client)
    assert client.get(path).status_code == 200
    frozen_clock.now += STEP_UP - 1
    assert client.get(path).status_code == 200  # recent enough still
    frozen_clock.now += 2
    location = _step_up_location(client.get(path), path)
    assert client.get("/private").status_code == 200  # the session itself is fine
    page = client.get(location)
    assert page.status_code == 200 and b'id="step-up-notice"' in page.data
    again = sign_in(client, callback_url=parse_qs(urlsplit(location).query)["callbackUrl"][0])
    assert again.headers["Location"] == BASE + path  # back where the user was going
    assert client.get(path).status_code == 200
    frozen_clock.now += STEP_UP + 1
    assert client.get(path).status_code == 307  # the new sign-in ages too


def test_api_requests_get_the_step_up_challenge(
    kind: str, request: pytest.FixtureRequest, frozen_clock: FrozenClock
) -> None:
    app, _ = make_app(options_for(kind, request))
    client = device(app, "Laptop")
    sign_in(client)
    frozen_clock.now += STEP_UP + 1
    response = client.get("/sensitive", headers=JSON)
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == INSUFFICIENT and body["max_age"] == STEP_UP
    assert query(body["url"]) == {"callbackUrl": "/sensitive", "max_age": str(STEP_UP)}
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer error="{INSUFFICIENT}"') and f'max_age="{STEP_UP}"' in challenge
    assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_and_refused_requests_answer_as_before(request: pytest.FixtureRequest) -> None:
    app, _ = make_app(options_for("jwt", request))
    client = device(app, "Laptop")
    anonymous = client.get("/sensitive")
    assert anonymous.status_code == 307
    assert query(anonymous.headers["Location"]) == {"callbackUrl": "/sensitive"}  # no max_age
    assert client.get("/sensitive", headers=JSON).get_json()["error"] == "Unauthorized"


def test_a_token_without_a_sign_in_time_signs_in_again(
    make_token: t.Any, request: pytest.FixtureRequest
) -> None:
    """A token next-auth issued without ``auth_time`` (see the README's two callback lines): its
    sign-in time is unknown, so a view with ``max_age`` asks for a sign-in here."""
    app, _ = make_app(options_for("jwt", request))
    client = device(app, "Laptop")
    client.set_cookie("next-auth.session-token", make_token(sub="u-ada", name="Ada"))
    assert client.get("/private").status_code == 200
    assert client.get("/sensitive").status_code == 307


@pytest.mark.parametrize("bad", [0, -5, 1.5, "300", True])
def test_max_age_must_be_whole_seconds(bad: t.Any) -> None:
    with pytest.raises(ValueError, match="max_age"):
        auth_required(max_age=bad)
    guard = AuthGuard(Flask(__name__), {"secret": "s" * 32})
    from flask import Blueprint

    with pytest.raises(ValueError, match="max_age"):
        guard.protect(Blueprint("bp", __name__), max_age=bad)
    with pytest.raises(ValueError, match="max_age"):
        require_auth(max_age=bad)


def test_custom_sign_in_page_gets_max_age(request: pytest.FixtureRequest) -> None:
    app, _ = make_app(options_for("jwt", request, pages={"sign_in": "/login"}))
    client = client_of(app)
    response = client.get("/api/auth/signin?callbackUrl=%2Fsensitive&max_age=300")
    assert response.status_code == 302
    assert query(response.headers["Location"]) == {"callbackUrl": f"{BASE}/sensitive", "max_age": "300"}
    plain = client.get("/api/auth/signin?callbackUrl=%2Fsensitive&max_age=soon")
    assert "max_age" not in query(plain.headers["Location"])


# -- ASGI --------------------------------------------------------------------------------------


def _asgi_app(options: dict[str, t.Any]) -> t.Any:
    from a2wsgi import ASGIMiddleware
    from fastapi import FastAPI

    from flask_authguard.asgi import AuthMiddleware

    api = FastAPI()

    @api.get("/sensitive")
    async def sensitive(token: Recent) -> t.Any:
        return {"sub": token["sub"]}

    @api.get("/private")
    async def private(token: SignedIn) -> t.Any:
        return {"sub": token["sub"]}

    api.add_middleware(AuthMiddleware, options=options, matcher=[])
    api.middleware_stack = api.build_middleware_stack()
    return ASGIMiddleware(api, loop=asgi_loop())


@pytest.mark.parametrize("kind", ["jwt", "database"])
def test_asgi_require_auth_max_age(
    kind: str, request: pytest.FixtureRequest, frozen_clock: FrozenClock
) -> None:
    client = client_of(_asgi_app(options_for(kind, request)))
    sign_in(client, callback_url="/sensitive")
    sub = client.get("/sensitive").get_json()["sub"]
    frozen_clock.now += STEP_UP + 1
    assert client.get("/private").status_code == 200
    location = _step_up_location(client.get("/sensitive"), "/sensitive")
    assert client.get("/sensitive", headers=JSON).status_code == 401
    again = sign_in(client, callback_url=query(location)["callbackUrl"])
    assert again.headers["Location"] == f"{BASE}/sensitive"
    assert client.get("/sensitive").get_json() == {"sub": sub}


# -- OpenID Connect: the provider is asked to sign the user in again --------------------------------


def test_oidc_step_up_asks_the_provider_again(
    idp: OIDCServer, request: pytest.FixtureRequest, frozen_clock: FrozenClock
) -> None:
    frozen_clock.now = time.time()  # the provider's tokens carry the real time
    # the user types the password at the provider now: its ID token says so (auth_time)
    idp.scenario(claims={**PROFILE_CLAIMS, "auth_time": int(frozen_clock.now)})
    options = options_for("jwt", request, providers=[oidc(idp), generic(idp)])
    app, _ = make_app(options)
    client = client_of(app)

    csrf = csrf_of(client)
    first = client.post("/api/auth/signin/corp", data={"csrfToken": csrf, "callbackUrl": "/sensitive"})
    authorization = query(first.headers["Location"])
    assert "max_age" not in authorization and "prompt" not in authorization  # a first sign-in: as before
    assert back(client, consent(first.headers["Location"])).headers["Location"] == f"{BASE}/sensitive"
    assert client.get("/sensitive").status_code == 200

    frozen_clock.now += STEP_UP + 1
    page = client.get(_step_up_location(client.get("/sensitive"), "/sensitive"))
    # the page starts the OIDC provider's sign-in with max_age (next-auth's authorizationParams)
    assert b'action="http://app.example.com/api/auth/signin/corp?max_age=300"' in page.data
    assert b'action="http://app.example.com/api/auth/signin/acme?max_age=300"' in page.data
    begun = client.post(
        "/api/auth/signin/corp?max_age=300", data={"csrfToken": csrf_of(client), "callbackUrl": "/sensitive"}
    )
    authorization = query(begun.headers["Location"])
    assert begun.headers["Location"].startswith(f"{idp.issuer}/authorize?")
    assert (authorization["max_age"], authorization["prompt"]) == ("300", "login")
    # through the real provider and back: a provider that asked again says so (auth_time: the
    # moment the user typed the password again, on this test's clock)
    idp.scenario(claims={**PROFILE_CLAIMS, "auth_time": int(frozen_clock.now)})
    returned = back(client, consent(begun.headers["Location"]))
    assert returned.headers["Location"] == f"{BASE}/sensitive"
    assert client.get("/sensitive").get_json()["sensitive"] is True

    # plain OAuth has no such parameters: nothing is added
    plain = client.post("/api/auth/signin/acme?max_age=300", data={"csrfToken": csrf_of(client)})
    assert "max_age" not in query(plain.headers["Location"]) and "prompt" not in query(
        plain.headers["Location"]
    )
    # a prompt on its own passes (next-auth's authorizationParams), anything else is dropped
    chosen = client.post("/api/auth/signin/corp?prompt=select_account", data={"csrfToken": csrf_of(client)})
    assert query(chosen.headers["Location"])["prompt"] == "select_account"
    odd = client.post("/api/auth/signin/corp?prompt=none&max_age=-1", data={"csrfToken": csrf_of(client)})
    assert "prompt" not in query(odd.headers["Location"]) and "max_age" not in query(odd.headers["Location"])


def test_a_store_that_fails_answers_503_never_lets_in(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Database sessions keep the sign-in time in the store: when it cannot be reached, a view
    with ``max_age`` answers 503 (nobody is signed out, nobody let in); the rest of the site works."""
    from flask_authguard import BackendUnavailableError
    from flask_authguard.core.session_index import SessionIndex

    app, _ = make_app(options_for("database", request))
    client = device(app, "Laptop")
    sign_in(client)

    def down(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise BackendUnavailableError("the store failed: ConnectionError")

    monkeypatch.setattr(SessionIndex, "get", down)
    assert client.get("/private").status_code == 200
    response = client.get("/sensitive", headers=JSON)
    assert response.status_code == 503 and response.headers["Retry-After"]


@pytest.mark.parametrize(
    "auth_time",
    [pytest.param(-1000, id="older-than-max-age"), pytest.param(None, id="missing")],
)
def test_oidc_step_up_refuses_a_provider_that_did_not_ask_again(
    idp: OIDCServer, request: pytest.FixtureRequest, auth_time: int | None
) -> None:
    """OpenID Connect Core 3.1.3.7: an ID token answering ``max_age`` must carry ``auth_time``
    within it; a provider that signed the user in from its own older session is refused."""
    claims: dict[str, t.Any] = dict(PROFILE_CLAIMS)
    if auth_time is not None:
        claims["auth_time"] = int(time.time()) + auth_time
    idp.scenario(claims=claims)
    app, _ = make_app(options_for("jwt", request, providers=[oidc(idp)]))
    client = client_of(app)
    begun = client.post("/api/auth/signin/corp?max_age=300", data={"csrfToken": csrf_of(client)})
    returned = back(client, consent(begun.headers["Location"]))
    assert returned.status_code == 302
    assert query(returned.headers["Location"])["error"] == "OAuthCallback"
    assert client.get("/private", headers=JSON).status_code == 401  # not signed in
    # without max_age the same ID token is fine: nobody asked for a recent sign-in
    plain = client.post("/api/auth/signin/corp", data={"csrfToken": csrf_of(client)})
    assert back(client, consent(plain.headers["Location"])).headers["Location"].startswith(BASE)
    assert client.get("/private").status_code == 200


# -- OpenID Connect: the session keeps the provider's auth_time -------------------------------------


def _oidc_sign_in(client: t.Any, query_string: str = "") -> t.Any:
    """An OIDC sign-in through the real provider, started at ``/signin/corp<query_string>`` by a
    browser going to ``/sensitive``: the callback's answer."""
    begun = client.post(
        f"/api/auth/signin/corp{query_string}",
        data={"csrfToken": csrf_of(client), "callbackUrl": "/sensitive"},
    )
    assert begun.status_code == 302, begun.data[:300]
    return back(client, consent(begun.headers["Location"]))


@pytest.mark.parametrize("kind", ["jwt", "database"])
@pytest.mark.parametrize(
    "auth_time",
    [pytest.param(-86400, id="a-day-old"), pytest.param(None, id="not-said")],
)
def test_an_oidc_sign_in_without_max_age_is_as_old_as_the_providers(
    idp: OIDCServer,
    kind: str,
    auth_time: int | None,
    request: pytest.FixtureRequest,
    frozen_clock: FrozenClock,
) -> None:
    """A browser may start the sign-in without ``max_age`` (a plain ``POST /signin/corp``), and the
    provider then signs the user in silently from its own day-old session: the session keeps the
    ID token's ``auth_time``, so a view with ``max_age`` still asks for a step-up sign-in (before,
    the sign-in counted as now and let it in). An ID token without ``auth_time`` vouches for no
    recent sign-in either; the step-up sign-in, where the provider must send it, then passes."""
    frozen_clock.now = time.time()  # the provider's tokens carry the real time
    claims: dict[str, t.Any] = dict(PROFILE_CLAIMS)
    if auth_time is not None:
        claims["auth_time"] = int(frozen_clock.now) + auth_time
    idp.scenario(claims=claims)
    app, _ = make_app(options_for(kind, request, providers=[oidc(idp)]))
    client = client_of(app)
    assert _oidc_sign_in(client).headers["Location"] == f"{BASE}/sensitive"
    assert client.get("/private").status_code == 200  # signed in,
    _step_up_location(client.get("/sensitive"), "/sensitive")  # but not recently
    assert client.get("/sensitive", headers=JSON).get_json()["error"] == INSUFFICIENT

    idp.scenario(claims={**PROFILE_CLAIMS, "auth_time": int(frozen_clock.now) - 10})
    assert _oidc_sign_in(client, "?max_age=300").headers["Location"] == f"{BASE}/sensitive"
    assert client.get("/sensitive").get_json()["sensitive"] is True
    frozen_clock.now += STEP_UP - 9  # measured from the provider's auth_time, not the callback
    assert client.get("/sensitive").status_code == 307


def test_the_providers_auth_time_ages_no_session_itself(
    idp: OIDCServer, request: pytest.FixtureRequest, frozen_clock: FrozenClock
) -> None:
    """The provider's ``auth_time`` is kept beside the session's own start (``auth_time`` of our
    token), which revocations and ``session.max_lifetime`` measure from: after "sign out
    everywhere", a silent sign-in from the provider's day-old session is a live session, and one
    within ``max_lifetime`` of its start."""
    from flask_authguard.core.defences.revocation import AUTH_TIME, IDP_AUTH_TIME

    frozen_clock.now = time.time()
    day_old = int(frozen_clock.now) - 86400
    idp.scenario(claims={**PROFILE_CLAIMS, "auth_time": day_old})
    app, guard = make_app(options_for("jwt", request, providers=[oidc(idp)], session={"max_lifetime": 3600}))
    guard.revoke_user("johndoe", app=app)
    frozen_clock.now += 1
    client = client_of(app)
    _oidc_sign_in(client)
    token = client.get("/me").get_json()["token"]
    assert token[IDP_AUTH_TIME] == day_old and token[AUTH_TIME] == round(frozen_clock.now, 3)
    assert client.get("/private").status_code == 200
    frozen_clock.now += 3000
    assert client.get("/private").status_code == 200
