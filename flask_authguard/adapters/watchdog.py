"""A bound on how long a PostgreSQL connection may stay out of the pool: a server that hangs
costs a 503, not a request that waits for ever.

libpq has no bound on waiting for an answer. The server's ``statement_timeout`` answers a slow
statement, and ``tcp_user_timeout`` drops a connection whose packets are lost; neither notices a
server process that hangs (stopped, out of memory, stuck on a disk) while its host still
acknowledges every packet: the request, and the worker thread serving it, would wait for good.

So every engine :func:`~flask_authguard.adapters.engine.create_engine` makes for PostgreSQL is
watched: a connection held out of its pool longer than its bound (the statement's, plus a second
for the answer on its way) has its socket shut down by one watchdog thread of the process. The
waiting driver then fails at once, as it does when a server drops the connection: SQLAlchemy
discards the connection, and the adapter's read tries once more on a new one (bounded by
``connect_timeout``) or answers :class:`~flask_authguard.core.errors.BackendUnavailableError`
(a 503). A session lookup holds a connection for a millisecond or two; the bound is seconds.

The bound is on a connection's time out of its pool, not on each statement: watching statements
takes SQLAlchemy's statement events, which every session lookup would then pay for. So long
work of the app's own (a batch over many rows in one transaction) belongs on an engine of its
own, not on the adapter's.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import Engine

logger = logging.getLogger("flask_authguard")

#: Seconds between two looks at the connections out of their pools.
INTERVAL = 0.25
#: Seconds a connection may be out of its pool beyond its statement's bound.
GRACE = 1.0


class Watchdog:
    """Shuts down the socket of any watched connection out of its pool for too long."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        # pool entry -> (deadline on the monotonic clock, the driver's connection)
        self._out: dict[t.Any, tuple[float, t.Any]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def forked(self) -> None:
        """In a child process (``os.fork``: gunicorn ``--preload``, uWSGI): no thread runs here
        yet, whatever the parent started, and the parent's connections are not this process's
        to watch (a lock held at the fork is left behind too)."""
        self._out = {}
        self._lock = threading.Lock()
        self._thread = None

    def watch(self, engine: Engine, bound: float) -> None:
        """Cut ``engine``'s connections held out of its pool for over ``bound`` + :data:`GRACE`
        seconds."""
        limit = bound + GRACE

        def checked_out(dbapi_connection: t.Any, entry: t.Any, proxy: t.Any) -> None:
            with self._lock:
                self._out[entry] = (time.monotonic() + limit, dbapi_connection)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="authguard-watchdog", daemon=True)
                    self._thread.start()

        def back(dbapi_connection: t.Any, entry: t.Any) -> None:  # checked in, or detached
            with self._lock:
                self._out.pop(entry, None)

        sa.event.listen(engine.pool, "checkout", checked_out)
        sa.event.listen(engine.pool, "checkin", back)
        sa.event.listen(engine.pool, "detach", back)  # the app's own from then on: not watched

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            self.cut_overdue(time.monotonic())

    def cut_overdue(self, now: float) -> int:
        """Cut the connections out of their pools past their deadline at ``now`` (no longer
        watched from then on); how many. Under the lock, so none is checked in between being
        found late and being cut (a healthy pooled connection is never cut)."""
        with self._lock:
            late = [entry for entry, (deadline, _) in self._out.items() if now >= deadline]
            for entry in late:
                cut(self._out.pop(entry)[1])
            return len(late)


def cut(dbapi_connection: t.Any) -> None:
    """Shut down the connection's socket (both ways) so that a driver waiting on it fails now.

    The driver keeps its file descriptor (it closes it when SQLAlchemy discards the
    connection): only a duplicate is made and closed here, so no descriptor is ever reused
    under the driver.
    """
    try:
        fd = dbapi_connection.fileno()  # psycopg 3 and psycopg2 alike
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except Exception as exc:  # closed meanwhile (the driver's own error): nothing to cut
        logger.debug("watchdog: the connection was gone already (%s)", exc)
        return
    logger.warning("a database connection waited over its bound for the server: cut (the request gets 503)")


#: The process's one watchdog.
watchdog = Watchdog()
if hasattr(os, "register_at_fork"):  # POSIX: a forked worker watches with a thread of its own
    os.register_at_fork(after_in_child=watchdog.forked)

__all__ = ["GRACE", "INTERVAL", "Watchdog", "cut", "watchdog"]
