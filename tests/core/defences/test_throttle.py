"""Sign-in throttling: per identifier and per client address, 429 with ``Retry-After``."""

from __future__ import annotations

import typing as t

import pytest
from conftest import SECRET, FrozenClock
from support.handler_app import BASE, authorize, client_of, csrf_of
from support.throttle_app import FIELDS, EmailLike, attempt, make_app, new_client
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_authguard import ConfigurationError, CredentialsProvider
from flask_authguard.core.defences import throttle
from flask_authguard.core.defences.throttle import Throttle, normalize_identifier
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.providers.base import submitted_credentials


def test_per_identifier_limit_answers_429_with_retry_after(frozen_clock: FrozenClock) -> None:
    app = make_app()
    statuses = [attempt(new_client(app)).status_code for _ in range(5)]  # from one address
    assert statuses == [302, 302, 302, 429, 429]
    response = attempt(new_client(app), username=" ADA ")  # same identifier, normalised
    assert response.status_code == 429
    assert 55 <= int(response.headers["Retry-After"]) <= 60
    assert response.mimetype == "text/html" and b"Too many sign-in attempts" in response.data
    assert attempt(new_client(app, "198.51.100.10"), username="bob").status_code == 302


def test_the_right_password_is_refused_too_while_throttled(frozen_clock: FrozenClock) -> None:
    app = make_app()
    for _ in range(3):
        attempt(new_client(app))
    response = attempt(new_client(app), password="pw")  # from the address that guessed
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


def identifiers(provider: t.Any, form: dict[str, t.Any]) -> tuple[str, ...]:
    """What a sign-in with ``form`` is counted under: the endpoints pass what ``authorize`` receives."""
    submitted = submitted_credentials(getattr(provider, "credentials", None) or {}, form)
    return throttle.identifiers_of(provider, form, submitted)


def test_identifier_rules() -> None:
    assert normalize_identifier("  Alice@Example.COM ") == "alice@example.com"
    assert normalize_identifier("ＡＬＩＣＥ") == "alice" and normalize_identifier(" ") is None
    creds = CredentialsProvider(authorize=authorize, credentials=FIELDS)
    assert identifiers(creds, {"username": " ADA ", "password": "x"}) == ("ada",)
    assert identifiers(creds, {"username": 12345, "password": "x"}) == ("12345",)
    assert identifiers(creds, {"password": "x"}) == ()
    loose = CredentialsProvider(authorize=authorize)
    both = {"email": "E@x", "username": "ada", "password": "x", "nickname": "n"}
    assert identifiers(loose, both) == ("e@x", "ada")
    assert identifiers(loose, {"email": "same", "username": "SAME"}) == ("same",)
    assert identifiers(EmailLike(), {"email": "M@x"}) == ("m@x",)


@pytest.mark.parametrize(
    "spelling",
    ["àlicé", "ALİCE", "al\u200bice", "a\u200dl\u00adice", "ａｌｉｃｅ", " alice ", "a\u0301lice"],
)
def test_every_spelling_a_collation_accepts_shares_one_counter(spelling: str) -> None:
    """A database collation finds ``alice`` for accented, case-changed and invisibly padded
    spellings: each of them is counted as ``alice`` (a fresh counter per spelling gave
    unlimited guesses at one account)."""
    assert normalize_identifier(spelling) == "alice"
    assert normalize_identifier("bob") != "alice"
    assert normalize_identifier("a  l\tice") == "a l ice"  # inner blanks collapsed, kept apart
    assert normalize_identifier("\u200b") is None


@pytest.mark.parametrize(
    ("address", "client"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_subnet(address: str, client: str) -> None:
    from flask_authguard.core.defences.throttle import client_of

    assert client_of(address) == client


def test_one_ipv6_subnet_has_one_address_budget() -> None:
    """A client picks any address of its /64: they all count as one (each had a budget of its own)."""
    throttle = Throttle(resolve_options({"secret": SECRET, "throttle": {"per_address": "3/minute"}}))
    waits = [throttle.attempt(identifiers=[f"user{i}"], address=f"2001:db8::{i:x}") for i in range(1, 6)]
    assert waits[:3] == [None, None, None] and all(isinstance(w, int) for w in waits[3:])
    assert throttle.attempt(identifiers=["user9"], address="2001:db8:0:1::1") is None  # another /64


def test_throttle_unit_memory() -> None:
    throttle = Throttle(resolve_options({"secret": SECRET, "throttle": {"per_identifier": "2/minute"}}))
    assert [throttle.attempt(identifiers=["x"], address="a") for _ in range(2)] == [None, None]
    assert isinstance(throttle.attempt(identifiers=["x"], address="a"), int)
    assert throttle.attempt(identifiers=["x"], address="b") is None  # another address: its own count
    throttle.succeeded("x", "a")
    assert throttle.attempt(identifiers=["x"], address="a") is None


# -- issue 27: who a credentials attempt is counted as ---------------------------------------------


class Recorder:
    """An ``authorize`` that records what it received and accepts ada/pw."""

    def __init__(self, field: str = "username") -> None:
        self.field = field
        self.received: list[dict[str, str]] = []

    def __call__(self, *, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any] | None:
        self.received.append(credentials)
        if credentials.get(self.field) == "ada" and credentials.get("password") == "pw":
            return {"id": "1", "name": "Ada"}
        return None


def test_a_json_number_is_counted_as_the_text_authorize_receives() -> None:
    recorder = Recorder()
    app = make_app(
        [CredentialsProvider(authorize=recorder, credentials=FIELDS)],
        throttle={"per_identifier": "3/minute", "per_address": "100/minute"},
    )
    client = new_client(app)
    for _ in range(3):
        body = {"csrfToken": csrf_of(client), "username": 12345, "password": "x", "json": "true"}
        client.post("/api/auth/callback/credentials", json=body, environ_overrides=client.environ)
    assert [r["username"] for r in recorder.received] == ["12345"] * 3
    assert attempt(client, username="12345").status_code == 429  # the same counter as the number
    assert len(recorder.received) == 3


def test_a_decoy_field_does_not_give_guesses_a_fresh_counter() -> None:
    # No credentials= declared: authorize receives every field and reads username; the decoy
    # email field used to be the one counted, a new value each time.
    recorder = Recorder()
    app = make_app(
        [CredentialsProvider(authorize=recorder)],
        throttle={"per_identifier": "3/minute", "per_address": "100/minute"},
    )
    client = new_client(app)
    statuses = [attempt(client, username="alice", email=f"decoy-{i}").status_code for i in range(8)]
    assert statuses == [302] * 3 + [429] * 5
    assert [r["username"] for r in recorder.received] == ["alice"] * 3


def test_every_declared_field_authorize_may_read_is_counted() -> None:
    # A declared one-time-code field before the username used to be the only one counted.
    fields = {
        "otp": {"label": "Code"},
        "username": {"label": "Username"},
        "password": {"label": "Password", "type": "password"},
        "remember": {"label": "Remember me", "type": "checkbox"},
    }
    recorder = Recorder()
    app = make_app(
        [CredentialsProvider(authorize=recorder, credentials=fields)],
        throttle={"per_identifier": "3/minute", "per_address": "100/minute"},
    )
    client = new_client(app)
    statuses = [attempt(client, otp=str(i), remember="on").status_code for i in range(6)]
    assert statuses == [302] * 3 + [429] * 3
    # A checkbox is the same for everyone: it is not a counter, so bob still gets in line.
    assert attempt(client, username="bob", otp="x", remember="on").status_code == 302


# -- issue 27: one address cannot lock an account out ----------------------------------------------


def test_one_address_cannot_lock_the_owner_out(frozen_clock: FrozenClock) -> None:
    app = make_app(throttle={"per_identifier": "3/minute", "per_address": "100/minute"})
    attacker = new_client(app, "203.0.113.66")
    assert [attempt(attacker).status_code for _ in range(10)] == [302] * 3 + [429] * 7
    owner = new_client(app, "198.51.100.20")
    signed_in = attempt(owner, password="pw")
    assert signed_in.status_code == 302 and "error=" not in signed_in.headers["Location"]


def test_guesses_from_many_addresses_stay_capped(frozen_clock: FrozenClock) -> None:
    # per_identifier_global defaults to five times per_identifier: 15 a minute here.
    app = make_app(throttle={"per_identifier": "3/minute", "per_address": "100/minute"})
    statuses = [attempt(new_client(app, f"203.0.113.{i // 3}")).status_code for i in range(18)]
    assert statuses == [302] * 15 + [429] * 3
    assert attempt(new_client(app, "198.51.100.20"), password="pw").status_code == 429
    assert attempt(new_client(app, "198.51.100.20"), username="bob").status_code == 302


def test_an_explicit_global_limit(frozen_clock: FrozenClock) -> None:
    app = make_app(
        throttle={
            "per_identifier": "2/minute",
            "per_identifier_global": "5/minute",
            "per_address": "9/minute",
        }
    )
    statuses = [attempt(new_client(app, f"203.0.113.{i}")).status_code for i in range(6)]
    assert statuses == [302] * 5 + [429]


@pytest.mark.parametrize(
    ("pair", "total"),
    [
        pytest.param("10/minute", "10/minute", id="equal"),
        pytest.param("10/minute", "500/hour", id="hour-reached-by-minutes"),
        pytest.param("3 per 10 seconds", "15/minute", id="several-windows"),
    ],
)
def test_a_global_limit_one_address_could_reach_fails_at_start_up(pair: str, total: str) -> None:
    throttle = {"per_identifier": pair, "per_identifier_global": total}
    with pytest.raises(ConfigurationError, match="per_identifier_global .*one address"):
        resolve_options({"secret": SECRET, "throttle": throttle})


def test_a_success_with_two_identifiers_resets_nothing(frozen_clock: FrozenClock) -> None:
    # authorize signs in whoever the username names; the email is a second login field it
    # ignores here. Signing in as oneself must not wipe the counter of the other identifier.
    def either(*, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any] | None:
        login = credentials.get("username") or credentials.get("email")
        return {"id": "1"} if login == "mallory" and credentials.get("password") == "pw" else None

    app = make_app([CredentialsProvider(authorize=either)])
    client = new_client(app)
    for _ in range(2):
        attempt(client, username="", email="victim")
    assert attempt(client, username="mallory", email="victim", password="pw").status_code == 302
    assert attempt(client, username="", email="victim").status_code == 429
