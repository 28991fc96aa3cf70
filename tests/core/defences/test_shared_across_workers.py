"""Proof at scale: gunicorn with three workers sharing Redis.

Throttling and revocation must hold across workers: the sign-in limit is exact whatever worker
answers, and a revoked token is refused by every worker on its next request. No wrong decision,
no 5xx. Bounded (a few hundred requests) so it stays well under 30 seconds.

Skipped, with the reason, without gunicorn or Redis, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import subprocess
import sys
import time
import typing as t
from urllib.parse import urlencode

import pytest
from support import TESTS, missing
from support.load_app import PASSWORD, SECRET, options
from support.processes import free_port, stop

from flask_authguard import encode
from flask_authguard.core import _clock
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.sessions.revoke import Revoker

WORKERS = 3


def _need_gunicorn() -> None:
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        reason = "gunicorn is not installed (pip install -e '.[test]')"
        missing(reason)


class Server(t.NamedTuple):
    port: int
    env: dict[str, str]


@pytest.fixture
def server(redis_store: dict[str, str]) -> t.Iterator[Server]:
    _need_gunicorn()
    port = free_port()
    env = {**os.environ, "LOAD_STORE": redis_store["store"], "LOAD_PREFIX": redis_store["store_prefix"]}
    command = [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}"]
    command += ["--chdir", str(TESTS), "--log-level", "warning", "support.load_app:app"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if request(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"gunicorn did not start: {output[-2000:]}")
            time.sleep(0.1)
        yield Server(port, env)
    finally:
        stop(process)


def request(
    port: int, method: str, path: str, *, headers: dict[str, str] | None = None, body: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection (so the workers share the load)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def attempt_sign_in(port: int, username: str, password: str) -> int:
    status, headers, _ = request(port, "GET", "/api/auth/csrf")
    assert status == 200
    cookie = headers["set-cookie"].split(";", 1)[0]
    csrf = cookie.split("=", 1)[1].split("%7C", 1)[0]
    body = urlencode({"csrfToken": csrf, "username": username, "password": password, "json": "true"})
    status, _, _ = request(
        port,
        "POST",
        "/api/auth/callback/credentials",
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        body=body,
    )
    return status


def whoami(port: int, token: str) -> tuple[int, str]:
    status, headers, _ = request(
        port,
        "GET",
        "/api/private/whoami",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    return status, headers.get("x-worker", "")


def test_throttling_and_revocation_hold_across_workers(server: Server) -> None:
    port = server.port
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=8)
    statuses: list[int] = []

    # 1. Throttling: 20 concurrent wrong guesses for one user, spread over the workers: exactly
    #    the limit (5) reach the password check, every other one is 429.
    statuses = list(pool.map(lambda _: attempt_sign_in(port, "victim", "guess"), range(20)))
    assert sorted(statuses) == [401] * 5 + [429] * 15, statuses  # json=true: 401 {url: ...error}
    assert attempt_sign_in(port, "victim", PASSWORD) == 429  # even the right password, for now
    assert attempt_sign_in(port, "someone-else", PASSWORD) == 200

    # 2. Revocation: six sessions of three users, each asked on every worker.
    now = _clock.now()
    tokens = {
        (user, n): encode(token={"sub": user, "sid": f"{user}-{n}", "auth_time": now - 60}, secret=SECRET)
        for user in ("u1", "u2", "u3")
        for n in (1, 2)
    }

    def ask_all(rounds: int) -> dict[tuple[str, int], list[tuple[int, str]]]:
        jobs = {
            key: [pool.submit(whoami, port, token) for _ in range(rounds)] for key, token in tokens.items()
        }
        return {key: [job.result() for job in futures] for key, futures in jobs.items()}

    before = ask_all(10)
    assert all(status == 200 for answers in before.values() for status, _ in answers)
    revoker = Revoker(
        resolve_options(
            {**options(), "store": server.env["LOAD_STORE"], "store_prefix": server.env["LOAD_PREFIX"]}
        )
    )
    revoker.revoke_user("u1")
    assert revoker.revoke_token(tokens[("u2", 1)]) == "sid"
    after = ask_all(20)
    revoked = {("u1", 1), ("u1", 2), ("u2", 1)}
    for key, answers in after.items():
        expected = 401 if key in revoked else 200
        assert [status for status, _ in answers] == [expected] * len(answers), key
    workers = {pid for answers in (*before.values(), *after.values()) for _, pid in answers}
    refusing = {pid for key in revoked for _, pid in after[key]}
    assert len(workers) == WORKERS and refusing == workers  # every worker refused the revoked tokens
    pool.shutdown()
