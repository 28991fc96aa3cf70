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
import os
import pathlib
import socket
import subprocess
import sys
import time

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
        return sorted(pid for pid, ppid in _processes() if ppid == self.process.pid)

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server and its direct children (gunicorn's workers), from
        ``/proc``; ``None`` where there is no ``/proc``."""
        return process_tree_cpu(self.process.pid)


def start_server(kind: str, *, workers: int = 2, threads: int = 1, timeout: float = 30.0) -> Server:
    """Start :func:`bench.apps.server_app` (``kind`` ``"bare"`` or ``"guarded"``) on loopback.

    :raises RuntimeError: the server did not answer ``/health`` within ``timeout`` seconds.
    """
    port = free_port()
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    if has_gunicorn():
        engine = f"gunicorn {workers} gthread workers × {threads} thread{'s' if threads > 1 else ''}"
        argv = [
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
            f"bench.apps:server_app({kind!r})",
        ]
    else:
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


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds of ``pid`` and its direct children."""
    own = _stat(pid)
    if own is None:
        return None
    total = own[1]
    for child, ppid in _processes():
        if ppid == pid:
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


def _client(args: tuple[int, str, dict[str, str], float, float, int | None]) -> tuple[int, int]:
    """One client process: keep-alive GETs from ``start_at`` until ``start_at + seconds``;
    (requests, errors), where an error is anything but a 200 with a body."""
    port, path, headers, start_at, seconds, worker = args
    conn = _connect(port, worker)
    requests = errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    while time.time() < end:
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or not body:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
        requests += 1
    conn.close()
    return requests, errors


def load(
    server: Server, path: str, headers: dict[str, str], *, seconds: float, clients: int = 2
) -> LoadResult:
    """Load ``server`` with ``clients`` processes for ``seconds``, keep-alive, bounded (each
    client waits for its answer before the next request); client ``i`` keeps to worker
    ``i % workers`` so the load is spread evenly."""
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.5 + 0.25 * clients  # let every client process start and connect first
    pids: list[int | None] = list(server.worker_pids()) or [None]
    jobs = [(server.port, path, headers, start_at, seconds, pids[i % len(pids)]) for i in range(clients)]
    with context.Pool(clients) as pool:
        pending = pool.map_async(_client, jobs)
        while time.time() < start_at:
            time.sleep(0.005)
        cpu_before = server.cpu_seconds()
        results = pending.get(timeout=seconds + 60)
        cpu_after = server.cpu_seconds()
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return LoadResult(sum(r for r, _ in results), sum(e for _, e in results), seconds, cpu)


def _serve(kind: str, port: int) -> None:
    from werkzeug.serving import run_simple

    from bench.apps import server_app

    run_simple(HOST, port, server_app(kind), threaded=True)


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
