"""One PostgreSQL database, two apps: the real next-auth (v4.24.15 with ``@auth/pg-adapter``)
under Node.js and flask_authguard with ``SQLAlchemyAdapter`` read and end each other's sessions.

next-auth runs through ``tests/node_pg/helper.mjs`` (its pages-router API handler and
``getServerSession(req, res, authOptions)`` with Node stand-ins for ``req``/``res``). Its
packages, pinned in ``tests/node_pg/package.json`` and ``package-lock.json``, are installed once
per machine into ``<cache>/pg-<hash of those files>`` (the cache of ``tests/support/nodejs.py``).

The tables are created by flask_authguard in a schema of the test run's own; next-auth reaches
them through ``search_path``. Without Node.js/npm or PostgreSQL the tests are skipped with the
reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import pathlib
import secrets
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from support import missing  # noqa: E402
from support.adapters import postgres_url, require_postgres  # noqa: E402
from support.nextauth_pg import ORIGIN, SECRET, NextAuthPg, install  # noqa: E402
from support.nodejs import (  # noqa: E402
    NodeUnavailable,
)
from werkzeug.test import create_environ  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from flask_authguard import AuthOptions, get_server_session, with_auth  # noqa: E402
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402

COOKIE = "next-auth.session-token"
MAX_AGE = 30 * 24 * 60 * 60
UPDATE_AGE = 24 * 60 * 60

# --------------------------------------------------------------------------- next-auth under Node.js


@pytest.fixture(scope="module")
def node_dir() -> pathlib.Path:
    try:
        return install()
    except NodeUnavailable as exc:
        missing(f"next-auth interop needs Node.js and npm: {exc}")


@pytest.fixture(scope="module")
def shared(node_dir: pathlib.Path) -> t.Iterator[tuple[SQLAlchemyAdapter, NextAuthPg]]:
    """Our adapter and next-auth on the same fresh schema (tables made by us)."""
    engine = require_postgres()
    schema = f"authguard_interop_{os.getpid()}_{secrets.token_hex(4)}"
    adapter = SQLAlchemyAdapter(engine, schema=schema, create_tables=True)
    url = sa.engine.make_url(postgres_url()).set(drivername="postgresql")
    nextauth = NextAuthPg(node_dir, url.render_as_string(hide_password=False), schema)
    try:
        yield adapter, nextauth
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


# --------------------------------------------------------------------------- helpers


def options(adapter: SQLAlchemyAdapter, **extra: t.Any) -> AuthOptions:
    return AuthOptions(secret=SECRET, adapter=adapter, url=ORIGIN, **extra)


def our_read(adapter: SQLAlchemyAdapter, token: str) -> tuple[t.Any, list[str]]:
    request = Request(create_environ("/", ORIGIN, headers={"Cookie": f"{COOKIE}={token}"}))
    response = Response()
    session = get_server_session(request, response, options(adapter))
    return session, response.headers.getlist("Set-Cookie")


def their_read(nextauth: NextAuthPg, token: str) -> tuple[t.Any, list[str]]:
    value = nextauth.run("getServerSession", cookies={COOKIE: token})
    return value["session"], [h for h in value["setCookie"] if h.startswith(COOKIE + "=")]


def cookie_attributes(header: str) -> tuple[dict[str, str], float | None]:
    """The attributes of a Set-Cookie header (names lower-cased) and its Expires timestamp."""
    first, *rest = header.split("; ")
    name, _, value = first.partition("=")
    attrs = {"name": name, "value": value}
    expires = None
    for part in rest:
        key, _, val = part.partition("=")
        if key.lower() == "expires":
            expires = email.utils.parsedate_to_datetime(val).timestamp()
        else:
            attrs[key.lower()] = val or "true"
    return attrs, expires


def assert_same_cookie(ours: list[str], theirs: list[str]) -> None:
    """The same cookie, attribute for attribute; Expires (now + max_age) a few seconds apart."""
    assert len(ours) == 1 and len(theirs) == 1, (ours, theirs)
    (our_attrs, our_expires), (their_attrs, their_expires) = (
        cookie_attributes(ours[0]),
        cookie_attributes(theirs[0]),
    )
    assert our_attrs == their_attrs
    assert our_expires is not None and their_expires is not None
    assert abs(our_expires - their_expires) < 10


def set_expiry(adapter: SQLAlchemyAdapter, token: str, seconds_from_now: float) -> dt.datetime:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds_from_now)
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)
    assert adapter.update_session({"sessionToken": token, "expires": when}) is not None
    return when


def iso(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


# --------------------------------------------------------------------------- the tests


def test_a_next_auth_session_is_ours_too(shared: tuple[SQLAlchemyAdapter, NextAuthPg]) -> None:
    adapter, nextauth = shared
    signed_in = nextauth.run("emailSignIn", email="nora@example.com")
    assert signed_in["status"] == 302 and signed_in["sessionToken"]
    token = signed_in["sessionToken"]

    theirs, their_cookies = their_read(nextauth, token)
    ours, our_cookies = our_read(adapter, token)
    assert ours == theirs
    assert ours["user"] == {"name": None, "email": "nora@example.com", "image": None}
    assert_same_cookie(our_cookies, their_cookies)

    found = adapter.get_session_and_user(token)
    assert found is not None and found["user"]["emailVerified"] is not None  # set by the email flow
    seen: list[t.Any] = []
    app = with_auth(
        Response("inside"), lambda request: seen.append(request.environ["authguard.token"]), options(adapter)
    )
    client_response = Request(create_environ("/dashboard", ORIGIN, headers={"Cookie": f"{COOKIE}={token}"}))
    status: list[str] = []
    b"".join(app(client_response.environ, lambda s, h, e=None: status.append(s)))
    assert status == ["200 OK"]
    assert seen[0]["sub"] == found["user"]["id"] and seen[0]["email"] == "nora@example.com"


def test_our_session_is_next_auths_too(shared: tuple[SQLAlchemyAdapter, NextAuthPg]) -> None:
    from flask import Flask

    from flask_authguard import AuthGuard, CredentialsProvider

    adapter, nextauth = shared
    app = Flask(__name__)
    provider = CredentialsProvider(
        authorize=lambda credentials, **kw: {
            "id": "p-1",
            "name": "Pia",
            "email": "pia@example.com",
            "image": "i.png",
        },
        credentials={"username": {}},
    )
    AuthGuard(app, {"secret": SECRET, "adapter": adapter, "url": ORIGIN, "providers": [provider]})
    client = app.test_client()
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    response = client.post("/api/auth/callback/credentials", data={"csrfToken": csrf, "username": "pia"})
    assert response.status_code == 302
    [our_cookie] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "=")]
    token = cookie_attributes(our_cookie)[0]["value"]

    theirs, their_cookies = their_read(nextauth, token)
    ours, our_cookies = our_read(adapter, token)
    assert theirs == ours
    assert theirs["user"] == {"name": "Pia", "email": "pia@example.com", "image": "i.png"}
    assert_same_cookie(our_cookies, their_cookies)


def test_both_follow_the_same_expiry_rules(shared: tuple[SQLAlchemyAdapter, NextAuthPg]) -> None:
    adapter, nextauth = shared
    token = nextauth.run("emailSignIn", email="eve@example.com")["sessionToken"]

    # Due for an update: we extend it; next-auth sees exactly the expiry we wrote.
    due = set_expiry(adapter, token, MAX_AGE - UPDATE_AGE - 60)
    ours, _ = our_read(adapter, token)
    assert ours["expires"] == iso(due)
    extended = adapter.get_session_and_user(token)["session"]["expires"]  # type: ignore[index]
    assert extended > due
    theirs, _ = their_read(nextauth, token)
    assert theirs["expires"] == iso(extended)

    # Due again: next-auth extends it; we see exactly the expiry it wrote.
    due = set_expiry(adapter, token, MAX_AGE - UPDATE_AGE - 60)
    theirs, _ = their_read(nextauth, token)
    assert theirs["expires"] == iso(due)
    extended = adapter.get_session_and_user(token)["session"]["expires"]  # type: ignore[index]
    assert extended > due
    ours, _ = our_read(adapter, token)
    assert ours["expires"] == iso(extended)

    # Expired: whoever reads first deletes it; both clear the cookie.
    set_expiry(adapter, token, -5)
    theirs, their_cookies = their_read(nextauth, token)
    assert theirs is None and adapter.get_session_and_user(token) is None
    ours, our_cookies = our_read(adapter, token)
    assert ours is None
    assert [cookie_attributes(h)[0] for h in our_cookies] == [cookie_attributes(h)[0] for h in their_cookies]


def test_signing_out_on_either_side_ends_the_session(shared: tuple[SQLAlchemyAdapter, NextAuthPg]) -> None:
    from flask import Flask

    from flask_authguard import AuthGuard

    adapter, nextauth = shared
    first = nextauth.run("emailSignIn", email="sam@example.com")["sessionToken"]
    second = nextauth.run("emailSignIn", email="sam@example.com")["sessionToken"]
    assert first != second

    # next-auth signs out of a session: we no longer find it.
    signed_out = nextauth.run("signOut", cookies={COOKIE: first})
    assert signed_out["status"] == 302
    assert our_read(adapter, first)[0] is None

    # We sign out of the other: next-auth no longer finds it.
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET, "adapter": adapter, "url": ORIGIN})
    client = app.test_client()
    client.set_cookie(COOKIE, second)
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    assert client.post("/api/auth/signout", data={"csrfToken": csrf}).status_code == 302
    assert their_read(nextauth, second)[0] is None


def test_next_auth_finds_users_we_created(shared: tuple[SQLAlchemyAdapter, NextAuthPg]) -> None:
    adapter, nextauth = shared
    user = adapter.create_user({"name": "Quinn", "email": "quinn@example.com", "image": None})
    token = nextauth.run("emailSignIn", email="quinn@example.com")["sessionToken"]
    found = adapter.get_session_and_user(token)
    assert found is not None and found["user"]["id"] == user["id"] and found["user"]["name"] == "Quinn"
    assert our_read(adapter, token)[0]["user"]["name"] == "Quinn"  # type: ignore[index]
