"""How the SQLAlchemy adapter talks to its database: writes in a short transaction, single reads
outside one (no BEGIN/COMMIT round trips; the session lookup as a
:class:`~flask_authguard.adapters.reads.CompiledRead`), one retry when the server dropped the
connection, and every database failure as :class:`~flask_authguard.core.errors.BackendUnavailableError`."""

from __future__ import annotations

import contextlib
import logging
import typing as t

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from ..core.errors import BackendUnavailableError
from .engine import Turns
from .reads import CompiledRead

logger = logging.getLogger("flask_authguard")
_Row = t.TypeVar("_Row")


def _describe(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else 'no details'}"


class Connections:
    """The adapter's connection handling (a base of
    :class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter`)."""

    #: The engine writes go through.
    engine: Engine
    #: The engine single reads go through (autocommit: nothing to end).
    _reader: Engine
    #: This process's operations one at a time where the database needs it (SQLite).
    _turns: Turns

    @contextlib.contextmanager
    def _transaction(self, operation: str) -> t.Iterator[Connection]:
        """A connection in a transaction, committed at the end (the writes)."""
        with self._failures(operation), self.engine.begin() as conn:
            yield conn

    def _first(self, operation: str, statement: t.Any, params: dict[str, t.Any] | None = None) -> t.Any:
        """The first row of one read statement (no transaction to end), or ``None``."""
        return self._read(operation, lambda: self._run_first(statement, params))

    def _first_compiled(self, operation: str, read: CompiledRead, params: dict[str, t.Any]) -> t.Any:
        """The first row (a tuple) of a :class:`CompiledRead`, on SQLAlchemy Core's ``execute``
        when the engine's statements are watched (:meth:`CompiledRead.usable`)."""
        if read.usable():
            return self._read(operation, lambda: read.first(params))
        return self._first(operation, read.statement, params)

    def _read(self, operation: str, run: t.Callable[[], _Row]) -> _Row:
        """``run()``, tried once more when the server had dropped its connection.

        No connection is pinged before use (that is a round trip per request): a connection the
        server dropped (a restart) fails the read, the pool's connections as old as it are
        discarded, and the read is tried once more on a new connection, so a restart still
        costs no failed request.
        """
        # _failures() inlined: this runs on every request.
        turns = self._turns
        turns.acquire(operation)
        try:
            try:
                return run()
            except sa_exc.DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                logger.info("%s: the database dropped the connection; trying once more", operation)
                return run()
        except (sa_exc.IntegrityError, sa_exc.DataError):
            raise  # the data's fault, not the database's
        except sa_exc.SQLAlchemyError as exc:
            raise self._unavailable(operation, exc) from exc
        finally:
            turns.release()

    def _run_first(self, statement: t.Any, params: dict[str, t.Any] | None) -> t.Any:
        with self._reader.connect() as conn:
            return conn.execute(statement, params).first()

    @contextlib.contextmanager
    def _failures(self, operation: str) -> t.Iterator[None]:
        """Take this process's turn; database errors as :class:`BackendUnavailableError`."""
        with self._turns.take(operation):
            try:
                yield
            except (sa_exc.IntegrityError, sa_exc.DataError):
                raise  # the data's fault, not the database's
            except sa_exc.SQLAlchemyError as exc:
                raise self._unavailable(operation, exc) from exc

    def _unavailable(self, operation: str, error: BaseException) -> BackendUnavailableError:
        dialect = self.engine.dialect.name
        return BackendUnavailableError(f"{operation} failed on {dialect}: {_describe(error)}")
