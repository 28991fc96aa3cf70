"""SQLAlchemyAdapter on SQLite, PostgreSQL and MySQL/MariaDB: the engines, schemas and records the
adapter suites (``tests/adapters/``) and the database suites share.

PostgreSQL: ``AUTHGUARD_TEST_DATABASE_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
a schema of the run's own. MySQL/MariaDB: ``AUTHGUARD_TEST_MYSQL_URL`` (default
``mysql+pymysql://root@127.0.0.1:3306/test``), a database of the run's own (created through that
URL's server, dropped at the end). Without them their tests are skipped with the reason, except
under ``CI=true``, where they fail.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import secrets
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from flask_authguard.adapters.layouts import layout_named  # noqa: E402
from flask_authguard.adapters.sqlalchemy import (  # noqa: E402
    SQLAlchemyAdapter,
    create_engine,
)
from support import missing  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
#: Nothing listens there: every connection is refused at once.
CLOSED_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:1/test"
#: Nothing listens there: every connection is refused at once.
CLOSED_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test"
UTC = dt.timezone.utc
#: (layout, database) pairs the adapter suites run on.
SETUPS = [
    ("pg", "sqlite"),
    ("pg", "postgresql"),
    ("pg", "mysql"),
    ("prisma", "postgresql"),
    ("prisma", "mysql"),
    ("prisma", "sqlite"),
    ("drizzle", "postgresql"),
    ("drizzle", "mysql"),
    ("drizzle", "sqlite"),
]
#: :data:`SETUPS` as pytest parameters (ids ``pg-sqlite``, ``prisma-mysql``...).
SETUP_PARAMS = [pytest.param(setup, id="-".join(setup)) for setup in SETUPS]


def postgres_url() -> str:
    """The test database: ``AUTHGUARD_TEST_DATABASE_URL`` or the local default."""
    return os.environ.get("AUTHGUARD_TEST_DATABASE_URL") or DEFAULT_PG_URL


_pg_state: dict[str, t.Any] = {}


def require_postgres() -> sa.engine.Engine:
    """An engine on the test database, checked once per run; skips (fails under ``CI=true``)
    with the reason when PostgreSQL cannot be reached."""
    if "engine" not in _pg_state and "error" not in _pg_state:
        url = postgres_url()
        try:
            engine = create_engine(url)
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except Exception as exc:  # no driver, bad URL, server down: all mean "no PostgreSQL"
            shown = sa.engine.make_url(url).render_as_string(hide_password=True)
            _pg_state["error"] = (
                f"PostgreSQL at {shown} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "set AUTHGUARD_TEST_DATABASE_URL to a database the tests may create schemas in"
            )
        else:
            _pg_state["engine"] = engine
    if "error" in _pg_state:
        missing(_pg_state["error"])
    return t.cast(sa.engine.Engine, _pg_state["engine"])


@pytest.fixture(scope="session")
def pg_engine() -> t.Iterator[sa.engine.Engine]:
    """The PostgreSQL test engine (skipped, or failed under CI, without PostgreSQL)."""
    engine = require_postgres()
    yield engine


@pytest.fixture(scope="session")
def pg_schema(pg_engine: sa.engine.Engine) -> t.Iterator[str]:
    """A schema of this test run's own, dropped with everything in it at the end."""
    # Modules that import this fixture get their own instance of it: they share one schema.
    name = _pg_state.setdefault("schema", f"authguard_test_{os.getpid()}_{secrets.token_hex(4)}")
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))
    try:
        yield name
    finally:
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        pg_engine.dispose()


def mysql_url() -> str:
    """The MySQL/MariaDB server: ``AUTHGUARD_TEST_MYSQL_URL`` or the local default."""
    return os.environ.get("AUTHGUARD_TEST_MYSQL_URL") or DEFAULT_MYSQL_URL


_mysql_state: dict[str, t.Any] = {}


def require_mysql() -> sa.engine.Engine:
    """An engine on a database of this run's own (``authguard_test_<pid>_<random>``, dropped at
    exit), made once; skips (fails under ``CI=true``) with the reason when MySQL/MariaDB cannot
    be reached."""
    if "engine" not in _mysql_state and "error" not in _mysql_state:
        url = sa.engine.make_url(mysql_url())
        name = f"authguard_test_{os.getpid()}_{secrets.token_hex(4)}"
        try:
            server = create_engine(url)
            with server.begin() as conn:
                conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
            server.dispose()
        except Exception as exc:  # no driver, bad URL, server down: all mean "no MySQL"
            shown = url.render_as_string(hide_password=True)
            _mysql_state["error"] = (
                f"MySQL/MariaDB at {shown} is not reachable ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0]}); set AUTHGUARD_TEST_MYSQL_URL to a server the tests may "
                'create databases on (and pip install -e ".[test]" for PyMySQL)'
            )
        else:
            _mysql_state["url"] = url.set(database=name)
            _mysql_state["engine"] = create_engine(_mysql_state["url"])
            atexit.register(_drop_mysql_database, url, name)
    if "error" in _mysql_state:
        missing(_mysql_state["error"])
    return t.cast(sa.engine.Engine, _mysql_state["engine"])


def mysql_database_url() -> sa.engine.URL:
    """The URL of the run's own MySQL database (after :func:`require_mysql`)."""
    require_mysql()
    return t.cast(sa.engine.URL, _mysql_state["url"])


def _drop_mysql_database(url: sa.engine.URL, name: str) -> None:
    _mysql_state["engine"].dispose()
    server = create_engine(url)
    try:
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        server.dispose()


@pytest.fixture(scope="session")
def mysql_engine() -> sa.engine.Engine:
    """An engine on the run's own MySQL/MariaDB database (skipped, or failed under CI, without it)."""
    return require_mysql()


_counter = iter(range(1, 1_000_000))


def own_table_names(names: t.Mapping[str, str]) -> dict[str, str]:
    """``names`` (role -> table) with a prefix of this test's own: no two tests share a table."""
    prefix = f"t{next(_counter)}_"
    return {role: prefix + name for role, name in names.items()}


def make_adapter(
    kind: str, request: pytest.FixtureRequest, layout: str = "pg", keep: bool = False
) -> SQLAlchemyAdapter:
    """A fresh adapter of ``layout`` with empty tables: in-memory SQLite, PostgreSQL in the run's
    schema or MySQL in the run's database (with a table-name prefix of the test's own), dropped
    after the test (``keep``: the caller drops them)."""
    if kind == "sqlite":
        adapter = SQLAlchemyAdapter("sqlite://", layout=layout, create_tables=True)
        request.addfinalizer(adapter.close)
        return adapter
    names = own_table_names(layout_named(layout).table_names)
    if kind == "mysql":
        adapter = SQLAlchemyAdapter(require_mysql(), layout=layout, table_names=names, create_tables=True)
    else:
        engine = request.getfixturevalue("pg_engine")
        schema = request.getfixturevalue("pg_schema")
        adapter = SQLAlchemyAdapter(
            engine, layout=layout, schema=schema, table_names=names, create_tables=True
        )
    if not keep:
        request.addfinalizer(adapter.drop_tables)
    return adapter


@pytest.fixture(scope="module")
def made_adapters() -> t.Iterator[dict[tuple[str, str], SQLAlchemyAdapter]]:
    """A module's adapters on PostgreSQL and MySQL, one a (layout, database), their tables dropped
    at the end (creating them for every test costs seconds on MySQL)."""
    adapters: dict[tuple[str, str], SQLAlchemyAdapter] = {}
    yield adapters
    for adapter in adapters.values():
        adapter.drop_tables()


def emptied_adapter(request: pytest.FixtureRequest, layout: str, database: str) -> SQLAlchemyAdapter:
    """An adapter of ``layout`` with empty tables: a fresh in-memory SQLite database, or the
    module's tables on PostgreSQL or MySQL (``made_adapters``), emptied."""
    if database == "sqlite":
        return make_adapter(database, request, layout)
    made = request.getfixturevalue("made_adapters")
    if (layout, database) not in made:
        made[layout, database] = make_adapter(database, request, layout, keep=True)
    adapter: SQLAlchemyAdapter = made[layout, database]
    with adapter.engine.begin() as conn:
        for table in reversed(adapter.metadata.sorted_tables):
            conn.execute(sa.delete(table))
    return adapter


def in_days(days: float, milliseconds: int = 123) -> dt.datetime:
    """A moment ``days`` from now, at ``milliseconds`` past its second (every layout keeps
    milliseconds except Drizzle's MySQL ``session.expires``, a ``TIMESTAMP`` of whole seconds)."""
    return (dt.datetime.now(UTC) + dt.timedelta(days=days)).replace(microsecond=milliseconds * 1000)


def new_user(
    adapter: SQLAlchemyAdapter, email: str | None = "ann@example.com", **fields: t.Any
) -> dict[str, t.Any]:
    profile = {"name": "Ann", "email": email, "emailVerified": None, "image": "https://img/ann.png"}
    profile.update(fields)
    return dict(adapter.create_user(profile))


def passkey(user_id: str, credential_id: str = "q83vEjRWeJA=", **fields: t.Any) -> dict[str, t.Any]:
    """A passkey row as the adapters (ours and Auth.js's) take it; ``fields`` override the defaults."""
    return {
        "credentialID": credential_id,
        "userId": user_id,
        "providerAccountId": credential_id,
        "credentialPublicKey": "pQECAyYgASFYIA==",
        "counter": 0,
        "credentialDeviceType": "multiDevice",
        "credentialBackedUp": True,
        "transports": "internal,hybrid",
        **fields,
    }
