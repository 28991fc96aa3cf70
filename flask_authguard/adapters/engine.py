"""The engine a database URL gets: drivers, pools and timeouts fit for session storage.

A session lookup runs on every request, so a database that stops answering must cost a prompt
``503``, not a request hanging for the TCP retransmission timeout. Every engine made here has
three bounds (in seconds; ``None`` leaves the driver's or server's own):

``connect_timeout`` (default 3)
    opening a connection (PostgreSQL: libpq's ``connect_timeout``, whole seconds, at least 2;
    MySQL: PyMySQL's ``connect_timeout``, whole seconds, for the TCP connection; it waits for the
    server's greeting as for any answer, up to ``statement_timeout``).
``statement_timeout`` (default 5)
    one statement. PostgreSQL: the server cancels it (``-c statement_timeout``, sent with the
    connection's start-up options, so it costs no round trip) and the client drops a connection
    whose sent data stays unacknowledged that long (``tcp_user_timeout``: lost packets); a
    connection out of the pool a second longer (a server process that hangs while its host
    acknowledges every packet) has its socket shut down (:mod:`.watchdog`). MySQL:
    PyMySQL gives up reading or writing the socket after that long (``read_timeout``,
    ``write_timeout``) and the server stops the statement (MariaDB's ``max_statement_time``,
    MySQL's ``max_execution_time`` for reads). SQLite: how long to wait for another process's
    write lock (``timeout``).
``pool_timeout`` (default 3)
    waiting for a free connection of the pool when all are in use (SQLite: also for the turn
    of this process's operation ahead, see :class:`Turns`).

A value in the URL's query (``?connect_timeout=10``, ``?options=-c statement_timeout=0``,
``?read_timeout=30`` for MySQL, ``?timeout=30`` for SQLite) wins over these. The bounds apply to
psycopg (3 or 2), PyMySQL and SQLite; other drivers get the pool bound only.

MySQL and MariaDB connections are set to ``time_zone = '+00:00'`` when they open (after any
``init_command`` of the URL), so a ``TIMESTAMP`` column (Drizzle's) holds UTC whatever the
server's or the connection's zone.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import math
import threading
import typing as t

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import QueuePool, StaticPool

from ..core.errors import BackendUnavailableError, ConfigurationError
from .watchdog import watchdog

#: Seconds to open a connection, unless told otherwise.
DEFAULT_CONNECT_TIMEOUT = 3.0
#: Seconds one statement (or a SQLite lock wait) may take, unless told otherwise.
DEFAULT_STATEMENT_TIMEOUT = 5.0
#: Seconds to wait for a free pooled connection, unless told otherwise.
DEFAULT_POOL_TIMEOUT = 3.0


class _Default(enum.Enum):
    DEFAULT = "default"


#: A timeout keyword not given: the default for an engine made from a URL, nothing for an engine
#: passed in.
DEFAULT: t.Final = _Default.DEFAULT
#: A timeout keyword's value: seconds, ``None`` (no bound of ours) or :data:`DEFAULT`.
Timeout = t.Union[float, None, t.Literal[_Default.DEFAULT]]  # noqa: UP007 (a runtime alias on 3.10)
#: libpq learnt ``tcp_user_timeout`` in version 12.
_LIBPQ_TCP_USER_TIMEOUT = 120000


def seconds(value: t.Any, name: str) -> float | None:
    """``value`` checked as a timeout: a positive number of seconds, or ``None`` (no bound of ours).

    :raises ConfigurationError: anything else.
    """
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds or None, not {value!r}")
    return float(value)


def _is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def _enable_sqlite_foreign_keys(dbapi_connection: t.Any, connection_record: t.Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _libpq_version(driver: str) -> int:
    try:
        if driver == "psycopg2":
            return int(importlib.import_module("psycopg2.extensions").libpq_version())
        return int(importlib.import_module("psycopg").pq.version())
    except Exception:  # no driver: create_engine says so
        return 0


def _mysql_timeouts(url: URL, connect: float | None, statement: float | None) -> dict[str, t.Any]:
    """PyMySQL's connect arguments bounding its connect and socket waits; the URL's own win."""
    args: dict[str, t.Any] = {}
    query = url.query
    if connect is not None and "connect_timeout" not in query:
        args["connect_timeout"] = max(1, math.ceil(connect))
    if statement is not None:
        for name in ("read_timeout", "write_timeout"):
            if name not in query:
                args[name] = statement
    return args


def _execute(dbapi_connection: t.Any, sql: str) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def utc_time_zone(dbapi_connection: t.Any, connection_record: t.Any) -> None:
    """A ``connect`` listener for MySQL/MariaDB engines: UTC as the connection's ``time_zone``, so
    ``TIMESTAMP`` columns (which convert from it) hold UTC."""
    _execute(dbapi_connection, "SET time_zone = '+00:00'")


def _mysql_statement_limit(statement: float) -> t.Callable[[t.Any, t.Any], None]:
    """A ``connect`` listener bounding statements on the server: MariaDB's ``max_statement_time``
    (seconds, any statement), MySQL's ``max_execution_time`` (milliseconds, reads)."""

    def limit(dbapi_connection: t.Any, connection_record: t.Any) -> None:
        if "mariadb" in dbapi_connection.get_server_info().lower():
            _execute(dbapi_connection, f"SET max_statement_time = {statement:g}")
        else:
            _execute(dbapi_connection, f"SET max_execution_time = {max(1, round(statement * 1000))}")

    return limit


def _libpq_timeouts(url: URL, connect: float | None, statement: float | None) -> dict[str, t.Any]:
    """Connect arguments bounding libpq's connect and statements; the URL's own settings win."""
    args: dict[str, t.Any] = {}
    query = url.query
    if connect is not None and "connect_timeout" not in query:
        args["connect_timeout"] = max(1, math.ceil(connect))
    if statement is not None:
        milliseconds = max(1, round(statement * 1000))
        given = query.get("options", "")
        options = " ".join(given) if isinstance(given, tuple) else given
        if "statement_timeout" not in options:
            args["options"] = f"{options} -c statement_timeout={milliseconds}".strip()
        libpq = _libpq_version(url.get_driver_name())
        if "tcp_user_timeout" not in query and libpq >= _LIBPQ_TCP_USER_TIMEOUT:
            args["tcp_user_timeout"] = milliseconds
    return args


def create_engine(
    url: str | URL,
    *,
    connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
    pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
) -> Engine:
    """An engine for ``url`` with settings fit for session storage.

    - A string without ``://`` is a SQLite file path (``":memory:"``: in memory).
    - In-memory SQLite uses one shared connection (``StaticPool``) so every thread sees the
      same database; SQLite enforces foreign keys (``ON DELETE CASCADE``).
    - ``postgresql://`` (and ``postgres://``) without a driver means psycopg 3; ``mysql://`` and
      ``mariadb://`` mean PyMySQL. Connections are not pinged before use (a round trip per
      request): the adapter's reads try once more on a new connection when the server dropped
      theirs, so a restarted server costs no failed request.
    - MySQL/MariaDB connections hold UTC as their ``time_zone`` (see this module's documentation)
      and are replaced after an hour (before the server's ``wait_timeout`` closes them).
    - The timeouts (seconds, ``None``: the driver's own) are described in this module's
      documentation; a setting in the URL's query wins.
    - Statement parameters (session tokens) never appear in error messages.

    :raises ConfigurationError: the URL is invalid, its driver is not installed, or a timeout is
        not a positive number.
    """
    connect = seconds(connect_timeout, "connect_timeout")
    statement = seconds(statement_timeout, "statement_timeout")
    pool = seconds(pool_timeout, "pool_timeout")
    if isinstance(url, str) and "://" not in url:
        url = URL.create("sqlite", database=None if url == ":memory:" else url)
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"not a database URL: {exc}") from None
    kwargs: dict[str, t.Any] = {"hide_parameters": True}
    backend = parsed.get_backend_name()
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        backend = "postgresql"
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=f"{parsed.drivername}+pymysql")
    if backend == "sqlite" and _is_memory_sqlite(parsed):
        # One connection, taken in turns by the adapter's lock: no pool to wait for, no locks.
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        if pool is not None:
            kwargs["pool_timeout"] = pool
        if backend == "sqlite":
            if statement is not None and "timeout" not in parsed.query:
                kwargs["connect_args"] = {"timeout": statement}
        elif backend == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
            kwargs["connect_args"] = _libpq_timeouts(parsed, connect, statement)
        elif backend in ("mysql", "mariadb"):
            kwargs["pool_recycle"] = 3600
            if parsed.get_driver_name() == "pymysql":
                kwargs["connect_args"] = _mysql_timeouts(parsed, connect, statement)
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (ImportError, sa_exc.NoSuchModuleError) as exc:
        raise ConfigurationError(
            f'no driver for {parsed.drivername!r} ({exc}); for PostgreSQL: pip install "psycopg[binary]", '
            'for MySQL/MariaDB: pip install "flask-authguard[mysql]"'
        ) from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    elif statement is not None and "statement_timeout" in kwargs.get("connect_args", {}).get("options", ""):
        # our statement bound, not one of the URL's (``statement_timeout=0``: none): a server
        # that hangs is cut off after it too (see :mod:`.watchdog`)
        watchdog.watch(engine, statement)
    elif backend in ("mysql", "mariadb"):
        sa.event.listen(engine, "connect", utc_time_zone)
        if statement is not None and parsed.get_driver_name() == "pymysql":
            sa.event.listen(engine, "connect", _mysql_statement_limit(statement))
    return engine


def engine_for(
    engine_or_url: Engine | str | URL,
    *,
    connect_timeout: Timeout = DEFAULT,
    statement_timeout: Timeout = DEFAULT,
    pool_timeout: Timeout = DEFAULT,
) -> tuple[Engine, bool]:
    """The engine an adapter runs on, and whether it made it (and so disposes of it).

    :raises ConfigurationError: not an engine or URL; a timeout given with an engine (it is set
        on the engine, by whoever made it).
    """
    timeouts = {
        "connect_timeout": (connect_timeout, DEFAULT_CONNECT_TIMEOUT),
        "statement_timeout": (statement_timeout, DEFAULT_STATEMENT_TIMEOUT),
        "pool_timeout": (pool_timeout, DEFAULT_POOL_TIMEOUT),
    }
    if isinstance(engine_or_url, Engine):
        given = [name for name, (value, _) in timeouts.items() if value is not DEFAULT]
        if given:
            raise ConfigurationError(
                f"{', '.join(given)} apply to an engine made from a URL; set them on the engine "
                "you pass (or pass its URL instead)"
            )
        if engine_or_url.dialect.name in ("mysql", "mariadb") and not sa.event.contains(
            engine_or_url, "connect", utc_time_zone
        ):
            # Connections opened from now on hold UTC (pass an engine before it has connected).
            sa.event.listen(engine_or_url, "connect", utc_time_zone)
        return engine_or_url, False
    if isinstance(engine_or_url, (str, URL)):
        chosen = {name: default if value is DEFAULT else value for name, (value, default) in timeouts.items()}
        return create_engine(engine_or_url, **chosen), True
    raise ConfigurationError(
        f"SQLAlchemyAdapter needs an Engine, a database URL or a SQLite path, not {engine_or_url!r}"
    )


class Turns:
    """Operations of this process on one SQLite database, one at a time: SQLite has one writer
    per file and an in-memory database one shared connection, so they take turns instead of
    failing with "database is locked". Other databases need no turns.

    Waiting for a turn is bounded like waiting for a pooled connection (the pool's timeout,
    else :data:`DEFAULT_POOL_TIMEOUT`): a database that holds one operation up cannot queue up
    every other request behind it.
    """

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        pool = engine.pool
        #: Seconds to wait for a turn.
        self.wait: float = pool.timeout() if isinstance(pool, QueuePool) else DEFAULT_POOL_TIMEOUT

    def acquire(self, operation: str) -> None:
        """Take this process's turn for ``operation`` (:meth:`release` gives it back).

        :raises BackendUnavailableError: no turn within :attr:`wait` seconds.
        """
        lock = self._lock
        if lock is not None and not lock.acquire(timeout=self.wait):
            raise BackendUnavailableError(
                f"{operation} failed on sqlite: another operation of this process held the database "
                f"for over {self.wait:g} s"
            )

    def release(self) -> None:
        """Give back the turn :meth:`acquire` took."""
        if self._lock is not None:
            self._lock.release()

    @contextlib.contextmanager
    def take(self, operation: str) -> t.Iterator[None]:
        """Hold this process's turn during ``operation``.

        :raises BackendUnavailableError: no turn within :attr:`wait` seconds.
        """
        self.acquire(operation)
        try:
            yield
        finally:
            self.release()


__all__ = [
    "DEFAULT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_STATEMENT_TIMEOUT",
    "Timeout",
    "Turns",
    "create_engine",
    "engine_for",
    "utc_time_zone",
    "seconds",
]
