"""SQLAlchemyAdapter on SQLite and PostgreSQL: the engines, schemas and records the adapter suites
(``tests/adapters/``) and the database suites share."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from flask_authguard.adapters.sqlalchemy import (  # noqa: E402
    DEFAULT_TABLE_NAMES,
    SQLAlchemyAdapter,
    create_engine,
)

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Nothing listens there: every connection is refused at once.
CLOSED_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test"
UTC = dt.timezone.utc


def postgres_url() -> str:
    """The test database: ``AUTHGUARD_TEST_DATABASE_URL`` or the local default."""
    return os.environ.get("AUTHGUARD_TEST_DATABASE_URL") or DEFAULT_PG_URL


_pg_state: dict[str, t.Any] = {}


def _skip_or_fail(reason: str) -> t.NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


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
        _skip_or_fail(_pg_state["error"])
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


_counter = iter(range(1, 1_000_000))


def make_adapter(kind: str, request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    """A fresh adapter with empty tables: in-memory SQLite, or PostgreSQL in the run's schema
    (with a table-name prefix of the test's own), dropped after the test."""
    if kind == "sqlite":
        adapter = SQLAlchemyAdapter("sqlite://", create_tables=True)
        request.addfinalizer(adapter.close)
        return adapter
    engine = request.getfixturevalue("pg_engine")
    schema = request.getfixturevalue("pg_schema")
    prefix = f"t{next(_counter)}_"
    names = {role: prefix + name for role, name in DEFAULT_TABLE_NAMES.items()}
    adapter = SQLAlchemyAdapter(engine, schema=schema, table_names=names, create_tables=True)
    request.addfinalizer(adapter.drop_tables)
    return adapter


def in_days(days: float) -> dt.datetime:
    return (dt.datetime.now(UTC) + dt.timedelta(days=days)).replace(microsecond=123000)


def new_user(
    adapter: SQLAlchemyAdapter, email: str | None = "ann@example.com", **fields: t.Any
) -> dict[str, t.Any]:
    profile = {"name": "Ann", "email": email, "emailVerified": None, "image": "https://img/ann.png"}
    profile.update(fields)
    return dict(adapter.create_user(profile))
