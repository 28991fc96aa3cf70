"""The app the load test (``tests/core/defences/test_shared_across_workers.py``) serves under
gunicorn with several workers.

Its options come from the environment the test sets: ``LOAD_STORE``, ``LOAD_PREFIX``.
"""

from __future__ import annotations

import os
import time
import typing as t

from flask import Flask, g

from flask_authguard import AuthGuard, CredentialsProvider

SECRET = "load-test-secret-0123456789abcdef0123456789"
PASSWORD = "right-password"


def options() -> dict[str, t.Any]:
    """The options every worker (and the test, to revoke) resolves."""
    return {
        "secret": SECRET,
        "store": os.environ.get("LOAD_STORE", "memory://"),
        "store_prefix": os.environ.get("LOAD_PREFIX", "load:"),
        "throttle": {"per_identifier": "5/minute", "per_address": "10000/minute"},
    }


def authorize(*, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any] | None:
    if credentials.get("password") == PASSWORD:
        return {"id": credentials.get("username"), "name": credentials.get("username")}
    return None


app = Flask(__name__)
AuthGuard(
    app,
    {
        **options(),
        "providers": [
            CredentialsProvider(
                authorize=authorize, credentials={"username": {}, "password": {"type": "password"}}
            )
        ],
    },
    matcher=["/api/private/:path*"],
)


_guarded_app = app.wsgi_app


def _paced(environ: t.Any, start_response: t.Any) -> t.Any:
    # 10 ms per protected request, so that concurrent requests keep one worker busy long enough
    # for the others to take their share (a sync worker serves one request at a time).
    if environ.get("PATH_INFO", "").startswith("/api/private"):
        time.sleep(0.01)
    return _guarded_app(environ, start_response)


app.wsgi_app = _paced  # type: ignore[method-assign]


@app.after_request
def worker_header(response: t.Any) -> t.Any:
    response.headers["X-Worker"] = str(os.getpid())  # which worker answered, refusals included
    return response


@app.get("/api/private/whoami")
def whoami() -> t.Any:
    return {"sub": g.auth_token["sub"]}


@app.get("/health")
def health() -> str:
    return "ok"
