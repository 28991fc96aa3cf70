"""``session.max_lifetime``: a session ends a fixed time after sign-in, however often it is
refreshed (OWASP ASVS 3.3); off by default, as in next-auth."""

from __future__ import annotations

import pytest
from conftest import SECRET, FrozenClock
from flask import Flask
from support.handler_app import V4, cookie_header, cookie_value
from support.revocation_app import bearer, make_app, signed_in

from flask_authguard import AuthGuard, ConfigurationError, decode, encode
from flask_authguard.core.settings.config import resolve_options

HOUR = 3600


def test_off_by_default_a_rolling_session_lives_on(frozen_clock: FrozenClock) -> None:
    app, _ = make_app()
    client, _ = signed_in(app)
    for _ in range(5):
        frozen_clock.now += 20 * 24 * HOUR  # refreshed every 20 days: 100 days in all
        assert client.get("/api/auth/session").get_json()["user"]["name"] == "Ada"
    assert client.get("/private").status_code == 200


def test_the_session_ends_at_max_lifetime_however_often_refreshed(frozen_clock: FrozenClock) -> None:
    app, _ = make_app(session={"max_lifetime": 8 * HOUR})
    start = frozen_clock.now
    client, value = signed_in(app)
    first = decode(token=value, secret=SECRET)
    assert first is not None and first["exp"] == start + 8 * HOUR  # capped at sign-in already
    for _ in range(7):
        frozen_clock.now += HOUR
        response = client.get("/api/auth/session")
        assert response.get_json()["user"]["name"] == "Ada"
        claims = decode(token=cookie_value(response, V4), secret=SECRET)
        assert claims is not None and claims["exp"] == start + 8 * HOUR  # never past the limit
    frozen_clock.now = start + 8 * HOUR + 1
    assert client.get("/private").status_code == 307
    response = client.get("/api/auth/session")
    assert response.get_json() == {}
    assert any(h.startswith(V4 + "=;") for h in response.headers.getlist("Set-Cookie"))


def test_a_token_re_issued_elsewhere_still_ends(frozen_clock: FrozenClock) -> None:
    """next-auth on the Next.js side keeps ``auth_time`` on its refreshes: we still end it."""
    app, _ = make_app(session={"max_lifetime": HOUR})
    claims = {"sub": "1", "auth_time": frozen_clock.now - HOUR - 1, "sid": "s"}
    assert bearer(app, encode(token=claims, secret=SECRET)) == 401
    claims["auth_time"] = frozen_clock.now - HOUR + 60
    assert bearer(app, encode(token=claims, secret=SECRET)) == 200


def test_a_token_without_auth_time_is_refused_when_the_limit_is_on(frozen_clock: FrozenClock) -> None:
    app, _ = make_app(session={"max_lifetime": HOUR})
    assert bearer(app, encode(token={"sub": "1"}, secret=SECRET)) == 401
    app, _ = make_app()
    assert bearer(app, encode(token={"sub": "1"}, secret=SECRET)) == 200


def test_config_key_and_start_up_checks() -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_SESSION_MAX_LIFETIME"] = HOUR
    AuthGuard(app, {"secret": SECRET})
    assert app.extensions["authguard"].config.max_lifetime == HOUR
    bad = Flask(__name__)
    bad.config["AUTHGUARD_SESSION_MAX_LIFETIME"] = "1h"
    with pytest.raises(ConfigurationError, match="AUTHGUARD_SESSION_MAX_LIFETIME"):
        AuthGuard(bad, {"secret": SECRET})
    with pytest.raises(ConfigurationError, match="session.max_lifetime"):
        resolve_options({"secret": SECRET, "session": {"max_lifetime": 1.5}})
    with pytest.raises(ConfigurationError, match="JWT sessions"):
        resolve_options({"secret": SECRET, "adapter": object(), "session": {"max_lifetime": HOUR}})


def test_lifetime_caps_the_cookie_expiry(frozen_clock: FrozenClock) -> None:
    import email.utils

    app, _ = make_app(session={"max_lifetime": 2 * HOUR})
    start = frozen_clock.now
    client, _ = signed_in(app)
    frozen_clock.now += HOUR
    header = cookie_header(client.get("/api/auth/session"), V4) or ""
    expires = next(p.split("=", 1)[1] for p in header.split("; ") if p.startswith("Expires="))
    assert email.utils.parsedate_to_datetime(expires).timestamp() == pytest.approx(start + 2 * HOUR, abs=1)
