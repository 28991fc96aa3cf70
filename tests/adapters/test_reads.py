"""The session lookup's direct path (``flask_authguard.adapters.reads``): the same answers as
SQLAlchemy Core's ``execute``, one statement and one round trip per read counted at the driver
(SQLite's trace callback, libpq's protocol trace), connections back in the pool as they came,
and Core's path for engines whose statements someone watches."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from support.adapters import (  # noqa: E402
    in_days,
    new_user,
    own_table_names,
    pg_engine,  # noqa: F401
    pg_schema,  # noqa: F401
    postgres_url,
)

from flask_authguard.adapters.sqlalchemy import DEFAULT_TABLE_NAMES, SQLAlchemyAdapter  # noqa: E402
from flask_authguard.core.errors import BackendUnavailableError  # noqa: E402

UTC = dt.timezone.utc


def own_adapter(kind: str, request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    """An adapter on an engine of its own (events on it touch no other test), fresh tables."""
    if kind == "sqlite":
        path = os.path.join(tempfile.mkdtemp(prefix="authguard-reads-"), "auth.db")
        adapter = SQLAlchemyAdapter(f"sqlite:///{path}", create_tables=True)
        request.addfinalizer(adapter.close)
        return adapter
    schema = request.getfixturevalue("pg_schema")
    names = own_table_names(DEFAULT_TABLE_NAMES)
    adapter = SQLAlchemyAdapter(postgres_url(), schema=schema, table_names=names, create_tables=True)
    request.addfinalizer(adapter.close)
    request.addfinalizer(adapter.drop_tables)
    return adapter


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


def _noop(*args: t.Any, **kwargs: t.Any) -> None:
    return None


def test_direct_and_core_paths_answer_alike(kind: str, request: pytest.FixtureRequest) -> None:
    adapter = own_adapter(kind, request)
    verified = dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    user = new_user(adapter, emailVerified=verified)
    expires = in_days(3)
    adapter.create_session({"sessionToken": "tok-a", "userId": user["id"], "expires": expires})
    read = adapter._session_lookup
    assert read.usable()
    direct = adapter.get_session_and_user("tok-a")
    missing = adapter.get_session_and_user("tok-none")
    # An engine that ever had a connection event keeps Core's path (SQLAlchemy keeps the flag).
    sa.event.listen(adapter.engine, "before_cursor_execute", _noop)
    assert not read.usable()
    core = adapter.get_session_and_user("tok-a")
    assert adapter.get_session_and_user("tok-none") is None
    assert missing is None
    assert (
        direct
        == core
        == {
            "session": {"sessionToken": "tok-a", "userId": user["id"], "expires": expires},
            "user": {**user, "emailVerified": verified},
        }
    )
    assert direct is not None
    for moment in (direct["session"]["expires"], direct["user"]["emailVerified"]):
        assert moment is not None and moment.utcoffset() == dt.timedelta(0)


def test_watched_engines_get_the_core_path(request: pytest.FixtureRequest) -> None:
    """Connection events and echo see every statement the adapter sends, the lookup too."""
    adapter = own_adapter("sqlite", request)
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "tok-w", "userId": user["id"], "expires": in_days(1)})
    seen: list[str] = []

    def watch(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        seen.append(statement)

    sa.event.listen(adapter.engine, "before_cursor_execute", watch)
    try:
        assert adapter.get_session_and_user("tok-w") is not None
    finally:
        sa.event.remove(adapter.engine, "before_cursor_execute", watch)
    assert len(seen) == 1 and seen[0].startswith("SELECT")
    path = os.path.join(tempfile.mkdtemp(prefix="authguard-reads-"), "echo.db")
    echoing = SQLAlchemyAdapter(sa.create_engine(f"sqlite:///{path}", echo=True))
    request.addfinalizer(echoing.engine.dispose)
    assert not echoing._session_lookup.usable()


def test_a_sqlite_read_is_one_statement(request: pytest.FixtureRequest) -> None:
    adapter = own_adapter("sqlite", request)
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "tok-s", "userId": user["id"], "expires": in_days(1)})
    statements: list[str] = []

    def trace(dbapi_connection: t.Any, record: t.Any, *args: t.Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    sa.event.listen(adapter.engine, "checkout", trace)  # a pool event: the direct path stays
    assert adapter._session_lookup.usable()
    for _ in range(3):
        assert adapter.get_session_and_user("tok-s") is not None
    assert len(statements) == 3
    assert all(s.startswith("SELECT") for s in statements), statements


def test_a_postgresql_read_is_one_round_trip_and_leaves_the_connection_as_it_came(
    request: pytest.FixtureRequest, tmp_path: t.Any
) -> None:
    """libpq's protocol trace of every connection the reads check out: one exchange (up to a
    ``Sync``) a read and nothing else sent (no BEGIN, COMMIT, ROLLBACK), but for the one
    ``Parse`` psycopg sends when it prepares the statement (at its 5th run on a connection);
    back in the pool each connection is idle and out of autocommit again."""
    import psycopg

    adapter = own_adapter("postgresql", request)
    user = new_user(adapter)
    adapter.create_session({"sessionToken": "tok-p", "userId": user["id"], "expires": in_days(1)})
    trace_path = tmp_path / "libpq.trace"
    traced: list[t.Any] = []
    at_checkin: list[tuple[bool, t.Any]] = []

    with open(trace_path, "w") as out:

        def on_checkout(dbapi_connection: t.Any, *args: t.Any) -> None:
            if dbapi_connection not in traced:
                dbapi_connection.pgconn.trace(out.fileno())
                dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
                traced.append(dbapi_connection)

        def on_checkin(dbapi_connection: t.Any, *args: t.Any) -> None:
            at_checkin.append((dbapi_connection.autocommit, dbapi_connection.info.transaction_status))

        sa.event.listen(adapter.engine, "checkout", on_checkout)
        sa.event.listen(adapter.engine, "checkin", on_checkin)
        assert adapter._session_lookup.usable()
        reads = 7  # psycopg prepares a statement at its 5th run: both kinds of exchange
        for _ in range(reads):
            assert adapter.get_session_and_user("tok-p") is not None
        for connection in traced:
            connection.pgconn.untrace()
    sent = [line.split("\t") for line in trace_path.read_text().splitlines()]
    messages = [fields[2].split(" ")[0] for fields in sent if len(fields) > 2 and fields[0] == "F"]
    assert "Query" not in messages, messages  # simple-protocol BEGIN / COMMIT / ROLLBACK
    exchanges = " ".join(messages).replace("Sync", "Sync|").split("|")
    exchanges = [e.strip() for e in exchanges if e.strip()]
    runs = [e for e in exchanges if e.endswith("Execute Sync")]
    prepares = [e for e in exchanges if e == "Parse Sync"]
    assert len(runs) == reads and len(prepares) <= len(traced), exchanges
    assert len(runs) + len(prepares) == len(exchanges), exchanges
    idle = psycopg.pq.TransactionStatus.IDLE
    assert at_checkin == [(False, idle)] * reads


def test_a_failed_read_leaves_the_connection_usable(request: pytest.FixtureRequest) -> None:
    """An error that is not a dropped connection (missing tables here) hands the connection
    back out of autocommit, so writes after it keep their transactions."""
    import psycopg

    adapter = own_adapter("postgresql", request)
    states: list[tuple[bool, t.Any]] = []

    def on_checkin(dbapi_connection: t.Any, *args: t.Any) -> None:
        states.append((dbapi_connection.autocommit, dbapi_connection.info.transaction_status))

    adapter.drop_tables()
    sa.event.listen(adapter.engine, "checkin", on_checkin)
    with pytest.raises(BackendUnavailableError, match="get_session_and_user failed on postgresql"):
        adapter.get_session_and_user("tok-f")
    assert states == [(False, psycopg.pq.TransactionStatus.IDLE)]
    adapter.create_tables()
    user = new_user(adapter)
    during: list[t.Any] = []

    def after_execute(conn: t.Any, *args: t.Any) -> None:
        during.append(conn.connection.dbapi_connection.info.transaction_status)

    sa.event.listen(adapter.engine, "after_cursor_execute", after_execute)
    try:
        adapter.create_session({"sessionToken": "tok-f", "userId": user["id"], "expires": in_days(1)})
    finally:
        sa.event.remove(adapter.engine, "after_cursor_execute", after_execute)
    assert during == [psycopg.pq.TransactionStatus.INTRANS]
    assert adapter.get_session_and_user("tok-f") is not None
