"""One database, two apps: ``@auth/drizzle-adapter`` (drizzle-orm on node-postgres, mysql2 and
better-sqlite3) under Node.js and ``SQLAlchemyAdapter(layout="drizzle")``, each reading and changing
what the other wrote, on PostgreSQL, MySQL/MariaDB and SQLite.

Each database runs twice: on the tables drizzle-kit generates for the adapter's default schema
(``drizzle-kit generate``'s statements, from ``drizzle-kit/api``), and on the tables our
``create_tables=True`` makes, which must be the same. The packages are pinned in
``tests/node_drizzle``. Without Node.js/npm, PostgreSQL or MySQL the tests are skipped with the
reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import secrets
import sqlite3
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
    install,
    passkeys_both_ways,
    refreshed_tokens_both_ways,
    run,
    soon,
    unique,
)
from support.nodejs import NodeUnavailable  # noqa: E402

from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter, create_engine  # noqa: E402

UTC = dt.timezone.utc
DIALECTS = ("postgresql", "mysql", "sqlite")


@pytest.fixture(scope="module")
def where() -> pathlib.Path:
    try:
        return install("drizzle")
    except NodeUnavailable as exc:
        missing(f"Drizzle interop needs Node.js and npm: {exc}")


@pytest.fixture(scope="module")
def drizzle_kit_ddl(where: pathlib.Path) -> dict[str, list[str]]:
    """drizzle-kit's statements for the default tables, by dialect."""
    answers = run(where, [{"op": "ddl", "dialect": dialect} for dialect in DIALECTS])
    return dict(zip(DIALECTS, answers, strict=True))


class Shared:
    """Our adapter and Drizzle's on the same tables."""

    def __init__(
        self, where: pathlib.Path, dialect: str, url: str, db_schema: str | None, adapter: SQLAlchemyAdapter
    ) -> None:
        self.where, self.dialect, self.url, self.db_schema, self.adapter = (
            where,
            dialect,
            url,
            db_schema,
            adapter,
        )

    def js(self, *calls: tuple[str, list[t.Any]]) -> list[t.Any]:
        """``DrizzleAdapter(db)[method](*args)`` for each call, in one Node.js process."""
        request = {
            "op": "calls",
            "dialect": self.dialect,
            "url": self.url,
            "dbSchema": self.db_schema,
            "calls": [{"method": method, "args": args} for method, args in calls],
        }
        return t.cast(list[t.Any], run(self.where, [request])[0])


@contextlib.contextmanager
def tables(
    where: pathlib.Path, dialect: str, ddl: list[str] | None, scratch: pathlib.Path
) -> t.Iterator[Shared]:
    """A schema (PostgreSQL), database (MySQL) or file (SQLite) of its own with the default tables,
    made by drizzle-kit's ``ddl`` or, when ``None``, by our ``create_tables``; dropped afterwards."""
    ours = ddl is None
    name = f"authguard_drizzle_{os.getpid()}_{secrets.token_hex(4)}"
    if dialect == "postgresql":
        engine = require_postgres()
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{name}"')
            for statement in ddl or []:  # its foreign keys name the schema: ours instead of public
                conn.exec_driver_sql(statement.replace('"public".', f'"{name}".'))
        url = sa.engine.make_url(postgres_url()).set(drivername="postgresql").render_as_string(False)
        adapter = SQLAlchemyAdapter(postgres_url(), layout="drizzle", schema=name, create_tables=ours)
        both = Shared(where, dialect, url, name, adapter)
    elif dialect == "mysql":
        require_mysql()
        server = mysql_database_url()
        engine = create_engine(server)  # its own: its connection switches database
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
            conn.execute(sa.text(f"USE `{name}`"))
            for statement in ddl or []:
                conn.exec_driver_sql(statement)
        adapter = SQLAlchemyAdapter(server.set(database=name), layout="drizzle", create_tables=ours)
        both = Shared(where, dialect, server.set(database=name).render_as_string(False), None, adapter)
    else:
        path = scratch / f"{name}.sqlite3"
        with contextlib.closing(sqlite3.connect(path)) as file:
            for statement in ddl or []:
                file.execute(statement)
            file.commit()
        adapter = SQLAlchemyAdapter(str(path), layout="drizzle", create_tables=ours)
        both = Shared(where, dialect, str(path), None, adapter)
    try:
        yield both
    finally:
        adapter.close()
        if dialect == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        elif dialect == "mysql":
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE `{name}`"))
            engine.dispose()


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((dialect, made_by), id=f"{dialect}-{made_by}")
        for dialect in DIALECTS
        for made_by in ("drizzle-kit", "ours")
    ],
)
def shared(
    request: pytest.FixtureRequest,
    where: pathlib.Path,
    drizzle_kit_ddl: dict[str, list[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Iterator[Shared]:
    dialect, made_by = request.param
    ddl = None if made_by == "ours" else drizzle_kit_ddl[dialect]
    with tables(where, dialect, ddl, tmp_path_factory.mktemp("drizzle")) as both:
        yield both


def expiry(shared: Shared, days: float) -> dt.datetime:
    """An ``expires`` the table keeps exactly: MySQL's ``session.expires`` is whole seconds."""
    moment = soon(days)
    return moment.replace(microsecond=0) if shared.dialect == "mysql" else moment


def test_rows_drizzle_wrote_are_ours_too(shared: Shared) -> None:
    email, expires, verified = unique("nora"), expiry(shared, 30), soon(-2)
    token, other = f"js-{secrets.token_hex(8)}", f"js-{secrets.token_hex(8)}"
    user_id = {"$ref": [0, "id"]}
    [user, _, session, _, vt] = shared.js(
        ("createUser", [{"name": "Nora", "email": email, "emailVerified": verified, "image": "n.png"}]),
        (
            "linkAccount",
            [
                {
                    "userId": user_id,
                    "type": "oauth",
                    "provider": "github",
                    "providerAccountId": "gh-" + email,
                    "access_token": "gho_x",
                    "expires_at": 2_000_000_000,
                    "token_type": "bearer",
                }
            ],
        ),
        ("createSession", [{"sessionToken": token, "userId": user_id, "expires": expires}]),
        ("createSession", [{"sessionToken": other, "userId": user_id, "expires": expires}]),
        ("createVerificationToken", [{"identifier": email, "token": "hashed", "expires": expires}]),
    )
    assert session["sessionToken"] == token and vt["token"] == "hashed"
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
    later = expiry(shared, 31)
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


def test_rows_we_wrote_are_drizzles_too(shared: Shared) -> None:
    adapter = shared.adapter
    email, expires, verified = unique("pia"), expiry(shared, 30), soon(-1)
    user = adapter.create_user({"name": "Pia", "email": email, "emailVerified": verified, "image": None})
    leaving = adapter.create_user(
        {"name": "Leo", "email": unique("leo"), "emailVerified": None, "image": None}
    )
    account = {"provider": "google", "providerAccountId": "g-" + email}
    adapter.link_account({"userId": user["id"], "type": "oidc", **account, "expires_at": 1_900_000_000})
    adapter.link_account(
        {"userId": leaving["id"], "type": "oidc", "provider": "google", "providerAccountId": "leo"}
    )
    token, leaver = f"py-{secrets.token_hex(8)}", f"py-{secrets.token_hex(8)}"
    adapter.create_session({"sessionToken": token, "userId": user["id"], "expires": expires})
    adapter.create_session({"sessionToken": leaver, "userId": leaving["id"], "expires": expires})
    adapter.create_verification_token({"identifier": email, "token": "hashed-py", "expires": expires})

    later = expiry(shared, 40)
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
    assert found == {
        "session": {"sessionToken": token, "userId": user["id"], "expires": expires},
        "user": expected,
    }
    assert got == expected and by_email == expected and by_account == expected
    assert used == {"identifier": email, "token": "hashed-py", "expires": expires}
    assert updated["expires"] == later
    assert adapter.get_session_and_user(token)["session"]["expires"] == later  # type: ignore[index]
    assert adapter.get_user(leaving["id"]) is None and adapter.get_session_and_user(leaver) is None
    assert adapter.get_user_by_account({"provider": "google", "providerAccountId": "leo"}) is None


def test_passkeys_both_ways(shared: Shared) -> None:
    """Auth.js's passkeys are ours and ours are Auth.js's: created, listed, counted, by either."""
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
        if shared.dialect == "postgresql":
            url = url.update_query_dict({"options": "-c TimeZone=America/St_Johns"})  # -03:30
        elif shared.dialect == "mysql":
            url = url.update_query_dict({"init_command": "SET time_zone = '+09:00'"})
        zoned = SQLAlchemyAdapter(url, layout="drizzle", schema=shared.adapter.metadata.schema)
        try:
            expires, email = expiry(shared, 3), unique("zoe")
            user = zoned.create_user(
                {"name": "Zoe", "email": email, "emailVerified": soon(-1), "image": None}
            )
            zoned.create_session({"sessionToken": "tz-" + email, "userId": user["id"], "expires": expires})
            [found] = shared.js(("getSessionAndUser", ["tz-" + email]))
            assert found["session"]["expires"] == expires
            assert found["user"]["emailVerified"] == zoned.get_user(user["id"])["emailVerified"]  # type: ignore[index]
        finally:
            zoned.close()
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_our_tables_are_drizzle_kits(
    dialect: str, where: pathlib.Path, drizzle_kit_ddl: dict[str, list[str]], tmp_path: pathlib.Path
) -> None:
    """Column for column (names, types, nullability, keys), the tables ``create_tables`` makes are
    those drizzle-kit generates."""
    with tables(where, dialect, drizzle_kit_ddl[dialect], tmp_path) as theirs:
        with tables(where, dialect, None, tmp_path) as ours:
            assert describe(ours.adapter) == describe(theirs.adapter)
