"""What a gunicorn worker executes per request, counted by callgrind: the server rows'
noise-free companion.

This VM's speed changes from one moment to the next, so the throughput rows move by several
per cent between runs. Instructions do not: valgrind's callgrind counts the user-space
instructions a process runs, the same for the same code and inputs whatever else the machine
does. :func:`count_instructions` starts the server app of one kind as gunicorn (one ``gthread``
worker, one thread, as the throughput rows' workers) under callgrind, warms it up, zeroes the
worker's counters, sends ``requests`` keep-alive requests one after another from this process,
dumps the counters and divides. Kernel time (the socket calls) is not counted: it is the same
for every kind, so a ratio of counts is what the worker's own CPU work allows, before the
kernel's share dilutes it.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

from bench import server as servers

#: The hash seed the counted servers run with (a different seed changes dict layouts and counts).
HASH_SEED = "0"
#: The dump's header line with the total of its events, and the line that ends a complete dump.
_SUMMARY = re.compile(rb"^summary:\s*(\d+)", re.MULTILINE)
_END = re.compile(rb"^totals:", re.MULTILINE)


def unavailable() -> str | None:
    """Why the counts cannot be taken here (``None``: they can)."""
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    if missing:
        return f"not installed: {' and '.join(missing)} (Debian's valgrind package)"
    if not servers.has_gunicorn():
        return "not installed: gunicorn"
    return None


def _send(conn: http.client.HTTPConnection, path: str, headers: dict[str, str], count: int) -> None:
    for _ in range(count):
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or not body:
            raise RuntimeError(f"GET {path} answered {response.status} under callgrind")


def _read_dump(folder: pathlib.Path, pid: str, before: set[pathlib.Path], wait: float = 30.0) -> int:
    """The event total of the first dump of ``pid`` in ``folder`` not in ``before``, once
    callgrind has written all of it (it writes when the worker next runs)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for dump in sorted(set(folder.glob(f"callgrind.{pid}*")) - before):
            data = dump.read_bytes()
            summary = _SUMMARY.search(data)
            if summary is not None and _END.search(data):
                return int(summary.group(1))
        time.sleep(0.05)
    raise RuntimeError("callgrind wrote no counts for the worker")


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], capture_output=True, timeout=60, check=True)


def count_instructions(
    kind: str,
    path: str,
    headers: dict[str, str],
    *,
    requests: int = 500,
    warmup: int = 200,
    timeout: float = 300.0,
) -> int:
    """Instructions the worker of a ``kind`` server runs per request (see the module's docstring).

    :raises RuntimeError: the server did not start or answered a request with anything but 200.
    """
    # (the worker may still be writing its last dump as it exits: leave what cannot be removed)
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-", ignore_cleanup_errors=True) as tmp:
        out = pathlib.Path(tmp)
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            "--trace-children=yes",
            f"--callgrind-out-file={out}/callgrind.%p",
            f"--log-file={out}/valgrind.%p.log",  # (not the server's stderr pipe, which nobody reads)
        ]
        server = servers.start_server(
            kind,
            workers=1,
            timeout=timeout,
            prefix=valgrind,
            # slow under valgrind: gunicorn must not take the worker for a hung one
            gunicorn_options=["--timeout", str(int(timeout)), "--keep-alive", "60"],
            environment={"PYTHONHASHSEED": HASH_SEED},
        )
        try:
            conn = http.client.HTTPConnection(servers.HOST, server.port, timeout=60)
            try:
                _send(conn, path, headers, warmup)
                worker = server.worker_pids()  # (valgrind runs gunicorn in its own process)
                if len(worker) != 1:
                    raise RuntimeError(f"expected one gunicorn worker under callgrind, found {len(worker)}")
                pid = str(worker[0])
                _control("--zero", pid)
                _send(conn, path, headers, requests)
                before = set(out.glob(f"callgrind.{pid}*"))
                _control("--dump", pid)
            finally:
                conn.close()
            return _read_dump(out, pid, before) // requests
        finally:
            server.stop()


def count_all(kinds: list[str], path: str, headers: dict[str, str], *, requests: int = 500) -> dict[str, int]:
    """:func:`count_instructions` for every kind, at the same time (counts do not depend on load)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        futures = {
            kind: pool.submit(count_instructions, kind, path, headers, requests=requests) for kind in kinds
        }
        return {kind: future.result() for kind, future in futures.items()}
