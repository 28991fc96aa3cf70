"""``SQLAlchemyAdapter``: every adapter method, in each layout (pg, Prisma, Drizzle) on SQLite,
PostgreSQL and MySQL/MariaDB.

PostgreSQL comes from ``AUTHGUARD_TEST_DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), MySQL/MariaDB from
``AUTHGUARD_TEST_MYSQL_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/test``). Each test run
works in a PostgreSQL schema and a MySQL database of its own (``authguard_test_<pid>_<random>``),
dropped at the end, so parallel runs never collide. When a server cannot be reached its tests are
skipped with the reason, except under ``CI=true``, where they fail: CI has both.

The helpers (:func:`require_postgres`, :func:`require_mysql`, the ``pg_engine`` and ``pg_schema``
fixtures) are in ``tests/support/adapters.py``, shared with the database and interop suites.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from sqlalchemy import exc as sa_exc  # noqa: E402
from support.adapters import (  # noqa: E402
    CLOSED_MYSQL_URL,
    CLOSED_PG_URL,
    SETUP_PARAMS,
    UTC,
    emptied_adapter,
    in_days,
    made_adapters,  # noqa: F401 - a fixture
    make_adapter,
    new_user,
    own_table_names,
    pg_engine,  # noqa: F401 - a fixture
    pg_schema,  # noqa: F401 - a fixture
    postgres_url,
)

from flask_authguard.adapters import Adapter  # noqa: E402
from flask_authguard.adapters.sqlalchemy import (  # noqa: E402
    DEFAULT_TABLE_NAMES,
    SQLAlchemyAdapter,
    create_engine,
)
from flask_authguard.core.errors import BackendUnavailableError, ConfigurationError  # noqa: E402

# --------------------------------------------------------------------------- PostgreSQL, or why not


ID_SHAPES = {
    "pg": r"[1-9][0-9]*",
    "prisma": r"c[0-9a-z]{24}",  # cuid()
    "drizzle": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",  # randomUUID()
}


@pytest.fixture(params=SETUP_PARAMS)
def adapter(request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    layout, database = request.param
    return emptied_adapter(request, layout, database)


def expiry(adapter: SQLAlchemyAdapter, days: float) -> dt.datetime:
    """An ``expires`` the adapter's table keeps exactly (Drizzle on MySQL: whole seconds)."""
    whole = adapter.layout.name == "drizzle" and adapter.engine.dialect.name == "mysql"
    return in_days(days, 0 if whole else 123)


def row_id(adapter: SQLAlchemyAdapter, record_id: str) -> t.Any:
    """A record's id as the table holds it."""
    return int(record_id) if adapter.layout.name == "pg" else record_id


# --------------------------------------------------------------------------- users


def test_is_an_adapter(adapter: SQLAlchemyAdapter) -> None:
    assert isinstance(adapter, Adapter)


def test_create_and_get_user(adapter: SQLAlchemyAdapter) -> None:
    verified = dt.datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    user = new_user(adapter, emailVerified=verified)
    assert re.fullmatch(ID_SHAPES[adapter.layout.name], user["id"]), user["id"]
    assert adapter.get_user(user["id"]) == {
        "id": user["id"],
        "name": "Ann",
        "email": "ann@example.com",
        "emailVerified": dt.datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC),
        "image": "https://img/ann.png",
    }
    assert adapter.get_user_by_email("ann@example.com") == adapter.get_user(user["id"])
    assert adapter.get_user(row_id(adapter, user["id"])) == adapter.get_user(user["id"])


@pytest.mark.parametrize("bad_id", ["999999", "abc", "", "-1", "1.5", "99999999999", None, True])
def test_get_user_unknown_or_impossible_id(adapter: SQLAlchemyAdapter, bad_id: t.Any) -> None:
    new_user(adapter)
    assert adapter.get_user(bad_id) is None


def test_get_user_by_email_is_exact(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    # MySQL's collations compare without case: the user the JavaScript adapters find there too.
    folded = user if adapter.engine.dialect.name == "mysql" else None
    assert adapter.get_user_by_email("ANN@example.com") == folded
    assert adapter.get_user_by_email("") is None
    assert adapter.get_user_by_email("nobody@example.com") is None


def test_users_without_email_may_be_many(adapter: SQLAlchemyAdapter) -> None:
    if adapter.layout.name == "prisma":  # Auth.js v5's schema: ``email String @unique``
        with pytest.raises(sa_exc.IntegrityError):
            new_user(adapter, email=None)
        return
    first, second = new_user(adapter, email=None), new_user(adapter, email=None)
    assert first["id"] != second["id"]


def test_duplicate_email_is_an_integrity_error(adapter: SQLAlchemyAdapter) -> None:
    new_user(adapter)
    with pytest.raises(sa_exc.IntegrityError):
        new_user(adapter)


def test_update_user(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    verified = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    updated = adapter.update_user({"id": user["id"], "name": "Ann B.", "emailVerified": verified})
    assert updated == {**user, "name": "Ann B.", "emailVerified": verified}
    assert adapter.get_user(user["id"]) == updated
    assert adapter.update_user({"id": user["id"]}) == updated  # nothing to change
    with pytest.raises(LookupError):
        adapter.update_user({"id": "999999", "name": "x"})
    with pytest.raises(LookupError):
        adapter.update_user({"name": "no id"})


def test_naive_datetimes_mean_utc(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter, emailVerified=dt.datetime(2024, 1, 1, 8, 30))
    assert adapter.get_user(user["id"])["emailVerified"] == dt.datetime(2024, 1, 1, 8, 30, tzinfo=UTC)  # type: ignore[index]


def test_delete_user_cascades(adapter: SQLAlchemyAdapter) -> None:
    user, other = new_user(adapter), new_user(adapter, email="bob@example.com")
    adapter.link_account(
        {"userId": user["id"], "type": "oauth", "provider": "github", "providerAccountId": "1"}
    )
    adapter.create_session({"sessionToken": "s-ann", "userId": user["id"], "expires": in_days(1)})
    adapter.create_session({"sessionToken": "s-bob", "userId": other["id"], "expires": in_days(1)})
    adapter.create_authenticator(
        {
            "credentialID": "AAAA",
            "userId": user["id"],
            "credentialPublicKey": "pk",
            "credentialDeviceType": "singleDevice",
            "credentialBackedUp": False,
        }
    )
    two_factor = {"secret": "v1.sealed", "last_step": None, "recovery_codes": []}
    adapter.save_two_factor(user["id"], two_factor, None)
    adapter.save_two_factor(other["id"], two_factor, None)
    assert adapter.delete_user(user["id"]) == user
    assert adapter.get_authenticator("AAAA") is None
    assert adapter.get_two_factor(user["id"]) is None
    assert adapter.get_two_factor(other["id"]) == two_factor
    assert adapter.get_user(user["id"]) is None
    assert adapter.get_session_and_user("s-ann") is None
    assert adapter.get_user_by_account({"provider": "github", "providerAccountId": "1"}) is None
    with adapter.engine.connect() as conn:
        sessions, accounts = adapter.tables.sessions, adapter.tables.accounts
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar() == 0
    assert adapter.get_session_and_user("s-bob") is not None
    assert adapter.delete_user(user["id"]) is None
    assert adapter.delete_user("nope") is None


def test_delete_user_without_the_passkey_and_second_factor_tables(adapter: SQLAlchemyAdapter) -> None:
    """Tables made by Prisma or drizzle-kit may lack ``Authenticator`` (next-auth v4's Prisma
    schema) and have no ``authguard_two_factor``: deleting a user still works."""
    user = new_user(adapter)
    dropped = (adapter.tables.authenticators, adapter.two_factor_table)
    with adapter.engine.begin() as conn:
        for table in dropped:
            table.drop(conn)
    try:
        assert adapter.delete_user(user["id"]) == user
        assert adapter.get_user(user["id"]) is None
    finally:
        with adapter.engine.begin() as conn:
            for table in dropped:
                table.create(conn)


def test_foreign_keys_cascade_in_the_database(adapter: SQLAlchemyAdapter) -> None:
    """A user deleted by something else than the adapter (a Next.js app) takes its rows along."""
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "s", "userId": user["id"], "expires": in_days(1)})
    adapter.link_account({"userId": user["id"], "type": "oauth", "provider": "x", "providerAccountId": "1"})
    users = adapter.tables.users
    with adapter.engine.begin() as conn:
        conn.execute(sa.delete(users).where(users.c.id == row_id(adapter, user["id"])))
    with adapter.engine.connect() as conn:
        for table in (adapter.tables.sessions, adapter.tables.accounts):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


# --------------------------------------------------------------------------- accounts


def test_link_get_unlink_account(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    late = 2**40 if adapter.layout.name == "pg" else 2**31 - 1  # BIGINT, or Prisma's and Drizzle's INTEGER
    account = {
        "userId": user["id"],
        "type": "oauth",
        "provider": "github",
        "providerAccountId": "4242",
        "access_token": "gho_x",
        "expires_at": late,
        "token_type": "bearer",
        "scope": "read:user",
    }
    linked = adapter.link_account(account)
    assert linked["userId"] == user["id"] and linked["expires_at"] == late and linked["refresh_token"] is None
    key = {"provider": "github", "providerAccountId": "4242"}
    assert adapter.get_user_by_account(key) == user
    assert adapter.get_user_by_account({"provider": "gitlab", "providerAccountId": "4242"}) is None
    assert adapter.get_user_by_account({"provider": "github"}) is None
    with pytest.raises(sa_exc.IntegrityError):
        adapter.link_account(account)
    removed = adapter.unlink_account(key)
    assert removed is not None and removed["access_token"] == "gho_x" and removed["expires_at"] == late
    assert adapter.unlink_account(key) is None
    assert adapter.get_user_by_account(key) is None


def test_link_account_needs_a_user(adapter: SQLAlchemyAdapter) -> None:
    with pytest.raises(sa_exc.IntegrityError):
        adapter.link_account({"userId": "424242", "type": "oauth", "provider": "x", "providerAccountId": "1"})
    impossible = "abc" if adapter.layout.name == "pg" else ""
    with pytest.raises(ValueError):
        adapter.link_account({"userId": impossible, "type": "o", "provider": "x", "providerAccountId": "1"})


# --------------------------------------------------------------------------- sessions


def test_session_lifecycle(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    expires = expiry(adapter, 30)
    created = adapter.create_session({"sessionToken": "tok-1", "userId": user["id"], "expires": expires})
    assert created == {"sessionToken": "tok-1", "userId": user["id"], "expires": expires}
    assert adapter.get_session_and_user("tok-1") == {"session": created, "user": user}
    later = expiry(adapter, 31)
    assert adapter.update_session({"sessionToken": "tok-1", "expires": later}) == {
        **created,
        "expires": later,
    }
    assert adapter.get_session_and_user("tok-1")["session"]["expires"] == later  # type: ignore[index]
    assert adapter.delete_session("tok-1") == {**created, "expires": later}
    assert adapter.get_session_and_user("tok-1") is None
    assert adapter.delete_session("tok-1") is None
    assert adapter.update_session({"sessionToken": "tok-1", "expires": later}) is None


@pytest.mark.parametrize("token", ["", "x" * 256, None, 42])
def test_impossible_session_tokens_find_nothing(adapter: SQLAlchemyAdapter, token: t.Any) -> None:
    assert adapter.get_session_and_user(token) is None
    assert adapter.delete_session(token) is None
    assert adapter.update_session({"sessionToken": token, "expires": in_days(1)}) is None


@pytest.mark.parametrize("text", ["a\x00b", "\udcff", "x" * 300], ids=["nul", "surrogate", "too-long"])
def test_lookups_with_impossible_text_find_nothing(adapter: SQLAlchemyAdapter, text: str) -> None:
    assert adapter.get_session_and_user(text) is None
    assert adapter.delete_session(text) is None
    assert adapter.get_user_by_email(text) is None
    assert adapter.get_user_by_account({"provider": text, "providerAccountId": "1"}) is None
    assert adapter.unlink_account({"provider": "p", "providerAccountId": text}) is None
    assert adapter.use_verification_token({"identifier": text, "token": "t"}) is None


def test_create_session_checks_its_input(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    with pytest.raises(ValueError):
        adapter.create_session({"sessionToken": "x" * 256, "userId": user["id"], "expires": in_days(1)})
    with pytest.raises(TypeError):
        adapter.create_session({"sessionToken": "t", "userId": user["id"], "expires": "tomorrow"})
    with pytest.raises(sa_exc.IntegrityError):
        adapter.create_session({"sessionToken": "t", "userId": "424242", "expires": in_days(1)})
    adapter.create_session({"sessionToken": "t", "userId": user["id"], "expires": in_days(1)})
    with pytest.raises(sa_exc.IntegrityError):
        adapter.create_session({"sessionToken": "t", "userId": user["id"], "expires": in_days(1)})


def test_session_tokens_are_case_sensitive(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "AbC", "userId": user["id"], "expires": in_days(1)})
    assert adapter.get_session_and_user("abc") is None
    assert adapter.get_session_and_user("AbC") is not None


def test_concurrent_refreshes_never_corrupt_a_session(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "shared", "userId": user["id"], "expires": expiry(adapter, 1)})
    written = {expiry(adapter, 2 + i / 1000) for i in range(64)}
    choices = sorted(written)
    errors: list[BaseException] = []
    seen: list[t.Any] = []
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        try:
            start.wait()
            for i in range(8):
                expires = choices[(offset * 8 + i) % len(choices)]
                assert adapter.update_session({"sessionToken": "shared", "expires": expires}) is not None
                seen.append(adapter.get_session_and_user("shared"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(found is not None and found["session"]["expires"] in written for found in seen)
    final = adapter.get_session_and_user("shared")
    assert final is not None and final["session"]["expires"] in written and final["user"] == user
    with adapter.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(adapter.tables.sessions)).scalar() == 1


def test_list_user_sessions(adapter: SQLAlchemyAdapter) -> None:
    user, other = new_user(adapter), new_user(adapter, email="bob@example.com")
    soon = expiry(adapter, 1)
    adapter.create_session({"sessionToken": "s-1", "userId": user["id"], "expires": soon})
    adapter.create_session({"sessionToken": "s-2", "userId": user["id"], "expires": expiry(adapter, -1)})
    adapter.create_session({"sessionToken": "s-3", "userId": other["id"], "expires": expiry(adapter, 2)})
    listed = adapter.list_user_sessions(user["id"])
    assert [s["sessionToken"] for s in listed] == ["s-1", "s-2"]  # latest expiry first, expired too
    assert listed[0] == {"sessionToken": "s-1", "userId": user["id"], "expires": soon}
    for bad in ("", "a\x00b", "x" * 256, "999"):
        assert adapter.list_user_sessions(bad) == []


def test_update_never_revives_a_deleted_session(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "gone", "userId": user["id"], "expires": in_days(1)})
    adapter.delete_session("gone")
    assert adapter.update_session({"sessionToken": "gone", "expires": in_days(30)}) is None
    assert adapter.get_session_and_user("gone") is None


# --------------------------------------------------------------------------- verification tokens


def test_verification_token_is_used_once(adapter: SQLAlchemyAdapter) -> None:
    record = {"identifier": "ann@example.com", "token": "hashed-token", "expires": expiry(adapter, 1)}
    assert adapter.create_verification_token(record) == record
    with pytest.raises(sa_exc.IntegrityError):
        adapter.create_verification_token(record)
    assert adapter.use_verification_token({"identifier": "bob@example.com", "token": "hashed-token"}) is None
    assert (
        adapter.use_verification_token({"identifier": "ann@example.com", "token": "hashed-token"}) == record
    )
    assert adapter.use_verification_token({"identifier": "ann@example.com", "token": "hashed-token"}) is None


def test_verification_token_concurrent_use_gives_it_once(adapter: SQLAlchemyAdapter) -> None:
    adapter.create_verification_token({"identifier": "i", "token": "t", "expires": in_days(1)})
    results: list[t.Any] = []
    start = threading.Barrier(6)

    def worker() -> None:
        start.wait()
        results.append(adapter.use_verification_token({"identifier": "i", "token": "t"}))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert sum(r is not None for r in results) == 1


# --------------------------------------------------------------------------- schema and set-up


def test_table_names(request: pytest.FixtureRequest) -> None:
    names = {"users": "auth_people", "sessions": "auth_sessions"}
    adapter = SQLAlchemyAdapter("sqlite://", table_names=names, create_tables=True)
    request.addfinalizer(adapter.close)
    assert set(sa.inspect(adapter.engine).get_table_names()) == {
        "auth_people",
        "auth_sessions",
        "accounts",
        "verification_token",
        "authguard_two_factor",  # ours beside them, whatever they are called
        "authenticators",
    }
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "t", "userId": user["id"], "expires": in_days(1)})
    assert adapter.get_session_and_user("t") is not None


@pytest.mark.parametrize(
    "names",
    [
        pytest.param({"people": "x"}, id="unknown-role"),
        pytest.param({"users": ""}, id="empty-name"),
        pytest.param({"users": "same", "sessions": "same"}, id="duplicate-name"),
    ],
)
def test_bad_table_names(names: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        SQLAlchemyAdapter("sqlite://", table_names=names)


def test_create_tables_is_idempotent(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    adapter.create_tables()
    assert adapter.get_user(user["id"]) == user


def test_sqlite_file(tmp_path: t.Any) -> None:
    path = tmp_path / "auth.sqlite3"
    first = SQLAlchemyAdapter(str(path), create_tables=True)
    user = new_user(first)
    first.create_session({"sessionToken": "t", "userId": user["id"], "expires": in_days(1)})
    first.close()
    second = SQLAlchemyAdapter(f"sqlite:///{path}")
    try:
        assert second.get_session_and_user("t") is not None
        with second.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        second.close()


def test_in_memory_sqlite_is_shared_between_threads(request: pytest.FixtureRequest) -> None:
    adapter = SQLAlchemyAdapter(":memory:", create_tables=True)
    request.addfinalizer(adapter.close)
    user = new_user(adapter)
    found: list[t.Any] = []
    thread = threading.Thread(target=lambda: found.append(adapter.get_user(user["id"])))
    thread.start()
    thread.join()
    assert found == [user]


def test_an_engine_passed_in_stays_open() -> None:
    engine = create_engine("sqlite://")
    adapter = SQLAlchemyAdapter(engine, create_tables=True)
    new_user(adapter)
    adapter.close()
    assert adapter.get_user_by_email("ann@example.com") is not None  # StaticPool: same database


@pytest.mark.parametrize(
    "value",
    [pytest.param("nosuchdialect://x/y", id="unknown-dialect"), pytest.param(42, id="not-a-url")],
)
def test_bad_urls(value: t.Any) -> None:
    with pytest.raises(ConfigurationError):
        SQLAlchemyAdapter(value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_use_psycopg(scheme: str) -> None:
    engine = create_engine(f"{scheme}://user:pw@127.0.0.1:1/db")
    assert engine.url.drivername == "postgresql+psycopg"
    assert "pw" not in repr(SQLAlchemyAdapter(engine))


@pytest.mark.parametrize(("scheme", "driver"), [("mysql", "mysql+pymysql"), ("mariadb", "mariadb+pymysql")])
def test_mysql_urls_use_pymysql(scheme: str, driver: str) -> None:
    engine = create_engine(f"{scheme}://user:pw@127.0.0.1:1/db")
    assert engine.url.drivername == driver
    assert "pw" not in repr(SQLAlchemyAdapter(engine))


def test_postgres_schema_matches_auth_js(pg_engine: sa.engine.Engine, pg_schema: str) -> None:
    """The tables are those of ``@auth/pg-adapter``'s ``schema.sql``, column for column."""
    pg_schema += "_pg"  # a schema with these tables only
    adapter = SQLAlchemyAdapter(pg_engine, schema=pg_schema, create_tables=True)
    try:
        columns = sa.text(
            "select table_name, column_name, data_type, character_maximum_length, is_nullable, "
            "column_default from information_schema.columns where table_schema = :s "
            "order by table_name, ordinal_position"
        )
        constraints = sa.text(
            "select conrelid::regclass::text, contype, pg_get_constraintdef(oid) from pg_constraint "
            "where connamespace = cast(:s as regnamespace) order by 1, 2, 3"
        )
        with pg_engine.connect() as conn:
            got = [tuple(r) for r in conn.execute(columns, {"s": pg_schema})]
            cons = [
                (r[0].split(".")[-1], r[1], r[2].replace(f"{pg_schema}.", ""))
                for r in conn.execute(constraints, {"s": pg_schema})
            ]
    finally:
        adapter.drop_tables()
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{pg_schema}"'))
    # our own table beside them (tests/adapters/test_two_factor_rows.py)
    got = [row for row in got if row[0] != "authguard_two_factor"]
    cons = [row for row in cons if row[0] != "authguard_two_factor"]
    serial = {
        table: f"nextval('{pg_schema}.{table}_id_seq'::regclass)"
        for table in ("users", "accounts", "sessions")
    }
    assert got == [
        ("accounts", "id", "integer", None, "NO", serial["accounts"]),
        ("accounts", "userId", "integer", None, "NO", None),
        ("accounts", "type", "character varying", 255, "NO", None),
        ("accounts", "provider", "character varying", 255, "NO", None),
        ("accounts", "providerAccountId", "character varying", 255, "NO", None),
        ("accounts", "refresh_token", "text", None, "YES", None),
        ("accounts", "access_token", "text", None, "YES", None),
        ("accounts", "expires_at", "bigint", None, "YES", None),
        ("accounts", "id_token", "text", None, "YES", None),
        ("accounts", "scope", "text", None, "YES", None),
        ("accounts", "session_state", "text", None, "YES", None),
        ("accounts", "token_type", "text", None, "YES", None),
        # passkeys: Auth.js's Authenticator table, in this layout's naming (pg-adapter has none)
        ("authenticators", "credentialID", "character varying", 255, "NO", None),
        ("authenticators", "userId", "integer", None, "NO", None),
        ("authenticators", "providerAccountId", "character varying", 255, "NO", None),
        ("authenticators", "credentialPublicKey", "text", None, "NO", None),
        ("authenticators", "counter", "bigint", None, "NO", None),
        ("authenticators", "credentialDeviceType", "character varying", 32, "NO", None),
        ("authenticators", "credentialBackedUp", "boolean", None, "NO", None),
        ("authenticators", "transports", "character varying", 255, "YES", None),
        ("sessions", "id", "integer", None, "NO", serial["sessions"]),
        ("sessions", "userId", "integer", None, "NO", None),
        ("sessions", "expires", "timestamp with time zone", None, "NO", None),
        ("sessions", "sessionToken", "character varying", 255, "NO", None),
        ("users", "id", "integer", None, "NO", serial["users"]),
        ("users", "name", "character varying", 255, "YES", None),
        ("users", "email", "character varying", 255, "YES", None),
        ("users", "emailVerified", "timestamp with time zone", None, "YES", None),
        ("users", "image", "text", None, "YES", None),
        ("verification_token", "identifier", "text", None, "NO", None),
        ("verification_token", "expires", "timestamp with time zone", None, "NO", None),
        ("verification_token", "token", "text", None, "NO", None),
    ]
    assert cons == [
        ("accounts", "f", 'FOREIGN KEY ("userId") REFERENCES users(id) ON DELETE CASCADE'),
        ("accounts", "p", "PRIMARY KEY (id)"),
        ("accounts", "u", 'UNIQUE (provider, "providerAccountId")'),
        ("authenticators", "f", 'FOREIGN KEY ("userId") REFERENCES users(id) ON DELETE CASCADE'),
        ("authenticators", "p", 'PRIMARY KEY ("userId", "credentialID")'),
        ("authenticators", "u", 'UNIQUE ("credentialID")'),
        ("sessions", "f", 'FOREIGN KEY ("userId") REFERENCES users(id) ON DELETE CASCADE'),
        ("sessions", "p", "PRIMARY KEY (id)"),
        ("sessions", "u", 'UNIQUE ("sessionToken")'),
        ("users", "p", "PRIMARY KEY (id)"),
        ("users", "u", "UNIQUE (email)"),
        ("verification_token", "p", "PRIMARY KEY (identifier, token)"),
    ]


# --------------------------------------------------------------------------- a database that fails


def _every_call(adapter: SQLAlchemyAdapter) -> list[tuple[str, t.Callable[[], t.Any]]]:
    expires = in_days(1)
    return [
        ("create_user", lambda: adapter.create_user({"name": "n", "email": "e"})),
        ("get_user", lambda: adapter.get_user("1")),
        ("get_user_by_email", lambda: adapter.get_user_by_email("e")),
        (
            "get_user_by_account",
            lambda: adapter.get_user_by_account({"provider": "p", "providerAccountId": "1"}),
        ),
        ("update_user", lambda: adapter.update_user({"id": "1", "name": "n"})),
        ("delete_user", lambda: adapter.delete_user("1")),
        (
            "link_account",
            lambda: adapter.link_account(
                {"userId": "1", "type": "o", "provider": "p", "providerAccountId": "1"}
            ),
        ),
        ("unlink_account", lambda: adapter.unlink_account({"provider": "p", "providerAccountId": "1"})),
        (
            "create_session",
            lambda: adapter.create_session({"sessionToken": "secret-tok", "userId": "1", "expires": expires}),
        ),
        ("get_session_and_user", lambda: adapter.get_session_and_user("secret-tok")),
        (
            "update_session",
            lambda: adapter.update_session({"sessionToken": "secret-tok", "expires": expires}),
        ),
        ("delete_session", lambda: adapter.delete_session("secret-tok")),
        (
            "create_verification_token",
            lambda: adapter.create_verification_token(
                {"identifier": "i", "token": "secret-tok", "expires": expires}
            ),
        ),
        (
            "use_verification_token",
            lambda: adapter.use_verification_token({"identifier": "i", "token": "secret-tok"}),
        ),
        (
            "create_authenticator",
            lambda: adapter.create_authenticator(
                {
                    "credentialID": "AAAA",
                    "userId": "1",
                    "credentialPublicKey": "pk",
                    "credentialDeviceType": "singleDevice",
                    "credentialBackedUp": False,
                }
            ),
        ),
        ("get_authenticator", lambda: adapter.get_authenticator("AAAA")),
        ("list_authenticators_by_user_id", lambda: adapter.list_authenticators_by_user_id("1")),
        ("update_authenticator_counter", lambda: adapter.update_authenticator_counter("AAAA", 1)),
        ("delete_authenticator", lambda: adapter.delete_authenticator("AAAA")),
        ("list_user_sessions", lambda: adapter.list_user_sessions("1")),
        ("get_user_account", lambda: adapter.get_user_account("1", "p")),
        ("update_account", lambda: adapter.update_account({"provider": "p", "providerAccountId": "1"})),
        ("get_two_factor", lambda: adapter.get_two_factor("1")),
        (
            "save_two_factor",
            lambda: adapter.save_two_factor("1", None, {"secret": "s", "recovery_codes": []}),
        ),
        ("create_tables", adapter.create_tables),
    ]


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(CLOSED_PG_URL, id="postgresql-closed-port"),
        pytest.param(CLOSED_MYSQL_URL, id="mysql-closed-port"),
        pytest.param("sqlite:////nonexistent-dir-authguard/auth.db", id="sqlite-unopenable-file"),
    ],
)
def test_unreachable_database_raises_backend_unavailable(url: str) -> None:
    adapter = SQLAlchemyAdapter(url)
    try:
        for name, call in _every_call(adapter):
            with pytest.raises(BackendUnavailableError) as info:
                call()
            message = str(info.value)
            assert message.startswith(name + " failed"), message
            assert "secret-tok" not in message
    finally:
        adapter.close()


def test_missing_tables_raise_backend_unavailable(request: pytest.FixtureRequest) -> None:
    adapter = SQLAlchemyAdapter("sqlite://")  # tables never created
    request.addfinalizer(adapter.close)
    with pytest.raises(BackendUnavailableError, match="get_session_and_user failed"):
        adapter.get_session_and_user("tok")


def test_create_tables_at_start_fails_clearly() -> None:
    with pytest.raises(BackendUnavailableError, match="create_tables failed"):
        SQLAlchemyAdapter(CLOSED_PG_URL, create_tables=True)


# --------------------------------------------------------------------------- the read path


def test_reads_run_outside_a_transaction(request: pytest.FixtureRequest) -> None:
    """A single read is one statement in autocommit: no BEGIN before it, no COMMIT after, and
    an idle connection back to the pool (psycopg sends no ROLLBACK for it). Writes keep their
    transaction."""
    import psycopg

    idle, in_transaction = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS
    adapter = make_adapter("postgresql", request)
    twin = SQLAlchemyAdapter(
        postgres_url(),
        schema=adapter.metadata.schema,
        table_names=adapter.tables.names(),
    )
    request.addfinalizer(twin.close)
    user = new_user(twin)
    during: list[t.Any] = []
    at_reset: list[t.Any] = []

    def after_execute(conn: t.Any, *args: t.Any) -> None:
        during.append(conn.connection.dbapi_connection.info.transaction_status)

    def on_reset(dbapi_connection: t.Any, *args: t.Any) -> None:
        at_reset.append(dbapi_connection.info.transaction_status)

    sa.event.listen(twin.engine, "after_cursor_execute", after_execute)
    sa.event.listen(twin.engine, "reset", on_reset)
    twin.create_session({"sessionToken": "tok", "userId": user["id"], "expires": in_days(1)})
    assert during == [in_transaction] and at_reset == [idle]
    during.clear()
    at_reset.clear()
    assert twin.get_session_and_user("tok") is not None
    assert twin.get_user(user["id"]) == user
    assert twin.get_user_by_email("ann@example.com") == user
    assert twin.get_user_by_account({"provider": "p", "providerAccountId": "1"}) is None
    assert during == [idle] * 4 and at_reset == [idle] * 4


def test_a_read_after_the_server_dropped_the_connection_succeeds(
    pg_engine: sa.engine.Engine, pg_schema: str
) -> None:
    """No connection is pinged before use: a dropped one fails the read, which is tried once more."""
    names = own_table_names(DEFAULT_TABLE_NAMES)
    adapter = SQLAlchemyAdapter(postgres_url(), schema=pg_schema, table_names=names, create_tables=True)
    try:
        user = new_user(adapter)
        adapter.create_session({"sessionToken": "tok-restart", "userId": user["id"], "expires": in_days(1)})
        assert adapter.get_session_and_user("tok-restart") is not None
        with adapter.engine.connect() as conn:  # the pool's connection, as the next read gets it
            pids = {conn.execute(sa.text("select pg_backend_pid()")).scalar_one()}
        assert adapter.get_user(user["id"]) is not None
        with pg_engine.begin() as conn:
            for pid in pids:
                conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
        found = adapter.get_session_and_user("tok-restart")
        assert found is not None and found["user"]["id"] == user["id"]
        assert adapter.get_user(user["id"]) is not None
    finally:
        adapter.drop_tables()
        adapter.close()


#: A stored ``expires`` with no Python form, by database, and how the server is told to take it.
ODD_EXPIRES = {
    "postgresql": ("'infinity'", None),
    "mysql": ("'0000-00-00 00:00:00'", "SET SESSION sql_mode = ''"),  # MariaDB's zero date
}


@pytest.mark.parametrize("kind", sorted(ODD_EXPIRES))
@pytest.mark.parametrize("layout", ["pg", "prisma"])
def test_a_session_row_whose_expires_cannot_be_read_is_no_session(
    kind: str, layout: str, request: pytest.FixtureRequest
) -> None:
    """Such a row is the row's fault, not the database's: no session (not a 503 on every page of
    that browser), and signing out still deletes it."""
    from support.database_app import COOKIE, make_app

    adapter = make_adapter(kind, request, layout=layout)
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "tok-odd", "userId": user["id"], "expires": in_days(1)})
    adapter.create_session({"sessionToken": "tok-fine", "userId": user["id"], "expires": in_days(1)})
    value, mode = ODD_EXPIRES[kind]
    sessions = adapter.tables.sessions
    table = sessions.name if kind == "mysql" else f'"{sessions.schema}"."{sessions.name}"'
    token = "`sessionToken`" if kind == "mysql" else '"sessionToken"'
    with adapter.engine.begin() as conn:
        if mode:
            conn.exec_driver_sql(mode)
        conn.exec_driver_sql(f"UPDATE {table} SET expires = {value} WHERE {token} = 'tok-odd'")
    assert adapter.get_session_and_user("tok-odd") is None
    assert adapter.get_session_and_user("tok-fine") is not None  # the others read as before

    client = make_app(adapter).test_client()
    client.set_cookie(COOKIE, "tok-odd")
    assert client.get("/dashboard").status_code == 307  # to sign in, not 503
    assert client.get("/api/auth/session").get_json() == {}
    client.set_cookie(COOKIE, "tok-odd")
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    assert client.post("/api/auth/signout", data={"csrfToken": csrf}).status_code == 302
    with adapter.engine.connect() as conn:
        left = conn.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE {token} = 'tok-odd'").scalar()
    assert left == 0  # deleted, although its expires could not be read
    deleted = adapter.delete_session("tok-fine")
    assert deleted is not None and deleted["expires"] is not None


def test_a_collation_match_is_no_match(request: pytest.FixtureRequest) -> None:
    """MySQL/MariaDB's usual utf8mb4 collations compare without case, accents or trailing spaces.
    The adapter keeps only what the caller asked for: a look-alike address (``exämple.com``)
    finds no user and uses up no sign-in link, and an account key matches exactly. Only the case
    of an email address is folded, as Auth.js's adapters find it there."""
    adapter = make_adapter("mysql", request)
    with adapter.engine.begin() as conn:
        for table in (adapter.tables.users, adapter.tables.accounts, adapter.tables.verification_token):
            conn.exec_driver_sql(
                f"ALTER TABLE `{table.name}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            )
    user = new_user(adapter, email="joe@example.com")
    assert adapter.get_user_by_email("JOE@example.com") == adapter.get_user(user["id"])
    for look_alike in ("joe@exämple.com", "joe@example.com "):
        assert adapter.get_user_by_email(look_alike) is None
    adapter.link_account(
        {"userId": user["id"], "type": "oauth", "provider": "acme", "providerAccountId": "abc"}
    )
    assert adapter.get_user_by_account({"provider": "acme", "providerAccountId": "abc"}) is not None
    assert adapter.get_user_by_account({"provider": "acme", "providerAccountId": "ABC"}) is None
    assert adapter.get_user_by_account({"provider": "Acme", "providerAccountId": "abc"}) is None
    token = {"identifier": "joe@exämple.com", "token": "hashed-token", "expires": in_days(1)}
    adapter.create_verification_token(token)
    assert adapter.use_verification_token({"identifier": "joe@example.com", "token": "hashed-token"}) is None
    assert adapter.use_verification_token({"identifier": "joe@exämple.com", "token": "HASHED-TOKEN"}) is None
    used = adapter.use_verification_token({"identifier": "joe@exämple.com", "token": "hashed-token"})
    assert used is not None and used["identifier"] == "joe@exämple.com"  # still there for its own address
