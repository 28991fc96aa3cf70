"""Every page the library answers (issue 28): the sign-in page's layout, a way back to sign-in
that keeps ``callbackUrl``, and JSON for JSON clients, on the three WSGI front ends
(``AuthEndpoints``, ``with_auth``, Flask's ``AuthGuard``) through werkzeug's test client.

The pages: 429 (throttled sign-in), 400 (an unknown ``/api/auth/<action>``), 503 (the store is
down, on the auth routes and in the guard), 413 (a body too large), 400 (an unusable ``Host``,
and the guard's untrusted host), the guard's 403; and the sign-in page a failed credentials
sign-in comes back to. The browser side (screenshots, computed styles) is in
``tests/examples/test_browser.py``.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from conftest import SECRET
from flask import Flask
from support.defences_app import FIELDS, authorize
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from flask_authguard import AuthEndpoints, AuthGuard, CredentialsProvider, encode, with_auth

BASE = "http://app.example.com"
V4 = "next-auth.session-token"
JSON = {"Accept": "application/json"}
#: A store nobody listens on: every store call fails (503).
STORE_DOWN = "redis://127.0.0.1:1/0"
KINDS = ["AuthEndpoints", "with_auth", "AuthGuard"]


def options(**extra: t.Any) -> dict[str, t.Any]:
    opts: dict[str, t.Any] = {
        "secret": SECRET,
        "url": BASE,
        "providers": [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
        "throttle": {"per_identifier": "2/minute", "per_address": "100/minute"},
    }
    opts.update(extra)
    return opts


def site(environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
    return Response("site")(environ, start_response)


def make_app(kind: str, **extra: t.Any) -> t.Any:
    """The auth routes (and ``/private``, protected, but for ``AuthEndpoints``) on ``kind``."""
    opts = options(**extra)
    if kind == "AuthEndpoints":
        return AuthEndpoints(opts)
    if kind == "with_auth":
        return with_auth(site, options=opts, matcher=["/private"])
    app = Flask(__name__)
    AuthGuard(app, opts, matcher=["/private"])

    @app.get("/private")
    def private() -> str:
        return "private"

    return app


def client_of(app: t.Any) -> Client:
    return Client(app.wsgi_app if isinstance(app, Flask) else app)


def csrf_of(client: Client) -> str:
    return t.cast(str, client.get("/api/auth/csrf", base_url=BASE).get_json()["csrfToken"])


def attempt(client: Client, password: str = "wrong", **extra: str) -> t.Any:
    data = {"csrfToken": csrf_of(client), "username": "ada", "password": password, **extra}
    return client.post("/api/auth/callback/credentials", data=data, base_url=BASE)


def style_of(html: str) -> str:
    match = re.search(r"<style>.*?</style>", html, re.S)
    assert match, html
    return match.group(0)


def sign_in_page_style(kind: str) -> str:
    return style_of(client_of(make_app(kind)).get("/api/auth/signin", base_url=BASE).get_data(as_text=True))


def signin_link(html: str) -> str:
    match = re.search(r'id="signin-link" href="([^"]*)"', html)
    assert match, html
    return match.group(1).replace("&amp;", "&")


def assert_layout(response: t.Any, kind: str, status: int, heading: str) -> str:
    """``response`` is a page of ``status`` in the sign-in page's layout; its HTML."""
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert style_of(html) == sign_in_page_style(kind)  # the same stylesheet as the sign-in page
    assert '<main aria-labelledby="page-title">' in html  # the card
    assert f'<h1 id="page-title">{heading}</h1>' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script" not in html
    return html


def assert_json(response: t.Any, status: int, error: str) -> dict[str, t.Any]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = t.cast("dict[str, t.Any]", response.get_json())
    assert body["error"] == error and body["message"]
    return body


# -- 429: a throttled sign-in --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_429_page_has_the_layout_and_leads_back_to_sign_in(kind: str) -> None:
    client = client_of(make_app(kind))
    for _ in range(2):
        attempt(client, callbackUrl="/private?tab=1")
    response = attempt(client, callbackUrl="/private?tab=1")
    html = assert_layout(response, kind, 429, "Too many sign-in attempts")
    assert 55 <= int(response.headers["Retry-After"]) <= 60
    assert f"Wait {response.headers['Retry-After']} seconds, then try again." in html
    link = urlsplit(signin_link(html))
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{BASE}/api/auth/signin"
    assert parse_qs(link.query) == {"callbackUrl": [f"{BASE}/private?tab=1"]}
    assert "wrong" not in html  # the password is never shown


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ["accept", "json-true"])
def test_the_429_answers_json_to_json_clients(kind: str, how: str) -> None:
    client = client_of(make_app(kind))
    extra = {"json": "true"} if how == "json-true" else {}
    headers = JSON if how == "accept" else {}

    def post() -> t.Any:
        data = {"csrfToken": csrf_of(client), "username": "ada", "password": "wrong", **extra}
        return client.post("/api/auth/callback/credentials", data=data, base_url=BASE, headers=headers)

    for _ in range(2):
        post()
    body = assert_json(post(), 429, "TooManyRequests")
    # next-auth's {"url"}, which next-auth/react's signIn() reads the error from
    assert parse_qs(urlsplit(body["url"]).query)["error"] == ["TooManyRequests"]


def test_the_error_route_has_a_page_for_a_throttled_sign_in() -> None:
    """Where next-auth/react goes with the 429's ``{"url"}``: a message, not "Something went wrong"."""
    response = client_of(make_app("with_auth")).get("/api/auth/error?error=TooManyRequests", base_url=BASE)
    html = assert_layout(response, "with_auth", 200, "Too many sign-in attempts")
    assert signin_link(html) == f"{BASE}/api/auth/signin"


# -- 400: an action next-auth does not serve -------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_action_has_the_layout_and_keeps_callback_url(kind: str) -> None:
    client = client_of(make_app(kind))
    response = client.get("/api/auth/nope?callbackUrl=%2Fprivate", base_url=BASE)
    html = assert_layout(response, kind, 400, "Page not found")  # next-auth's status
    assert "This action with HTTP GET is not supported." in html
    assert signin_link(html) == f"{BASE}/api/auth/signin?callbackUrl={quote(BASE + '/private', safe='')}"
    # a callbackUrl to another site is not offered (the redirect check, as everywhere)
    evil = client.get("/api/auth/nope?callbackUrl=https%3A%2F%2Fevil.example", base_url=BASE)
    assert "evil.example" not in evil.get_data(as_text=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_an_unknown_action_answers_json_to_json_clients(kind: str, method: str) -> None:
    client = client_of(make_app(kind))
    response = client.open("/api/auth/nope", method=method, base_url=BASE, headers=JSON)
    body = assert_json(response, 400, "UnknownAction")
    assert body["message"] == f"This action with HTTP {method} is not supported."
    posted = client.post("/api/auth/nope", data={"json": "true"}, base_url=BASE)
    assert_json(posted, 400, "UnknownAction")


# -- 503: the store is down ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_endpoints_503_is_a_page_for_a_browser_form(kind: str) -> None:
    client = client_of(make_app(kind, store=STORE_DOWN))
    response = attempt(client, callbackUrl="/private")  # the throttle needs the store
    html = assert_layout(response, kind, 503, "Try again shortly")
    assert response.headers["Retry-After"] == "5"
    assert signin_link(html) == f"{BASE}/api/auth/signin"


@pytest.mark.parametrize("kind", KINDS)
def test_the_endpoints_503_answers_json_to_json_clients(kind: str) -> None:
    client = client_of(make_app(kind, store=STORE_DOWN))
    assert_json(attempt(client, json="true"), 503, "ServiceUnavailable")
    data = {"csrfToken": csrf_of(client), "username": "ada", "password": "x"}
    response = client.post("/api/auth/callback/credentials", data=data, base_url=BASE, headers=JSON)
    assert_json(response, 503, "ServiceUnavailable")


@pytest.mark.parametrize("kind", KINDS)
def test_the_json_routes_503_is_json_for_everyone(kind: str) -> None:
    client = client_of(make_app(kind, store=STORE_DOWN))
    client.set_cookie(V4, encode(token={"sub": "1", "name": "Ada"}, secret=SECRET), domain="app.example.com")
    response = client.get("/api/auth/session", base_url=BASE, headers={"Accept": "text/html"})
    assert_json(response, 503, "ServiceUnavailable")
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("kind", ["with_auth", "AuthGuard"])
def test_the_guards_503_has_the_layout_and_a_way_back(kind: str) -> None:
    client = client_of(make_app(kind, store=STORE_DOWN))
    client.set_cookie(V4, encode(token={"sub": "1", "name": "Ada"}, secret=SECRET), domain="app.example.com")
    response = client.get("/private?tab=1", base_url=BASE)
    html = assert_layout(response, kind, 503, "Try again shortly")
    assert response.headers["Retry-After"] == "5"
    assert signin_link(html) == "/api/auth/signin?callbackUrl=" + quote("/private?tab=1", safe="")
    api = client.get("/private", base_url=BASE, headers=JSON)
    assert_json(api, 503, "ServiceUnavailable")


# -- 413 and 400: HTTP errors of the auth routes ----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_too_large_has_the_layout(kind: str) -> None:
    client = client_of(make_app(kind))
    big = {"csrfToken": "x", "username": "a" * 70_000}
    response = client.post("/api/auth/callback/credentials", data=big, base_url=BASE)
    html = assert_layout(response, kind, 413, "Request Entity Too Large")
    assert "the limit is 64 KB" in html
    assert signin_link(html) == "/api/auth/signin"
    api = client.post("/api/auth/callback/credentials", data=big, base_url=BASE, headers=JSON)
    assert_json(api, 413, "RequestEntityTooLarge")


def test_flask_error_handlers_still_see_the_413() -> None:
    app = make_app("AuthGuard")
    app.register_error_handler(413, lambda exc: ("MY 413", 413))
    response = client_of(app).post("/api/auth/signin/credentials", data={"x": "a" * 70_000}, base_url=BASE)
    assert response.status_code == 413 and response.data == b"MY 413"


def _with_host(app: t.Any, host: str, headers: dict[str, str] | None = None) -> t.Any:
    builder = EnvironBuilder(path="/api/auth/signin", headers=headers)
    environ = builder.get_environ()
    environ["HTTP_HOST"] = host
    if isinstance(app, Flask):
        app = app.wsgi_app
    body, status, headers_out = run_wsgi_app(app, environ, buffered=True)
    return Response(b"".join(body), status=status, headers=headers_out)


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_host_header_has_the_layout(kind: str) -> None:
    app = make_app(kind, url=None)
    response = _with_host(app, "a b")
    html = assert_layout(response, kind, 400, "Bad Request")
    assert "Invalid Host header." in html
    assert signin_link(html) == "/api/auth/signin"  # relative: the Host is what is wrong
    assert_json(_with_host(app, "a b", JSON), 400, "BadRequest")


@pytest.mark.parametrize("kind", ["with_auth", "AuthGuard"])
def test_the_guards_untrusted_host_has_the_layout(kind: str) -> None:
    client = client_of(make_app(kind, trusted_hosts=["app.example.com"]))
    response = client.get("/private", base_url="http://evil.example")
    html = assert_layout(response, kind, 400, "Bad Request")
    assert "The request&#39;s host is not one this site serves." in html
    assert "evil.example" not in html
    assert_json(client.get("/private", base_url="http://evil.example", headers=JSON), 400, "BadRequest")


# -- 403: signed in, refused ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["with_auth", "AuthGuard"])
def test_the_guards_403_signs_out_back_to_the_page(kind: str) -> None:
    client = client_of(make_app(kind, callbacks={"authorized": lambda **kw: False}))
    client.set_cookie(V4, encode(token={"sub": "1", "name": "Ada"}, secret=SECRET), domain="app.example.com")
    response = client.get("/private", base_url=BASE)
    html = assert_layout(response, kind, 403, "Access denied")
    assert 'id="signout-link" href="/api/auth/signout?callbackUrl=%2Fprivate"' in html
    signout = client.get("/api/auth/signout?callbackUrl=%2Fprivate", base_url=BASE).get_data(as_text=True)
    assert f'name="callbackUrl" value="{BASE}/private"' in signout  # where signing out goes
    assert_json(client.get("/private", base_url=BASE, headers=JSON), 403, "Forbidden")


# -- links under a client-set mount point (ProxyFix's X-Forwarded-Prefix) --------------------------

#: ``X-Forwarded-Prefix`` values, and the mount point the pages' links keep for each.
PREFIXES = [
    pytest.param("/app", "/app", id="a-real-prefix"),
    pytest.param("//evil.example", "/evil.example", id="protocol-relative"),
    pytest.param("/\\evil.example", "/%5Cevil.example", id="slash-backslash"),
]


def behind_prefix_fix(app: t.Any) -> Client:
    """A client of ``app`` behind ``ProxyFix(x_prefix=1)``: the client's X-Forwarded-Prefix is
    ``SCRIPT_NAME``."""
    return Client(ProxyFix(app.wsgi_app if isinstance(app, Flask) else app, x_prefix=1))


def links_of(html: str) -> list[str]:
    links = [link.replace("&amp;", "&") for link in re.findall(r'(?:href|action)="([^"]*)"', html)]
    for link in links:  # relative to this host: never protocol-relative, never another host
        assert link.startswith("/") and not link.startswith(("//", "/\\")), link
        assert urlsplit(link).netloc == "", link
    return links


@pytest.mark.parametrize(("prefix", "mount"), PREFIXES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_413_pages_links_stay_on_the_site(kind: str, prefix: str, mount: str) -> None:
    client = behind_prefix_fix(make_app(kind))
    big = {"csrfToken": "x", "username": "a" * 70_000}
    headers = {"X-Forwarded-Prefix": prefix}
    response = client.post("/api/auth/callback/credentials", data=big, base_url=BASE, headers=headers)
    assert response.status_code == 413
    assert links_of(response.get_data(as_text=True)) == [mount + "/api/auth/signin"]


@pytest.mark.parametrize(("prefix", "mount"), PREFIXES)
@pytest.mark.parametrize("kind", ["with_auth", "AuthGuard"])
def test_the_guards_403_pages_links_stay_on_the_site(kind: str, prefix: str, mount: str) -> None:
    client = behind_prefix_fix(make_app(kind, callbacks={"authorized": lambda **kw: False}))
    client.set_cookie(V4, encode(token={"sub": "1", "name": "Ada"}, secret=SECRET), domain="app.example.com")
    response = client.get("/private", base_url=BASE, headers={"X-Forwarded-Prefix": prefix})
    assert response.status_code == 403
    home, signout = links_of(response.get_data(as_text=True))
    assert home == mount + "/"
    assert urlsplit(signout).path == mount + "/api/auth/signout"


# -- a failed credentials sign-in -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_sign_in_keeps_callback_url_in_the_url(kind: str) -> None:
    client = client_of(make_app(kind))
    response = attempt(client, password="not-the-password", callbackUrl="/private?tab=1")
    assert response.status_code == 302
    hop = client.get(response.headers["Location"], base_url=BASE)
    location = urlsplit(hop.headers["Location"])
    assert location.path == "/api/auth/signin"
    assert parse_qs(location.query) == {
        "error": ["CredentialsSignin"],
        "callbackUrl": [f"{BASE}/private?tab=1"],
    }
    page = client.get(hop.headers["Location"], base_url=BASE)
    html = page.get_data(as_text=True)
    assert "Sign in failed" in html
    assert f'name="callbackUrl" value="{BASE}/private?tab=1"' in html.replace("&amp;", "&")
    assert "not-the-password" not in html and "not-the-password" not in hop.headers["Location"]
