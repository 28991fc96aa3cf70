"""Instructions a request costs, counted by valgrind's callgrind: the rows that do not move
with the machine.

Wall time on a shared 2-vCPU VM moves by tens of per cent with the other guests' load; the
user-space instructions a process runs do not: the same code gives the same count whatever the
machine does, to within 2% from run to run for a Flask row's difference (each run has its own
tokens and clock, and so its own hashes and dict probes) and far less for ``with_auth``'s. So the
issue's cost targets are instruction counts.

How a count is taken. The process runs under ``valgrind --tool=callgrind --dump-before=getsid``:
whenever it calls ``getsid()``, a system call nothing on a request's path makes, callgrind writes
the instructions counted since its last dump to a new dump file (all threads together) and
starts again from zero. The measured code brackets a batch of requests with ``os.getsid(0)``
... ``os.getsid(0)``, once with ``n`` requests and once with ``2n``; the difference of the two
batches' dumps, over ``n``, is what one request costs, with start-up, warm-up and the brackets'
own instructions cancelled out. ``PYTHONHASHSEED`` is fixed, and the cyclic garbage collector is
run before each batch and off during it: left on, its collections land on whichever batch
crosses a threshold, and moved a Flask row's count by 2% between batch sizes.

- In-process (:func:`count_in_process`): ``python -m bench.instructions N KEY...`` builds each
  row of :data:`bench.apps.REQUESTS` named (the same apps, requests and checks as the timed
  rows: a valid cookie replayed, so the verified-token cache is warm, and the view reading the
  token), warms it up and counts its batches; a row's cost over its bare baseline is the guard's.
- A gunicorn worker (:func:`count_worker`): one ``gthread`` worker, one thread, of
  :func:`bench.apps.server_app` under callgrind; this process sends keep-alive requests to each
  route of :data:`bench.apps.ROUTES`, bracketed by ``GET /bench/start`` and ``GET /bench/end``
  (the routes that call ``getsid()``). The count covers the worker's whole process: gunicorn's
  parsing and writing, Flask, the guard. Kernel time is not counted.

Without valgrind (``callgrind=False``, the smoke test's tiny mode) the same code runs natively
and every request is still checked, but nothing is counted.
"""

from __future__ import annotations

import gc
import http.client
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
#: Requests of warm-up before a row's first counted batch (at most ``n``).
WARMUP = 100
_SUMMARY = re.compile(rb"^summary:\s*(\d+)", re.MULTILINE)


def unavailable() -> str | None:
    """Why the counts cannot be taken here (``None``: they can)."""
    if shutil.which("valgrind") is None:
        return "not installed: valgrind"
    return None


def _valgrind(out: pathlib.Path) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--dump-before=getsid",
        f"--callgrind-out-file={out}/callgrind.%p",
        f"--log-file={out}/valgrind.%p.log",
    ]


def _environment() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, PYTHONHASHSEED="0")


def per_request(folder: pathlib.Path, pid: int, batches: list[int]) -> list[int]:
    """Instructions per request from ``pid``'s dumps in ``folder``: for each ``n`` in ``batches``,
    four dumps (what ran before the batch of ``n``, the batch, what ran before the batch of
    ``2n``, the batch)."""
    dumps = sorted(folder.glob(f"callgrind.{pid}.*"), key=lambda p: int(p.suffix[1:]))
    totals = [int(m.group(1)) for d in dumps if (m := _SUMMARY.search(d.read_bytes()))]
    if len(totals) != 4 * len(batches):
        raise RuntimeError(f"expected {4 * len(batches)} callgrind dumps of {pid}, found {len(totals)}")
    return [(totals[4 * i + 3] - totals[4 * i + 1]) // n for i, n in enumerate(batches)]


# -- in-process -------------------------------------------------------------------------------


def _child(n: int, keys: list[str]) -> None:
    """Run each row's batches (the process callgrind watches); print what ran, as JSON."""
    import warnings

    from bench import apps

    warnings.simplefilter("ignore")  # the peers' deprecation warnings are not the subject
    ran: dict[str, int | str] = {}
    for key in keys:
        try:
            call = apps.REQUESTS[key]()
        except apps.Skip as exc:
            ran[key] = str(exc)
            continue
        batch = getattr(call, "batch", 1)
        calls = max(1, n // batch)
        for _ in range(max(1, min(n, WARMUP) // batch)):
            call()
        for size in (calls, 2 * calls):
            gc.collect()
            gc.disable()
            os.getsid(0)
            for _ in range(size):
                call()
            os.getsid(0)
            gc.enable()
        ran[key] = calls * batch
    print(json.dumps(ran))


def count_in_process(
    keys: list[str], n: int = 1000, *, callgrind: bool = True
) -> dict[str, int | str | None]:
    """Instructions per request of each :data:`bench.apps.REQUESTS` row in ``keys`` (``None``
    without callgrind; a string saying why a row did not run)."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        out = pathlib.Path(tmp)
        argv = [
            *(_valgrind(out) if callgrind else []),
            sys.executable,
            "-m",
            "bench.instructions",
            str(n),
            *keys,
        ]
        proc = subprocess.run(
            argv, cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=1800
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"the counting process failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"
            )
        ran: dict[str, int | str] = json.loads(proc.stdout.strip().splitlines()[-1])
        if not callgrind:
            return {k: v if isinstance(v, str) else None for k, v in ran.items()}
        counted = [k for k, v in ran.items() if isinstance(v, int)]
        pids = {int(dump.name.split(".")[1]) for dump in out.glob("callgrind.*.*")}
        if len(pids) != 1:
            raise RuntimeError(f"expected the dumps of one process, found {sorted(pids)}")
        pid = pids.pop()
        counts = dict(zip(counted, per_request(out, pid, [int(ran[k]) for k in counted]), strict=True))
        return {k: counts.get(k, ran[k]) for k in ran}


# -- a gunicorn worker ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> bytes:
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200 or not body:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return body


def count_worker(
    kind: str, headers: dict[str, str], n: int = 300, *, callgrind: bool = True
) -> dict[str, int | None]:
    """Instructions per request of a gunicorn ``gthread`` worker of ``server_app(kind)`` on each
    route of :data:`bench.apps.ROUTES` (``None`` without callgrind).

    :raises RuntimeError: the server did not start or answered anything but 200.
    """
    from bench.apps import ROUTES

    with tempfile.TemporaryDirectory(prefix="bench-callgrind-", ignore_cleanup_errors=True) as tmp:
        out, port = pathlib.Path(tmp), _free_port()
        argv = [
            *(_valgrind(out) if callgrind else []),
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "1",
            "--keep-alive",
            "60",
            "--timeout",
            "900",  # slow under valgrind: not a hung worker
            "--log-level",
            "warning",
            f"bench.apps:server_app({kind!r})",
        ]
        log = out / "gunicorn.log"
        with log.open("wb") as stderr:
            server = subprocess.Popen(
                argv, cwd=ROOT, env=_environment(), stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            deadline = time.monotonic() + 300
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    last = (log.read_text(errors="replace").strip().splitlines() or ["?"])[-1]
                    raise RuntimeError(f"the {kind} server did not start: {last}")
                try:
                    conn = http.client.HTTPConnection(HOST, port, timeout=120)
                    _get(conn, "/health", {})
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    time.sleep(0.2)
            try:
                for route in ROUTES:
                    for _ in range(min(n, WARMUP)):
                        _get(conn, route, headers)
                    for size in (n, 2 * n):
                        worker = int(_get(conn, "/bench/start", headers))
                        for _ in range(size):
                            _get(conn, route, headers)
                        _get(conn, "/bench/end", headers)  # answered once the dump is written
            finally:
                conn.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
        if not callgrind:
            return dict.fromkeys(ROUTES)
        return dict(zip(ROUTES, per_request(out, worker, [n] * len(ROUTES)), strict=True))


if __name__ == "__main__":
    _child(int(sys.argv[1]), sys.argv[2:])
