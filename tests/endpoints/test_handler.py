"""The ``/api/auth/...`` endpoints (spec 5.5, 6, 7): every route, method and error path.

Every test runs twice, against a Flask app (``AuthGuard``) and a plain WSGI app (``with_auth``
with providers serves the routes itself), through the ``app_kind`` fixture that
:func:`make_app` and :func:`client_of` follow; tests marked :func:`flask_only` are about Flask
itself (its template folders).
"""

from __future__ import annotations

import hashlib
import json
import logging
import typing as t
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from conftest import SECRET, FrozenClock
from flask import Flask
from support.handler_app import (
    ADA,
    APP_KINDS,
    BASE,
    CURRENT_KIND,
    FIELDS,
    V4,
    authorize,
    client_of,
    cookie_header,
    cookie_names,
    cookie_value,
    csrf_of,
    make_app,
    set_cookies,
    sign_in,
)
from support.redirects import ATTACKS, SAFE
from werkzeug.wrappers import Response

from flask_authguard import (
    ConfigurationError,
    CredentialsProvider,
    SignInResult,
    decode,
)
from flask_authguard.endpoints.handler import ERROR_PAGES, SIGNIN_ERRORS, SIGNIN_MESSAGES
from flask_authguard.providers.base import SignInError

CSRF_COOKIE = "next-auth.csrf-token"
CALLBACK_COOKIE = "next-auth.callback-url"


def flask_only(test: t.Callable[..., None]) -> t.Callable[..., None]:
    """Run ``test`` against the Flask app only (it is about Flask itself)."""
    test.flask_only = True  # type: ignore[attr-defined]
    return test


def wsgi_only(test: t.Callable[..., None]) -> t.Callable[..., None]:
    """Run ``test`` against the WSGI kinds only: it drives WSGI input that the a2wsgi harness
    cannot carry to an ASGI app (a chunked body with no length, raw bytes in the query);
    tests/asgi/test_asgi.py covers the ASGI side of the same rule."""
    test.wsgi_only = True  # type: ignore[attr-defined]
    return test


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "app_kind" in metafunc.fixturenames:
        kinds = list(APP_KINDS)
        if getattr(metafunc.function, "flask_only", False):
            kinds = ["flask"]
        elif getattr(metafunc.function, "wsgi_only", False):
            kinds = ["flask", "wsgi"]
        metafunc.parametrize("app_kind", kinds, indirect=True)


@pytest.fixture(autouse=True)
def app_kind(request: pytest.FixtureRequest) -> t.Iterator[str]:
    """Every test runs against both kinds of app."""
    CURRENT_KIND[0] = request.param
    yield request.param
    CURRENT_KIND[0] = "flask"


@pytest.fixture
def app() -> t.Any:
    return make_app()


@pytest.fixture
def client(app: Flask) -> t.Any:
    return client_of(app)


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def hidden(html: str, name: str) -> str:
    """The value of a hidden input in a rendered page."""
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def session_token(response: t.Any, secret: str = SECRET) -> dict[str, t.Any]:
    value = cookie_value(response, V4)
    assert value, set_cookies(response)
    return t.cast("dict[str, t.Any]", decode(token=value, secret=secret))


# -- GET /session ----------------------------------------------------------------------------


def test_session_anonymous_is_empty_with_no_cache_and_no_cookies(client: t.Any) -> None:
    response = client.get("/api/auth/session")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {}
    assert response.headers["Cache-Control"] == "private, no-cache, no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Expires"] == "0"
    assert set_cookies(response) == []  # a session read makes no CSRF or callback-url cookie


def test_session_signed_in(client: t.Any, frozen_clock: FrozenClock) -> None:
    sign_in(client)
    response = client.get("/api/auth/session")
    assert response.get_json() == {
        "user": {"name": "Ada", "email": "ada@example.com", "image": "https://example.com/ada.png"},
        "expires": "2023-12-14T22:13:20.000Z",
    }
    assert cookie_names(response) == [V4]  # the rolling refresh, once


def test_session_with_a_bad_cookie_is_empty_and_cleared(client: t.Any) -> None:
    client.set_cookie(V4, "not-a-token")
    response = client.get("/api/auth/session")
    assert response.get_json() == {}
    assert cookie_header(response, V4).startswith(f"{V4}=;")
    assert "Max-Age=0" in cookie_header(response, V4)


def test_session_v5_anonymous_is_null() -> None:
    response = client_of(make_app(version=5)).get("/api/auth/session")
    assert response.status_code == 200 and response.data == b"null"


def test_session_without_a_secret_is_next_auths_500(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(secret=None)
    response = client_of(app).get("/api/auth/session")
    assert response.status_code == 500
    message = "There is a problem with the server configuration. Check the server logs for more information."
    assert response.get_json() == {"message": message}


# -- POST /session (update) --------------------------------------------------------------------


class Recorder:
    """A callback that records its keyword arguments."""

    def __init__(self, result: t.Callable[..., t.Any] | None = None) -> None:
        self.calls: list[dict[str, t.Any]] = []
        self.result = result

    def __call__(self, **kwargs: t.Any) -> t.Any:
        self.calls.append(kwargs)
        if self.result is not None:
            return self.result(**kwargs)
        return kwargs.get("token")


def update_jwt(
    *, token: dict[str, t.Any], trigger: str | None = None, session: t.Any = None, **_: t.Any
) -> t.Any:
    if trigger == "update" and isinstance(session, dict):
        token["name"] = session.get("name", token.get("name"))
    return token


@pytest.mark.parametrize("as_json", [pytest.param(True, id="json-body"), pytest.param(False, id="form-body")])
def test_session_update(as_json: bool) -> None:
    jwt = Recorder(update_jwt)
    client = client_of(make_app(callbacks={"jwt": jwt}))
    sign_in(client)
    csrf = csrf_of(client)
    jwt.calls.clear()
    if as_json:
        response = client.post("/api/auth/session", json={"csrfToken": csrf, "data": {"name": "Ada L."}})
        expected_data: t.Any = {"name": "Ada L."}
    else:
        response = client.post("/api/auth/session", data={"csrfToken": csrf, "data": "plain"})
        expected_data = "plain"
    assert response.status_code == 200
    assert jwt.calls[0]["trigger"] == "update"
    assert jwt.calls[0]["session"] == expected_data
    assert response.headers["Cache-Control"] == "private, no-cache, no-store"
    if as_json:
        # v4 builds the session from the token as decoded, before the jwt callback ran (spec 5.1):
        # the answer still shows the old name, the new token and the next read the new one.
        assert response.get_json()["user"]["name"] == "Ada"
        assert session_token(response)["name"] == "Ada L."
        assert client.get("/api/auth/session").get_json()["user"]["name"] == "Ada L."


def test_session_update_without_a_session_is_empty(client: t.Any) -> None:
    response = client.post("/api/auth/session", json={"csrfToken": csrf_of(client), "data": {}})
    assert response.status_code == 200 and response.get_json() == {}


def _csrf_cookie(token: str, secret: str = SECRET) -> str:
    return f"{token}%7C{hashlib.sha256((token + secret).encode()).hexdigest()}"


#: Ways a state-changing POST can fail the CSRF check: (cookie value or None, body token).
CSRF_FAILURES = [
    pytest.param(None, "a" * 64, id="missing-cookie"),
    pytest.param("a" * 64 + "%7C" + "0" * 64, "a" * 64, id="tampered-hash"),
    pytest.param("b" * 64 + _csrf_cookie("a" * 64)[64:], "b" * 64, id="tampered-token"),
    pytest.param(_csrf_cookie("a" * 64), "c" * 64, id="wrong-body-token"),
    pytest.param(_csrf_cookie("a" * 64, "another-secret"), "a" * 64, id="token-from-another-secret"),
    pytest.param(_csrf_cookie("a" * 64), None, id="missing-body-token"),
    pytest.param(_csrf_cookie("a" * 64), "", id="empty-body-token"),
    pytest.param("a" * 64, "a" * 64, id="cookie-without-hash"),
]


def _post_with_csrf(client: t.Any, path: str, cookie: str | None, token: str | None, **data: str) -> t.Any:
    if cookie is not None:
        client.set_cookie(CSRF_COOKIE, cookie)
    body = dict(data)
    if token is not None:
        body["csrfToken"] = token
    return client.post(path, data=body)


@pytest.mark.parametrize("cookie, token", CSRF_FAILURES)
def test_session_update_csrf_failures_answer_400(cookie: str | None, token: str | None) -> None:
    jwt = Recorder()
    client = client_of(make_app(callbacks={"jwt": jwt}))
    sign_in(client)
    jwt.calls.clear()
    client.delete_cookie(CSRF_COOKIE)
    response = _post_with_csrf(client, "/api/auth/session", cookie, token, data="x")
    assert response.status_code == 400
    assert response.get_json() == {}
    assert jwt.calls == []
    assert V4 not in cookie_names(response)


def test_session_update_json_body_with_a_non_string_token_fails() -> None:
    client = client_of(make_app())
    csrf_of(client)
    response = client.post("/api/auth/session", json={"csrfToken": 1, "data": {}})
    assert response.status_code == 400


# -- GET /csrf ---------------------------------------------------------------------------------


@wsgi_only
@pytest.mark.parametrize("route", ["signin", "signin/credentials", "session", "csrf", "providers", "error"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_query_string_that_is_not_utf8_is_a_400(app: t.Any, route: str, method: str) -> None:
    """Raw bytes such as ``0xFF`` in the query (a server that passes the request line through
    hands them on; werkzeug raises ``UnicodeDecodeError`` reading them) are a 400, not a 500."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    environ = EnvironBuilder(path=f"/api/auth/{route}", base_url=BASE, method=method).get_environ()
    environ["QUERY_STRING"] = "callbackUrl=/\xff"  # WSGI carries the raw byte as latin-1
    _, status, _ = run_wsgi_app(app, environ)
    assert status.startswith("400"), status


def test_csrf_issues_a_token_and_its_cookie(client: t.Any) -> None:
    response = client.get("/api/auth/csrf")
    token = response.get_json()["csrfToken"]
    assert len(token) == 64 and int(token, 16) >= 0
    assert response.headers["Cache-Control"] == "private, no-cache, no-store"
    header = cookie_header(response, CSRF_COOKIE)
    digest = hashlib.sha256((token + SECRET).encode()).hexdigest()
    assert header.split(";", 1)[0] == f"{CSRF_COOKIE}={token}%7C{digest}"
    attributes = {a.strip() for a in header.split(";")[1:]}
    assert attributes == {"HttpOnly", "Path=/", "SameSite=Lax"}  # a browser-session cookie


def test_csrf_keeps_a_valid_cookie(client: t.Any) -> None:
    first = csrf_of(client)
    response = client.get("/api/auth/csrf")
    assert response.get_json()["csrfToken"] == first
    assert set_cookies(response) == []


def test_csrf_replaces_a_tampered_cookie(client: t.Any) -> None:
    client.set_cookie(CSRF_COOKIE, "a" * 64 + "%7C" + "0" * 64)
    response = client.get("/api/auth/csrf")
    assert response.get_json()["csrfToken"] != "a" * 64
    assert CSRF_COOKIE in cookie_names(response)


def test_csrf_accepts_a_cookie_made_with_an_older_secret() -> None:
    client = client_of(make_app(secret=["newest-secret", SECRET]))
    client.set_cookie(CSRF_COOKIE, _csrf_cookie("a" * 64, SECRET))
    assert csrf_of(client) == "a" * 64


@pytest.mark.parametrize(
    "options, base",
    [
        pytest.param({"url": "https://app.example.com"}, "https://app.example.com", id="https-url"),
        pytest.param({"url": None, "use_secure_cookies": True}, "http://localhost", id="forced"),
        pytest.param({"url": None}, "https://localhost", id="https-request"),
    ],
)
def test_csrf_secure_cookie_is_host_prefixed(options: dict[str, t.Any], base: str) -> None:
    client = client_of(make_app(**options), base)
    response = client.get("/api/auth/csrf")
    header = cookie_header(response, "__Host-next-auth.csrf-token")
    assert header is not None and "Secure" in header and "Path=/" in header and "Domain" not in header


# -- GET /providers ----------------------------------------------------------------------------


def test_providers() -> None:
    other = CredentialsProvider(authorize=authorize, id="pin", name="PIN code")
    client = client_of(
        make_app(providers=[CredentialsProvider(authorize=authorize, credentials=FIELDS), other])
    )
    response = client.get("/api/auth/providers")
    assert response.get_json() == {
        "credentials": {
            "id": "credentials",
            "name": "Credentials",
            "type": "credentials",
            "signinUrl": f"{BASE}/api/auth/signin/credentials",
            "callbackUrl": f"{BASE}/api/auth/callback/credentials",
        },
        "pin": {
            "id": "pin",
            "name": "PIN code",
            "type": "credentials",
            "signinUrl": f"{BASE}/api/auth/signin/pin",
            "callbackUrl": f"{BASE}/api/auth/callback/pin",
        },
    }
    assert set_cookies(response) == []


# -- GET /signin -------------------------------------------------------------------------------


def test_signin_page(client: t.Any) -> None:
    response = client.get("/api/auth/signin?callbackUrl=%2Fprivate%3Fa%3D1")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    token = hidden(html, "csrfToken")
    assert cookie_value(response, CSRF_COOKIE).startswith(token + "%7C")
    assert hidden(html, "callbackUrl") == f"{BASE}/private?a=1"
    assert f'action="{BASE}/api/auth/callback/credentials"' in html
    assert '<label for="input-credentials-username">Username</label>' in html
    assert '<label for="input-credentials-password">Password</label>' in html
    assert 'type="password"' in html and 'autocomplete="current-password"' in html
    assert 'placeholder="ada"' in html
    assert html.count("autofocus") == 1
    assert 'role="alert"' not in html
    # Works without JavaScript: no script at all without a passkey provider (whose script is
    # served from the auth routes, tests/endpoints/test_passkeys.py), and never an inline one.
    assert "<script" not in html
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["Cache-Control"] == "no-store"
    callback_cookie = cookie_header(response, CALLBACK_COOKIE)
    assert callback_cookie.startswith(f"{CALLBACK_COOKIE}={quote(BASE + '/private?a=1', safe='')};")


def test_signin_page_default_callback_is_the_base_url_and_sets_no_callback_cookie(client: t.Any) -> None:
    response = client.get("/api/auth/signin")
    assert hidden(response.get_data(as_text=True), "callbackUrl") == BASE
    assert CALLBACK_COOKIE not in cookie_names(response)


@pytest.mark.parametrize("code", sorted(SIGNIN_MESSAGES))
def test_signin_page_error_messages(client: t.Any, code: str) -> None:
    html = client.get(f"/api/auth/signin?error={code}").get_data(as_text=True)
    assert 'role="alert"' in html
    assert SIGNIN_MESSAGES[code] in html


def test_signin_page_unknown_error_is_the_default_message_and_not_reflected(client: t.Any) -> None:
    html = client.get("/api/auth/signin?error=%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert SIGNIN_MESSAGES["Default"] in html
    assert "<script>" not in html and "alert(1)" not in html


def test_signin_page_marks_fields_invalid_after_failed_credentials(client: t.Any) -> None:
    html = client.get("/api/auth/signin?error=CredentialsSignin").get_data(as_text=True)
    assert html.count('aria-invalid="true" aria-describedby="signin-error"') == 2
    assert 'id="signin-error"' in html


def test_signin_page_after_a_csrf_failure(client: t.Any) -> None:
    html = client.get("/api/auth/signin?csrf=true").get_data(as_text=True)
    assert "Your sign-in form expired" in html


def test_signin_page_escapes_the_callback_url(client: t.Any) -> None:
    html = client.get("/api/auth/signin?callbackUrl=/x%22%3E%3Cb%3E").get_data(as_text=True)
    assert "<b>" not in html
    assert hidden(html, "callbackUrl") == f"{BASE}/x%22%3E%3Cb%3E"


def test_signin_page_without_providers() -> None:
    html = client_of(make_app(providers=[])).get("/api/auth/signin").get_data(as_text=True)
    assert "No sign-in provider is configured." in html


def test_signin_page_lists_other_providers_as_buttons() -> None:
    client = client_of(make_app(providers=[FakeOAuth()]))
    html = client.get("/api/auth/signin").get_data(as_text=True)
    assert f'action="{BASE}/api/auth/signin/fake"' in html
    assert "Sign in with Fake IdP" in html


@flask_only
def test_app_templates_override_the_built_in_pages(tmp_path: t.Any) -> None:
    folder = tmp_path / "templates" / "authguard"
    folder.mkdir(parents=True)
    (folder / "signin.html").write_text(
        "MY SIGN-IN {{ csrf_token }} {{ callback_url }} {{ providers|length }}"
    )
    (folder / "signout.html").write_text("MY SIGN-OUT {{ callback_url }}")
    (folder / "error.html").write_text("MY ERROR {{ heading }} {{ error_code }}")
    client = client_of(make_app(template_folder=str(tmp_path / "templates")))
    signin = client.get("/api/auth/signin").get_data(as_text=True)
    token = csrf_of(client)
    assert signin == f"MY SIGN-IN {token} {BASE} 1"
    assert client.get("/api/auth/signout").get_data(as_text=True) == f"MY SIGN-OUT {BASE}"
    error = client.get("/api/auth/error?error=AccessDenied")
    assert error.status_code == 403 and error.get_data(as_text=True) == "MY ERROR Access denied AccessDenied"


@pytest.mark.parametrize(
    "page, query, expected",
    [
        pytest.param("/login", "", f"{BASE}/login?callbackUrl={quote(BASE, safe='')}", id="default-callback"),
        pytest.param(
            "/login",
            "?callbackUrl=%2Fprivate&error=CredentialsSignin",
            f"{BASE}/login?callbackUrl={quote(BASE + '/private', safe='')}&error=CredentialsSignin",
            id="callback-and-error",
        ),
        pytest.param(
            "/login?theme=dark",
            "?callbackUrl=%2Fprivate",
            f"{BASE}/login?theme=dark&callbackUrl={quote(BASE + '/private', safe='')}",
            id="page-with-query",
        ),
        pytest.param(
            "https://id.example.com/login",
            "?error=a%20b",
            f"https://id.example.com/login?callbackUrl={quote(BASE, safe='')}&error=a%20b",
            id="absolute-page",
        ),
        pytest.param(
            "/login",
            "?callbackUrl=https%3A%2F%2Fevil.com",
            f"{BASE}/login?callbackUrl={quote(BASE, safe='')}",
            id="attack-callback-is-checked-first",
        ),
    ],
)
def test_signin_redirects_to_pages_sign_in(page: str, query: str, expected: str) -> None:
    client = client_of(make_app(pages={"sign_in": page}))
    response = client.get("/api/auth/signin" + query)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


# -- POST /signin/<provider> -------------------------------------------------------------------


def test_signin_post_credentials_shows_the_sign_in_page(client: t.Any) -> None:
    response = client.post("/api/auth/signin/credentials", data={"csrfToken": csrf_of(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/signin"


def test_signin_post_keeps_the_callback_url_in_its_cookie(client: t.Any) -> None:
    response = client.post(
        "/api/auth/signin/credentials", data={"csrfToken": csrf_of(client), "callbackUrl": "/private"}
    )
    assert cookie_value(response, CALLBACK_COOKIE) == quote(f"{BASE}/private", safe="")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert hidden(html, "callbackUrl") == f"{BASE}/private"


@pytest.mark.parametrize("cookie, token", CSRF_FAILURES)
def test_signin_post_csrf_failures(cookie: str | None, token: str | None) -> None:
    client = client_of(make_app())
    response = _post_with_csrf(client, "/api/auth/signin/credentials", cookie, token)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/signin?csrf=true"


def test_signin_post_unknown_provider(client: t.Any) -> None:
    response = client.post("/api/auth/signin/nope", data={"csrfToken": csrf_of(client)})
    assert response.headers["Location"] == f"{BASE}/api/auth/signin?error=Signin"


def test_signin_post_json(client: t.Any) -> None:
    response = client.post(
        "/api/auth/signin/credentials", data={"csrfToken": csrf_of(client), "json": "true"}
    )
    assert response.status_code == 200
    assert response.get_json() == {"url": f"{BASE}/api/auth/signin"}


class FakeOAuth:
    """What an OAuth provider looks like to the routes (no OAuth here: a stand-in)."""

    id = "fake"
    name = "Fake IdP"
    type = "oauth"
    callback_methods = ("GET", "POST")
    callback_csrf = False

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.begun: list[dict[str, t.Any]] = []

    def begin_sign_in(self, request: t.Any, *, callback_url: str, redirect_uri: str) -> Response:
        if self.fail is not None:
            raise self.fail
        self.begun.append({"callback_url": callback_url, "redirect_uri": redirect_uri})
        response = Response(status=302, headers={"Location": "https://idp.example/authorize?state=s1"})
        response.set_cookie("next-auth.state", "s1", httponly=True)
        return response

    def handle_callback(self, request: t.Any, form: t.Mapping[str, t.Any]) -> SignInResult | None:
        if self.fail is not None:
            raise self.fail
        if request.args.get("state") != "s1":
            raise SignInError("OAuthCallback")
        user = {"id": "idp-7", "name": "Grace", "email": "grace@example.com"}
        account = {"provider": "fake", "type": "oauth", "providerAccountId": "idp-7"}
        return SignInResult(user=user, account=account, profile={"login": "grace"})


def test_an_oauth_style_provider_needs_no_route_changes() -> None:
    provider = FakeOAuth()
    client = client_of(make_app(providers=[provider]))
    start = client.post(
        "/api/auth/signin/fake", data={"csrfToken": csrf_of(client), "callbackUrl": "/private"}
    )
    assert start.headers["Location"] == "https://idp.example/authorize?state=s1"
    assert "next-auth.state" in cookie_names(start) and CALLBACK_COOKIE in cookie_names(start)
    assert provider.begun == [
        {"callback_url": f"{BASE}/private", "redirect_uri": f"{BASE}/api/auth/callback/fake"}
    ]
    back = client.get("/api/auth/callback/fake?code=c&state=s1")  # GET, no CSRF: the state check
    assert back.headers["Location"] == f"{BASE}/private"  # from the callback-url cookie
    assert session_token(back)["sub"] == "idp-7"
    bad = client.get("/api/auth/callback/fake?code=c&state=forged")
    assert bad.headers["Location"] == f"{BASE}/api/auth/error?error=OAuthCallback&provider=fake"
    assert V4 not in cookie_names(bad)


def test_an_oauth_style_provider_answers_json() -> None:
    client = client_of(make_app(providers=[FakeOAuth()]))
    response = client.post("/api/auth/signin/fake", data={"csrfToken": csrf_of(client), "json": "true"})
    assert response.get_json() == {"url": "https://idp.example/authorize?state=s1"}
    assert "next-auth.state" in cookie_names(response)


def test_a_provider_failing_to_start_is_a_sign_in_error() -> None:
    client = client_of(make_app(providers=[FakeOAuth(fail=RuntimeError("idp down"))]))
    response = client.post("/api/auth/signin/fake", data={"csrfToken": csrf_of(client)})
    assert response.headers["Location"] == f"{BASE}/api/auth/error?error=Signin&provider=fake"


# -- /callback/<provider> ----------------------------------------------------------------------


def test_callback_signs_in(frozen_clock: FrozenClock) -> None:
    jwt = Recorder()
    sign_in_cb = Recorder(lambda **_: True)
    events: list[tuple[str, dict[str, t.Any]]] = []
    app = make_app(
        callbacks={"jwt": jwt, "sign_in": sign_in_cb},
        events={"sign_in": lambda **kw: events.append(("sign_in", kw))},
        session={"max_age": 7200},
        jwt={"max_age": 600},
    )
    client = client_of(app)
    response = sign_in(client, callbackUrl="/private")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/private"
    token = session_token(response)
    assert {k: token[k] for k in ("name", "email", "picture", "sub")} == {
        "name": "Ada",
        "email": "ada@example.com",
        "picture": "https://example.com/ada.png",
        "sub": "1",
    }
    assert token["exp"] == frozen_clock.now + 600  # jwt.max_age for the token
    assert "Expires=Wed, 15 Nov 2023 00:13:20 GMT" in cookie_header(response, V4)  # session.max_age
    account = {"providerAccountId": "1", "type": "credentials", "provider": "credentials"}
    (call,) = jwt.calls
    assert call["trigger"] == "signIn" and call["user"] == ADA and call["account"] == account
    assert call["is_new_user"] is False
    (signin_call,) = sign_in_cb.calls
    assert signin_call["credentials"] == {"username": "ada", "password": "pw"}
    assert signin_call["user"] == ADA and signin_call["account"] == account
    assert [name for name, _ in events] == ["sign_in"]
    assert events[0][1]["user"] == ADA
    assert client.get("/private").data == b"private"


def test_callback_failed_credentials_go_to_the_error_route_then_the_sign_in_page(client: t.Any) -> None:
    response = sign_in(client, password="wrong", callbackUrl="/private")
    assert response.status_code == 302
    assert (
        response.headers["Location"] == f"{BASE}/api/auth/error?error=CredentialsSignin&provider=credentials"
    )
    assert V4 not in cookie_names(response)
    hop = client.get(response.headers["Location"])
    # unlike next-auth, the URL keeps the callbackUrl (issue 28), from the callback-url cookie
    callback = quote(f"{BASE}/private", safe="")
    assert hop.headers["Location"] == f"{BASE}/api/auth/signin?error=CredentialsSignin&callbackUrl={callback}"
    page = client.get(hop.headers["Location"]).get_data(as_text=True)
    assert SIGNIN_MESSAGES["CredentialsSignin"] in page
    assert hidden(page, "callbackUrl") == f"{BASE}/private"  # kept by the callback-url cookie
    assert client.get("/private").status_code == 307


def test_callback_json_answers_the_url(client: t.Any) -> None:
    ok = sign_in(client, json="true", callbackUrl="/private")
    assert ok.status_code == 200 and ok.get_json() == {"url": f"{BASE}/private"}
    assert V4 in cookie_names(ok)
    failed = sign_in(client, password="x", json="true")
    error = query_of(failed.get_json()["url"])["error"]
    assert error == ["CredentialsSignin"]  # what next-auth/react's signIn() reads


@pytest.mark.parametrize(
    "behaviour, status, error",
    [
        pytest.param(None, 401, "error=CredentialsSignin&provider=credentials", id="refused"),
        pytest.param(SignInError("Locked"), 401, "error=Locked&provider=credentials", id="sign-in-error"),
        pytest.param(ValueError("x"), 401, "error=Callback&provider=credentials", id="raises"),
    ],
)
def test_callback_json_refusal_is_not_ok(behaviour: t.Any, status: int, error: str) -> None:
    """next-auth answers a refused credentials sign-in with ``json=true`` 401: its client reads
    ``res.ok``, so a 200 would look like success to ``next-auth/react``."""

    def refuse(**_: t.Any) -> t.Any:
        if isinstance(behaviour, BaseException):
            raise behaviour
        return behaviour

    client = client_of(make_app(providers=[CredentialsProvider(authorize=refuse, credentials=FIELDS)]))
    response = sign_in(client, json="true")
    assert response.status_code == status
    assert response.get_json() == {"url": f"{BASE}/api/auth/error?{error}"}
    assert V4 not in cookie_names(response)
    as_json = client.post(
        "/api/auth/callback/credentials",
        json={"csrfToken": csrf_of(client), "username": "a", "password": "b", "json": "true"},
    )
    assert as_json.status_code == status


@pytest.mark.parametrize(
    "callbacks",
    [
        pytest.param({"sign_in": lambda **_: False}, id="sign-in-callback"),
        pytest.param({"jwt": lambda **_: None}, id="jwt-callback"),
    ],
)
def test_callback_json_access_denied_is_403(callbacks: dict[str, t.Any]) -> None:
    response = sign_in(client_of(make_app(callbacks=callbacks)), json="true")
    assert response.status_code == 403
    assert response.get_json() == {"url": f"{BASE}/api/auth/error?error=AccessDenied"}


def test_callback_accepts_a_json_body(client: t.Any) -> None:
    body = {"csrfToken": csrf_of(client), "username": "ada", "password": "pw", "json": True}
    response = client.post("/api/auth/callback/credentials", json=body)
    assert response.get_json() == {"url": BASE}


def test_callback_uses_the_callback_url_cookie_when_the_form_has_none(client: t.Any) -> None:
    client.get("/api/auth/signin?callbackUrl=%2Fprivate")
    response = sign_in(client)
    assert response.headers["Location"] == f"{BASE}/private"


@pytest.mark.parametrize("cookie, token", CSRF_FAILURES)
def test_callback_csrf_failures(cookie: str | None, token: str | None) -> None:
    calls: list[t.Any] = []
    provider = CredentialsProvider(authorize=lambda **kw: calls.append(kw) or dict(ADA), credentials=FIELDS)
    client = client_of(make_app(providers=[provider]))
    response = _post_with_csrf(
        client, "/api/auth/callback/credentials", cookie, token, username="a", password="b"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/signin?csrf=true"
    assert calls == []
    assert V4 not in cookie_names(response)


def test_callback_csrf_failure_json(client: t.Any) -> None:
    response = client.post("/api/auth/callback/credentials", data={"json": "true"})
    assert response.get_json() == {"url": f"{BASE}/api/auth/signin?csrf=true"}


def test_callback_get_for_credentials_is_unsupported(client: t.Any) -> None:
    response = client.get("/api/auth/callback/credentials?username=ada&password=pw")
    assert response.status_code == 400
    assert "This action with HTTP GET is not supported." in response.get_data(as_text=True)
    assert V4 not in cookie_names(response)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_callback_unknown_provider_is_unsupported(client: t.Any, method: str) -> None:
    response = client.open("/api/auth/callback/nope", method=method, data={"csrfToken": csrf_of(client)})
    assert response.status_code == 400


def test_authorize_gets_only_declared_fields_as_strings() -> None:
    seen: list[t.Any] = []

    def spy(*, credentials: dict[str, str], request: t.Any) -> None:
        seen.append((credentials, request.path))

    client = client_of(make_app(providers=[CredentialsProvider(authorize=spy, credentials=FIELDS)]))
    body = {"csrfToken": csrf_of(client), "username": 7, "extra": "x", "callbackUrl": "/"}
    client.post("/api/auth/callback/credentials", json=body)
    assert seen == [({"username": "7", "password": ""}, "/api/auth/callback/credentials")]


def test_authorize_without_declared_fields_gets_every_field_but_the_endpoints() -> None:
    seen: list[t.Any] = []
    provider = CredentialsProvider(authorize=lambda *, credentials, **_: seen.append(credentials))
    client = client_of(make_app(providers=[provider]))
    client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": csrf_of(client), "code": "123456", "callbackUrl": "/", "json": "false"},
    )
    assert seen == [{"code": "123456"}]


def test_async_authorize(client: t.Any) -> None:
    async def authorize_async(*, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any]:
        return {"id": "a1", "name": credentials["username"]}

    client = client_of(
        make_app(providers=[CredentialsProvider(authorize=authorize_async, credentials=FIELDS)])
    )
    assert session_token(sign_in(client, username="zed"))["name"] == "zed"


@pytest.mark.parametrize(
    "behaviour, location",
    [
        pytest.param(
            ValueError("boom with secret details"), "error=Callback&provider=credentials", id="raises"
        ),
        pytest.param(
            SignInError("TwoFactorRequired"), "error=TwoFactorRequired&provider=credentials", id="code"
        ),
        pytest.param(SignInError(), "error=CredentialsSignin&provider=credentials", id="default-code"),
        pytest.param(["not", "a", "dict"], "error=Callback&provider=credentials", id="not-a-dict"),
        pytest.param({}, "error=CredentialsSignin&provider=credentials", id="empty-user"),
    ],
)
def test_authorize_failures(behaviour: t.Any, location: str, caplog: pytest.LogCaptureFixture) -> None:
    def bad(**_: t.Any) -> t.Any:
        if isinstance(behaviour, BaseException):
            raise behaviour
        return behaviour

    client = client_of(make_app(providers=[CredentialsProvider(authorize=bad, credentials=FIELDS)]))
    with caplog.at_level(logging.ERROR, logger="flask_authguard"):
        response = sign_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/error?{location}"
    assert V4 not in cookie_names(response)


@pytest.mark.parametrize(
    "result, location",
    [
        pytest.param(False, f"{BASE}/api/auth/error?error=AccessDenied", id="false"),
        pytest.param(None, f"{BASE}/api/auth/error?error=AccessDenied", id="none"),
        pytest.param("", f"{BASE}/api/auth/error?error=AccessDenied", id="empty-string-as-next-auth"),
        pytest.param("/welcome", f"{BASE}/welcome", id="url"),
        pytest.param("https://evil.com/", BASE, id="foreign-url-is-checked"),
    ],
)
def test_sign_in_callback_refuses_or_redirects(result: t.Any, location: str) -> None:
    client = client_of(make_app(callbacks={"sign_in": lambda **_: result}))
    response = sign_in(client, callbackUrl="/private")
    assert response.headers["Location"] == location
    assert V4 not in cookie_names(response)


def test_error_page_for_access_denied_is_403(client: t.Any) -> None:
    response = client.get("/api/auth/error?error=AccessDenied")
    assert response.status_code == 403
    assert "You do not have permission to sign in." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "callbacks",
    [
        pytest.param({"sign_in": lambda **_: 1 / 0}, id="sign-in-raises"),
        pytest.param({"jwt": lambda **_: 1 / 0}, id="jwt-raises"),
    ],
)
def test_callbacks_that_raise_do_not_sign_in(callbacks: dict[str, t.Any], client: t.Any) -> None:
    response = sign_in(client_of(make_app(callbacks=callbacks)))
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/error?error=Callback&provider=credentials"
    assert V4 not in cookie_names(response)


def test_jwt_callback_returning_none_refuses() -> None:
    response = sign_in(client_of(make_app(callbacks={"jwt": lambda **_: None})))
    assert response.headers["Location"] == f"{BASE}/api/auth/error?error=AccessDenied"
    assert V4 not in cookie_names(response)


def test_jwt_callback_adds_claims() -> None:
    def jwt(*, token: dict[str, t.Any], user: t.Any = None, **_: t.Any) -> dict[str, t.Any]:
        if user:
            token["role"] = user["role"]
        return token

    assert session_token(sign_in(client_of(make_app(callbacks={"jwt": jwt}))))["role"] == "admin"


def test_a_failing_sign_in_event_does_not_stop_sign_in(caplog: pytest.LogCaptureFixture) -> None:
    client = client_of(make_app(events={"sign_in": lambda **_: 1 / 0}))
    with caplog.at_level(logging.ERROR, logger="flask_authguard"):
        response = sign_in(client)
    assert V4 in cookie_names(response)
    assert "events.sign_in raised" in caplog.text


def test_sign_in_replaces_old_session_chunks(client: t.Any, make_token: t.Callable[..., str]) -> None:
    client.set_cookie(f"{V4}.0", "old")
    client.set_cookie(f"{V4}.1", "old")
    response = sign_in(client)
    headers = {h.split("=", 1)[0]: h for h in set_cookies(response)}
    assert "Max-Age=0" in headers[f"{V4}.0"] and "Max-Age=0" in headers[f"{V4}.1"]
    assert cookie_value(response, V4)


def test_sign_in_chunks_a_big_token() -> None:
    def jwt(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        return {**token, "blob": "x" * 6000}

    response = sign_in(client_of(make_app(callbacks={"jwt": jwt})))
    names = [n for n in cookie_names(response) if n.startswith(V4)]
    assert names == [f"{V4}.{i}" for i in range(len(names))] and len(names) >= 2
    values = [cookie_value(response, n) for n in names]
    assert all(len(v) <= 3933 for v in values)
    assert decode(token="".join(values), secret=SECRET)["blob"] == "x" * 6000


def test_sign_in_over_https_uses_secure_cookies() -> None:
    client = client_of(make_app(url="https://app.example.com"), "https://app.example.com")
    response = sign_in(client)
    header = cookie_header(response, f"__Secure-{V4}")
    assert header is not None and "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header


def test_sign_in_v5() -> None:
    client = client_of(make_app(version=5))
    response = sign_in(client)
    value = cookie_value(response, "authjs.session-token")
    claims = decode(token=value, secret=SECRET, salt="authjs.session-token", version=5)
    assert claims["sub"] == "1"
    assert client.get("/api/auth/session").get_json()["user"]["name"] == "Ada"


def test_sign_in_with_a_custom_jwt_encode() -> None:
    seen: list[dict[str, t.Any]] = []

    def encode(**kwargs: t.Any) -> str:
        seen.append(kwargs)
        return "custom-token"

    response = sign_in(client_of(make_app(jwt={"encode": encode, "max_age": 60})))
    assert cookie_value(response, V4) == "custom-token"
    assert seen[0]["max_age"] == 60 and seen[0]["secret"] == SECRET and seen[0]["token"]["sub"] == "1"


# -- GET /signout ------------------------------------------------------------------------------


def test_signout_page(client: t.Any) -> None:
    response = client.get("/api/auth/signout?callbackUrl=%2Fbye")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert hidden(html, "csrfToken") == csrf_of(client)
    assert hidden(html, "callbackUrl") == f"{BASE}/bye"
    assert f'action="{BASE}/api/auth/signout"' in html
    assert response.headers["X-Frame-Options"] == "DENY"


def test_signout_page_ignores_the_sign_in_callback_cookie(client: t.Any) -> None:
    client.get("/api/auth/signin?callbackUrl=%2Fprivate")
    html = client.get("/api/auth/signout").get_data(as_text=True)
    assert hidden(html, "callbackUrl") == BASE


def test_signout_page_after_a_csrf_failure(client: t.Any) -> None:
    assert "Your sign-out request expired" in client.get("/api/auth/signout?csrf=true").get_data(as_text=True)


def test_signout_redirects_to_pages_sign_out() -> None:
    client = client_of(make_app(pages={"sign_out": "/goodbye"}))
    response = client.get("/api/auth/signout?callbackUrl=%2Fx")
    assert response.status_code == 302 and response.headers["Location"] == f"{BASE}/goodbye"


# -- POST /signout -----------------------------------------------------------------------------


def test_signout(client: t.Any) -> None:
    events: list[dict[str, t.Any]] = []
    client = client_of(make_app(events={"sign_out": lambda **kw: events.append(kw)}))
    sign_in(client, callbackUrl="/private")
    response = client.post("/api/auth/signout", data={"csrfToken": csrf_of(client), "callbackUrl": "/bye"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/bye"
    assert cookie_header(response, V4).startswith(f"{V4}=;") and "Max-Age=0" in cookie_header(response, V4)
    assert "Max-Age=0" in cookie_header(response, CALLBACK_COOKIE)
    assert events[0]["token"]["sub"] == "1"
    assert client.get("/api/auth/session").get_json() == {}
    assert client.get("/private").status_code == 307


def test_signout_default_target_is_the_base_url(client: t.Any) -> None:
    response = client.post("/api/auth/signout", data={"csrfToken": csrf_of(client)})
    assert response.headers["Location"] == BASE


def test_signout_without_a_session_changes_no_cookie_and_fires_no_event() -> None:
    events: list[t.Any] = []
    client = client_of(make_app(events={"sign_out": lambda **kw: events.append(kw)}))
    csrf = csrf_of(client)
    response = client.post("/api/auth/signout", data={"csrfToken": csrf})
    assert response.status_code == 302
    assert set_cookies(response) == []
    assert events == []


def test_signout_of_an_invalid_cookie_fires_the_event_with_no_token() -> None:
    events: list[t.Any] = []
    client = client_of(make_app(events={"sign_out": lambda **kw: events.append(kw)}))
    client.set_cookie(V4, "garbage")
    response = client.post("/api/auth/signout", data={"csrfToken": csrf_of(client)})
    assert events == [{"token": None}]
    assert "Max-Age=0" in cookie_header(response, V4)


def test_signout_json(client: t.Any) -> None:
    sign_in(client)
    response = client.post("/api/auth/signout", data={"csrfToken": csrf_of(client), "json": "true"})
    assert response.status_code == 200 and response.get_json() == {"url": BASE}
    assert "Max-Age=0" in cookie_header(response, V4)


@pytest.mark.parametrize("cookie, token", CSRF_FAILURES)
def test_signout_csrf_failures(cookie: str | None, token: str | None) -> None:
    client = client_of(make_app())
    sign_in(client)
    client.delete_cookie(CSRF_COOKIE)
    response = _post_with_csrf(client, "/api/auth/signout", cookie, token)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/signout?csrf=true"
    assert V4 not in cookie_names(response)
    assert client.get("/private").status_code == 200  # still signed in


def test_signout_chunked_session(client: t.Any, make_token: t.Callable[..., str]) -> None:
    client.set_cookie(f"{V4}.0", "a")
    client.set_cookie(f"{V4}.1", "b")
    response = client.post("/api/auth/signout", data={"csrfToken": csrf_of(client)})
    deleted = sorted(n for n in cookie_names(response) if n.startswith(V4))
    assert deleted == [f"{V4}.0", f"{V4}.1"]


# -- GET /error --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, status, heading",
    [
        pytest.param("?error=Configuration", 500, "Server error", id="configuration"),
        pytest.param("?error=configuration", 500, "Server error", id="case-insensitive"),
        pytest.param("?error=AccessDenied", 403, "Access denied", id="access-denied"),
        pytest.param("?error=Verification", 403, "Unable to sign in", id="verification"),
        pytest.param("?error=Default", 200, "Error", id="default"),
        pytest.param("?error=Whatever", 200, "Error", id="unknown"),
        pytest.param("", 200, "Error", id="none"),
    ],
)
def test_error_page(client: t.Any, query: str, status: int, heading: str) -> None:
    response = client.get("/api/auth/error" + query)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f'<h1 id="page-title">{heading}</h1>' in html
    assert set_cookies(response) == []


def test_error_page_statuses_follow_the_spec() -> None:
    assert {k: v.status for k, v in ERROR_PAGES.items()} == {
        "configuration": 500,
        "accessdenied": 403,
        "verification": 403,
        "toomanyrequests": 200,  # a page a throttled client navigates to: 200 as other codes
        "default": 200,
    }


def test_error_page_does_not_reflect_the_code(client: t.Any) -> None:
    html = client.get("/api/auth/error?error=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E").get_data(as_text=True)
    assert "<img" not in html and "onerror" not in html


@pytest.mark.parametrize("code", sorted(SIGNIN_ERRORS))
def test_sign_in_errors_go_to_the_sign_in_page(client: t.Any, code: str) -> None:
    response = client.get(f"/api/auth/error?error={code}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/signin?error={code}"


@pytest.mark.parametrize(
    "page, code, expected",
    [
        pytest.param("/oops", "AccessDenied", f"{BASE}/oops?error=AccessDenied", id="path"),
        pytest.param(
            "/oops?x=1", "Verification", f"{BASE}/oops?x=1&error=Verification", id="page-with-query"
        ),
        pytest.param("/oops", "a&b=c", f"{BASE}/oops?error=a%26b%3Dc", id="encoded"),
    ],
)
def test_error_redirects_to_pages_error(page: str, code: str, expected: str) -> None:
    client = client_of(make_app(pages={"error": page}))
    response = client.get("/api/auth/error", query_string={"error": code})
    assert response.status_code == 302 and response.headers["Location"] == expected


def test_error_page_renders_without_a_secret() -> None:
    """The middleware sends a missing secret to ``error?error=Configuration``: it must render."""
    client = client_of(make_app(secret=None))
    assert client.get("/private").headers["Location"] == f"{BASE}/api/auth/error?error=Configuration"
    response = client.get("/api/auth/error?error=Configuration")
    assert response.status_code == 500 and "Server error" in response.get_data(as_text=True)
    assert SECRET not in response.get_data(as_text=True)


def test_other_routes_without_a_secret_answer_500_json() -> None:
    client = client_of(make_app(secret=None))
    for path in ("/api/auth/csrf", "/api/auth/providers", "/api/auth/session"):
        response = client.get(path)
        assert response.status_code == 500 and "message" in response.get_json()
    for path in ("/api/auth/signin/credentials", "/api/auth/callback/credentials", "/api/auth/signout"):
        response = client.post(path, data={"csrfToken": "x"})
        assert response.status_code == 500 and "message" in response.get_json()
        assert set_cookies(response) == []


@pytest.mark.parametrize("path", ["/api/auth/signin", "/api/auth/signout"])
def test_pages_without_a_secret_render_the_configuration_error(path: str) -> None:
    """next-auth renders its Configuration error page for the page routes, not raw JSON."""
    response = client_of(make_app(secret=None)).get(path, headers={"Accept": "text/html"})
    assert response.status_code == 500 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<h1 id="page-title">Server error</h1>' in html
    assert f'href="{BASE}/"' in html  # a way home
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
    assert set_cookies(response) == []


@pytest.mark.parametrize("path", ["/api/auth/signin", "/api/auth/signout"])
def test_pages_without_a_secret_go_to_a_custom_error_page(path: str) -> None:
    response = client_of(make_app(secret=None, pages={"error": "/oops"})).get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/oops?error=Configuration"


# -- /_log and unsupported actions -------------------------------------------------------------


def test_client_log(client: t.Any) -> None:
    response = client.post("/api/auth/_log", data={"level": "error", "code": "X"})
    assert response.status_code == 200 and response.get_json() == {}


@pytest.mark.parametrize(
    "method, path",
    [
        pytest.param("GET", "/api/auth/nope", id="unknown-action"),
        pytest.param("POST", "/api/auth/nope", id="unknown-action-post"),
        pytest.param("GET", "/api/auth/", id="no-action"),
        pytest.param("POST", "/api/auth/csrf", id="post-csrf"),
        pytest.param("POST", "/api/auth/providers", id="post-providers"),
        pytest.param("PUT", "/api/auth/session", id="put-session"),
        pytest.param("DELETE", "/api/auth/session", id="delete-session"),
        pytest.param("PATCH", "/api/auth/signout", id="patch-signout"),
        pytest.param("GET", "/api/auth/signin/credentials", id="get-signin-provider"),
        pytest.param("POST", "/api/auth/error", id="post-error"),
        pytest.param("GET", "/api/auth/_log", id="get-log"),
        pytest.param("GET", "/api/auth/session/extra", id="deeper"),
        pytest.param("GET", "/api/auth/signin/", id="trailing-slash"),
        pytest.param("POST", "/api/auth/callback/", id="empty-provider-id"),
        pytest.param("POST", "/api/auth/callback/credentials/x", id="deeper-provider"),
        pytest.param("GET", "/api/auth/verify-request", id="verify-request"),
    ],
)
def test_unsupported_actions_answer_400(client: t.Any, method: str, path: str) -> None:
    # next-auth's status; its plain text became the error page (issue 28), JSON for JSON clients
    response = client.open(path, method=method)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f"This action with HTTP {method} is not supported." in html
    assert f'id="signin-link" href="{BASE}/api/auth/signin"' in html
    api = client.open(path, method=method, headers={"Accept": "application/json"})
    assert api.status_code == 400
    assert api.get_json() == {
        "error": "UnknownAction",
        "message": f"This action with HTTP {method} is not supported.",
    }


@pytest.mark.parametrize("path", ["/api/auth/session", "/api/auth/signin", "/api/auth/nope"])
def test_options_is_unsupported_as_in_next_auth(client: t.Any, path: str) -> None:
    response = client.open(path, method="OPTIONS", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["message"] == "This action with HTTP OPTIONS is not supported."


@pytest.mark.parametrize("path", ["/api/auth/csrf", "/api/auth/session", "/api/auth/signin"])
def test_head_answers_like_get_without_a_body(client: t.Any, path: str) -> None:
    response = client.open(path, method="HEAD")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Type"] == client.get(path).headers["Content-Type"]


def test_endpoints_off() -> None:
    app = make_app(endpoints=False)
    assert client_of(app).get("/api/auth/session").status_code == 404


def test_a_custom_base_path() -> None:
    client = client_of(make_app(base_path="/auth"))
    response = sign_in_at(client, "/auth")
    assert response.headers["Location"] == BASE
    assert client.get("/auth/session").get_json()["user"]["name"] == "Ada"
    html = client.get("/auth/signin").get_data(as_text=True)
    assert f'action="{BASE}/auth/callback/credentials"' in html


def sign_in_at(client: t.Any, base: str) -> t.Any:
    csrf = client.get(f"{base}/csrf").get_json()["csrfToken"]
    return client.post(
        f"{base}/callback/credentials", data={"csrfToken": csrf, "username": "ada", "password": "pw"}
    )


def test_the_request_origin_is_the_base_without_a_url() -> None:
    client = client_of(make_app(url=None), "http://localhost:8123")
    response = sign_in(client, callbackUrl="/private")
    assert response.headers["Location"] == "http://localhost:8123/private"


# -- bad input never answers 500 -------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param(
            {"data": b"\xff\xfe", "content_type": "application/x-www-form-urlencoded"}, id="bad-utf8-form"
        ),
        pytest.param({"data": b"{not json", "content_type": "application/json"}, id="bad-json"),
        pytest.param({"json": ["a", "list"]}, id="json-list"),
        pytest.param({"json": {"csrfToken": {"a": 1}, "username": ["x"], "callbackUrl": 5}}, id="json-types"),
        pytest.param({"data": {"callbackUrl": "x" * 10000}}, id="huge-callback"),
        pytest.param({"data": {"callbackUrl": "/\u00fc\u4e2d"}}, id="unicode-callback"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/callback/credentials",
        "/api/auth/signin/credentials",
        "/api/auth/signout",
        "/api/auth/session",
    ],
)
def test_bad_bodies_never_answer_500(client: t.Any, path: str, kwargs: dict[str, t.Any]) -> None:
    response = client.post(path, **kwargs)
    assert response.status_code < 500
    location = response.headers.get("Location")
    if location:
        location.encode("ascii")


POST_ROUTES = [
    "/api/auth/callback/credentials",
    "/api/auth/signin/credentials",
    "/api/auth/signout",
    "/api/auth/session",
    "/api/auth/_log",
]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 30000 + "]" * 30000, id="arrays"),
        pytest.param('{"a":' * 10000 + "1" + "}" * 10000, id="objects"),
        pytest.param('{"csrfToken": "x", "data": ' + "[" * 33 + "]" * 33 + "}", id="just-over-the-limit"),
    ],
)
@pytest.mark.parametrize("path", POST_ROUTES)
def test_deeply_nested_json_is_no_body_not_a_500(client: t.Any, path: str, body: str) -> None:
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code < 500
    if path == "/api/auth/session":
        assert response.status_code == 400  # no body: no CSRF token


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"csrfToken": "\\ud800"}', id="csrf-token"),
        pytest.param('{"csrfToken": "TOKEN", "callbackUrl": "/\\ud800"}', id="callback-url"),
        pytest.param('{"callbackUrl": "/\\udfff", "username": "ada", "password": "pw"}', id="no-token"),
        pytest.param('{"csrfToken": "TOKEN", "data": {"name": "\\ud800"}}', id="nested"),
    ],
)
@pytest.mark.parametrize("path", POST_ROUTES)
def test_json_with_a_lone_surrogate_is_no_body(client: t.Any, path: str, body: str) -> None:
    """``"\\ud800"`` is valid JSON but no UTF-8 text: the body answers as unparsable JSON does."""
    token = csrf_of(client)
    unparsable = client.post(path, data="{not json", content_type="application/json")
    response = client.post(path, data=body.replace("TOKEN", token), content_type="application/json")
    assert response.status_code == unparsable.status_code < 500
    assert response.headers.get("Location") == unparsable.headers.get("Location")


def test_json_nested_to_the_limit_is_read(client: t.Any) -> None:
    sign_in(client)
    data: t.Any = "deep"
    for _ in range(30):
        data = [data]
    response = client.post("/api/auth/session", json={"csrfToken": csrf_of(client), "data": {"x": data}})
    assert response.status_code == 200 and response.get_json()["user"]["name"] == "Ada"


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"data": {"csrfToken": "x", "password": "p" * 70000}}, id="form"),
        pytest.param({"json": {"csrfToken": "x", "password": "p" * 70000}}, id="json"),
    ],
)
@pytest.mark.parametrize("path", POST_ROUTES)
def test_big_bodies_answer_413(client: t.Any, path: str, kwargs: dict[str, t.Any]) -> None:
    response = client.post(path, **kwargs)
    assert response.status_code == 413
    assert "64 KB" in response.get_data(as_text=True)
    assert V4 not in cookie_names(response)


@wsgi_only
def test_a_big_chunked_body_answers_413() -> None:
    """No ``Content-Length`` (chunked): read up to the limit, no further."""
    import io

    from werkzeug.test import EnvironBuilder, run_wsgi_app

    app = make_app()
    form = b"csrfToken=" + b"a" * 64 + b"&username=ada&password=pw&callbackUrl=%2Fprivate&pad="
    for size, expected, location in ((70000, "413", None), (100, "302", f"{BASE}/private")):
        environ = EnvironBuilder(
            path="/api/auth/callback/credentials",
            method="POST",
            base_url=BASE,
            content_type="application/x-www-form-urlencoded",
            headers={"Cookie": f"{CSRF_COOKIE}={_csrf_cookie('a' * 64)}"},
        ).get_environ()
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input"] = io.BytesIO(form + b"x" * size)
        environ["wsgi.input_terminated"] = True
        _, status, headers = run_wsgi_app(app, environ, buffered=True)
        assert status.startswith(expected), (size, status)
        assert headers.get("Location") == location  # the small one signed in


def test_bad_cookies_never_answer_500(client: t.Any) -> None:
    client.set_cookie(CSRF_COOKIE, "%E0%A4%A|\u00ff")
    client.set_cookie(CALLBACK_COOKIE, "javascript%3Aalert(1)")
    client.set_cookie(V4, "%%%")
    for path in ("/api/auth/session", "/api/auth/signin", "/api/auth/csrf", "/api/auth/signout"):
        assert client.get(path).status_code == 200
    response = sign_in(client)
    assert response.headers["Location"] == BASE


def test_nothing_secret_in_logs_or_pages(client: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="flask_authguard"):
        signed = sign_in(client)
        token = cookie_value(signed, V4)
        pages = [client.get(p).get_data(as_text=True) for p in ("/api/auth/signin", "/api/auth/signout")]
        pages.append(client.get("/api/auth/error?error=Configuration").get_data(as_text=True))
        sign_in(client, password="wrong")
    for text in [caplog.text, *pages]:
        assert SECRET not in text and token not in text and "pw" not in text.split()


# -- redirects: the callback (safe_redirect itself: tests/core/defences/test_urls.py) -----------


@pytest.mark.parametrize("url", ATTACKS)
def test_redirect_attacks_through_the_endpoints(url: str) -> None:
    client = client_of(make_app())
    # the sign-in page's form
    page = client.get("/api/auth/signin", query_string={"callbackUrl": url})
    assert page.status_code == 200
    assert hidden(page.get_data(as_text=True), "callbackUrl") == BASE
    # the sign-in form posted with the attack
    response = sign_in(client, callbackUrl=url)
    assert response.headers["Location"] == BASE
    # the sign-out page and form
    page = client.get("/api/auth/signout", query_string={"callbackUrl": url})
    assert hidden(page.get_data(as_text=True), "callbackUrl") == BASE
    response = client.post("/api/auth/signout", data={"csrfToken": csrf_of(client), "callbackUrl": url})
    assert response.headers["Location"] == BASE
    # a custom sign-in page gets the checked URL
    custom = client_of(make_app(pages={"sign_in": "/login"}))
    location = custom.get("/api/auth/signin", query_string={"callbackUrl": url}).headers["Location"]
    assert query_of(location)["callbackUrl"] == [BASE]


@pytest.mark.parametrize("url", ATTACKS[:12])
def test_redirect_attacks_in_the_callback_cookie(url: str) -> None:
    client = client_of(make_app())
    client.set_cookie(CALLBACK_COOKIE, quote(url, safe=""))
    assert sign_in(client).headers["Location"] == BASE


@pytest.mark.parametrize("url, expected", SAFE)
def test_safe_targets_through_the_endpoints(url: str, expected: str) -> None:
    client = client_of(make_app())
    assert sign_in(client, callbackUrl=url).headers["Location"] == expected


@pytest.mark.parametrize(
    "returns, expected",
    [
        pytest.param(
            "https://partner.example.org/x", "https://partner.example.org/x", id="other-origin-allowed"
        ),
        pytest.param("/relative", f"{BASE}/relative", id="relative-joined"),
        pytest.param("//evil.com", BASE, id="protocol-relative"),
        pytest.param("javascript:alert(1)", BASE, id="javascript"),
        pytest.param("https://ok.example/\r\nX: y", BASE, id="crlf"),
        pytest.param("https://ok.example:99999/", BASE, id="port-out-of-range"),
        pytest.param("https:///no-host", BASE, id="no-host"),
        pytest.param(None, BASE, id="none"),
        pytest.param(42, BASE, id="not-a-string"),
        pytest.param(ZeroDivisionError, BASE, id="raises"),
    ],
)
def test_redirect_callback(returns: t.Any, expected: str, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[dict[str, t.Any]] = []

    def redirect(**kwargs: t.Any) -> t.Any:
        seen.append(kwargs)
        if returns is ZeroDivisionError:
            raise ZeroDivisionError
        return returns

    client = client_of(make_app(callbacks={"redirect": redirect}))
    with caplog.at_level(logging.ERROR, logger="flask_authguard"):
        response = sign_in(client, callbackUrl="https://partner.example.org/x")
    assert response.headers["Location"] == expected
    assert seen[-1] == {"url": "https://partner.example.org/x", "base_url": BASE}


# -- providers: start-up checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    "providers, message",
    [
        pytest.param(
            [CredentialsProvider(authorize=authorize), CredentialsProvider(authorize=authorize)],
            "share the id",
            id="duplicate-id",
        ),
        pytest.param([object()], "lacks", id="not-a-provider"),
    ],
)
def test_bad_providers_fail_at_start_up(providers: list[t.Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_app(providers=providers)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"authorize": "nope"}, id="authorize-not-callable"),
        pytest.param({"authorize": authorize, "id": ""}, id="empty-id"),
        pytest.param({"authorize": authorize, "id": "a/b"}, id="slash-in-id"),
        pytest.param({"authorize": authorize, "id": "a?b"}, id="query-in-id"),
        pytest.param({"authorize": authorize, "credentials": {"csrfToken": {}}}, id="reserved-field"),
        pytest.param({"authorize": authorize, "credentials": {"x": "label"}}, id="field-not-a-dict"),
    ],
)
def test_bad_credentials_provider(kwargs: dict[str, t.Any]) -> None:
    with pytest.raises(ConfigurationError):
        CredentialsProvider(**kwargs)


def test_credentials_provider_is_a_provider() -> None:
    provider = CredentialsProvider(authorize=authorize)
    assert (provider.type, tuple(provider.callback_methods), provider.callback_csrf) == (
        "credentials",
        ("POST",),
        True,
    )
    assert provider.begin_sign_in(None, callback_url=BASE, redirect_uri=BASE) is None  # type: ignore[arg-type]


def test_json_bodies_in_responses_are_json(client: t.Any) -> None:
    assert json.loads(client.get("/api/auth/csrf").data)["csrfToken"]


def test_under_a_script_root() -> None:
    """An app mounted below ``/app``: every URL the endpoints make keeps the prefix."""
    client = client_of(make_app(pages={"error": "/oops"}), BASE + "/app")
    html = client.get("/api/auth/signin?callbackUrl=%2Fapp%2Fprivate").get_data(as_text=True)
    assert f'action="{BASE}/app/api/auth/callback/credentials"' in html
    assert hidden(html, "callbackUrl") == f"{BASE}/app/private"
    response = sign_in(client, callbackUrl="/app/private")
    assert response.headers["Location"] == f"{BASE}/app/private"
    failed = sign_in(client, password="x")
    assert failed.headers["Location"].startswith(f"{BASE}/app/api/auth/error?")
    assert (
        client.get("/api/auth/error?error=Verification").headers["Location"]
        == f"{BASE}/app/oops?error=Verification"
    )


class BareCredentials:
    """A hand-made credentials-type provider without ``credentials`` fields."""

    id = "bare"
    name = "Bare"
    type = "credentials"
    callback_methods = ("POST",)
    callback_csrf = True

    def begin_sign_in(self, request: t.Any, **_: t.Any) -> None:
        return None

    def handle_callback(self, request: t.Any, form: t.Mapping[str, t.Any]) -> SignInResult:
        return SignInResult(user={"id": "b"}, account={"provider": "bare", "type": "credentials"})


def test_a_hand_made_provider_without_fields() -> None:
    client = client_of(make_app(providers=[BareCredentials()]))
    html = client.get("/api/auth/signin").get_data(as_text=True)
    assert f'action="{BASE}/api/auth/callback/bare"' in html and "Sign in with Bare" in html
    response = client.post("/api/auth/callback/bare", data={"csrfToken": csrf_of(client)})
    assert session_token(response)["sub"] == "b"


def test_session_event_fires_on_a_session_read() -> None:
    events: list[dict[str, t.Any]] = []
    client = client_of(make_app(events={"session": lambda **kw: events.append(kw)}))
    client.get("/api/auth/session")
    assert events == []  # no session, no event
    sign_in(client)
    client.get("/api/auth/session")
    assert events[-1]["session"]["user"]["name"] == "Ada" and events[-1]["token"]["sub"] == "1"


@pytest.mark.parametrize(
    "host, status",
    [
        pytest.param("x:99999", 400, id="port-out-of-range"),
        pytest.param("evil.com/x", 400, id="path-in-host"),
        pytest.param("a b", 400, id="space"),
        pytest.param('a"b', 400, id="quote"),
        pytest.param("x:abc", 400, id="bad-port"),
        pytest.param("app.example.com:8080", 200, id="host-and-port"),
        pytest.param("[::1]:5000", 200, id="ipv6"),
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/auth/signin", "/api/auth/csrf", "/api/auth/session", "/api/auth/error"]
)
def test_a_bad_host_header_is_a_400_not_a_500(host: str, status: int, path: str) -> None:
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    for url, expected in ((None, status), (BASE, 200)):
        environ = EnvironBuilder(path=path).get_environ()
        environ["HTTP_HOST"] = host
        # Without url the host gives the links: trust it (else a valid host gets the Configuration error).
        app = make_app(url=url, trust_host=url is None)
        _, answer, _ = run_wsgi_app(app, environ, buffered=True)
        assert int(answer.split()[0]) == expected, (url, answer)
