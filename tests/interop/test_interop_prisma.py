"""One database, two apps: ``@auth/prisma-adapter`` on a real Prisma 7 client (``prisma generate``
of the docs' models, ``@prisma/adapter-pg`` / ``@prisma/adapter-mariadb``) under Node.js, and
``SQLAlchemyAdapter(layout="prisma")``, each reading and changing what the other wrote.

Both schemas in circulation run on PostgreSQL and MySQL/MariaDB: next-auth v4's (``Account`` and
``Session`` with an ``id``; here with ``@@map`` names, through ``table_names``) and Auth.js v5's
(composite keys, ``createdAt``/``updatedAt``), and each with the timestamps the other way round;
our adapter is told none of this: it reads which one from the tables. On PostgreSQL the tables are
made by Prisma's own schema engine (``prisma db push``); on MySQL from the DDL ``prisma migrate``
writes (see ``tests/support/prisma.py`` for why). The packages are pinned in ``tests/node_prisma``.
Without Node.js/npm, PostgreSQL or MySQL the tests are skipped with the reason, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import secrets
import time
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from support import missing  # noqa: E402
from support.adapters import (  # noqa: E402
    mysql_database_url,
    postgres_url,
    require_mysql,
    require_postgres,
)
from support.jsadapters import (  # noqa: E402
    describe,
    passkeys_both_ways,
    refreshed_tokens_both_ways,
    run,
    soon,
    unique,
)
from support.nodejs import NodeUnavailable  # noqa: E402
from support.prisma import Schema, generate, install  # noqa: E402

from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter, create_engine  # noqa: E402
from flask_authguard.core.errors import BackendUnavailableError  # noqa: E402

UTC = dt.timezone.utc
V4_MAPS = {
    "users": "users",
    "accounts": "accounts",
    "sessions": "sessions",
    "verification_token": "verification_tokens",
}
#: (provider, schema): the docs' two schemas on both databases, and each with the timestamps the
#: other way round on one of them.
SETUPS = [
    *(
        (provider, schema)
        for provider in ("postgresql", "mysql")
        for schema in (Schema(4, False, V4_MAPS), Schema(5, True))
    ),
    ("postgresql", Schema(5, stamps=False)),
    ("mysql", Schema(4, stamps=True)),
]


@pytest.fixture(scope="module")
def where() -> pathlib.Path:
    try:
        return install()
    except NodeUnavailable as exc:
        missing(f"Prisma interop needs Node.js and npm: {exc}")


class Shared:
    """Our adapter and Prisma's on the same tables."""

    def __init__(
        self, where: pathlib.Path, client: pathlib.Path, provider: str, url: str, db_schema: str | None
    ):
        self.where, self.client, self.provider, self.url, self.db_schema = (
            where,
            client,
            provider,
            url,
            db_schema,
        )
        self.adapter: SQLAlchemyAdapter

    def js(self, *calls: tuple[str, list[t.Any]]) -> list[t.Any]:
        """``PrismaAdapter(prisma)[method](*args)`` for each call, in one Node.js process."""
        request = {
            "op": "calls",
            "client": str(self.client / "client"),
            "provider": self.provider,
            "url": self.url,
            "dbSchema": self.db_schema,
            "calls": [{"method": method, "args": args} for method, args in calls],
        }
        return t.cast(list[t.Any], run(self.where, [request])[0])


@pytest.fixture(
    scope="module",
    params=[pytest.param((provider, schema), id=f"{provider}-{schema.id}") for provider, schema in SETUPS],
)
def shared(request: pytest.FixtureRequest, where: pathlib.Path) -> t.Iterator[Shared]:
    provider, schema = request.param
    name = f"authguard_prisma_{os.getpid()}_{secrets.token_hex(4)}"
    if provider == "postgresql":
        engine = require_postgres()
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        url = sa.engine.make_url(postgres_url()).set(drivername="postgresql").render_as_string(False)
        both = Shared(where, generate(where, schema, provider), provider, url, name)
        pushed = run(
            where,
            [{"op": "push", "schema": str(both.client / "schema.prisma"), "url": url, "dbSchema": name}],
        )
        assert pushed[0]["executedSteps"] > 0
        both.adapter = SQLAlchemyAdapter(
            postgres_url(), layout="prisma", schema=name, table_names=schema.table_names()
        )
    else:
        require_mysql()
        server = mysql_database_url()
        engine = create_engine(server)  # its own: its connection switches database
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
            conn.execute(sa.text(f"USE `{name}`"))
            for statement in schema.mysql_ddl():
                conn.exec_driver_sql(statement)
        url = server.set(drivername="mariadb", database=name).render_as_string(False)
        both = Shared(where, generate(where, schema, provider), provider, url, None)
        both.adapter = SQLAlchemyAdapter(
            server.set(database=name), layout="prisma", table_names=schema.table_names()
        )
    both.schema = schema  # type: ignore[attr-defined]
    try:
        yield both
    finally:
        both.adapter.close()
        with engine.begin() as conn:
            if provider == "postgresql":
                conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
            else:
                conn.execute(sa.text(f"DROP DATABASE `{name}`"))
        if provider == "mysql":
            engine.dispose()


def test_rows_prisma_wrote_are_ours_too(shared: Shared) -> None:
    email, expires, verified = unique("nora"), soon(30), soon(-2)
    token, other = f"js-{secrets.token_hex(8)}", f"js-{secrets.token_hex(8)}"
    user_id = {"$ref": [0, "id"]}
    [user, account, session, _, vt] = shared.js(
        ("createUser", [{"name": "Nora", "email": email, "emailVerified": verified, "image": "n.png"}]),
        (
            "linkAccount",
            [
                {
                    "userId": user_id,
                    "type": "oauth",
                    "provider": "github",
                    "providerAccountId": "gh-" + email,
                    "access_token": "gho_" + "x" * 300,  # longer than VARCHAR(191): TEXT
                    "expires_at": 2_000_000_000,
                    "token_type": "bearer",
                }
            ],
        ),
        ("createSession", [{"sessionToken": token, "userId": user_id, "expires": expires}]),
        ("createSession", [{"sessionToken": other, "userId": user_id, "expires": expires}]),
        ("createVerificationToken", [{"identifier": email, "token": "hashed", "expires": expires}]),
    )
    assert session["sessionToken"] == token and account["provider"] == "github" and vt["token"] == "hashed"
    ours = {"id": user["id"], "name": "Nora", "email": email, "emailVerified": verified, "image": "n.png"}
    adapter = shared.adapter
    assert adapter.get_session_and_user(token) == {
        "session": {"sessionToken": token, "userId": user["id"], "expires": expires},
        "user": ours,
    }
    assert adapter.get_user(user["id"]) == ours
    assert adapter.get_user_by_email(email) == ours
    assert adapter.get_user_by_account({"provider": "github", "providerAccountId": "gh-" + email}) == ours
    assert adapter.use_verification_token({"identifier": email, "token": "hashed"}) == {
        "identifier": email,
        "token": "hashed",
        "expires": expires,
    }
    # We change and end Prisma's rows: Prisma reads the change (and its updatedAt moves on).
    later = soon(31)
    assert adapter.update_session({"sessionToken": token, "expires": later}) is not None
    assert adapter.update_user({"id": user["id"], "name": "Nora B."})["name"] == "Nora B."
    assert adapter.delete_session(other) is not None
    [found, gone, by_account] = shared.js(
        ("getSessionAndUser", [token]),
        ("getSessionAndUser", [other]),
        ("getUserByAccount", [{"provider": "github", "providerAccountId": "gh-" + email}]),
    )
    assert found["session"]["expires"] == later and found["user"]["name"] == "Nora B."
    assert gone is None and by_account["id"] == user["id"]
    if shared.schema.stamps:  # type: ignore[attr-defined]
        assert (
            found["user"]["updatedAt"] > user["updatedAt"] and found["user"]["createdAt"] == user["createdAt"]
        )
        assert found["session"]["updatedAt"] > session["updatedAt"]


def test_rows_we_wrote_are_prismas_too(shared: Shared) -> None:
    adapter = shared.adapter
    email, expires, verified = unique("pia"), soon(30), soon(-1)
    before = dt.datetime.now(UTC) - dt.timedelta(seconds=5)
    user = adapter.create_user({"name": "Pia", "email": email, "emailVerified": verified, "image": None})
    leaving = adapter.create_user(
        {"name": "Leo", "email": unique("leo"), "emailVerified": None, "image": None}
    )
    account = {"provider": "google", "providerAccountId": "g-" + email}
    adapter.link_account(
        {
            "userId": user["id"],
            "type": "oidc",
            **account,
            "id_token": "eyJ" + "y" * 500,
            "expires_at": 1_900_000_000,
        }
    )
    adapter.link_account(
        {"userId": leaving["id"], "type": "oidc", "provider": "google", "providerAccountId": "leo"}
    )
    token, leaver = f"py-{secrets.token_hex(8)}", f"py-{secrets.token_hex(8)}"
    adapter.create_session({"sessionToken": token, "userId": user["id"], "expires": expires})
    adapter.create_session({"sessionToken": leaver, "userId": leaving["id"], "expires": expires})
    adapter.create_verification_token({"identifier": email, "token": "hashed-py", "expires": expires})

    later = soon(40)
    [found, got, by_email, by_account, used, updated, _, _] = shared.js(
        ("getSessionAndUser", [token]),
        ("getUser", [user["id"]]),
        ("getUserByEmail", [email]),
        ("getUserByAccount", [account]),
        ("useVerificationToken", [{"identifier": email, "token": "hashed-py"}]),
        ("updateSession", [{"sessionToken": token, "expires": later}]),
        ("unlinkAccount", [{"provider": "google", "providerAccountId": "leo"}]),
        ("deleteUser", [leaving["id"]]),
    )
    expected = {"id": user["id"], "name": "Pia", "email": email, "emailVerified": verified, "image": None}
    stamps = ("createdAt", "updatedAt")
    assert {k: v for k, v in found["user"].items() if k not in stamps} == expected
    assert {k: v for k, v in found["session"].items() if k not in (*stamps, "id")} == {
        "sessionToken": token,
        "userId": user["id"],
        "expires": expires,
    }
    assert got == found["user"] and by_email == got and by_account == got
    assert used == {"identifier": email, "token": "hashed-py", "expires": expires}
    if shared.schema.stamps:  # type: ignore[attr-defined]
        assert (
            before
            < found["user"]["createdAt"]
            <= found["user"]["updatedAt"]
            < before + dt.timedelta(minutes=1)
        )
    if shared.schema.version == 4:  # type: ignore[attr-defined]
        assert len(found["session"]["id"]) == 25 and found["session"]["id"].startswith("c")  # a cuid()
    # What Prisma changed and ended.
    assert updated["expires"] == later
    assert adapter.get_session_and_user(token)["session"]["expires"] == later  # type: ignore[index]
    assert adapter.get_user(leaving["id"]) is None and adapter.get_session_and_user(leaver) is None
    assert adapter.get_user_by_account({"provider": "google", "providerAccountId": "leo"}) is None


def test_passkeys_both_ways(shared: Shared) -> None:
    """Auth.js's passkeys are ours and ours are Auth.js's: created, listed, counted, by either
    (Auth.js v5's schema; next-auth v4's has no ``Authenticator``: a clear 503, never a 500)."""
    if shared.schema.version == 4:  # type: ignore[attr-defined]
        with pytest.raises(BackendUnavailableError, match="get_authenticator"):
            shared.adapter.get_authenticator("AAAA")
        return
    passkeys_both_ways(shared.adapter, shared.js)


def test_refreshed_tokens_both_ways(shared: Shared) -> None:
    """The account row Auth.js linked is the one we read and refresh, and the refreshed tokens
    are what Auth.js reads."""
    refreshed_tokens_both_ways(shared.adapter, shared.js)


def test_no_time_zone_moves_a_moment(shared: Shared, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process, the connection and Node.js in other zones: every moment stays the same UTC."""
    monkeypatch.setenv("TZ", "Asia/Kathmandu")  # +05:45, for us and for Node.js
    time.tzset()
    try:
        url = shared.adapter.engine.url
        if shared.provider == "postgresql":
            url = url.update_query_dict({"options": "-c TimeZone=America/St_Johns"})  # -03:30
        else:
            url = url.update_query_dict({"init_command": "SET time_zone = '+09:00'"})
        zoned = SQLAlchemyAdapter(
            url,
            layout="prisma",
            schema=shared.adapter.metadata.schema,
            table_names=shared.schema.table_names(),  # type: ignore[attr-defined]
        )
        try:
            expires, email = soon(3), unique("zoe")
            user = zoned.create_user({"name": "Zoe", "email": email, "emailVerified": expires, "image": None})
            zoned.create_session({"sessionToken": "tz-" + email, "userId": user["id"], "expires": expires})
            [found, _] = shared.js(
                ("getSessionAndUser", ["tz-" + email]),
                ("updateSession", [{"sessionToken": "tz-" + email, "expires": soon(4)}]),
            )
            assert found["session"]["expires"] == expires and found["user"]["emailVerified"] == expires
            read = zoned.get_session_and_user("tz-" + email)
            assert read is not None and abs(read["session"]["expires"] - soon(4)) < dt.timedelta(seconds=30)
            assert read["session"]["expires"].tzinfo == UTC
        finally:
            zoned.close()
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("provider", ["postgresql", "mysql"])
def test_our_tables_are_prismas(provider: str, where: pathlib.Path) -> None:
    """Column for column (names, types, nullability, keys), ``create_tables=True`` makes the
    tables of Auth.js v5's current schema as Prisma makes them (``db push`` on PostgreSQL, the
    ``prisma migrate`` DDL on MySQL)."""
    schema = Schema(5, stamps=True)
    theirs, ours = (f"authguard_prisma_{os.getpid()}_{secrets.token_hex(4)}" for _ in range(2))
    if provider == "postgresql":
        engine = require_postgres()
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{theirs}"'))
        url = sa.engine.make_url(postgres_url()).set(drivername="postgresql").render_as_string(False)
        client = generate(where, schema, provider)
        run(where, [{"op": "push", "schema": str(client / "schema.prisma"), "url": url, "dbSchema": theirs}])
        pushed = SQLAlchemyAdapter(postgres_url(), layout="prisma", schema=theirs)
        made = SQLAlchemyAdapter(postgres_url(), layout="prisma", schema=ours, create_tables=True)
    else:
        require_mysql()
        server = mysql_database_url()
        engine = create_engine(server)
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{theirs}`"))
            conn.execute(sa.text(f"CREATE DATABASE `{ours}`"))
            conn.execute(sa.text(f"USE `{theirs}`"))
            for statement in schema.mysql_ddl():
                conn.exec_driver_sql(statement)
        pushed = SQLAlchemyAdapter(server.set(database=theirs), layout="prisma")
        made = SQLAlchemyAdapter(server.set(database=ours), layout="prisma", create_tables=True)
    try:
        assert describe(made) == describe(pushed)
    finally:
        pushed.close()
        made.close()
        with engine.begin() as conn:
            for name in (theirs, ours):
                drop = (
                    f'DROP SCHEMA IF EXISTS "{name}" CASCADE'
                    if provider == "postgresql"
                    else f"DROP DATABASE `{name}`"
                )
                conn.execute(sa.text(drop))
        if provider == "mysql":
            engine.dispose()
