"""``examples/cluster``: the one command (``gunicorn -c examples/cluster/gunicorn.conf.py``) starts
the demo on three workers sharing Redis, and ``tour.py`` shows, as the how-to page says, a
revocation and the sign-in throttle holding across workers.

Skipped, with the reason, without gunicorn or Redis, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import subprocess
import sys
import time
import typing as t
import urllib.request

import pytest
from support import ROOT, missing
from support.examples import EXAMPLES, load
from support.processes import free_port, stop

from flask_authguard.core.defences.store import default_prefixes

CLUSTER = EXAMPLES / "cluster"


@pytest.fixture
def cluster(redis_store: dict[str, str], tmp_path: pathlib.Path) -> t.Iterator[str]:
    """The cluster started with its one command; its URL."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        reason = "gunicorn is not installed (pip install -e '.[cluster]')"
        missing(reason)
    port = free_port()
    secret = secrets.token_hex(20)  # a fresh secret: a fresh key prefix in Redis, removed below
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTAUTH_", "AUTH_", "FLASK_"))}
    env.update(PORT=str(port), REDIS_URL=redis_store["store"], NEXTAUTH_SECRET=secret, WORKERS="3")
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        command = [sys.executable, "-m", "gunicorn", "-c", str(CLUSTER / "gunicorn.conf.py")]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    # every worker has loaded the app: on a busy machine the first one may
                    # answer while the others are still importing it, and take every request
                    if response.status == 200 and log.read_text().count(" ready\n") >= 3:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the cluster did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        assert f"running on {url} with 3 workers" in log.read_text()
        yield url
    finally:
        stop(process, timeout=15)
        import redis

        client = redis.Redis.from_url(redis_store["store"])
        for key in client.scan_iter(match=f"{default_prefixes([secret])[0]}*", count=500):
            client.delete(key)
        client.close()


def test_revocation_and_throttle_hold_across_workers(
    cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = load("cluster/tour").main([cluster])
    printed = capsys.readouterr().out

    revoked_by = result["revocation"]["revoked_by"]
    answers = result["revocation"]["answers"]
    assert answers and all(status == 401 for status, _ in answers), answers
    assert {worker for _, worker in answers} - {revoked_by}, "no other worker answered"

    throttled = result["throttle"]["answers"]
    statuses = [status for status, _ in throttled]
    assert statuses.count(401) == 10 and set(statuses) == {401, 429}, throttled  # ten counted, then 429
    assert len({worker for _, worker in throttled}) >= 2, "one worker took every attempt"
    assert "bob signs in: 200" in printed and "he signs out everywhere" in printed and "(worker " in printed
