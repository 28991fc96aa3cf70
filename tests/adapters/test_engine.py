"""``SQLAlchemyAdapter``'s timeouts: a database that stops answering is a prompt
``BackendUnavailableError`` (and so a 503), never a hung request.

The silent server is a real TCP listener on 127.0.0.1 that accepts connections and never sends
a byte (a database behind a network that drops its packets). Each call that could hang runs in
a thread joined with a generous limit, so a missing timeout fails the test instead of hanging
the suite; how fast it answered is not asserted.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from support.adapters import (  # noqa: E402
    CLOSED_MYSQL_URL,
    in_days,
    make_adapter,
    mysql_database_url,
    new_user,
    pg_engine,  # noqa: F401
    pg_schema,  # noqa: F401
    postgres_url,
    require_mysql,
)
from support.database_app import COOKIE, assert_503, make_app  # noqa: E402

from flask_authguard.adapters.engine import create_engine  # noqa: E402
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402
from flask_authguard.core.errors import BackendUnavailableError, ConfigurationError  # noqa: E402

#: Longer than any timeout under test, far shorter than a hang (psycopg's own connect default
#: is 130 s, SQLAlchemy's pool wait 30 s, the old SQLite lock wait was 30 s).
LIMIT = 10.0


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # to notice close() soon
        self.port: int = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            self.accepted.append(connection)  # held open, never read from nor written to

    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/test"

    def close(self) -> None:
        self._closed.set()
        self._thread.join(LIMIT)
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent() -> t.Iterator[SilentServer]:
    pytest.importorskip("psycopg", reason='the PostgreSQL driver is not installed: pip install -e ".[test]"')
    server = SilentServer()
    yield server
    server.close()


def outcome(call: t.Callable[[], t.Any]) -> BaseException | t.Any:
    """What ``call()`` returned or raised, within :data:`LIMIT` seconds (else the test fails)."""
    box: list[t.Any] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed to the test
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(LIMIT)
    assert not thread.is_alive(), f"still waiting after {LIMIT} s: no timeout applied"
    return box[0]


def assert_unavailable(result: t.Any, operation: str) -> BackendUnavailableError:
    assert isinstance(result, BackendUnavailableError), result
    assert str(result).startswith(f"{operation} failed"), str(result)
    return result


# --------------------------------------------------------------------------- connect


def test_connect_timeout_on_a_silent_server(silent: SilentServer) -> None:
    adapter = SQLAlchemyAdapter(silent.url(), connect_timeout=1)  # libpq's minimum is 2 s
    try:
        assert_unavailable(outcome(lambda: adapter.get_session_and_user("tok")), "get_session_and_user")
        session = {"sessionToken": "tok", "userId": "1", "expires": in_days(1)}
        assert_unavailable(outcome(lambda: adapter.create_session(session)), "create_session")
        assert silent.accepted, "the adapter never reached the silent server"
    finally:
        adapter.close()


def test_guard_answers_503_promptly_on_a_silent_database(silent: SilentServer) -> None:
    """End to end, with the default timeouts: a 503 with Retry-After, no sign-out."""
    adapter = SQLAlchemyAdapter(silent.url())
    try:
        client = make_app(adapter).test_client()
        client.set_cookie(COOKIE, "some-session-token")
        response = outcome(lambda: client.get("/dashboard", headers={"Accept": "application/json"}))
        assert_503(response, api=True)
        assert client.get("/").status_code == 200  # public pages need no database
    finally:
        adapter.close()


# --------------------------------------------------------------------------- statements (PostgreSQL)


def pg_twin(adapter: SQLAlchemyAdapter, **timeouts: t.Any) -> SQLAlchemyAdapter:
    """An adapter of its own engine (made from the URL, with ``timeouts``) on ``adapter``'s tables."""
    names = adapter.tables.names()
    twin = SQLAlchemyAdapter(postgres_url(), schema=adapter.metadata.schema, table_names=names, **timeouts)
    return twin


def test_statement_timeout_on_a_locked_table(request: pytest.FixtureRequest) -> None:
    adapter = make_adapter("postgresql", request)
    user, expires = new_user(adapter), in_days(1)
    adapter.create_session({"sessionToken": "tok", "userId": user["id"], "expires": expires})
    twin = pg_twin(adapter, statement_timeout=0.3)
    request.addfinalizer(twin.close)
    sessions = adapter.tables.sessions
    table = f'"{sessions.schema}"."{sessions.name}"'
    with adapter.engine.connect() as holder:
        holder.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # until the rollback
        error = assert_unavailable(outcome(lambda: twin.get_session_and_user("tok")), "get_session_and_user")
        assert "statement timeout" in str(error)
        update = {"sessionToken": "tok", "expires": in_days(2)}
        assert_unavailable(outcome(lambda: twin.update_session(update)), "update_session")
        holder.rollback()
    found = twin.get_session_and_user("tok")  # the pool recovers: the same adapter answers again
    assert found is not None and found["session"]["expires"] == expires


class FreezingProxy:
    """A TCP relay on 127.0.0.1 to the test PostgreSQL that, once :meth:`freeze` is called, stops
    relaying in both directions and keeps every connection open: a server whose process hangs
    while its host still acknowledges every packet, which no server-side timeout and no TCP
    timeout notices."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.1)
        while not self._closed.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            while self.frozen.is_set() and not self._closed.is_set():
                time.sleep(0.05)  # held: read from the socket (acknowledged), never passed on
            try:
                sink.sendall(data)
            except OSError:
                return

    def freeze(self) -> None:
        self.frozen.set()

    def close(self) -> None:
        self._closed.set()
        self.listener.close()
        for sock in self._sockets:
            sock.close()


def test_a_server_that_stops_answering_costs_a_prompt_503(request: pytest.FixtureRequest) -> None:
    """Connected, then the server hangs with its host still acknowledging: the statement's
    bound cuts the connection (no server-side timeout answers, no TCP timeout fires)."""
    adapter = make_adapter("postgresql", request)
    user, expires = new_user(adapter), in_days(1)
    adapter.create_session({"sessionToken": "tok", "userId": user["id"], "expires": expires})
    url = sa.engine.make_url(postgres_url())
    proxy = FreezingProxy((url.host or "127.0.0.1", url.port or 5432))
    request.addfinalizer(proxy.close)
    proxied = url.set(host="127.0.0.1", port=proxy.port)
    names = adapter.tables.names()
    twin = SQLAlchemyAdapter(
        proxied, schema=adapter.metadata.schema, table_names=names, statement_timeout=0.5, connect_timeout=2
    )
    request.addfinalizer(twin.close)
    assert twin.get_session_and_user("tok") is not None  # through the relay, connection pooled
    proxy.freeze()
    assert_unavailable(outcome(lambda: twin.get_session_and_user("tok")), "get_session_and_user")
    update = {"sessionToken": "tok", "expires": in_days(2)}
    assert_unavailable(outcome(lambda: twin.update_session(update)), "update_session")


def test_postgres_connections_carry_the_timeouts(request: pytest.FixtureRequest) -> None:
    adapter = make_adapter("postgresql", request)
    defaults = pg_twin(adapter)
    chosen = pg_twin(adapter, statement_timeout=1.5, connect_timeout=7)
    request.addfinalizer(defaults.close)
    request.addfinalizer(chosen.close)
    expected = [(defaults, "5s", "3", "5000"), (chosen, "1500ms", "7", "1500")]
    for twin, statement, connect, unacknowledged in expected:
        with twin.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == statement
            parameters = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
            assert parameters["connect_timeout"] == connect
            assert parameters["tcp_user_timeout"] == unacknowledged  # lost packets: the statement's bound


def test_url_settings_win_and_options_are_kept(pg_engine: t.Any) -> None:  # noqa: F811
    base = sa.engine.make_url(postgres_url())
    url = base.update_query_dict({"options": "-c search_path=authguard_nowhere"})
    engine = create_engine(url, statement_timeout=2)
    unbounded = create_engine(base.update_query_dict({"options": "-c statement_timeout=0"}))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW search_path").scalar() == "authguard_nowhere"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "2s"
        with unbounded.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "0"
    finally:
        engine.dispose()
        unbounded.dispose()


# --------------------------------------------------------------------------- SQLite locks, the pool


def test_sqlite_lock_wait_is_bounded(tmp_path: t.Any) -> None:
    path = tmp_path / "auth.sqlite3"
    adapter = SQLAlchemyAdapter(str(path), create_tables=True, statement_timeout=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process writing
        error = assert_unavailable(outcome(lambda: adapter.get_user("1")), "get_user")
        assert "locked" in str(error)
        other.execute("ROLLBACK")
        assert adapter.get_user("1") is None
    finally:
        other.close()
        adapter.close()


def test_sqlite_default_lock_wait_is_short(tmp_path: t.Any) -> None:
    path = tmp_path / "auth.sqlite3"
    adapter = SQLAlchemyAdapter(str(path), create_tables=True)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        assert_unavailable(outcome(lambda: adapter.get_user_by_email("a@example.com")), "get_user_by_email")
    finally:
        other.close()
        adapter.close()


def test_sqlite_turns_of_this_process_are_bounded(tmp_path: t.Any) -> None:
    """One operation stuck on another process's lock does not queue every other one behind it."""
    path = tmp_path / "auth.sqlite3"
    adapter = SQLAlchemyAdapter(str(path), create_tables=True, statement_timeout=3, pool_timeout=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        stuck = threading.Thread(target=lambda: outcome(lambda: adapter.get_user("1")))
        stuck.start()  # holds this process's turn while it waits for the lock, up to 3 s
        try:
            lock = adapter._turns._lock
            assert lock is not None
            deadline = time.monotonic() + LIMIT
            while lock.acquire(blocking=False):  # free: the stuck call has not started yet
                lock.release()
                assert time.monotonic() < deadline
                time.sleep(0.01)
            error = assert_unavailable(outcome(lambda: adapter.get_user("2")), "get_user")
            assert "another operation of this process" in str(error)
        finally:
            other.execute("ROLLBACK")
            stuck.join(LIMIT)
        assert adapter.get_user("1") is None
    finally:
        other.close()
        adapter.close()


def test_pool_wait_is_bounded(tmp_path: t.Any) -> None:
    adapter = SQLAlchemyAdapter(str(tmp_path / "auth.sqlite3"), create_tables=True, pool_timeout=0.2)
    pool = adapter.engine.pool
    held = [adapter.engine.connect() for _ in range(pool.size() + pool._max_overflow)]  # type: ignore[attr-defined]
    try:
        error = assert_unavailable(outcome(lambda: adapter.get_user("1")), "get_user")
        assert "QueuePool limit" in str(error)
    finally:
        for conn in held:
            conn.close()
    assert adapter.get_user("1") is None  # a free connection again
    adapter.close()


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "3", True])
@pytest.mark.parametrize("name", ["connect_timeout", "statement_timeout", "pool_timeout"])
def test_bad_timeouts_are_configuration_errors(name: str, value: t.Any) -> None:
    with pytest.raises(ConfigurationError, match=name):
        SQLAlchemyAdapter("sqlite://", **{name: value})


def test_timeouts_with_an_engine_are_configuration_errors() -> None:
    engine = create_engine("sqlite://", statement_timeout=None)
    try:
        with pytest.raises(ConfigurationError, match="statement_timeout.*set them on the engine"):
            SQLAlchemyAdapter(engine, statement_timeout=1)
        SQLAlchemyAdapter(engine)  # without timeouts: the engine's own
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- MySQL / MariaDB


def mysql_twin(adapter: SQLAlchemyAdapter, **timeouts: t.Any) -> SQLAlchemyAdapter:
    """An adapter of its own engine (made from the URL, with ``timeouts``) on ``adapter``'s tables."""
    url = mysql_database_url()
    return SQLAlchemyAdapter(url, layout=adapter.layout.name, table_names=adapter.tables.names(), **timeouts)


def test_mysql_connect_timeout_on_a_silent_server(silent: SilentServer) -> None:
    pytest.importorskip("pymysql", reason='the MySQL driver is not installed: pip install -e ".[test]"')
    url = silent.url().replace("postgresql+psycopg://postgres", "mysql+pymysql://root")
    # PyMySQL waits for the server's greeting with its read timeout: the statement bound.
    adapter = SQLAlchemyAdapter(url, layout="prisma", connect_timeout=1, statement_timeout=1)
    try:
        assert_unavailable(outcome(lambda: adapter.get_session_and_user("tok")), "get_session_and_user")
        assert_unavailable(outcome(lambda: adapter.get_user("u")), "get_user")
        assert silent.accepted, "the adapter never reached the silent server"
    finally:
        adapter.close()


def test_mysql_statement_timeout_on_a_locked_table(request: pytest.FixtureRequest) -> None:
    adapter = make_adapter("mysql", request, "prisma")
    user, expires = new_user(adapter), in_days(1)
    adapter.create_session({"sessionToken": "tok", "userId": user["id"], "expires": expires})
    twin = mysql_twin(adapter, statement_timeout=0.5)
    request.addfinalizer(twin.close)
    sessions = adapter.tables.sessions.name
    with adapter.engine.connect() as holder:
        holder.exec_driver_sql(f"LOCK TABLES `{sessions}` WRITE")
        try:
            assert_unavailable(outcome(lambda: twin.get_session_and_user("tok")), "get_session_and_user")
            update = {"sessionToken": "tok", "expires": in_days(2)}
            assert_unavailable(outcome(lambda: twin.update_session(update)), "update_session")
        finally:
            holder.exec_driver_sql("UNLOCK TABLES")
    found = twin.get_session_and_user("tok")  # the pool recovers: the same adapter answers again
    assert found is not None and found["session"]["expires"] == expires


def test_mysql_connections_hold_utc_and_the_bounds(request: pytest.FixtureRequest) -> None:
    require_mysql()
    url = mysql_database_url().update_query_dict({"init_command": "SET time_zone = '+09:00'"})
    made = SQLAlchemyAdapter(url, statement_timeout=1.5, connect_timeout=7)
    request.addfinalizer(made.close)
    with made.engine.connect() as conn:
        zone, limit = conn.exec_driver_sql("SELECT @@session.time_zone, @@session.max_statement_time").one()
        dbapi = conn.connection.dbapi_connection
    assert zone == "+00:00" and float(limit) == 1.5
    assert (dbapi.connect_timeout, dbapi._read_timeout, dbapi._write_timeout) == (7, 1.5, 1.5)  # type: ignore[union-attr]
    # An engine passed in gets UTC too (for the connections it opens from then on).
    engine = sa.create_engine(url)
    passed = SQLAlchemyAdapter(engine)
    try:
        with passed.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT @@session.time_zone").scalar() == "+00:00"
    finally:
        engine.dispose()


def test_guard_answers_503_when_mysql_is_down() -> None:
    adapter = SQLAlchemyAdapter(CLOSED_MYSQL_URL, layout="drizzle")
    try:
        client = make_app(adapter).test_client()
        client.set_cookie(COOKIE, "some-session-token")
        response = outcome(lambda: client.get("/dashboard", headers={"Accept": "application/json"}))
        assert_503(response, api=True)
    finally:
        adapter.close()
