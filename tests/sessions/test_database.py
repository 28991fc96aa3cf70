"""Database sessions: next-auth's session route with an adapter, the guard on top of it,
credentials sign-in and sign-out, and what happens when the database fails (503, nobody
signed out). The flows run on SQLite and on PostgreSQL (see ``tests/support/adapters.py``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
import types
import typing as t

import pytest
from support import ROOT

pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from conftest import FrozenClock  # noqa: E402
from flask import g, jsonify  # noqa: E402
from sqlalchemy import exc as sa_exc  # noqa: E402
from support.adapters import (  # noqa: E402, F401
    CLOSED_PG_URL,
    emptied_adapter,
    made_adapters,
    make_adapter,
    pg_engine,
    pg_schema,
)
from support.database_app import COOKIE, SECRET, assert_503, make_app  # noqa: E402
from werkzeug.test import Client, create_environ  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from flask_authguard import (  # noqa: E402
    AuthOptions,
    BackendUnavailableError,
    CredentialsProvider,
    auth_required,
    get_server_session,
    with_auth,
)
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402
from flask_authguard.core.http.dates import iso_ms  # noqa: E402
from flask_authguard.sessions.adapter_calls import expiry, generate_session_token  # noqa: E402

NOW = 1_700_000_000
MAX_AGE = 30 * 24 * 60 * 60
UPDATE_AGE = 24 * 60 * 60
EXAMPLE = ROOT / "examples" / "database_app.py"


@pytest.fixture(
    params=[
        pytest.param(("pg", "sqlite"), id="sqlite"),
        pytest.param(("pg", "postgresql"), id="postgresql"),
        pytest.param(("prisma", "mysql"), id="prisma-mysql"),
        pytest.param(("drizzle", "sqlite"), id="drizzle-sqlite"),
    ]
)
def adapter(request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    layout, database = request.param
    return emptied_adapter(request, layout, database)


@pytest.fixture(autouse=True)
def clock(frozen_clock: FrozenClock) -> FrozenClock:
    frozen_clock.now = NOW
    return frozen_clock


def options_for(adapter: t.Any, **extra: t.Any) -> AuthOptions:
    return AuthOptions(secret=SECRET, adapter=adapter, **extra)


def seed(
    adapter: SQLAlchemyAdapter, expires_at: float, token: str = "tok-1", email: str = "ann@example.com"
) -> dict:
    user = adapter.get_user_by_email(email) or adapter.create_user(
        {"name": "Ann", "email": email, "emailVerified": None, "image": "https://img/ann.png"}
    )
    adapter.create_session({"sessionToken": token, "userId": user["id"], "expires": expiry(expires_at)})
    return dict(user)


def stored_expiry(adapter: SQLAlchemyAdapter, token: str = "tok-1") -> float | None:
    found = adapter.get_session_and_user(token)
    return None if found is None else found["session"]["expires"].timestamp()


def read(options: t.Any, cookie: str | None = "tok-1", *, https: bool = False, name: str = COOKIE) -> tuple:
    headers = {"Cookie": f"{name}={cookie}"} if cookie is not None else {}
    base = "https://app.example" if https else "http://app.example"
    request = Request(create_environ("/page", base, headers=headers))
    response = Response()
    session = get_server_session(request, response, options)
    return session, response.headers.getlist("Set-Cookie")


def attributes(header: str) -> dict[str, str]:
    first, *rest = header.split("; ")
    name, _, value = first.partition("=")
    out = {"name": name, "value": value}
    for part in rest:
        key, _, val = part.partition("=")
        out[key.lower()] = val or "true"
    return out


def http_date(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def refreshed(headers: list[str], token: str = "tok-1", name: str = COOKIE) -> bool:
    """Exactly the one unchunked cookie next-auth sets: the token, ``Expires = now + max_age``."""
    if len(headers) != 1:
        return False
    cookie = attributes(headers[0])
    return cookie == {
        "name": name,
        "value": token,
        "expires": http_date(NOW + MAX_AGE),
        "httponly": "true",
        "path": "/",
        "samesite": "Lax",
        **({"secure": "true"} if name.startswith("__Secure-") else {}),
    }


def cleared(headers: list[str], name: str = COOKIE) -> bool:
    return [attributes(h)["name"] for h in headers] == [name] and all("Max-Age=0" in h for h in headers)


# --------------------------------------------------------------------------- get_server_session


def test_no_cookie_no_session(adapter: SQLAlchemyAdapter) -> None:
    assert read(options_for(adapter), None) == (None, [])


def test_valid_session_is_read_without_writing(adapter: SQLAlchemyAdapter) -> None:
    expires = NOW + MAX_AGE - 3600  # extended an hour ago: not due
    seed(adapter, expires)
    session, cookies = read(options_for(adapter))
    assert session == {
        "user": {"name": "Ann", "email": "ann@example.com", "image": "https://img/ann.png"},
        "expires": iso_ms(expires),
    }
    assert refreshed(cookies)  # the cookie rolls every time, even without a database write
    assert stored_expiry(adapter) == expires


def test_due_session_is_extended(adapter: SQLAlchemyAdapter) -> None:
    expires = NOW + MAX_AGE - UPDATE_AGE  # due exactly now: expires - max_age + update_age <= now
    seed(adapter, expires)
    session, cookies = read(options_for(adapter))
    assert session is not None and session["expires"] == iso_ms(expires)  # the value from before
    assert refreshed(cookies)
    assert stored_expiry(adapter) == NOW + MAX_AGE


def test_session_not_yet_due_is_not_written(adapter: SQLAlchemyAdapter) -> None:
    expires = NOW + MAX_AGE - UPDATE_AGE + 0.001
    seed(adapter, expires)
    assert read(options_for(adapter))[0] is not None
    assert stored_expiry(adapter) == expires


def test_update_age_zero_writes_every_time(adapter: SQLAlchemyAdapter, clock: FrozenClock) -> None:
    seed(adapter, NOW + MAX_AGE)
    clock.now = NOW + 1
    assert read(options_for(adapter, session={"update_age": 0}))[0] is not None
    assert stored_expiry(adapter) == NOW + 1 + MAX_AGE


def test_expired_session_is_deleted(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW - 0.001)
    session, cookies = read(options_for(adapter))
    assert session is None and cleared(cookies)
    assert adapter.get_session_and_user("tok-1") is None


def test_session_expiring_now_is_still_valid(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW)  # expires < now is strict
    session, cookies = read(options_for(adapter))
    assert session is not None and session["expires"] == iso_ms(NOW) and refreshed(cookies)
    assert stored_expiry(adapter) == NOW + MAX_AGE


@pytest.mark.parametrize(
    "cookie",
    ["unknown-token", "x" * 300, "%E0%A4%A", "a%00b", "a%01b", "%C3%BC"],
    ids=["unknown", "too-long", "bad-escape", "nul", "control", "non-ascii"],
)
def test_unknown_token_clears_the_cookie(adapter: SQLAlchemyAdapter, cookie: str) -> None:
    seed(adapter, NOW + MAX_AGE)
    session, cookies = read(options_for(adapter), cookie)
    assert session is None and cleared(cookies)
    assert stored_expiry(adapter) == NOW + MAX_AGE


def test_secure_cookie_name(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW + MAX_AGE)
    name = "__Secure-next-auth.session-token"
    assert read(options_for(adapter), https=True) == (None, [])  # the plain name is not read
    session, cookies = read(options_for(adapter), https=True, name=name)
    assert session is not None and refreshed(cookies, name=name)


def test_a_user_without_profile_fields(adapter: SQLAlchemyAdapter) -> None:
    if adapter.layout.name == "prisma":  # Auth.js v5's Prisma schema: ``email String @unique``
        with pytest.raises(sa_exc.IntegrityError):
            adapter.create_user({"name": None, "email": None, "emailVerified": None, "image": None})
        return
    user = adapter.create_user({"name": None, "email": None, "emailVerified": None, "image": None})
    adapter.create_session({"sessionToken": "tok-1", "userId": user["id"], "expires": expiry(NOW + MAX_AGE)})
    session, _ = read(options_for(adapter))
    assert session == {"user": {"name": None, "email": None, "image": None}, "expires": iso_ms(NOW + MAX_AGE)}


def test_session_callback_and_event(adapter: SQLAlchemyAdapter) -> None:
    user = seed(adapter, NOW + MAX_AGE)
    calls: list[dict[str, t.Any]] = []
    events: list[dict[str, t.Any]] = []

    def session_callback(**kwargs: t.Any) -> dict[str, t.Any]:
        calls.append(kwargs)
        return {**kwargs["session"], "userId": kwargs["user"]["id"]}

    options = options_for(
        adapter, callbacks={"session": session_callback}, events={"session": lambda **kw: events.append(kw)}
    )
    session, _ = read(options)
    assert session is not None and session["userId"] == user["id"]
    assert len(calls) == 1 and set(calls[0]) == {"session", "user", "token"}
    assert calls[0]["token"] is None and calls[0]["user"] == user
    assert calls[0]["session"]["expires"] == iso_ms(NOW + MAX_AGE)
    assert events == [{"session": session}]


def test_session_callback_raising_changes_nothing(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW + MAX_AGE - UPDATE_AGE)  # due: the row is written before the callback runs

    def boom(**kwargs: t.Any) -> None:
        raise RuntimeError("boom")

    session, cookies = read(options_for(adapter, callbacks={"session": boom}))
    assert (session, cookies) == (None, [])  # next-auth: SESSION_ERROR, no cookie changes
    assert adapter.get_session_and_user("tok-1") is not None


def test_session_callback_returning_nothing(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW + MAX_AGE)
    session, cookies = read(options_for(adapter, callbacks={"session": lambda **kw: {}}))
    assert session is None and refreshed(cookies)


def test_auth_js_v5(adapter: SQLAlchemyAdapter) -> None:
    user = seed(adapter, NOW + MAX_AGE)
    seen: list[t.Any] = []
    name = "authjs.session-token"
    session, cookies = read(options_for(adapter, version=5), name=name)
    assert session == {
        "user": {"name": "Ann", "email": "ann@example.com", "image": "https://img/ann.png"},
        "expires": iso_ms(NOW + MAX_AGE),
    }
    assert refreshed(cookies, name=name)
    options = options_for(
        adapter, version=5, callbacks={"session": lambda session, **kw: seen.append(session) or session}
    )
    read(options, name=name)
    assert seen[0]["sessionToken"] == "tok-1" and seen[0]["userId"] == user["id"] and seen[0]["user"] == user


def test_concurrent_reads_of_a_due_session(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW + MAX_AGE - UPDATE_AGE - 5)
    options = options_for(adapter)
    results: list[t.Any] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            results.append(read(options))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40
    assert all(session is not None and refreshed(cookies) for session, cookies in results)
    assert stored_expiry(adapter) == NOW + MAX_AGE


def test_one_lookup_per_request(adapter: SQLAlchemyAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(adapter, NOW + MAX_AGE)
    calls: list[str] = []
    original = adapter.get_session_and_user
    monkeypatch.setattr(adapter, "get_session_and_user", lambda token: calls.append(token) or original(token))
    app = make_app(adapter)

    @app.get("/both")
    @auth_required
    def both() -> t.Any:
        return jsonify(token=g.auth_token, session=get_server_session())

    client = app.test_client()
    client.set_cookie(COOKIE, "tok-1")
    assert client.get("/both").status_code == 200
    assert calls == ["tok-1"]


# --------------------------------------------------------------------------- with_auth


def _inner_app(environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
    return Response("inside")(environ, start_response)


def test_with_auth_hands_on_the_user_as_a_token(adapter: SQLAlchemyAdapter) -> None:
    user = seed(adapter, NOW + MAX_AGE)
    seen: list[t.Any] = []

    def inner(request: Request) -> None:
        seen.append(request.environ["authguard.token"])

    def authorized(*, request: Request, token: t.Any) -> bool:
        seen.append(token)
        return token is not None

    app = with_auth(_inner_app, inner, options_for(adapter, callbacks={"authorized": authorized}))
    client = Client(app)
    client.set_cookie(COOKIE, "tok-1")
    response = client.get("/dashboard")
    assert response.status_code == 200 and response.get_data(as_text=True) == "inside"
    expected = {
        "sub": user["id"],
        "name": "Ann",
        "email": "ann@example.com",
        "picture": "https://img/ann.png",
        "expires": iso_ms(NOW + MAX_AGE),
    }
    assert seen == [expected, expected]
    assert stored_expiry(adapter) == NOW + MAX_AGE  # the guard only reads


@pytest.mark.parametrize("cookie", [None, "unknown", "expired"])
def test_with_auth_refuses_without_a_valid_session(adapter: SQLAlchemyAdapter, cookie: str | None) -> None:
    seed(adapter, NOW - 1, token="expired")
    client = Client(with_auth(_inner_app, options_for(adapter)))
    if cookie is not None:
        client.set_cookie(COOKIE, cookie)
    page = client.get("/dashboard")
    assert page.status_code == 307
    assert page.headers["Location"] == "http://localhost/api/auth/signin?callbackUrl=%2Fdashboard"
    api = client.get("/api/data", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.json["error"] == "Unauthorized"  # type: ignore[index]
    assert adapter.get_session_and_user("expired") is not None  # deleting is get_server_session's job


def test_with_auth_forbidden_for_a_signed_in_user(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW + MAX_AGE)
    options = options_for(
        adapter, callbacks={"authorized": lambda token, **kw: token and token["email"] == "x"}
    )
    client = Client(with_auth(_inner_app, options))
    client.set_cookie(COOKIE, "tok-1")
    assert client.get("/admin").status_code == 403


# --------------------------------------------------------------------------- AuthGuard and the endpoints


def sign_in(client: t.Any, username: str, password: str = "pw") -> t.Any:
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    return client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": csrf, "username": username, "password": password, "callbackUrl": "/dashboard"},
    )


def session_cookie(response: t.Any) -> dict[str, str] | None:
    for header in response.headers.getlist("Set-Cookie"):
        cookie = attributes(header)
        if cookie["name"] == COOKIE:
            return cookie
    return None


def count(adapter: SQLAlchemyAdapter, table: str) -> int:
    import sqlalchemy as sa

    with adapter.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(getattr(adapter.tables, table))).scalar()
        )


def test_credentials_sign_in_creates_a_session(adapter: SQLAlchemyAdapter) -> None:
    client = make_app(adapter).test_client()
    response = sign_in(client, "ann")
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost/dashboard"
    cookie = session_cookie(response)
    assert cookie is not None and cookie["expires"] == http_date(NOW + MAX_AGE)
    found = adapter.get_session_and_user(cookie["value"])
    assert found is not None and found["session"]["expires"].timestamp() == NOW + MAX_AGE
    assert found["user"]["email"] == "ann@example.com" and found["user"]["name"] == "Ann"
    linked = adapter.get_user_by_account({"provider": "credentials", "providerAccountId": "u-ann"})
    assert linked == found["user"]
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert dashboard.json["token"] == {  # type: ignore[index]
        "sub": found["user"]["id"],
        "name": "Ann",
        "email": "ann@example.com",
        "picture": None,
        "expires": iso_ms(NOW + MAX_AGE),
    }


def test_session_tokens_are_random_uuids() -> None:
    tokens = {generate_session_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(tok) == 36 and tok.count("-") == 4 for tok in tokens)


def test_sign_in_again_reuses_the_user(adapter: SQLAlchemyAdapter) -> None:
    app = make_app(adapter)
    first, second = sign_in(app.test_client(), "ann"), sign_in(app.test_client(), "ann")
    assert session_cookie(first)["value"] != session_cookie(second)["value"]  # type: ignore[index]
    assert (
        count(adapter, "users") == 1 and count(adapter, "sessions") == 2 and count(adapter, "accounts") == 1
    )


def signed_in_user(adapter: SQLAlchemyAdapter, returned: dict[str, t.Any], **provider: t.Any) -> t.Any:
    """Sign in through an ``authorize`` that returns ``returned``; the session row's user."""
    credentials = CredentialsProvider(authorize=lambda **kw: dict(returned), **provider)
    response = sign_in(make_app(adapter, providers=[credentials]).test_client(), "any")
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost/dashboard"
    found = adapter.get_session_and_user(session_cookie(response)["value"])  # type: ignore[index]
    assert found is not None and found["session"]["userId"] == found["user"]["id"]
    return found["user"]


def test_credentials_sign_in_as_the_adapter_user_with_the_returned_id(adapter: SQLAlchemyAdapter) -> None:
    # Issue 28: authorize() looks the user up in the same database and returns its id: that user
    # signs in (it used to be refused with OAuthAccountNotLinked).
    existing = adapter.create_user({"name": "Ann", "email": "ann@example.com"})
    adapter.create_user({"name": "Bob", "email": "bob@example.com"})
    user = signed_in_user(adapter, {"id": existing["id"], "email": "ann@example.com", "name": "Ann"})
    assert user == existing
    assert count(adapter, "users") == 2 and count(adapter, "accounts") == 0


def test_credentials_returned_id_wins_over_the_email(adapter: SQLAlchemyAdapter) -> None:
    # the app is the authority: the id names the user even when the email is another's (or none)
    ann = adapter.create_user({"name": "Ann", "email": "ann@example.com"})
    adapter.create_user({"name": "Bob", "email": "bob@example.com"})
    returned = int(ann["id"]) if adapter.layout.name == "pg" else ann["id"]
    assert signed_in_user(adapter, {"id": returned, "email": "bob@example.com"}) == ann
    assert signed_in_user(adapter, {"id": ann["id"]}) == ann
    assert count(adapter, "users") == 2 and count(adapter, "accounts") == 0


@pytest.mark.parametrize("returned_id", ["u-ann", "987654"], ids=["not-an-id", "unknown-id"])
def test_credentials_unknown_id_signs_in_the_user_with_the_email(
    adapter: SQLAlchemyAdapter, returned_id: str
) -> None:
    existing = adapter.create_user({"name": "Ann (from Next.js)", "email": "ann@example.com"})
    user = signed_in_user(adapter, {"id": returned_id, "name": "Ann", "email": "ann@example.com"})
    assert user == existing  # the stored profile is kept
    assert count(adapter, "users") == 1 and count(adapter, "accounts") == 0


def test_credentials_with_neither_a_known_id_nor_email_create_a_user(adapter: SQLAlchemyAdapter) -> None:
    other = adapter.create_user({"name": "Someone else", "email": "else@example.com"})
    user = signed_in_user(adapter, {"id": "987654", "name": "New", "email": "new@example.com"})
    assert user["id"] != other["id"] and user["name"] == "New" and user["email"] == "new@example.com"
    assert adapter.get_user_by_account({"provider": "credentials", "providerAccountId": "987654"}) == user
    # the returned id finds that user again, also once the app no longer returns the email
    assert signed_in_user(adapter, {"id": "987654"}) == user
    assert count(adapter, "users") == 2 and count(adapter, "accounts") == 1


def test_credentials_ignore_the_dangerous_linking_flag(adapter: SQLAlchemyAdapter) -> None:
    # the flag is for OAuth/OIDC: a credentials sign-in is the same with or without it
    existing = adapter.create_user({"name": "Ann", "email": "ann@example.com"})
    returned = {"id": "u-ann", "email": "ann@example.com"}
    assert signed_in_user(adapter, returned, allow_dangerous_email_account_linking=True) == existing
    assert count(adapter, "accounts") == 0


def test_first_sign_in_fires_create_user_and_link_account(adapter: SQLAlchemyAdapter) -> None:
    seen: list[str] = []
    events = {
        "create_user": lambda **kw: seen.append("create_user:" + kw["user"]["email"]),
        "link_account": lambda **kw: seen.append("link_account:" + kw["account"]["providerAccountId"]),
    }
    client = make_app(adapter, events=events).test_client()
    sign_in(client, "ann")
    sign_in(client, "ann")
    assert seen == ["create_user:ann@example.com", "link_account:u-ann"]


def test_sign_in_without_email_uses_the_account(adapter: SQLAlchemyAdapter) -> None:
    app = make_app(adapter)
    if adapter.layout.name == "prisma":  # the schema needs an email: the sign-in is refused, not a 500
        assert sign_in(app.test_client(), "nomail").status_code == 503
        assert count(adapter, "users") == 0
        return
    first, second = sign_in(app.test_client(), "nomail"), sign_in(app.test_client(), "nomail")
    users = {adapter.get_session_and_user(session_cookie(r)["value"])["user"]["id"] for r in (first, second)}  # type: ignore[index]
    assert len(users) == 1 and count(adapter, "users") == 1


def test_sign_in_needs_an_id_or_an_email(adapter: SQLAlchemyAdapter) -> None:
    response = sign_in(make_app(adapter).test_client(), "nobody")
    assert response.status_code == 302 and "error=" in response.headers["Location"]
    assert session_cookie(response) is None and count(adapter, "sessions") == 0


def test_wrong_password_makes_no_session(adapter: SQLAlchemyAdapter) -> None:
    response = sign_in(make_app(adapter).test_client(), "ann", "nope")
    assert "error=CredentialsSignin" in response.headers["Location"]
    assert count(adapter, "users") == 0 and count(adapter, "sessions") == 0


def test_concurrent_first_sign_ins_make_one_user(adapter: SQLAlchemyAdapter) -> None:
    app = make_app(adapter)
    responses: list[t.Any] = []
    start = threading.Barrier(6)

    def worker() -> None:
        client = app.test_client()
        csrf = client.get("/api/auth/csrf").json["csrfToken"]
        start.wait()
        responses.append(
            client.post(
                "/api/auth/callback/credentials",
                data={"csrfToken": csrf, "username": "bob", "password": "pw"},
            )
        )

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses] == [302] * 6
    assert all(session_cookie(r) is not None for r in responses)
    assert (
        count(adapter, "users") == 1 and count(adapter, "accounts") == 1 and count(adapter, "sessions") == 6
    )


def test_get_server_session_in_flask(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW + MAX_AGE - UPDATE_AGE)
    client = make_app(adapter).test_client()
    client.set_cookie(COOKIE, "tok-1")
    response = client.get("/whoami")
    assert response.json["session"]["expires"] == iso_ms(NOW + MAX_AGE - UPDATE_AGE)  # type: ignore[index]
    assert response.json["token"]["email"] == "ann@example.com"  # type: ignore[index]
    assert refreshed(response.headers.getlist("Set-Cookie"))
    assert stored_expiry(adapter) == NOW + MAX_AGE
    endpoint = client.get("/api/auth/session")
    assert endpoint.json == {  # type: ignore[comparison-overlap]
        "user": {"name": "Ann", "email": "ann@example.com", "image": "https://img/ann.png"},
        "expires": iso_ms(NOW + MAX_AGE),
    }


def test_session_update_reaches_the_callback(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW + MAX_AGE)
    calls: list[dict[str, t.Any]] = []

    def callback(**kwargs: t.Any) -> t.Any:
        calls.append(kwargs)
        return kwargs["session"]

    client = make_app(adapter, callbacks={"session": callback}).test_client()
    client.set_cookie(COOKIE, "tok-1")
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    response = client.post("/api/auth/session", json={"csrfToken": csrf, "data": {"theme": "dark"}})
    assert response.status_code == 200 and response.json["user"]["name"] == "Ann"  # type: ignore[index]
    assert calls[-1]["trigger"] == "update" and calls[-1]["new_session"] == {"theme": "dark"}


def test_sign_out_deletes_the_session(adapter: SQLAlchemyAdapter) -> None:
    signed_out: list[dict[str, t.Any]] = []
    client = make_app(adapter, events={"sign_out": lambda **kw: signed_out.append(kw)}).test_client()
    token = session_cookie(sign_in(client, "ann"))["value"]  # type: ignore[index]
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    response = client.post("/api/auth/signout", data={"csrfToken": csrf})
    assert response.status_code == 302
    assert cleared([h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE)])
    assert adapter.get_session_and_user(token) is None
    assert signed_out[0]["session"]["sessionToken"] == token
    assert client.get("/dashboard").status_code == 307


# --------------------------------------------------------------------------- a database that fails


class Flaky:
    """An adapter that delegates to a real one, or fails like a database that is down."""

    def __init__(self, inner: SQLAlchemyAdapter, error: type[Exception] = BackendUnavailableError) -> None:
        self.inner = inner
        self.down = False
        self.error = error
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> t.Any:
        method = getattr(self.inner, name)

        def call(*args: t.Any) -> t.Any:
            self.calls.append(name)
            if self.down:
                raise self.error(f"{name} failed: connection refused")
            return method(*args)

        return call


@pytest.mark.parametrize("error", [BackendUnavailableError, RuntimeError], ids=["unavailable", "any-error"])
def test_with_auth_answers_503(adapter: SQLAlchemyAdapter, error: type[Exception], caplog: t.Any) -> None:
    seed(adapter, NOW + MAX_AGE - UPDATE_AGE)
    flaky = Flaky(adapter, error)
    client = Client(with_auth(_inner_app, options_for(flaky)))
    client.set_cookie(COOKIE, "tok-1")
    flaky.down = True
    assert_503(client.get("/dashboard"), api=False)
    assert_503(client.get("/dashboard", headers={"Accept": "application/json"}), api=True)
    assert "session store unavailable" in caplog.text
    flaky.down = False
    assert client.get("/dashboard").status_code == 200  # still signed in
    assert stored_expiry(adapter) == NOW + MAX_AGE - UPDATE_AGE


def test_get_server_session_raises_backend_unavailable(adapter: SQLAlchemyAdapter) -> None:
    seed(adapter, NOW - 1)  # expired: would be deleted if the database answered
    flaky = Flaky(adapter)
    flaky.down = True
    with pytest.raises(BackendUnavailableError):
        read(options_for(flaky))
    assert adapter.get_session_and_user("tok-1") is not None


def test_failed_extension_is_a_503_not_a_sign_out(adapter: SQLAlchemyAdapter, monkeypatch: t.Any) -> None:
    seed(adapter, NOW + MAX_AGE - UPDATE_AGE)

    def down(session: t.Any) -> None:
        raise BackendUnavailableError("update_session failed: timeout")

    monkeypatch.setattr(adapter, "update_session", down)
    with pytest.raises(BackendUnavailableError):
        read(options_for(adapter))
    assert stored_expiry(adapter) == NOW + MAX_AGE - UPDATE_AGE


def test_authguard_answers_503_and_signs_nobody_out(adapter: SQLAlchemyAdapter) -> None:
    flaky = Flaky(adapter)
    app = make_app(flaky)
    client = app.test_client()
    token = session_cookie(sign_in(client, "ann"))["value"]  # type: ignore[index]
    before = stored_expiry(adapter, token)
    flaky.down = True
    assert_503(client.get("/dashboard"), api=False)
    assert_503(client.get("/api/private/data", headers={"Accept": "application/json"}), api=True)
    assert client.get("/").get_data(as_text=True) == "home"  # a public page that needs no session
    assert_503(client.get("/whoami"), api=False)  # get_server_session() in a view
    assert client.get("/api/auth/session").status_code == 503
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    signout = client.post("/api/auth/signout", data={"csrfToken": csrf})
    assert signout.status_code == 503
    assert not [h for h in signout.headers.getlist("Set-Cookie") if h.startswith(COOKIE)]
    failed_sign_in = sign_in(app.test_client(), "bob")
    assert failed_sign_in.status_code == 503 and session_cookie(failed_sign_in) is None
    flaky.down = False
    assert client.get("/dashboard").status_code == 200  # the same cookie still works
    assert stored_expiry(adapter, token) == before
    assert adapter.get_user_by_email("bob@example.com") is None


def test_closed_port_answers_503_everywhere() -> None:
    adapter = SQLAlchemyAdapter(CLOSED_PG_URL)
    try:
        client = Client(with_auth(_inner_app, options_for(adapter)))
        client.set_cookie(COOKIE, "some-token")
        assert_503(client.get("/dashboard"), api=False)
        flask_client = make_app(adapter).test_client()
        flask_client.set_cookie(COOKIE, "some-token")
        assert_503(flask_client.get("/dashboard", headers={"X-Requested-With": "fetch"}), api=True)
        assert flask_client.get("/").status_code == 200
        with pytest.raises(BackendUnavailableError):
            read(options_for(adapter), "some-token")
    finally:
        adapter.close()


# --------------------------------------------------------------------------- the example app


def load_example() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("database_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_database_app(clock: FrozenClock) -> None:
    example = load_example()
    app = example.create_app("sqlite://")
    adapter = app.extensions["authguard"].config.options.adapter
    client = app.test_client()
    assert client.get("/").status_code == 200
    anonymous = client.get("/dashboard")
    assert anonymous.status_code == 307 and "/api/auth/signin?callbackUrl=" in anonymous.headers["Location"]
    assert client.get("/api/me", headers={"Accept": "application/json"}).status_code == 401

    username, (password, role) = next(iter(example.DEMO_CREDENTIALS.items()))
    assert role == "admin"
    signed_in = sign_in(client, username, password)
    assert signed_in.status_code == 302
    token = session_cookie(signed_in)["value"]  # type: ignore[index]
    assert adapter.get_session_and_user(token) is not None
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200 and username.capitalize() in dashboard.get_data(as_text=True)
    assert client.get("/admin").status_code == 200
    me = client.get("/api/me", headers={"Accept": "application/json"})
    assert me.status_code == 200 and me.json["user"]["role"] == "admin"  # type: ignore[index]

    other, (other_password, other_role) = list(example.DEMO_CREDENTIALS.items())[1]
    assert other_role != "admin"
    other_client = app.test_client()
    sign_in(other_client, other, other_password)
    assert other_client.get("/dashboard").status_code == 200
    assert other_client.get("/admin").status_code == 403

    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    assert client.post("/api/auth/signout", data={"csrfToken": csrf}).status_code == 302
    assert adapter.get_session_and_user(token) is None
    assert client.get("/dashboard").status_code == 307


# --------------------------------------------------------------------------- any adapter


class AsyncAdapter:
    """The two methods a session read needs, as coroutines over a dict."""

    def __init__(self, found: t.Any) -> None:
        self.found = found
        self.deleted: list[str] = []

    async def get_session_and_user(self, token: str) -> t.Any:
        return self.found if token == "tok-1" else None

    async def update_session(self, session: t.Any) -> t.Any:
        self.found["session"]["expires"] = session["expires"]
        return self.found["session"]

    async def delete_session(self, token: str) -> None:
        self.deleted.append(token)


def test_an_async_adapter_of_our_own() -> None:
    user = {"id": "7", "name": "Ann", "email": "ann@example.com", "image": None, "emailVerified": None}
    session = {"sessionToken": "tok-1", "userId": "7", "expires": expiry(NOW + 60)}
    adapter = AsyncAdapter({"session": session, "user": user})
    found, cookies = read(options_for(adapter))
    assert found == {
        "user": {"name": "Ann", "email": "ann@example.com", "image": None},
        "expires": iso_ms(NOW + 60),
    }
    assert refreshed(cookies) and session["expires"] == expiry(NOW + MAX_AGE)
    session["expires"] = expiry(NOW - 1)
    assert read(options_for(adapter))[0] is None and adapter.deleted == ["tok-1"]


@pytest.mark.parametrize(
    "found",
    [
        pytest.param({"session": {"expires": "not a date"}, "user": {}}, id="bad-expires"),
        pytest.param({"session": {}, "user": {}}, id="no-expires"),
        pytest.param({"user": {}}, id="no-session"),
        pytest.param(["session", "user"], id="not-a-mapping"),
    ],
)
def test_a_malformed_adapter_record_is_no_session(found: t.Any) -> None:
    session, cookies = read(options_for(AsyncAdapter(found)))
    assert session is None and cleared(cookies)
