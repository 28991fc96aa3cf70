"""Sign-in throttling: per identifier and per client address, 429 with ``Retry-After``."""

from __future__ import annotations

import typing as t

import pytest
from conftest import SECRET, FrozenClock
from flask import Flask
from test_handler import BASE, authorize, client_of, csrf_of
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_authguard import AuthGuard, ConfigurationError, CredentialsProvider
from flask_authguard.core.config import resolve_options
from flask_authguard.core.throttle import Throttle, normalize_identifier
from flask_authguard.endpoints.throttling import identifier_of
from flask_authguard.providers.base import SignInResult

FIELDS = {"username": {"label": "Username"}, "password": {"label": "Password", "type": "password"}}


def make_app(providers: t.Sequence[t.Any] | None = None, **options: t.Any) -> Flask:
    app = Flask(__name__)
    opts: dict[str, t.Any] = {
        "secret": SECRET,
        "url": BASE,
        "providers": providers or [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
        "throttle": {"per_identifier": "3/minute", "per_address": "5/minute"},
    }
    opts.update(options)
    AuthGuard(app, opts)
    return app


def attempt(client: t.Any, username: str = "ada", password: str = "wrong", **extra: str) -> t.Any:
    data = {"csrfToken": csrf_of(client), "username": username, "password": password, **extra}
    return client.post("/api/auth/callback/credentials", data=data, environ_overrides=client.environ)


def new_client(app: Flask, address: str = "198.51.100.1") -> t.Any:
    client = client_of(app)
    client.environ = {"REMOTE_ADDR": address}
    return client


def test_per_identifier_limit_answers_429_with_retry_after(frozen_clock: FrozenClock) -> None:
    app = make_app()
    statuses = [attempt(new_client(app, f"198.51.100.{i}")).status_code for i in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    response = attempt(new_client(app, "198.51.100.9"), username=" ADA ")  # same identifier, normalised
    assert response.status_code == 429
    assert 55 <= int(response.headers["Retry-After"]) <= 60
    assert response.mimetype == "text/html" and b"Too many sign-in attempts" in response.data
    assert attempt(new_client(app, "198.51.100.10"), username="bob").status_code == 302


def test_the_right_password_is_refused_too_while_throttled(frozen_clock: FrozenClock) -> None:
    app = make_app()
    for _ in range(3):
        attempt(new_client(app))
    response = attempt(new_client(app, "203.0.113.8"), password="pw")
    assert response.status_code == 429
    assert not response.headers.getlist("Set-Cookie") or all(
        not h.startswith("next-auth.session-token=") for h in response.headers.getlist("Set-Cookie")
    )


def test_the_window_moves_on() -> None:
    import time

    app = make_app(throttle={"per_identifier": "3 per 2 seconds", "per_address": "100/minute"})
    for _ in range(3):
        attempt(new_client(app))
    refused = attempt(new_client(app))
    assert refused.status_code == 429 and refused.headers["Retry-After"] in ("1", "2")
    time.sleep(2.05)  # limits' own clock: one short real wait
    assert attempt(new_client(app)).status_code == 302


def test_json_clients_get_a_next_auth_style_error() -> None:
    app = make_app()
    for _ in range(3):
        attempt(new_client(app))
    response = attempt(new_client(app), json="true")
    assert response.status_code == 429
    assert response.headers["Retry-After"]
    url = response.get_json()["url"]
    assert url.startswith(BASE + "/api/auth/error?") and "error=TooManyRequests" in url
    assert "provider=credentials" in url


def test_per_address_limit_across_identifiers() -> None:
    app = make_app()
    client = new_client(app, "192.0.2.7")
    statuses = [attempt(client, username=f"user{i}").status_code for i in range(7)]
    assert statuses == [302] * 5 + [429] * 2
    assert attempt(new_client(app, "192.0.2.8"), username="user9").status_code == 302


def test_a_success_resets_the_identifier_not_the_address() -> None:
    app = make_app(throttle={"per_identifier": "3/minute", "per_address": "100/minute"})
    client = new_client(app)
    attempt(client)
    attempt(client)
    assert attempt(client, password="pw").status_code == 302
    assert [attempt(new_client(app)).status_code for _ in range(4)] == [302, 302, 302, 429]


def test_throttling_can_be_turned_off() -> None:
    app = make_app(throttle={"enabled": False})
    assert {attempt(new_client(app)).status_code for _ in range(8)} == {302}


def test_behind_proxy_fix_the_client_address_counts() -> None:
    app = make_app(throttle={"per_identifier": "100/minute", "per_address": "2/minute"})
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]

    def from_client(address: str, i: int) -> int:
        client = client_of(app)
        data = {"csrfToken": csrf_of(client), "username": f"u{i}", "password": "x"}
        headers = {"X-Forwarded-For": address}
        return client.post("/api/auth/callback/credentials", data=data, headers=headers).status_code

    assert [from_client("203.0.113.1", i) for i in range(3)] == [302, 302, 429]
    assert from_client("203.0.113.2", 9) == 302  # another client behind the same proxy


class EmailLike:
    """A minimal email provider: its sign-in starts at POST /signin/<id> (the mail is sent)."""

    id = "email"
    name = "Email"
    type = "email"
    callback_methods = ("GET",)
    callback_csrf = False

    def __init__(self) -> None:
        self.sent: list[str] = []

    def begin_sign_in(self, request: t.Any, *, callback_url: str, redirect_uri: str) -> t.Any:
        from werkzeug.wrappers import Response

        self.sent.append(request.form["email"])
        return Response(status=302, headers={"Location": BASE + "/api/auth/verify-request"})

    def handle_callback(self, request: t.Any, form: t.Any) -> SignInResult | None:
        return None


def test_email_sign_in_is_throttled_per_address_and_email() -> None:
    provider = EmailLike()
    app = make_app(providers=[provider])

    def start(email: str) -> int:
        client = new_client(app)
        data = {"csrfToken": csrf_of(client), "email": email}
        return client.post("/api/auth/signin/email", data=data, environ_overrides=client.environ).status_code

    assert [start("a@example.com") for _ in range(4)] == [302, 302, 302, 429]
    assert provider.sent == ["a@example.com"] * 3


def test_the_store_down_answers_503(frozen_clock: FrozenClock) -> None:
    app = make_app(store="redis://127.0.0.1:1/0")
    response = attempt(new_client(app))
    assert response.status_code == 503


def test_redis_counts_across_workers(redis_store: dict[str, str]) -> None:
    one, two = make_app(**redis_store), make_app(**redis_store)
    statuses = [attempt(new_client(app)).status_code for app in (one, two, one, two)]
    assert statuses == [302, 302, 302, 429]


@pytest.mark.parametrize("bad", ["lots", "", "5 per fortnight", 5])
def test_bad_limits_fail_at_start_up(bad: t.Any) -> None:
    with pytest.raises(ConfigurationError, match="throttle.per_identifier"):
        resolve_options({"secret": SECRET, "throttle": {"per_identifier": bad}})


def test_unknown_throttle_key_fails() -> None:
    with pytest.raises(ConfigurationError, match="throttle"):
        resolve_options({"secret": SECRET, "throttle": {"per_ip": "5/minute"}})


def test_identifier_rules() -> None:
    assert normalize_identifier("  Alice@Example.COM ") == "alice@example.com"
    assert normalize_identifier("") is None and normalize_identifier(None) is None
    creds = CredentialsProvider(authorize=authorize, credentials=FIELDS)
    assert identifier_of(creds, {"username": "ada", "password": "x"}) == "ada"
    loose = CredentialsProvider(authorize=authorize)
    assert identifier_of(loose, {"email": "e@x", "password": "x"}) == "e@x"
    assert identifier_of(EmailLike(), {"email": "m@x"}) == "m@x"


def test_throttle_unit_memory() -> None:
    throttle = Throttle(resolve_options({"secret": SECRET, "throttle": {"per_identifier": "2/minute"}}))
    assert [throttle.attempt(identifier="x", address=None) for _ in range(3)][:2] == [None, None]
    assert isinstance(throttle.attempt(identifier="x", address=None), int)
    throttle.succeeded("X")
    assert throttle.attempt(identifier="x", address=None) is None
