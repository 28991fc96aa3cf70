"""The per-request read, run close to the driver: one SELECT compiled once, on a pooled connection.

A database session is looked up on every request, and SQLAlchemy's ``Connection.execute`` with
its result handling costs a few times the driver's own call. :class:`CompiledRead` keeps
SQLAlchemy as the owner of everything but that call:

- the statement is compiled once, by SQLAlchemy, for the engine's dialect (the SQL text, the
  order of its parameters, the type processors of its parameters and columns);
- it runs on a connection of the engine's pool (:meth:`~sqlalchemy.engine.Engine.raw_connection`:
  the pool's size, timeout, recycling, reset-on-return and events all apply), in autocommit on
  PostgreSQL (for that statement only; the connection goes back to the pool as it came), so
  the read is one round trip: no ``BEGIN`` before it, no ``COMMIT`` after it, and nothing sent
  when the connection goes back (psycopg sends no ``ROLLBACK`` for an idle connection);
- errors come out as SQLAlchemy's (:class:`~sqlalchemy.exc.DBAPIError` with
  ``connection_invalidated`` set for a dropped connection, which is discarded with every pooled
  connection as old as it, as SQLAlchemy does), so callers handle both paths alike.

An engine whose statements someone watches (connection events such as ``before_cursor_execute``
or ``handle_error``, ``echo``, an ``INFO`` logger on ``sqlalchemy.engine``) or a driver not
listed in :data:`DRIVERS` gets SQLAlchemy Core's ``execute`` instead: :meth:`CompiledRead.usable`
says which, on every call.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import threading
import typing as t

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

#: The (dialect, driver) pairs the direct path is tested with (the test suite runs both).
DRIVERS = frozenset({("sqlite", "pysqlite"), ("postgresql", "psycopg")})

#: Where a pooled connection keeps the cursor reads reuse (``PoolProxiedConnection.info``).
_CURSOR_KEY = "flask_authguard.read_cursor"

Processor = t.Optional[t.Callable[[t.Any], t.Any]]  # noqa: UP045 (a runtime alias on 3.10)


class _Compiled(t.NamedTuple):
    sql: str
    #: ``(key in the DBAPI parameters, key of the caller's parameters, bind processor)``
    binds: tuple[tuple[t.Union[str, int], str, Processor], ...]  # noqa: UP007 (runtime alias on 3.10)
    positional: bool
    #: ``(column index, result processor)`` of the columns whose driver values need one.
    columns: tuple[tuple[int, t.Callable[[t.Any], t.Any]], ...]

    def arguments(self, params: t.Mapping[str, t.Any]) -> t.Any:
        """The DBAPI parameters for ``params`` (a list, or a dict by the SQL's names)."""
        if self.positional:
            return [params[name] if p is None else p(params[name]) for _, name, p in self.binds]
        return {key: params[name] if p is None else p(params[name]) for key, name, p in self.binds}


def _compile(statement: sa.Select[t.Any], dialect: t.Any) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError("a CompiledRead takes no expanding (IN) or literal-execute parameters")
    names = {name: bind for bind, name in compiled.bind_names.items()}
    if compiled.positional:
        order: t.Sequence[str] = compiled.positiontup or ()
        keys: list[t.Union[str, int]] = list(range(len(order)))  # noqa: UP007
    else:
        order = list(names)
        escaped: t.Mapping[str, str] = compiled.escaped_bind_names or {}
        keys = [escaped.get(name, name) for name in order]
    binds = tuple(
        (key, names[name].key, names[name].type.dialect_impl(dialect).bind_processor(dialect))
        for key, name in zip(keys, order, strict=True)
    )
    processors = [
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.selected_columns
    ]
    columns = tuple((index, p) for index, p in enumerate(processors) if p is not None)
    return _Compiled(compiled.string, binds, bool(compiled.positional), columns)


class CompiledRead:
    """One ``SELECT`` that returns at most one row, compiled once for ``engine`` and run on its
    pool with the driver's cursor.

    :param engine: the engine whose pool and dialect run the statement.
    :param statement: the statement; its parameters are bound by key (``bindparam("token")``),
        none of them expanding (``IN``) or literal-execute.
    """

    def __init__(self, engine: Engine, statement: sa.Select[t.Any]) -> None:
        self._engine = engine
        #: The statement (SQLAlchemy Core runs it when the direct path may not).
        self.statement = statement
        dialect = engine.dialect
        self._dialect = dialect
        self._supported = (dialect.name, dialect.driver) in DRIVERS
        # SQLite begins no transaction for a SELECT; elsewhere the read runs in autocommit.
        self._autocommit = self._keep_cursor = dialect.name != "sqlite"
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def usable(self) -> bool:
        """Whether the direct path may run now: a tested driver, and nobody watching the
        engine's statements (they would miss this one)."""
        engine = self._engine
        return (
            self._supported
            and not getattr(engine, "_has_events", True)
            and not getattr(self._dialect, "_has_events", True)
            and not engine.echo
            and not engine.logger.isEnabledFor(logging.INFO)  # statements are logged
        )

    def _ready(self) -> _Compiled:
        # Compiled at the first read, once a connection is checked out: the dialect knows the
        # server then (its version, its settings), as for SQLAlchemy's own compiled cache.
        compiled = self._compiled
        if compiled is None:
            with self._lock:
                compiled = self._compiled
                if compiled is None:
                    compiled = self._compiled = _compile(self.statement, self._dialect)
        return compiled

    def first(self, params: t.Mapping[str, t.Any]) -> tuple[t.Any, ...] | None:
        """The first row (a tuple, columns in the statement's order, processed by their types),
        or ``None``.

        :raises sqlalchemy.exc.DBAPIError: the driver failed (``connection_invalidated``: the
            connection was dropped, and discarded).
        :raises sqlalchemy.exc.SQLAlchemyError: the pool failed (its timeout).
        """
        engine, dialect = self._engine, self._dialect
        dbapi_error = dialect.loaded_dbapi.Error
        try:
            fairy = engine.raw_connection()
        except dbapi_error as exc:
            raise self._wrap(exc, None, None, dialect.is_disconnect(exc, None, None)) from exc
        try:
            compiled = self._compiled or self._ready()
            args = compiled.arguments(params)
        except BaseException:
            fairy.close()
            raise
        connection: t.Any = fairy.dbapi_connection  # valid: just checked out
        # Autocommit for this statement only, then the connection's own setting again: the
        # driver's flag alone (psycopg's ``autocommit``), not the dialect's isolation-level switch,
        # which sets the isolation level too and costs a few times more.
        switch = self._autocommit and not connection.autocommit
        cursor = None
        try:
            if switch:
                connection.autocommit = True
            if self._keep_cursor:
                # psycopg's cursors hold their result client-side: one a connection, reused,
                # forgotten with the connection (the pool clears ``info`` when it replaces it).
                cursor = fairy.info.get(_CURSOR_KEY)
                if cursor is None:
                    cursor = fairy.info[_CURSOR_KEY] = connection.cursor()
                cursor.execute(compiled.sql, args)
                row = cursor.fetchone()
            else:
                # SQLite: the cursor is closed (reset) so no read lock outlives the read.
                cursor = connection.cursor()
                cursor.execute(compiled.sql, args)
                row = cursor.fetchone()
                cursor.close()
        except dbapi_error as exc:
            dropped = dialect.is_disconnect(exc, connection, cursor)
            self._release(fairy, switch, exc if dropped else None)
            raise self._wrap(exc, compiled.sql, params, dropped) from exc
        except BaseException:
            self._release(fairy, switch, None)
            raise
        self._release(fairy, switch, None)
        if row is None:
            return None
        if not compiled.columns:
            return tuple(row)
        values = list(row)
        for index, process in compiled.columns:
            values[index] = process(values[index])
        return tuple(values)

    def _release(self, fairy: t.Any, switched: bool, dropped: BaseException | None) -> None:
        """Back to the pool: out of autocommit again, or discarded when it was dropped (as
        SQLAlchemy does it: with every pooled connection as old as it) or cannot be reset."""
        try:
            if dropped is not None:
                invalidate = getattr(self._engine.pool, "_invalidate", None)
                if invalidate is not None:
                    invalidate(fairy, dropped)
                else:  # pragma: no cover - a SQLAlchemy without it
                    fairy.invalidate(dropped)
            elif switched:
                fairy.dbapi_connection.autocommit = False
        except Exception as exc:
            fairy.invalidate(exc)
        finally:
            fairy.close()

    def _wrap(
        self, exc: Exception, statement: str | None, params: t.Any, dropped: bool
    ) -> sa_exc.StatementError:
        return sa_exc.DBAPIError.instance(
            statement,
            params,
            exc,
            self._dialect.loaded_dbapi.Error,
            hide_parameters=self._engine.hide_parameters,
            connection_invalidated=dropped,
            dialect=self._dialect,
        )


__all__ = ["DRIVERS", "CompiledRead"]
