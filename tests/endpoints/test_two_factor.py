"""The second factor end to end (issue 32, item 2): enrolment, the stop after the first factor,
codes used once, recovery codes, throttling and ``mfa=True`` routes.

Every test runs on each front end (Flask, plain WSGI, Starlette, FastAPI) and with both session
strategies (JWT with the ``load``/``save`` callbacks, database with the adapter's table), with the
clock frozen (``frozen_clock``: TOTP codes follow it).
"""

from __future__ import annotations

import json
import typing as t
from urllib.parse import quote

import pytest
from conftest import SECRET, FrozenClock
from support.handler_app import FIELDS, V4, client_of, csrf_of
from support.two_factor_app import (
    KINDS,
    STRATEGIES,
    code_at,
    enrol,
    enrol_page_secret,
    make_site,
    options,
    post_code,
    sign_in,
)

from flask_authguard import CredentialsProvider, auth_required, decode
from flask_authguard.core.two_factor import ACCOUNT_LABEL_LENGTH, recovery_hash

API = {"Accept": "application/json"}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


class Site(t.NamedTuple):
    client: t.Any
    store: t.Any
    strategy: str
    clock: FrozenClock

    def new_client(self) -> t.Any:
        return client_of(self.app)

    @property
    def app(self) -> t.Any:
        return self.client.application

    def record(self) -> dict[str, t.Any] | None:
        if self.strategy == "database":
            return t.cast("dict[str, t.Any] | None", self.store.get_two_factor("1"))
        return t.cast("dict[str, t.Any] | None", self.store.rows.get("1"))

    def tick(self, seconds: float = 30) -> None:
        self.clock.now += seconds


def built(kind: str, strategy: str, clock: FrozenClock) -> Site:
    opts, store = options(strategy)
    return Site(client_of(make_site(kind, opts)), store, strategy, clock)


@pytest.fixture
def site(kind: str, strategy: str, frozen_clock: FrozenClock) -> Site:
    return built(kind, strategy, frozen_clock)


def session_of(client: t.Any) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", client.get("/api/auth/session").get_json())


def amr_of(client: t.Any) -> list[str] | None:
    """The ``amr`` of the JWT session cookie the client holds."""
    cookie = client.get_cookie(V4, domain=client.host)
    claims = decode(token=cookie.value, secret=SECRET)
    assert claims is not None
    return t.cast("list[str] | None", claims.get("amr"))


def enrolled(site: Site) -> tuple[str, list[str]]:
    """Ada signs in, enrols, signs out; the secret and the recovery codes."""
    client = site.client
    assert sign_in(client).status_code == 302
    secret, codes, _ = enrol(client, site.clock.now)
    client.post("/api/auth/signout", data={"csrfToken": csrf_of(client)})
    assert session_of(client) == {}
    site.tick()  # the enrolment's code is used: the next one is another step's
    return secret, codes


def waiting(site: Site, callback_url: str = "/mfa") -> t.Any:
    """Sign in with the password: the answer (a redirect to the code page)."""
    answer = sign_in(site.client, callback_url)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "http://app.example.com/api/auth/two-factor/verify"
    return answer


# -- enrolment -------------------------------------------------------------------------------


def test_a_user_who_has_not_enrolled_signs_in_as_before(site: Site) -> None:
    answer = sign_in(site.client)
    assert answer.headers["Location"] == "http://app.example.com/mfa"
    assert session_of(site.client)["user"]["name"] == "Ada"
    assert site.client.get("/private").status_code == 200
    if site.strategy == "jwt":
        assert amr_of(site.client) == ["pwd"]


def test_mfa_route_sends_a_one_factor_session_to_enrol(site: Site) -> None:
    sign_in(site.client)
    refused = site.client.get("/mfa")
    assert refused.status_code == 307
    assert refused.headers["Location"] == "http://app.example.com/api/auth/two-factor?callbackUrl=%2Fmfa"
    api = site.client.get("/mfa", headers=API)
    assert api.status_code == 401
    assert api.get_json()["error"] == "SecondFactorRequired"
    assert 'error="insufficient_user_authentication"' in api.headers["WWW-Authenticate"]


def test_enrolment_page_shows_the_secret_as_qr_and_text(site: Site) -> None:
    sign_in(site.client)
    page = site.client.get("/api/auth/two-factor").get_data(as_text=True)
    secret = enrol_page_secret(page)
    assert len(secret) == 32
    assert '<svg width="' in page and 'class="segno"' in page
    assert f"otpauth://totp/app.example.com:ada%40example.com?secret={secret}" in page
    assert 'autocomplete="one-time-code"' in page
    # the same secret on a reload (it waits in its cookie), none stored yet
    again = site.client.get("/api/auth/two-factor").get_data(as_text=True)
    assert enrol_page_secret(again) == secret
    assert site.record() is None


def test_a_long_account_label_is_cut_and_fits_a_qr_code(kind: str, frozen_clock: FrozenClock) -> None:
    """A user with no email and a 3,000-character name (no QR code holds that): the URI's label
    is the start of the name."""

    def long_name(*, credentials: dict[str, str], request: t.Any) -> dict[str, t.Any]:
        return {"id": "1", "name": "N" * 3000}

    opts, _ = options("jwt", providers=[CredentialsProvider(authorize=long_name, credentials=FIELDS)])
    client = client_of(make_site(kind, opts))
    sign_in(client)
    page = client.get("/api/auth/two-factor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    label = "N" * (ACCOUNT_LABEL_LENGTH - 1) + quote("\u2026")
    assert f"otpauth://totp/app.example.com:{label}?secret={enrol_page_secret(html)}" in html
    assert 'class="segno"' in html


def test_a_uri_too_long_for_a_qr_code_leaves_the_key_as_text(
    kind: str, strategy: str, frozen_clock: FrozenClock
) -> None:
    """No QR code holds the URI (a 3,000-character issuer): the page has no image, but the key
    as text and the ``otpauth://`` link, and enrolment works as ever."""
    opts, store = options(strategy)
    two_factor = opts["two_factor"]
    opts["two_factor"] = {**(two_factor if isinstance(two_factor, dict) else {}), "issuer": "I" * 3000}
    site = Site(client_of(make_site(kind, opts)), store, strategy, frozen_clock)
    sign_in(site.client)
    page = site.client.get("/api/auth/two-factor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="qr-code"' not in html and "<svg" not in html
    assert f'id="otpauth-uri" href="otpauth://totp/{"I" * 3000}:ada%40example.com?secret=' in html
    secret, codes, _ = enrol(site.client, frozen_clock.now)
    assert secret == enrol_page_secret(html) and len(codes) == 10
    assert site.record() is not None


def test_enrolment_page_needs_a_session(site: Site) -> None:
    answer = site.client.get("/api/auth/two-factor")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("http://app.example.com/api/auth/signin?callbackUrl=")


def test_a_wrong_first_code_shows_no_recovery_codes(site: Site) -> None:
    sign_in(site.client)
    secret = enrol_page_secret(site.client.get("/api/auth/two-factor").get_data(as_text=True))
    wrong = str((int(code_at(secret, site.clock.now)) + 1) % 1_000_000).zfill(6)
    data = {"csrfToken": csrf_of(site.client), "action": "enable", "code": wrong}
    answer = site.client.post("/api/auth/two-factor", data=data)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "recovery-codes" not in page and enrol_page_secret(page) == secret
    assert site.record() is None


#: ASCII digits to Arabic-Indic ones (``"١٢٣٤٥٦"``): ``str.isdigit()`` holds for them too.
ARABIC_INDIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")


def test_the_first_code_in_other_digits_is_a_wrong_code(site: Site) -> None:
    sign_in(site.client)
    secret = enrol_page_secret(site.client.get("/api/auth/two-factor").get_data(as_text=True))
    code = code_at(secret, site.clock.now).translate(ARABIC_INDIC)
    data = {"csrfToken": csrf_of(site.client), "action": "enable", "code": code}
    answer = site.client.post("/api/auth/two-factor", data=data)
    assert answer.status_code == 400 and "not right, or it was used" in answer.get_data(as_text=True)
    assert site.record() is None


def test_the_right_first_code_shows_ten_recovery_codes_once_stored_hashed(site: Site) -> None:
    sign_in(site.client)
    secret, codes, answer = enrol(site.client, site.clock.now)
    assert len(codes) == 10 and len(set(codes)) == 10
    record = site.record()
    assert record is not None
    assert sorted(record["recovery_codes"]) == sorted(recovery_hash(c) for c in codes)
    assert secret not in json.dumps(record) and not any(c in json.dumps(record) for c in codes)
    # this session passed: the mfa route lets it in, and the page now shows the state, no codes
    assert site.client.get("/mfa").status_code == 200
    if site.strategy == "jwt":
        assert amr_of(site.client) == ["pwd", "otp"]
    state = site.client.get("/api/auth/two-factor").get_data(as_text=True)
    assert 'id="two-factor-on"' in state and "Recovery codes left: 10" in state
    assert not any(c in state for c in codes)


def test_the_enrolment_code_cannot_sign_in_again(site: Site) -> None:
    client = site.client
    sign_in(client)
    secret, _, _ = enrol(client, site.clock.now)
    client.post("/api/auth/signout", data={"csrfToken": csrf_of(client)})
    waiting(site)
    assert post_code(client, code_at(secret, site.clock.now)).status_code == 401  # same step: used
    site.tick()
    assert post_code(client, code_at(secret, site.clock.now)).status_code == 302


# -- signing in with the second factor -------------------------------------------------------


def test_sign_in_stops_after_the_password_until_the_code(site: Site) -> None:
    secret, _ = enrolled(site)
    client = site.client
    waiting(site)
    # waiting is no session: not in the session route, and protected routes refuse
    assert session_of(client) == {}
    assert client.get("/private").status_code == 307
    assert client.get("/mfa").status_code == 307
    page = client.get("/api/auth/two-factor/verify")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.get_data(as_text=True)
    answer = post_code(client, code_at(secret, site.clock.now))
    assert answer.status_code == 302 and answer.headers["Location"] == "http://app.example.com/mfa"
    assert session_of(client)["user"]["name"] == "Ada"
    assert client.get("/mfa").status_code == 200
    if site.strategy == "jwt":
        assert amr_of(client) == ["pwd", "otp"]
    # the waiting cookie is gone
    assert client.get("/api/auth/two-factor/verify").status_code == 302


def test_a_code_is_accepted_once(site: Site) -> None:
    secret, _ = enrolled(site)
    code = code_at(secret, site.clock.now)
    waiting(site)
    assert post_code(site.client, code).status_code == 302
    other = site.new_client()
    waiting(site._replace(client=other))
    replayed = post_code(other, code)
    assert replayed.status_code == 401 and "not right, or it was used" in replayed.get_data(as_text=True)
    assert session_of(other) == {}
    # nor the code of an earlier step, still inside the window
    site.tick()
    assert post_code(other, code).status_code == 401
    assert post_code(other, code_at(secret, site.clock.now)).status_code == 302


def test_a_code_in_other_digits_is_a_wrong_code(site: Site) -> None:
    secret, _ = enrolled(site)
    waiting(site)
    code = code_at(secret, site.clock.now)
    answer = post_code(site.client, code.translate(ARABIC_INDIC))
    assert answer.status_code == 401 and "not right, or it was used" in answer.get_data(as_text=True)
    json_answer = post_code(site.client, code.translate(ARABIC_INDIC), json="true")
    assert json_answer.status_code == 401 and json_answer.get_json()["error"] == "WrongCode"
    assert session_of(site.client) == {}
    assert post_code(site.client, code).status_code == 302  # the same code in ASCII digits


def test_a_recovery_code_works_once_in_either_field(site: Site) -> None:
    _, codes = enrolled(site)
    waiting(site)
    assert post_code(site.client, codes[0], field="recovery_code").status_code == 302
    assert site.client.get("/mfa").status_code == 200
    other = site.new_client()
    waiting(site._replace(client=other))
    assert post_code(other, codes[0], field="recovery_code").status_code == 401
    assert post_code(other, codes[0]).status_code == 401
    assert post_code(other, codes[1].upper().replace("-", " ")).status_code == 302  # the code field
    record = site.record()
    assert record is not None and len(record["recovery_codes"]) == 8


def test_wrong_codes_are_throttled_but_a_few_never_lock(site: Site) -> None:
    secret, _ = enrolled(site)
    waiting(site)
    wrong = str((int(code_at(secret, site.clock.now)) + 5) % 1_000_000).zfill(6)
    for _ in range(3):
        assert post_code(site.client, wrong).status_code == 401
    assert post_code(site.client, code_at(secret, site.clock.now)).status_code == 302
    # a guesser: throttle.per_identifier (10 a minute per user and address) then 429
    other = site.new_client()
    waiting(site._replace(client=other))
    answers = [post_code(other, wrong).status_code for _ in range(12)]
    assert 429 in answers and answers[:9] == [401] * 9
    throttled = post_code(other, code_at(secret, site.clock.now + 30))
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1


def test_the_waiting_sign_in_expires(site: Site) -> None:
    secret, _ = enrolled(site)
    waiting(site)
    site.tick(6 * 60)
    assert (
        post_code(site.client, code_at(secret, site.clock.now))
        .headers["Location"]
        .endswith("/api/auth/signin?error=SessionRequired")
    )
    assert session_of(site.client) == {}


def test_the_waiting_cookie_is_no_session_cookie(site: Site) -> None:
    enrolled(site)
    answer = waiting(site)
    waiting_cookie = next(
        h for h in answer.headers.getlist("Set-Cookie") if h.startswith("next-auth.two-factor=")
    )
    value = waiting_cookie.split(";", 1)[0].split("=", 1)[1]
    other = site.new_client()
    other.set_cookie(V4, value)
    assert session_of(other) == {} and other.get("/private").status_code == 307


def test_verify_needs_csrf(site: Site) -> None:
    secret, _ = enrolled(site)
    waiting(site)
    answer = site.client.post("/api/auth/two-factor/verify", data={"code": code_at(secret, site.clock.now)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/two-factor/verify?csrf=true")
    assert session_of(site.client) == {}


# -- a one-factor session of an enrolled user (step-up) and turning it off -------------------


def test_step_up_and_turning_off(kind: str, frozen_clock: FrozenClock) -> None:
    # JWT sessions only: a database session of an enrolled user always passed (enrolling ends
    # the user's other sessions; the next test)
    site = built(kind, "jwt", frozen_clock)
    client = site.client
    sign_in(client)
    other = site.new_client()
    sign_in(other)  # before enrolment: a one-factor session
    secret, _, _ = enrol(client, site.clock.now)
    assert other.get("/mfa").status_code == 307
    page = other.get("/api/auth/two-factor?callbackUrl=/mfa").get_data(as_text=True)
    assert 'value="confirm"' in page
    site.tick()
    data = {"csrfToken": csrf_of(other), "action": "confirm", "code": code_at(secret, site.clock.now)}
    data["callbackUrl"] = "/mfa"
    answer = other.post("/api/auth/two-factor", data=data)
    assert answer.status_code == 302 and answer.headers["Location"] == "http://app.example.com/mfa"
    assert other.get("/mfa").status_code == 200 and amr_of(other) == ["pwd", "otp"]
    site.tick()
    data = {"csrfToken": csrf_of(other), "action": "disable", "code": code_at(secret, site.clock.now)}
    assert other.post("/api/auth/two-factor", data=data).status_code == 302
    assert site.record() is None


def test_enrolling_ends_the_users_other_database_sessions(kind: str, frozen_clock: FrozenClock) -> None:
    # (JWT sessions carry their amr: the others stay, without the second factor: the test above)
    site = built(kind, "database", frozen_clock)
    sign_in(site.client)
    other = site.new_client()
    sign_in(other)
    enrol(site.client, site.clock.now)
    assert session_of(other) == {}
    assert site.client.get("/mfa").status_code == 200


def test_enrolling_keeps_a_database_sessions_step_up_time(frozen_clock: FrozenClock) -> None:
    """Enrolling replaces a database session with a new row, whose time for a view with
    ``max_age`` stays the old session's, as a JWT session keeps its ``auth_time`` (and an OpenID
    Connect sign-in's ``idp_auth_time``): a code typed now is no password typed now."""
    opts, _ = options("database")
    app = make_site("flask", opts)

    @app.get("/recent")
    @auth_required(max_age=300)
    def recent() -> str:
        return "recent"

    client = client_of(app)
    sign_in(client)
    assert client.get("/recent").status_code == 200
    frozen_clock.now += 301
    assert client.get("/recent").status_code == 307
    enrol(client, frozen_clock.now)
    assert client.get("/mfa").status_code == 200  # the new session passed the second factor,
    assert client.get("/recent").status_code == 307  # and is as old as the sign-in


def test_json_client_gets_json_for_a_wrong_code(site: Site) -> None:
    secret, _ = enrolled(site)
    waiting(site)
    wrong = str((int(code_at(secret, site.clock.now)) + 7) % 1_000_000).zfill(6)
    answer = site.client.post(
        "/api/auth/two-factor/verify", data={"csrfToken": csrf_of(site.client), "code": wrong, "json": "true"}
    )
    assert answer.status_code == 401 and answer.get_json()["error"] == "WrongCode"


def test_fetch_clients_get_the_code_page_as_json(site: Site) -> None:
    enrolled(site)
    data = {"csrfToken": csrf_of(site.client), "username": "ada", "password": "pw", "json": "true"}
    answer = site.client.post("/api/auth/callback/credentials", data=data)
    assert answer.status_code == 200
    assert answer.get_json() == {"url": "http://app.example.com/api/auth/two-factor/verify"}
    assert session_of(site.client) == {}


def test_enrolment_keeps_the_absolute_lifetime(kind: str, frozen_clock: FrozenClock) -> None:
    opts, _ = options("jwt", session={"max_lifetime": 3600})
    client = client_of(make_site(kind, opts))
    sign_in(client)
    frozen_clock.now += 3000
    _, _, answer = enrol(client, frozen_clock.now)
    cookie = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith(V4 + "="))
    claims = decode(token=cookie.split(";", 1)[0].split("=", 1)[1], secret=SECRET)
    assert claims is not None and claims["exp"] <= claims["auth_time"] + 3600 + 1
    frozen_clock.now += 700
    assert session_of(client) == {}  # over an hour after the sign-in: ended, second factor or not
