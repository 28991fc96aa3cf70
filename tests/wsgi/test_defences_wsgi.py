"""The defences on the framework-free endpoints and the plain WSGI layer: throttling and sign-out
everywhere through ``with_auth`` / ``AuthEndpoints``, ``AuthEndpoints.revoke_user`` /
``revoke_token``, the cross-site refusal before any decode, and store URIs masked."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import SECRET, FrozenClock
from flask import Flask
from support.defences_app import BASE, attempt, client_of, csrf_of, options, site
from support.throttle_app import EmailLike
from werkzeug.test import Client

from flask_authguard import (
    AuthEndpoints,
    AuthGuard,
    AuthOptions,
    ConfigurationError,
    InvalidTokenError,
    decode,
    encode,
    with_auth,
)
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.core.tokens.jwt import decrypt

V4 = "next-auth.session-token"


def session_of(client: Client) -> t.Any:
    return client.get("/api/auth/session", base_url=BASE).get_json()


def cookie_of(client: Client) -> str:
    cookie = client.get_cookie(V4, domain="api.example.com")
    assert cookie is not None
    return cookie.value


# -- throttling through the plain WSGI app -------------------------------------------------------


@pytest.mark.parametrize("kind", ["with_auth", "AuthEndpoints"])
def test_wsgi_credentials_throttled_429_after_the_401s(kind: str) -> None:
    opts = options()
    app = with_auth(site, options=opts, matcher=["/private"]) if kind == "with_auth" else AuthEndpoints(opts)
    client = client_of(app)
    refused = [attempt(client, json="true") for _ in range(3)]
    assert [r.status_code for r in refused] == [401, 401, 401]  # main's rule for refused credentials
    assert "error=CredentialsSignin" in refused[0].get_json()["url"]
    throttled = attempt(client, json="true")
    assert throttled.status_code == 429
    assert 55 <= int(throttled.headers["Retry-After"]) <= 60
    assert throttled.headers["Cache-Control"] == "no-store"
    url = urlsplit(throttled.get_json()["url"])  # the same {"url"} shape next-auth's client reads
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{BASE}/api/auth/error"
    assert parse_qs(url.query) == {"error": ["TooManyRequests"], "provider": ["credentials"]}
    page = attempt(client, password="pw")  # the right password too, and without json: a page
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert b"Too many sign-in attempts" in page.data
    assert client.get_cookie(V4, domain="api.example.com") is None


def test_wsgi_a_success_resets_the_identifier(frozen_clock: FrozenClock) -> None:
    client = client_of(AuthEndpoints(options()))
    attempt(client)
    attempt(client)
    assert attempt(client, password="pw").status_code == 302
    assert [attempt(client).status_code for _ in range(4)] == [302, 302, 302, 429]


def test_wsgi_email_start_is_throttled() -> None:
    provider = EmailLike()
    client = client_of(AuthEndpoints(options(providers=[provider])))

    def start() -> t.Any:
        data = {"csrfToken": csrf_of(client), "email": "ada@example.com"}
        return client.post("/api/auth/signin/email", data=data, base_url=BASE)

    statuses = [start().status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert provider.sent == ["ada@example.com"] * 3
    assert start().headers["Retry-After"]


# -- sign out everywhere and AuthEndpoints.revoke_* ---------------------------------------------


def test_wsgi_sign_out_everywhere_ends_the_other_sessions(frozen_clock: FrozenClock) -> None:
    app = with_auth(site, options=options(), matcher=["/private"])
    phone, laptop = client_of(app), client_of(app)
    for client in (phone, laptop):
        assert attempt(client, password="pw").status_code == 302
    assert laptop.get("/private", base_url=BASE).get_data() == b"site /private 1"
    frozen_clock.now += 1
    data = {"csrfToken": csrf_of(phone), "everywhere": "true"}
    assert phone.post("/api/auth/signout", data=data, base_url=BASE).status_code == 302
    assert session_of(phone) == {}
    assert session_of(laptop) == {}
    assert laptop.get("/private", base_url=BASE, headers={"Accept": "application/json"}).status_code == 401


def test_wsgi_plain_sign_out_ends_this_session_only(frozen_clock: FrozenClock) -> None:
    app = with_auth(site, options=options(), matcher=["/private"])
    phone, laptop = client_of(app), client_of(app)
    for client in (phone, laptop):
        attempt(client, password="pw")
    frozen_clock.now += 1
    phone.post("/api/auth/signout", data={"csrfToken": csrf_of(phone)}, base_url=BASE)
    assert session_of(phone) == {}
    assert session_of(laptop)["user"]["name"] == "Ada"


def test_auth_endpoints_revoke_user(frozen_clock: FrozenClock) -> None:
    endpoints = AuthEndpoints(options())
    first, second = client_of(endpoints), client_of(endpoints)
    for client in (first, second):
        attempt(client, password="pw")
    assert session_of(first)["user"]["name"] == "Ada"
    frozen_clock.now += 1
    endpoints.revoke_user("1")
    assert session_of(first) == {} and session_of(second) == {}
    frozen_clock.now += 1
    again = client_of(endpoints)
    attempt(again, password="pw")  # a new sign-in after the revocation passes
    assert session_of(again)["user"]["name"] == "Ada"
    with pytest.raises(ValueError):
        endpoints.revoke_user("")


def test_auth_endpoints_revoke_token_ends_one_session_and_its_refreshes(frozen_clock: FrozenClock) -> None:
    endpoints = AuthEndpoints(options())
    stolen, other = client_of(endpoints), client_of(endpoints)
    for client in (stolen, other):
        attempt(client, password="pw")
    value = cookie_of(stolen)
    frozen_clock.now += 60
    assert session_of(stolen)["user"]["name"] == "Ada"  # refreshed: a new token of the same session
    assert cookie_of(stolen) != value
    assert endpoints.revoke_token(value) == "sid"
    assert session_of(stolen) == {}
    assert session_of(other)["user"]["name"] == "Ada"
    with pytest.raises(InvalidTokenError):
        endpoints.revoke_token("not-a-token")


def test_auth_endpoints_revoke_token_by_claims_and_by_jti() -> None:
    endpoints = AuthEndpoints(options())
    claims = decrypt(token=_issued(endpoints), secret=(SECRET,), salt="", version=4)
    assert endpoints.revoke_token(claims) == "sid"
    foreign = encode(token={"sub": "9", "name": "Next"}, secret=SECRET)  # next-auth's: no sid
    assert endpoints.revoke_token(foreign) == "jti"
    client = client_of(endpoints)
    client.set_cookie(V4, foreign, domain="api.example.com")
    assert session_of(client) == {}


def _issued(endpoints: AuthEndpoints) -> str:
    client = client_of(endpoints)
    attempt(client, password="pw")
    return cookie_of(client)


def test_with_auth_shares_its_store_with_the_endpoints_it_serves(frozen_clock: FrozenClock) -> None:
    app = with_auth(site, options=options(), matcher=["/private"])
    client = client_of(app)
    attempt(client, password="pw")
    assert client.get("/private", base_url=BASE).get_data() == b"site /private 1"
    frozen_clock.now += 1
    AuthEndpoints(app.core.config).revoke_user(1)
    response = client.get("/private", base_url=BASE, headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_auth_endpoints_revoke_with_a_shared_redis_store(
    redis_store: dict[str, str], frozen_clock: FrozenClock
) -> None:
    guarded = with_auth(site, options=options(**redis_store), matcher=["/private"])
    client = client_of(guarded)
    attempt(client, password="pw")
    frozen_clock.now += 1
    AuthEndpoints(options(**redis_store)).revoke_user("1")  # another process, the same Redis
    response = client.get("/private", base_url=BASE, headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_auth_endpoints_revoke_database_sessions(tmp_path: t.Any, frozen_clock: FrozenClock) -> None:
    pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter(f"sqlite:///{tmp_path}/auth.db", create_tables=True)
    endpoints = AuthEndpoints(options(adapter=adapter))
    clients = [client_of(endpoints) for _ in range(3)]
    for client in clients:
        assert attempt(client, password="pw").status_code == 302
    first, second, third = (cookie_of(c) for c in clients)
    assert endpoints.revoke_token(first) == "session"
    assert adapter.get_session_and_user(first) is None
    assert session_of(clients[0]) == {} and session_of(clients[1])["user"]["name"] == "Ada"
    found = adapter.get_session_and_user(second)
    assert found is not None
    endpoints.revoke_user(found["user"]["id"])
    assert adapter.get_session_and_user(second) is None and adapter.get_session_and_user(third) is None
    assert session_of(clients[2]) == {}
    with pytest.raises(ValueError):
        endpoints.revoke_token({"sub": "1"})  # database sessions are revoked by their token


# -- cross-site: decided before the cookie is decoded ------------------------------------------


class CountingDecode:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *, token: str, secret: t.Any, **_: t.Any) -> t.Any:
        self.calls += 1
        return decode(token=token, secret=secret)


def _post(client: t.Any, value: str, origin: str) -> t.Any:
    headers = {"Cookie": f"{V4}={value}", "Origin": origin, "Accept": "application/json"}
    return client.post("/private", base_url=BASE, headers=headers)


def _flask_app(opts: dict[str, t.Any]) -> Flask:
    app = Flask(__name__)
    AuthGuard(app, opts)

    @app.post("/private")
    def private() -> str:
        return "ran"

    return app


@pytest.mark.parametrize("kind", ["with_auth", "AuthGuard"])
def test_a_refused_cross_site_mutation_costs_no_decode(kind: str) -> None:
    counter = CountingDecode()
    opts = {"secret": SECRET, "jwt": {"decode": counter}}
    app: t.Any = with_auth(site, options=opts) if kind == "with_auth" else _flask_app(opts)
    client = Client(app, use_cookies=False) if kind == "with_auth" else app.test_client(use_cookies=False)
    value = encode(token={"sub": "1"}, secret=SECRET)
    refused = _post(client, value, "https://evil.example.com")
    assert refused.status_code == 403 and refused.get_json()["error"] == "CrossSiteRequest"
    assert counter.calls == 0
    allowed = _post(client, value, BASE)
    assert allowed.status_code == 200 and counter.calls == 1


@pytest.mark.parametrize("kind", ["with_auth", "AuthGuard"])
def test_a_cross_site_mutation_with_a_dead_cookie_is_refused_too(kind: str) -> None:
    """Refused on the headers: a cookie that no longer decodes gets the same 403, not a 401."""
    opts = {"secret": SECRET}
    app: t.Any = with_auth(site, options=opts) if kind == "with_auth" else _flask_app(opts)
    client = Client(app, use_cookies=False) if kind == "with_auth" else app.test_client(use_cookies=False)
    refused = _post(client, "garbage", "https://evil.example.com")
    assert refused.status_code == 403 and refused.get_json()["error"] == "CrossSiteRequest"
    assert _post(client, "garbage", BASE).status_code == 401


def test_the_untrusted_host_answer_comes_before_the_cross_site_one() -> None:
    app = with_auth(site, options={"secret": SECRET, "trusted_hosts": ["api.example.com"]})
    value = encode(token={"sub": "1"}, secret=SECRET)
    headers = {"Cookie": f"{V4}={value}", "Origin": "https://evil.example.com"}
    client = Client(app, use_cookies=False)
    response = client.post("/private", base_url="http://other.example.com", headers=headers)
    assert response.status_code == 400


def test_a_flask_view_allowed_after_the_lazy_check_sees_the_real_token() -> None:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET})
    from flask import g

    @app.post("/private")
    def private() -> dict[str, t.Any]:
        return {"is_dict": type(g.auth_token) is dict, "sub": g.auth_token["sub"]}

    value = encode(token={"sub": "1"}, secret=SECRET)
    response = _post(app.test_client(use_cookies=False), value, BASE)
    assert response.get_json() == {"is_dict": True, "sub": "1"}


# -- store URIs never show their password -----------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://user:s3cret@127.0.0.1:6379/0", "redis://user:***@127.0.0.1:6379/0"),
        ("rediss://127.0.0.1:6379/0?password=s3cret&ssl_cert_reqs=none", "?password=***&ssl_cert_reqs=none"),
    ],
)
def test_store_password_masked_in_repr(uri: str, shown: str) -> None:
    opts = AuthOptions(secret=SECRET, store=uri)
    config = resolve_options(opts)
    for text in (repr(opts), repr(config)):
        assert "s3cret" not in text
        assert shown in text
    assert "redis://127.0.0.1:6379/0" in repr(AuthOptions(store="redis://127.0.0.1:6379/0"))


def test_store_password_masked_in_configuration_errors() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_options({"secret": SECRET, "store": "memcached://:s3cret@127.0.0.1:11211"})
    assert "s3cret" not in str(info.value) and "memcached://:***@127.0.0.1:11211" in str(info.value)


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"cross_site_protection": "yes"}, "cross_site_protection must be True or False"),
        ({"throttle": {"enabled": 1}}, "throttle.enabled must be True or False"),
        ({"throttle": {"per_address": "lots"}}, "throttle.per_address"),
        ({"store_prefix": "a b"}, "store_prefix"),
        ({"session": {"max_lifetime": -1}}, "session.max_lifetime must be a whole number of seconds"),
        ({"session": {"max_lifetime": True}}, "session.max_lifetime must be a whole number of seconds"),
        ({"throttle": {"per_minute": 3}}, "unknown key(s) in throttle: per_minute"),
    ],
)
def test_defence_options_fail_at_start_up_naming_the_key(options: dict[str, t.Any], names: str) -> None:
    for build in (resolve_options, AuthEndpoints, lambda o: with_auth(site, options=o)):
        with pytest.raises(ConfigurationError, match=names.replace("(", r"\(").replace(")", r"\)")):
            build({"secret": SECRET, **options})
