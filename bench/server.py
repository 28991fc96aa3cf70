"""Loopback servers for the benchmark and a bounded keep-alive load client.

The servers are child processes on ``127.0.0.1``: gunicorn (``gthread`` workers, which keep
connections alive) when it is installed, else werkzeug's threaded server
(``python -m bench.server <kind> <port>``). Only the processes started here are stopped, by pid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import importlib.util
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import pathlib
import socket
import subprocess
import sys
import time
import typing as t

ROOT = pathlib.Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def has_gunicorn() -> bool:
    return importlib.util.find_spec("gunicorn") is not None


@dataclasses.dataclass
class Server:
    """A running server process."""

    kind: str
    port: int
    process: subprocess.Popen[bytes]
    engine: str

    def stop(self) -> None:
        """Stop the process this object started (gunicorn stops its own workers)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def worker_pids(self) -> list[int]:
        """The pids of gunicorn's workers (the server's direct children); ``[]`` without ``/proc``."""
        return child_pids(self.process.pid)

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server and its direct children (gunicorn's workers), from
        ``/proc``; ``None`` where there is no ``/proc``."""
        return process_tree_cpu(self.process.pid)


def start_server(
    kind: str,
    *,
    workers: int = 2,
    threads: int = 1,
    timeout: float = 30.0,
    prefix: t.Sequence[str] = (),
    gunicorn_options: t.Sequence[str] = (),
    environment: t.Mapping[str, str] | None = None,
) -> Server:
    """Start :func:`bench.apps.server_app` (``kind`` one of :data:`bench.apps.SERVER_KINDS`) on
    loopback.

    :param prefix: a command the server runs under (``valgrind ...``); gunicorn only.
    :param gunicorn_options: more gunicorn options (the last of a repeated option wins).
    :param environment: variables set for the server on top of this process's.
    :raises RuntimeError: the server did not answer ``/health`` within ``timeout`` seconds.
    """
    port = free_port()
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    env.update(environment or {})
    if has_gunicorn():
        engine = f"gunicorn {workers} gthread workers × {threads} thread{'s' if threads > 1 else ''}"
        argv = [
            *prefix,
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
            *gunicorn_options,
            f"bench.apps:server_app({kind!r})",
        ]
    else:
        if prefix:
            raise RuntimeError("a server under a command prefix needs gunicorn")
        engine = "werkzeug threaded (gunicorn not installed)"
        argv = [sys.executable, "-m", "bench.server", kind, str(port)]
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Server(kind, port, process, engine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"the {kind} server exited with {process.returncode}:\n{err[-2000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            try:
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return server
            finally:
                conn.close()
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the {kind} server did not answer on {HOST}:{port} within {timeout:.0f} s")


def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, cpu seconds) of ``pid`` from ``/proc/<pid>/stat``."""
    try:
        raw = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the name may hold spaces
    ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
    return ppid, (utime + stime) / _clock_ticks()


def _processes() -> list[tuple[int, int]]:
    """(pid, ppid) of every process ``/proc`` shows."""
    found = []
    with contextlib.suppress(OSError):
        for entry in pathlib.Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = _stat(int(entry.name))
                if stat is not None:
                    found.append((int(entry.name), stat[0]))
    return found


def child_pids(pid: int) -> list[int]:
    """The pids of ``pid``'s direct children; ``[]`` without ``/proc``."""
    return sorted(child for child, ppid in _processes() if ppid == pid)


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds of ``pid`` and its direct children."""
    own = _stat(pid)
    if own is None:
        return None
    total = own[1]
    for child in child_pids(pid):
        stat = _stat(child)
        total += stat[1] if stat is not None else 0.0
    return total


# -- the load client ----------------------------------------------------------------------------


@dataclasses.dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    server_cpu: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _connect(port: int, worker: int | None) -> http.client.HTTPConnection:
    """A keep-alive connection, served by process ``worker`` when given: the workers race to
    accept, so two clients could otherwise share one worker while the other idles."""
    for _ in range(200):
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        if worker is None:
            return conn
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        if response.getheader("X-Bench-Worker") == str(worker):
            return conn
        conn.close()
    return http.client.HTTPConnection(HOST, port, timeout=10)


def _client(
    conn: multiprocessing.connection.Connection, targets: list[tuple[int, int | None]], path: str,
    headers: dict[str, str],
) -> None:
    """One client process: a keep-alive connection to each ``(port, worker)`` target, then, for
    each ``(port, start_at, seconds)`` it is sent, keep-alive GETs from ``start_at`` until
    ``start_at + seconds``, answering ``(requests, errors)``, where an error is anything but a
    200 with a body. ``None`` ends it."""
    connections = {port: _connect(port, worker) for port, worker in targets}
    conn.send("ready")
    while (job := conn.recv()) is not None:
        port, start_at, seconds = job
        http_conn = connections[port]
        requests = errors = 0
        while time.time() < start_at:
            time.sleep(0.0005)
        end = start_at + seconds
        while time.time() < end:
            try:
                http_conn.request("GET", path, headers=headers)
                response = http_conn.getresponse()
                body = response.read()
                if response.status != 200 or not body:
                    errors += 1
            except (OSError, http.client.HTTPException):
                errors += 1
                http_conn.close()
                http_conn = connections[port] = http.client.HTTPConnection(HOST, port, timeout=10)
            requests += 1
        conn.send((requests, errors))
    for http_conn in connections.values():
        http_conn.close()


class LoadClients:
    """``clients`` load processes kept for the whole run, each with a keep-alive connection to
    every server, so that servers can be loaded in turn in short windows (bounded: each client
    waits for its answer before the next request). Client ``i`` keeps to worker ``i % workers``
    of each server, so the load is spread evenly.
    """

    def __init__(self, servers: list[Server], path: str, headers: dict[str, str], clients: int = 2) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[multiprocessing.connection.Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        workers = {srv.port: list(srv.worker_pids()) or [None] for srv in servers}
        for i in range(clients):
            targets = [(port, pids[i % len(pids)]) for port, pids in workers.items()]
            ours, theirs = context.Pipe()
            process = context.Process(target=_client, args=(theirs, targets, path, headers), daemon=True)
            process.start()
            self._pipes.append(ours)
            self._processes.append(process)
        for pipe in self._pipes:
            try:
                ready = pipe.poll(60) and pipe.recv() == "ready"
            except EOFError:  # the process died: its traceback is on stderr
                ready = False
            if not ready:
                self.close()
                raise RuntimeError("a load client did not connect within 60 s")

    def load(self, server: Server, seconds: float) -> LoadResult:
        """Load ``server`` from every client for ``seconds``."""
        start_at = time.time() + 0.02
        for pipe in self._pipes:
            pipe.send((server.port, start_at, seconds))
        while time.time() < start_at:
            time.sleep(0.0005)
        cpu_before = server.cpu_seconds()
        results = []
        for pipe in self._pipes:
            if not pipe.poll(seconds + 60):
                raise RuntimeError("a load client did not answer")
            results.append(pipe.recv())
        cpu_after = server.cpu_seconds()
        cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        return LoadResult(sum(r for r, _ in results), sum(e for _, e in results), seconds, cpu)

    def close(self) -> None:
        """End the client processes."""
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()

    def __enter__(self) -> LoadClients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(kind: str, port: int) -> None:
    from werkzeug.serving import run_simple

    from bench.apps import server_app

    run_simple(HOST, port, server_app(kind), threaded=True)


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
