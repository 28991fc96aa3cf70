"""The watchdog that cuts a PostgreSQL connection held out of its pool past its bound
(``flask_authguard.adapters.watchdog``). End to end, against a server that hangs:
``tests/adapters/test_engine.py::test_a_server_that_stops_answering_costs_a_prompt_503``."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from support.adapters import postgres_url  # noqa: E402

from flask_authguard.adapters.engine import create_engine  # noqa: E402
from flask_authguard.adapters.watchdog import GRACE, Watchdog, cut  # noqa: E402


class Driver:
    """Stands for a driver's connection: its socket's descriptor, as psycopg gives it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()


def test_cut_wakes_a_reader_waiting_on_the_socket_and_keeps_its_descriptor() -> None:
    ours, theirs = socket.socketpair()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(ours.recv(10)))
    reader.start()
    cut(Driver(ours))
    reader.join(5)
    assert not reader.is_alive() and got == [b""]  # the wait ends as if the peer had closed
    assert ours.fileno() >= 0  # the driver's descriptor is its own to close
    ours.close()
    theirs.close()


def test_cut_of_a_closed_connection_does_nothing() -> None:
    sock = socket.socket()
    sock.close()
    cut(Driver(sock))  # fileno() is -1: nothing to cut, no error


def test_each_late_connection_is_cut_once_and_none_once_back() -> None:
    dog = Watchdog()
    engine = sa.create_engine("sqlite://")
    dog.watch(engine, bound=5.0)
    with engine.connect():
        late = time.monotonic() + 5.0 + GRACE  # checked out before this moment
        assert dog.cut_overdue(0.0) == 0
        assert dog.cut_overdue(late) == 1  # (SQLite has no socket: nothing to shut down)
        assert dog.cut_overdue(late) == 0  # not again
    with engine.connect():
        pass
    assert dog.cut_overdue(float("inf")) == 0  # checked in: no longer watched
    conn = engine.connect()
    conn.detach()  # the app's own connection from now on
    assert dog.cut_overdue(float("inf")) == 0
    conn.close()
    engine.dispose()


def test_a_forked_child_watches_with_its_own_thread() -> None:
    """gunicorn ``--preload``: the parent checked a connection out (the thread started) before
    forking; the child starts a thread of its own at its first checkout."""
    from flask_authguard.adapters.watchdog import watchdog

    engine = sa.create_engine("sqlite://")
    watchdog.watch(engine, bound=5.0)
    with engine.connect():
        pass
    assert watchdog._thread is not None and watchdog._thread.is_alive()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave at once
        try:
            fresh = watchdog._thread is None and not watchdog._out
            with engine.connect():
                alive = watchdog._thread is not None and watchdog._thread.is_alive()
            os.write(write, b"ok" if fresh and alive else b"no")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 2) == b"ok"
    os.close(read)
    engine.dispose()


def test_only_our_statement_bound_is_watched() -> None:
    pytest.importorskip("psycopg", reason='the PostgreSQL driver is not installed: pip install -e ".[test]"')
    base = sa.engine.make_url(postgres_url())
    ours = create_engine(base)
    unbounded = create_engine(base.update_query_dict({"options": "-c statement_timeout=0"}))
    none = create_engine(base, statement_timeout=None)
    try:
        assert len(ours.pool.dispatch.checkout) == 1
        assert len(unbounded.pool.dispatch.checkout) == 0  # the URL's choice: no bound
        assert len(none.pool.dispatch.checkout) == 0
    finally:
        for engine in (ours, unbounded, none):
            engine.dispose()
