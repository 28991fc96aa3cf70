"""The timing half of ``bench/compare.py``: one process per checkout, driven over stdin/stdout.

.. code-block:: console

    $ python bench/compare_worker.py /path/to/checkout [rows]   # then JSON commands, one per line

``rows`` (comma-separated) names the rows built only on demand, the database ones (``db_*``:
fresh tables in a SQLite file, or on the PostgreSQL server of ``AUTHGUARD_TEST_DATABASE_URL``,
dropped at exit).

This script is self-contained on purpose: ``bench/compare.py`` runs this same file against every
checkout it compares, whatever that checkout's own ``bench/`` looks like, so it imports nothing
from ``bench`` and only the public API of ``flask_authguard`` (``with_auth``, ``AuthGuard``,
``get_server_session``, ``get_token``, ``encode``, ``SQLAlchemyAdapter``), which older commits
have too. The checkout's
root goes first on ``sys.path``; the package imported is reported back so the parent can check it
is the checkout's and not another install.

Commands (one JSON object a line; one JSON answer a line):

- start-up: ``{"package": <flask_authguard's __file__>, "rows": {key: [label, baseline]},
  "failed": {key: reason}}`` (every row is built and checked once first: status, body, cookie)
- ``{"cmd": "calibrate", "rows": [...], "seconds": s, "calls": n}``: warm each row up for ``s``
  seconds (or ``n`` calls when ``n`` is given); answers ``{"us": {key: µs per call}}``
- ``{"cmd": "round", "order": [...], "iterations": {key: n}}``: time each row once, ``n`` calls,
  in that order; answers ``{"us": {key: µs per call}}``
- ``{"cmd": "quit"}`` or end of input: exit
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
import time
import typing as t
import warnings

SECRET = "bench-secret-5f1d0c2a9e8b7d6c5b4a39281706f5e4"
CLAIMS = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "picture": "https://x.example/42.png",
    "sub": "42",
}
PATH = "/dashboard"
COOKIE = "next-auth.session-token"
NOISE = (
    "next-auth.csrf-token="
    + "3f" * 32
    + "%7C"
    + "9a" * 32
    + "; next-auth.callback-url=http%3A%2F%2Flocalhost"
)
HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
}
HELLO = ("hello " + CLAIMS["name"]).encode()

#: key: (label, the row it is measured over, or None)
ROWS: dict[str, tuple[str, str | None]] = {
    "wsgi_bare": ("Plain WSGI app (no auth): the same code on both sides", None),
    "with_auth_valid": ("with_auth on the plain WSGI app, valid cookie", "wsgi_bare"),
    "with_auth_no_cookie": ("with_auth, no cookie (307 to sign-in)", "wsgi_bare"),
    "flask_bare": ("Bare Flask route (no auth): the same code on both sides", None),
    "authguard_valid": ("AuthGuard site-wide, valid cookie (g.auth_token)", "flask_bare"),
    "authguard_no_cookie": ("AuthGuard site-wide, no cookie (307 to sign-in)", "flask_bare"),
    "get_server_session": (
        "get_server_session() in a Flask view (callbacks, re-encode, Set-Cookie)",
        "flask_bare",
    ),
    "get_token": ("get_token(environ) alone (cookie parse + decode)", None),
    "db_guard_sqlite": ("AuthGuard site-wide on database sessions, SQLite file", "authguard_valid"),
    "db_gss_sqlite": ("get_server_session() on database sessions, SQLite file", "get_server_session"),
    "db_guard_postgresql": ("AuthGuard site-wide on database sessions, PostgreSQL", "authguard_valid"),
    "db_gss_postgresql": ("get_server_session() on database sessions, PostgreSQL", "get_server_session"),
}
#: Rows built only when asked for (they make tables, in a SQLite file or on a PostgreSQL server).
ON_DEMAND = frozenset(key for key in ROWS if key.startswith("db_"))
#: Where the PostgreSQL rows run (the test suite's variable and default).
POSTGRES_URL = os.environ.get(
    "AUTHGUARD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

Call = t.Callable[[], object]


def _environ(cookie: str) -> dict[str, t.Any]:
    from werkzeug.test import EnvironBuilder

    headers = [*HEADERS.items(), ("Cookie", cookie)]
    builder = EnvironBuilder(path=PATH, base_url="http://localhost:5000", headers=headers)
    try:
        return dict(builder.get_environ())
    finally:
        builder.close()


def _check_and_call(
    app: t.Any, environ: dict[str, t.Any], status: int, body: bytes | None, cookie: bool
) -> Call:
    """One request must answer as the row says; then the timed caller (fresh environ copy each)."""
    seen: list[t.Any] = []

    def start(status_line: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
        seen[:] = [status_line, headers]

    result = app(dict(environ), start)
    try:
        data = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    got = int(seen[0].split()[0])
    if got != status or (body is not None and data != body):
        raise RuntimeError(f"expected {status} {body!r}, got {got} {data[:120]!r}")
    if any(k.lower() == "set-cookie" for k, _ in seen[1]) != cookie:
        raise RuntimeError(f"expected {'a' if cookie else 'no'} Set-Cookie header")

    def ignore(status_line: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
        return None

    def call() -> None:
        out = app(dict(environ), ignore)
        try:
            for _ in out:
                pass
        finally:
            getattr(out, "close", lambda: None)()

    return call


def _database(key: str, api: t.Any) -> tuple[t.Any, str]:
    """An adapter on fresh tables (dropped at exit) holding one session; its token."""
    import datetime as dt
    import tempfile
    import uuid

    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    if key.endswith("_sqlite"):
        url = f"sqlite:///{tempfile.mkdtemp(prefix='authguard-compare-db-')}/sessions.db"
    else:
        url = POSTGRES_URL
    prefix = f"compare_{uuid.uuid4().hex[:8]}_"
    names = {n: prefix + n for n in ("users", "accounts", "sessions", "verification_token")}
    adapter = SQLAlchemyAdapter(url, table_names=names, create_tables=True)

    def cleanup() -> None:
        adapter.drop_tables()
        adapter.close()

    atexit.register(cleanup)
    user = adapter.create_user({"name": CLAIMS["name"], "email": CLAIMS["email"], "image": CLAIMS["picture"]})
    token = uuid.uuid4().hex
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
    adapter.create_session({"sessionToken": token, "userId": user["id"], "expires": expires})
    return adapter, token


def _plain(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "5")])
    return [b"hello"]


def build(key: str) -> Call:
    """The checked callable of row ``key``, built with the public API only."""
    from flask import Flask, g

    import flask_authguard as api  # each name looked up where a row needs it: old commits lack some

    jwe = api.encode(token=dict(CLAIMS), secret=SECRET)
    valid = _environ(f"{COOKIE}={jwe}; {NOISE}")
    anonymous = _environ(NOISE)

    def flask_app(guard: dict[str, t.Any] | None, view: t.Callable[[], str], matcher: t.Any = None) -> t.Any:
        app = Flask(f"compare_{key}")
        app.add_url_rule(PATH, "dashboard", view)
        if guard is not None:
            api.AuthGuard(app, {"secret": SECRET, "endpoints": False, **guard}, matcher=matcher)
        return app

    def session_view() -> str:
        session = api.get_server_session()
        return "hello " + (session["user"]["name"] if session else "stranger")

    def jwt_cb(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        return token

    def session_cb(*, session: dict[str, t.Any], token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        session["user"]["id"] = token.get("sub")
        return session

    if key == "wsgi_bare":
        return _check_and_call(_plain, valid, 200, b"hello", False)
    if key in ("with_auth_valid", "with_auth_no_cookie"):
        app = api.with_auth(_plain, {"secret": SECRET})
        if key == "with_auth_valid":
            return _check_and_call(app, valid, 200, b"hello", False)
        return _check_and_call(app, anonymous, 307, None, False)
    if key == "flask_bare":
        return _check_and_call(flask_app(None, lambda: "hello"), valid, 200, b"hello", False)
    if key in ("authguard_valid", "authguard_no_cookie"):
        app = flask_app({}, lambda: "hello " + g.auth_token["name"])
        if key == "authguard_valid":
            return _check_and_call(app, valid, 200, HELLO, False)
        return _check_and_call(app, anonymous, 307, None, False)
    if key == "get_server_session":
        callbacks = {"jwt": jwt_cb, "session": session_cb}
        return _check_and_call(flask_app({"callbacks": callbacks}, session_view, []), valid, 200, HELLO, True)
    if key in ON_DEMAND:
        adapter, token = _database(key, api)
        cookie = _environ(f"{COOKIE}={token}; {NOISE}")
        if key.startswith("db_guard_"):
            app = flask_app({"adapter": adapter}, lambda: "hello " + g.auth_token["name"])
            return _check_and_call(app, cookie, 200, HELLO, False)
        return _check_and_call(flask_app({"adapter": adapter}, session_view, []), cookie, 200, HELLO, True)
    if key == "get_token":

        def token_call() -> object:
            return api.get_token(dict(valid), secret=SECRET)

        if not isinstance(token_call(), dict):
            raise RuntimeError("get_token() did not read the token")
        return token_call
    raise KeyError(key)


def _calibrate(fn: Call, seconds: float, calls: int | None) -> float:
    count, start = 0, time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - start
        if (count >= calls) if calls is not None else (elapsed >= seconds and count >= 3):
            return elapsed / count * 1e6


def _round(calls: dict[str, Call], order: list[str], iterations: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in order:
        fn, n = calls[key], iterations[key]
        gc.collect()
        start_ns = time.perf_counter_ns()
        for _ in range(n):
            fn()
        out[key] = (time.perf_counter_ns() - start_ns) / n / 1000
    return out


def main(root: str, wanted: t.Collection[str] = ()) -> int:
    sys.path[:1] = [root]  # the checkout's package, not this script's directory
    warnings.simplefilter("ignore")
    import flask_authguard

    calls: dict[str, Call] = {}
    failed: dict[str, str] = {}
    for key in ROWS:
        if key in ON_DEMAND and key not in wanted:
            continue
        try:
            calls[key] = build(key)
        except Exception as exc:
            failed[key] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    rows = {key: list(value) for key, value in ROWS.items()}

    def say(message: dict[str, t.Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    say({"package": flask_authguard.__file__, "rows": rows, "failed": failed})
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "calibrate":
            us = {k: _calibrate(calls[k], command["seconds"], command.get("calls")) for k in command["rows"]}
            say({"us": us})
        elif command["cmd"] == "round":
            say({"us": _round(calls, command["order"], command["iterations"])})
        else:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2].split(",") if len(sys.argv) > 2 else ()))
