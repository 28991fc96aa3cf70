"""A user's sessions, one by one (issue 30, item 4): ``list_sessions`` and ``end_session`` on
both strategies, with two (or three) test clients standing for a user's devices."""

from __future__ import annotations

import typing as t

import pytest
from conftest import SECRET, FrozenClock
from support.adapters import pg_engine, pg_schema  # noqa: F401 - fixtures
from support.handler_app import V4, cookie_value
from support.session_ops_app import KINDS, device, make_app, options_for, sign_in

from flask_authguard import AuthEndpoints, ConfigurationError, decode
from flask_authguard.core.session_index import opaque_id


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


def test_list_and_end_a_session_on_another_device(kind: str, request: pytest.FixtureRequest) -> None:
    app, guard = make_app(options_for(kind, request))
    laptop, phone = device(app, "Laptop/1.0"), device(app, "Phone/2.0")
    sign_in(laptop)
    sign_in(phone)
    listed = laptop.get("/devices").get_json()
    assert sorted(entry["user_agent"] for entry in listed) == ["Laptop/1.0", "Phone/2.0"]
    assert [entry["current"] for entry in listed if entry["user_agent"] == "Laptop/1.0"] == [True]
    assert all(entry["signed_in_at"] and entry["last_seen_at"] for entry in listed)
    for entry in listed:  # the ids are opaque: never the cookie's value
        assert entry["id"] not in (
            laptop.get_cookie(V4, domain=laptop.host).value,
            phone.get_cookie(V4, domain=phone.host).value,
        )
        assert set(entry) == {"id", "signed_in_at", "last_seen_at", "user_agent", "current"}
    phone_id = next(entry["id"] for entry in listed if entry["user_agent"] == "Phone/2.0")

    assert laptop.post(f"/devices/{phone_id}/end").get_json() == {"ended": True}
    assert phone.get("/private", headers={"Accept": "application/json"}).status_code == 401
    assert laptop.get("/private").status_code == 200
    assert [entry["user_agent"] for entry in laptop.get("/devices").get_json()] == ["Laptop/1.0"]
    # ending it twice, or an id that is no session of this user, ends nothing
    assert laptop.post(f"/devices/{phone_id}/end").get_json() == {"ended": False}
    assert laptop.post("/devices/not-an-id/end").get_json() == {"ended": False}


def test_one_user_cannot_end_another_users_session(kind: str, request: pytest.FixtureRequest) -> None:
    app, guard = make_app(options_for(kind, request))
    ada, bob = device(app, "Ada's"), device(app, "Bob's")
    sign_in(ada)
    sign_in(bob, "bob")
    bob_id = bob.get("/devices").get_json()[0]["id"]
    assert ada.post(f"/devices/{bob_id}/end").get_json() == {"ended": False}
    assert bob.get("/private").status_code == 200
    assert [e["user_agent"] for e in ada.get("/devices").get_json()] == ["Ada's"]


def test_outside_a_request_and_on_the_endpoints(kind: str, request: pytest.FixtureRequest) -> None:
    options = options_for(kind, request)
    app, guard = make_app(options)
    laptop, phone = device(app, "Laptop"), device(app, "Phone")
    sign_in(laptop)
    sign_in(phone)
    user_id = laptop.get("/private").get_json()["sub"]
    listed = guard.list_sessions(user_id)  # no app context: the guard's own app
    assert {e["user_agent"] for e in listed} == {"Laptop", "Phone"}
    assert not any(e["current"] for e in listed)
    assert listed[0]["signed_in_at"].tzinfo is not None
    endpoints = AuthEndpoints(options)  # the same options: the same store and sessions
    assert {e["id"] for e in endpoints.list_sessions(user_id)} == {e["id"] for e in listed}
    laptop_id = next(e["id"] for e in listed if e["user_agent"] == "Laptop")
    assert endpoints.end_session(user_id, laptop_id) is True
    assert laptop.get("/private", headers={"Accept": "application/json"}).status_code == 401
    assert phone.get("/private").status_code == 200


def test_sign_out_and_revoke_user_leave_the_list(kind: str, request: pytest.FixtureRequest) -> None:
    app, guard = make_app(options_for(kind, request))
    laptop, phone = device(app, "Laptop"), device(app, "Phone")
    sign_in(laptop)
    sign_in(phone)
    user_id = laptop.get("/private").get_json()["sub"]
    phone.post("/api/auth/signout", data={"csrfToken": phone.get("/api/auth/csrf").get_json()["csrfToken"]})
    assert [e["user_agent"] for e in guard.list_sessions(user_id)] == ["Laptop"]
    guard.revoke_user(user_id)
    assert guard.list_sessions(user_id) == []


def test_signing_in_again_replaces_the_browsers_session(kind: str, request: pytest.FixtureRequest) -> None:
    app, guard = make_app(options_for(kind, request))
    laptop = device(app, "Laptop")
    sign_in(laptop)
    old_cookie = laptop.get_cookie(V4, domain=laptop.host).value
    [first] = laptop.get("/devices").get_json()
    sign_in(laptop)  # a step-up sign-in, say: the same browser signs in again
    [second] = laptop.get("/devices").get_json()
    assert second["id"] != first["id"] and second["current"]
    # the replaced session is ended, not just forgotten: its cookie no longer signs anyone in
    stale = device(app, "Thief")
    stale.set_cookie(V4, old_cookie)
    assert stale.get("/private", headers={"Accept": "application/json"}).status_code == 401


@pytest.mark.parametrize("kind", ["jwt", "database"])
def test_last_seen_moves_at_most_once_per_update_age(
    kind: str, request: pytest.FixtureRequest, frozen_clock: FrozenClock
) -> None:
    app, guard = make_app(options_for(kind, request, session={"update_age": 3600}))
    laptop = device(app, "Laptop")
    sign_in(laptop)
    user_id = laptop.get("/private").get_json()["sub"]
    [entry] = guard.list_sessions(user_id)
    signed_in = entry["signed_in_at"].timestamp()
    assert signed_in == pytest.approx(frozen_clock.now, abs=0.01)
    frozen_clock.now += 1800
    laptop.get("/me")
    assert guard.list_sessions(user_id)[0]["last_seen_at"].timestamp() == pytest.approx(signed_in, abs=0.01)
    frozen_clock.now += 1801
    laptop.get("/me")
    [entry] = guard.list_sessions(user_id)
    assert entry["last_seen_at"].timestamp() == pytest.approx(frozen_clock.now, abs=0.01)
    assert entry["signed_in_at"].timestamp() == pytest.approx(signed_in, abs=0.01)


def test_jwt_session_issued_elsewhere_is_listed_once_seen(
    make_token: t.Any, request: pytest.FixtureRequest
) -> None:
    """A token with a ``sid`` nobody recorded (signed in before the store was emptied, a worker
    restart with ``memory://``) is recorded the first time it is seen, and can be ended."""
    app, guard = make_app(options_for("jwt", request))
    client = device(app, "Laptop")
    token = make_token(sub="u-ada", name="Ada", sid="7f0c1d2e-0000-4000-8000-000000000001", auth_time=1.0e9)
    client.set_cookie(V4, token)
    assert client.get("/private").status_code == 200
    [entry] = guard.list_sessions("u-ada")
    assert entry["id"] == opaque_id(SECRET, "7f0c1d2e-0000-4000-8000-000000000001")
    assert entry["signed_in_at"].timestamp() == 1.0e9
    assert guard.end_session("u-ada", entry["id"])
    assert client.get("/private", headers={"Accept": "application/json"}).status_code == 401


def test_the_id_is_no_token(request: pytest.FixtureRequest) -> None:
    app, guard = make_app(options_for("jwt", request))
    laptop = device(app, "Laptop")
    sign_in(laptop)
    claims = decode(token=laptop.get_cookie(V4, domain=laptop.host).value, secret=SECRET)
    assert claims is not None
    [entry] = laptop.get("/devices").get_json()
    assert entry["id"] != claims["sid"] and claims["sid"] not in entry["id"]


def test_database_adapter_without_listing_is_a_configuration_error(request: pytest.FixtureRequest) -> None:
    options = options_for("database", request)

    class Minimal:
        def __init__(self, inner: t.Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> t.Any:
            if name == "list_user_sessions":
                raise AttributeError(name)
            return getattr(self._inner, name)

    options["adapter"] = Minimal(options["adapter"])
    app, guard = make_app(options)
    laptop = device(app, "Laptop")
    response = sign_in(laptop)
    assert cookie_value(response, V4)
    with pytest.raises(ConfigurationError, match="list_user_sessions"):
        guard.list_sessions("u-ada")


@pytest.mark.parametrize("signed_in", [10**400, 1e300, -5, "yesterday"])
def test_a_record_time_no_clock_reads_is_unknown(
    kind: str, signed_in: t.Any, request: pytest.FixtureRequest
) -> None:
    """A record whose ``signed_in`` is no moment (a huge number does not even convert to a float,
    which once answered 500): the sign-in time is unknown, so step-up on a database session asks
    for a fresh sign-in and the list shows no time, rather than failing."""
    from flask_authguard import auth_required
    from flask_authguard.flask.state import state_of

    app, guard = make_app(options_for(kind, request))

    @app.get("/recent")
    @auth_required(max_age=300)
    def recent() -> str:
        return "recent"

    laptop = device(app, "Laptop/1.0")
    sign_in(laptop)
    assert laptop.get("/recent").status_code == 200
    index = state_of(app).core.sessions.devices.index
    with app.app_context():
        user = laptop.get("/private").get_json()["sub"]
    records = index.all(user)
    assert records, "the sign-in left a record"
    for session_id, record in records.items():
        index.put(user, session_id, {**record, "signed_in": signed_in}, 3600)
    # database sessions take the sign-in time from the record: unknown now, so sign in again;
    # a JWT session carries it in its token (auth_time)
    assert laptop.get("/recent").status_code == (307 if kind.startswith("database") else 200)
    listed = laptop.get("/devices").get_json()
    assert [entry["signed_in_at"] for entry in listed] == [None]
