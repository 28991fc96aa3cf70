"""flask_authguard benchmarks: one command, one markdown table.

.. code-block:: console

    $ python bench/run.py                  # full run, writes bench/results.md
    $ python bench/run.py --quick          # a fast smoke run (fewer, shorter rounds)
    $ python bench/run.py -o /tmp/b.md --no-server --no-node

Per-request rows call each WSGI app directly with a prepared environ (a fresh copy per call,
the response iterable consumed and closed), so they measure the app and its auth check, not a
server. Every case is warmed up, then timed in interleaved rounds (each round runs every case
once, in a rotating order, so a load spike on the machine hits all rows alike); a row's figure
is the median of its rounds, and ratios are against the bare app measured in the same run.
Rows that need a missing package, ``node`` or a server say so instead of a figure.

The server rows start gunicorn (or werkzeug's server when gunicorn is missing) on 127.0.0.1
and load it with keep-alive ``http.client`` clients in separate processes, each waiting for
its answer before sending the next request, for a fixed time.

No row is a test: ``tests/test_bench_smoke.py`` only checks that every row runs and is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import importlib.util
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import time
import typing as t
import warnings
from importlib import metadata

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``flask_authguard`` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench import apps  # noqa: E402
from bench import server as servers  # noqa: E402
from flask_authguard.core.matcher import compile_matcher  # noqa: E402

BENCH_DIR = pathlib.Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_OUTPUT = BENCH_DIR / "results.md"

Timed = t.Callable[[], object]


# -- settings ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Settings:
    """How long and how much to measure."""

    #: Timed rounds per case; a row reports the median.
    rounds: int = 15
    #: Target length of one round of one case (iterations are calibrated from the warm-up).
    round_seconds: float = 0.04
    #: Fixed iterations per round instead of calibrating (the smoke test's tiny mode).
    iterations: int | None = None
    #: Warm-up per case before timing (seconds, or ``warmup`` calls when ``iterations`` is set).
    warmup_seconds: float = 0.25
    warmup: int = 20
    #: The gunicorn rows and the in-process vs HTTP row.
    server: bool = True
    server_seconds: float = 5.0
    server_rounds: int = 2
    clients: int = 2
    workers: int = 2
    #: The real next-auth rows (needs ``node`` and the tests/node install).
    node: bool = True
    node_rounds: int = 15
    node_iterations: int = 400

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            rounds=5,
            round_seconds=0.01,
            warmup_seconds=0.05,
            server_seconds=1.0,
            server_rounds=1,
            node_rounds=5,
            node_iterations=100,
        )

    @classmethod
    def tiny(cls) -> Settings:
        """50 iterations a round, no server, no node: proves the rows run, measures nothing."""
        return cls(rounds=3, iterations=50, warmup=5, server=False, node=False)


# -- rows -------------------------------------------------------------------------------------

REQUEST = "Per request: the WSGI app called directly"
SCALING = "Scaling: with_auth on the plain WSGI app, valid cookie (cache off, except the matcher rows)"
HTTP = "get_server_session(): in-process vs fetching /api/auth/session over loopback HTTP"
DATABASE = "Database sessions (the session looked up in SQLite or PostgreSQL on every request)"
NODE = "The real next-auth v4 under Node.js (per call, same token and cookies)"
SERVER = "Throughput: gunicorn on 127.0.0.1, bounded keep-alive clients"


@dataclasses.dataclass
class Row:
    """One line of the table."""

    key: str
    group: str
    label: str
    #: The row this one is compared with (ratio and difference).
    baseline: str | None = None
    #: Median µs per request (or per call), and half the inter-quartile range of the rounds.
    us: float | None = None
    spread: float | None = None
    samples: list[float] = dataclasses.field(default_factory=list)
    #: Why there is no figure ("not installed: ...", "skipped: ...", "error: ...").
    missing: str = ""
    note: str = ""
    target: str = ""
    #: Server rows.
    rps: float | None = None
    errors: int | None = None
    server_cpu_us: float | None = None


@dataclasses.dataclass
class Context:
    """What the cases share: tokens, cookies, the loopback server for the HTTP row."""

    token: str
    cookie: str
    session_port: int | None = None


@dataclasses.dataclass
class Case:
    key: str
    group: str
    label: str
    baseline: str | None
    #: ``setup(context)``: the callable to time, after checking it does what the row says.
    setup: t.Callable[[Context], Timed]


class Skip(Exception):
    """The row cannot run here; the message says why."""


def _wsgi(
    app: t.Any,
    environ: dict[str, t.Any],
    *,
    status: int = 200,
    body: bytes | None = None,
    set_cookie: bool | None = False,
) -> Timed:
    """Check one request answers as the row claims, then return the timed caller."""
    got = apps.answer(app, environ)
    if got.status != status:
        raise RuntimeError(f"expected {status}, got {got.status}: {got.body[:200]!r}")
    if body is not None and got.body != body:
        raise RuntimeError(f"expected body {body!r}, got {got.body[:200]!r}")
    has_cookie = any(k.lower() == "set-cookie" for k, _ in got.headers)
    if set_cookie is not None and has_cookie != set_cookie:
        raise RuntimeError(
            f"expected {'a' if set_cookie else 'no'} Set-Cookie header, headers: {got.headers}"
        )
    return apps.caller(app, environ)


HELLO = ("hello " + apps.CLAIMS["name"]).encode()


def _token_cookie(ctx: Context) -> dict[str, t.Any]:
    return apps.environ_for(ctx.cookie)


def _no_cookie() -> dict[str, t.Any]:
    return apps.environ_for(apps.NOISE_COOKIES)


def _peer(factory: t.Callable[[], t.Any]) -> t.Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return factory()
    except apps.NotInstalled as exc:
        raise Skip(f"not installed: {exc}") from None


def cold(run: Timed) -> Timed:
    """``run`` with the verified-token cache swapped for an empty, disabled one during its
    calls: every call decrypts, whatever other rows (or the row's own check) cached."""
    from flask_authguard.core import jwt as jwt_mod

    disabled = jwt_mod.VerifiedTokenCache(maxsize=0)

    def uncached() -> object:
        saved, jwt_mod.verified_tokens = jwt_mod.verified_tokens, disabled
        try:
            return run()
        finally:
            jwt_mod.verified_tokens = saved

    return uncached


def _with_auth_token(
    *,
    version: int = 4,
    secret: str = apps.SECRET,
    size: int | None = None,
    options: dict[str, t.Any] | None = None,
    matcher: t.Any = None,
    uncached: bool = True,
) -> t.Callable[[Context], Timed]:
    def setup(ctx: Context) -> Timed:
        token = apps.make_token(version=version, secret=secret, size=size)
        environ = apps.environ_for(apps.cookie_header(apps.session_cookies(token, version)))
        app = apps.with_auth_app({"version": version, **(options or {})}, matcher=matcher)
        run = _wsgi(app, environ, body=b"hello")
        return cold(run) if uncached else run

    return setup


def _fresh_cookie_environ() -> dict[str, t.Any]:
    """A request with a token of its own (so no other row warms the cache for it)."""
    return apps.environ_for(apps.cookie_header(apps.session_cookies(apps.make_token())))


def _matcher_patterns(count: int) -> list[str]:
    """``count`` patterns; the bench path matches only the last one (the worst case)."""
    patterns = [f"/area{i}/:path*" for i in range(count - 1)]
    return [*patterns, apps.PROTECTED + "/:path*"]


def _floor(ctx: Context) -> Timed:
    run = apps.floor_decoder(ctx.token)
    if run().get("name") != apps.CLAIMS["name"]:
        raise RuntimeError("the floor decoder did not read the token")
    return run


def _codec(ctx: Context) -> Timed:
    from flask_authguard import decode

    def run() -> object:
        return decode(token=ctx.token, secret=apps.SECRET)

    if run() is None:
        raise RuntimeError("decode() refused the bench token")
    return run


def _get_token(ctx: Context) -> Timed:
    from flask_authguard import get_token

    environ = apps.environ_for(ctx.cookie)

    def run() -> object:
        return get_token(dict(environ), secret=apps.SECRET)

    if run() is None:
        raise RuntimeError("get_token() refused the bench token")
    return run


def _gss_http(ctx: Context) -> Timed:
    if ctx.session_port is None:
        raise Skip("skipped: needs the loopback server (run without --no-server)")
    app = apps.gss_over_http_flask(ctx.session_port)
    return _wsgi(app, _token_cookie(ctx), body=HELLO)


def _flask_login(ctx: Context) -> Timed:
    app, cookie = _peer(apps.flask_login_flask)
    return _wsgi(app, apps.environ_for(apps.cookie_header(cookie)), body=HELLO)


def _jwt_extended(ctx: Context) -> Timed:
    app, cookie = _peer(apps.jwt_extended_flask)
    return _wsgi(app, apps.environ_for(apps.cookie_header(cookie)), body=HELLO)


def _database(kind: str, backend: str) -> t.Callable[[Context], Timed]:
    """A database-session row: ``kind`` "guard" or "gss", ``backend`` "sqlite" or "postgresql"."""

    def setup(ctx: Context) -> Timed:
        import atexit
        import tempfile

        if backend == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp(prefix='authguard-bench-')}/sessions.db"
        else:
            url = apps.POSTGRES_URL
        try:
            adapter, token, cleanup = apps.database_setup(url)
        except apps.NotInstalled as exc:
            raise Skip(f"not installed: {exc}") from None
        except Exception as exc:  # no server: the row says so instead of failing the run
            where = url.split("@")[-1]
            raise Skip(f"skipped: {backend} unavailable at {where} ({type(exc).__name__})") from None
        atexit.register(cleanup)
        build = apps.database_guarded_flask if kind == "guard" else apps.database_gss_flask
        environ = apps.environ_for(apps.cookie_header(f"{apps.cookie_name()}={token}"))
        return _wsgi(build(adapter), environ, body=HELLO, set_cookie=kind == "gss")

    return setup


CASES: list[Case] = [
    Case(
        "flask_bare",
        REQUEST,
        "Bare Flask route (no auth)",
        None,
        lambda ctx: _wsgi(apps.bare_flask(), _token_cookie(ctx), body=b"hello"),
    ),
    Case(
        "authguard_valid",
        REQUEST,
        "AuthGuard site-wide, valid cookie (authorized, g.auth_token)",
        "flask_bare",
        lambda ctx: _wsgi(apps.guarded_flask(), _token_cookie(ctx), body=HELLO),
    ),
    Case(
        "authguard_valid_cold",
        REQUEST,
        "AuthGuard site-wide, valid cookie, verified-token cache off",
        "flask_bare",
        lambda ctx: cold(_wsgi(apps.guarded_flask(), _fresh_cookie_environ(), body=HELLO)),
    ),
    Case(
        "authguard_no_cookie",
        REQUEST,
        "AuthGuard site-wide, no cookie (307 to sign-in)",
        "flask_bare",
        lambda ctx: _wsgi(apps.guarded_flask(), _no_cookie(), status=307, body=None),
    ),
    Case(
        "wsgi_bare",
        REQUEST,
        "Plain WSGI app (no auth)",
        None,
        lambda ctx: _wsgi(apps.plain_wsgi_app, _token_cookie(ctx), body=b"hello"),
    ),
    Case(
        "with_auth_valid",
        REQUEST,
        "with_auth on the plain WSGI app, valid cookie",
        "wsgi_bare",
        lambda ctx: _wsgi(apps.with_auth_app(), _token_cookie(ctx), body=b"hello"),
    ),
    Case(
        "with_auth_valid_cold",
        REQUEST,
        "with_auth, valid cookie, verified-token cache off (decrypts every time)",
        "wsgi_bare",
        lambda ctx: cold(_wsgi(apps.with_auth_app(), _fresh_cookie_environ(), body=b"hello")),
    ),
    Case(
        "with_auth_no_cookie",
        REQUEST,
        "with_auth, no cookie (307 to sign-in)",
        "wsgi_bare",
        lambda ctx: _wsgi(apps.with_auth_app(), _no_cookie(), status=307, body=None),
    ),
    Case(
        "get_server_session",
        REQUEST,
        "get_server_session() in a view (decode, jwt+session callbacks, re-encode, Set-Cookie)",
        "flask_bare",
        lambda ctx: _wsgi(apps.gss_flask(), _token_cookie(ctx), body=HELLO, set_cookie=True),
    ),
    Case(
        "jwt_extended",
        REQUEST,
        "Flask-JWT-Extended @jwt_required() (HS256 cookie)",
        "flask_bare",
        _jwt_extended,
    ),
    Case(
        "flask_login",
        REQUEST,
        "Flask-Login @login_required (session cookie + user_loader)",
        "flask_bare",
        _flask_login,
    ),
    Case(
        "fastapi_nextauth_jwt",
        REQUEST,
        "fastapi-nextauth-jwt NextAuthJWTv4 in before_request (same token)",
        "flask_bare",
        lambda ctx: _wsgi(_peer(apps.fastapi_nextauth_flask), _token_cookie(ctx), body=HELLO),
    ),
    Case(
        "floor",
        REQUEST,
        "Floor: split + base64url + AES-256-GCM decrypt + json.loads (pre-derived key)",
        None,
        _floor,
    ),
    Case("codec_decode", REQUEST, "flask_authguard.decode() alone, same token (cache hit)", "floor", _codec),
    Case(
        "codec_decode_cold",
        REQUEST,
        "flask_authguard.decode() alone, verified-token cache off",
        "floor",
        lambda ctx: cold(_codec(ctx)),
    ),
    Case("get_token", REQUEST, "get_token(environ) alone (cookie parse + decode)", "floor", _get_token),
    # scaling
    Case("cookie_1k", SCALING, "cookie 1 KB (1 cookie)", "wsgi_bare", _with_auth_token(size=1024)),
    Case("cookie_5k", SCALING, "cookie 5 KB (2 chunks)", "wsgi_bare", _with_auth_token(size=5 * 1024)),
    Case("cookie_12k", SCALING, "cookie 12 KB (4 chunks)", "wsgi_bare", _with_auth_token(size=12 * 1024)),
    Case(
        "matcher_1",
        SCALING,
        "matcher of 1 pattern",
        "wsgi_bare",
        _with_auth_token(matcher=_matcher_patterns(1), uncached=False),
    ),
    Case(
        "matcher_10",
        SCALING,
        "matcher of 10 patterns (path matches the last)",
        "wsgi_bare",
        _with_auth_token(matcher=_matcher_patterns(10), uncached=False),
    ),
    Case(
        "matcher_100",
        SCALING,
        "matcher of 100 patterns (path matches the last)",
        "wsgi_bare",
        _with_auth_token(matcher=_matcher_patterns(100), uncached=False),
    ),
    Case("token_v4", SCALING, "next-auth v4 token (A256GCM)", "wsgi_bare", _with_auth_token(version=4)),
    Case(
        "token_v5", SCALING, "Auth.js v5 token (A256CBC-HS512, kid)", "wsgi_bare", _with_auth_token(version=5)
    ),
    Case("secrets_1", SCALING, "1 secret", "wsgi_bare", _with_auth_token()),
    Case(
        "secrets_3",
        SCALING,
        "3 secrets, token signed by the last (v4 tries each key)",
        "wsgi_bare",
        _with_auth_token(options={"secret": list(apps.ROTATED_SECRETS)}),
    ),
    # database sessions
    Case(
        "db_guard_sqlite",
        DATABASE,
        "AuthGuard site-wide on database sessions, SQLite file",
        "authguard_valid",
        _database("guard", "sqlite"),
    ),
    Case(
        "db_gss_sqlite",
        DATABASE,
        "get_server_session() on database sessions, SQLite file",
        "get_server_session",
        _database("gss", "sqlite"),
    ),
    Case(
        "db_guard_postgresql",
        DATABASE,
        "AuthGuard site-wide on database sessions, PostgreSQL on 127.0.0.1",
        "authguard_valid",
        _database("guard", "postgresql"),
    ),
    Case(
        "db_gss_postgresql",
        DATABASE,
        "get_server_session() on database sessions, PostgreSQL on 127.0.0.1",
        "get_server_session",
        _database("gss", "postgresql"),
    ),
    # in-process vs HTTP
    Case(
        "gss_http",
        HTTP,
        "a view fetching /api/auth/session from the same app over HTTP (keep-alive)",
        "get_server_session",
        _gss_http,
    ),
]

NODE_ROWS = [
    ("node_decode", "next-auth/jwt decode()", "codec_decode"),
    ("node_get_token", "next-auth/jwt getToken()", "get_token"),
    ("node_with_auth", "next-auth/middleware withAuth(), valid cookie", "with_auth_valid"),
    ("node_get_server_session", "next-auth/next getServerSession(req, res, options)", "get_server_session"),
]
SERVER_ROWS = [
    ("server_bare", "bare Flask app, GET /dashboard", None),
    ("server_guarded", "AuthGuard (matcher /dashboard/:path*), valid cookie, GET /dashboard", "server_bare"),
]

#: Every row key, in table order.
ROW_KEYS: list[str] = [c.key for c in CASES] + [k for k, _, _ in NODE_ROWS] + [k for k, _, _ in SERVER_ROWS]

#: Targets: µs added over the baseline row (anchors from a 2-core machine, bare Flask ≈ 64 µs).
OVERHEAD_TARGETS = {"with_auth_valid": 15.0, "authguard_valid": 20.0}
MATCHER_FLAT_US = 2.0
THROUGHPUT_TARGET = 0.90


# -- timing -----------------------------------------------------------------------------------


def _median_spread(samples: list[float]) -> tuple[float, float]:
    median = statistics.median(samples)
    if len(samples) >= 4:
        q1, _, q3 = statistics.quantiles(samples, n=4)
        return median, (q3 - q1) / 2
    return median, (max(samples) - min(samples)) / 2


def time_cases(timed: dict[str, Timed], settings: Settings) -> dict[str, list[float]]:
    """Warm up and calibrate each case, then time them in interleaved rounds: µs per call."""
    iterations: dict[str, int] = {}
    for key, fn in timed.items():
        if settings.iterations is not None:
            for _ in range(settings.warmup):
                fn()
            iterations[key] = settings.iterations
            continue
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < settings.warmup_seconds or count < 3:
            fn()
            count += 1
        iterations[key] = max(5, int(settings.round_seconds / (elapsed / count)))
    samples: dict[str, list[float]] = {key: [] for key in timed}
    keys = list(timed)
    for r in range(settings.rounds):
        shift = r % len(keys) if keys else 0
        for key in keys[shift:] + keys[:shift]:
            fn, n = timed[key], iterations[key]
            gc.collect()
            start_ns = time.perf_counter_ns()
            for _ in range(n):
                fn()
            samples[key].append((time.perf_counter_ns() - start_ns) / n / 1000)
    return samples


def matcher_call_us(count: int, repeat: int = 20000) -> float:
    """µs per ``Matcher.matches`` for ``count`` patterns, the path matching the last one."""
    matcher = compile_matcher(_matcher_patterns(count))
    path = apps.PROTECTED + "/settings"
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(repeat):
            matcher.matches(path)
        best = min(best, (time.perf_counter_ns() - start) / repeat / 1000)
    return best


# -- node -------------------------------------------------------------------------------------


def _node_install_dir() -> pathlib.Path:
    """The next-auth install of ``tests/nodejs.py`` (installing it when its cache lacks it)."""
    path = ROOT / "tests" / "nodejs.py"
    if not path.exists():
        raise Skip("skipped: tests/nodejs.py (the next-auth install) is not in this checkout")
    spec = importlib.util.spec_from_file_location("_bench_nodejs", path)
    if spec is None or spec.loader is None:
        raise Skip("skipped: cannot load tests/nodejs.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        return t.cast(pathlib.Path, module.installed())
    except ImportError as exc:
        raise Skip(f"skipped: tests/nodejs.py needs {exc.name}") from None
    except Exception as exc:  # NodeUnavailable and friends: the reason is the message
        raise Skip(f"skipped: {exc}".splitlines()[0]) from None


def run_node(ctx: Context, settings: Settings) -> dict[str, t.Any]:
    """Time next-auth's functions with ``bench/node_bench.mjs``: its JSON output."""
    node = shutil.which("node")
    if node is None:
        raise Skip("skipped: node is not installed")
    where = _node_install_dir()
    payload = {
        "secret": apps.SECRET,
        "token": ctx.token,
        "cookieHeader": ctx.cookie,
        "rounds": settings.node_rounds,
        "iterations": settings.node_iterations,
        "warmup": max(50, settings.node_iterations // 2),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTAUTH_", "AUTH_", "VERCEL"))}
    try:
        proc = subprocess.run(
            [node, str(BENCH_DIR / "node_bench.mjs"), str(where)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise Skip("error: node_bench.mjs took longer than 900 s") from None
    if proc.returncode != 0:
        raise Skip("error: node_bench.mjs failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1])
    return t.cast("dict[str, t.Any]", json.loads(proc.stdout))


# -- the run ----------------------------------------------------------------------------------


def _make_context() -> Context:
    token = apps.make_token()
    return Context(token=token, cookie=apps.cookie_header(apps.session_cookies(token)))


def _server_rows(
    rows: dict[str, Row], started: dict[str, servers.Server], ctx: Context, settings: Settings
) -> None:
    headers = {"Cookie": ctx.cookie, "Host": "localhost:5000", **apps.HEADERS}
    totals: dict[str, servers.LoadResult] = {k: servers.LoadResult(0, 0, 0.0, 0.0) for k in started}
    kinds = list(started)
    per_round = settings.server_seconds / settings.server_rounds
    for r in range(settings.server_rounds):
        for kind in kinds if r % 2 == 0 else kinds[::-1]:
            got = servers.load(
                started[kind], apps.PROTECTED, headers, seconds=per_round, clients=settings.clients
            )
            total = totals[kind]
            total.requests += got.requests
            total.errors += got.errors
            total.seconds += got.seconds
            total.server_cpu = (
                None
                if got.server_cpu is None or total.server_cpu is None
                else total.server_cpu + got.server_cpu
            )
    for kind, total in totals.items():
        row = rows[f"server_{kind}"]
        row.rps, row.errors = total.rps, total.errors
        if total.server_cpu is not None and total.requests:
            row.server_cpu_us = total.server_cpu / total.requests * 1e6
        row.note = (
            started[kind].engine + f", {settings.clients} client processes × {settings.server_seconds:g} s"
        )


def run_benchmarks(
    settings: Settings | None = None, *, log: t.Callable[[str], None] | None = None
) -> list[Row]:
    """Run every row that can run here; the rows in table order."""
    settings = settings or Settings()
    say = log or (lambda _msg: None)
    ctx = _make_context()
    labels = {c.key: (c.group, c.label, c.baseline) for c in CASES}
    labels.update({k: (NODE, label, base) for k, label, base in NODE_ROWS})
    labels.update({k: (SERVER, label, base) for k, label, base in SERVER_ROWS})
    rows = {key: Row(key, *labels[key]) for key in ROW_KEYS}
    started: dict[str, servers.Server] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # peers' deprecation warnings are not the subject here
            if settings.server:
                for kind in ("bare", "guarded"):
                    try:
                        say(f"starting the {kind} server")
                        started[kind] = servers.start_server(kind, workers=settings.workers)
                    except Exception as exc:
                        for key, _, _ in SERVER_ROWS:
                            rows[key].missing = f"error: {exc}".splitlines()[0]
                        break
                if "guarded" in started:
                    ctx.session_port = started["guarded"].port
            else:
                for key, _, _ in SERVER_ROWS:
                    rows[key].missing = "skipped: no server run (--no-server / tiny mode)"

            if settings.node:
                say("timing next-auth under node")
                try:
                    _node_rows(rows, run_node(ctx, settings))
                except Skip as exc:
                    for key, _, _ in NODE_ROWS:
                        rows[key].missing = str(exc)
            else:
                for key, _, _ in NODE_ROWS:
                    rows[key].missing = "skipped: no node run (--no-node / tiny mode)"

            timed: dict[str, Timed] = {}
            for case in CASES:
                try:
                    timed[case.key] = case.setup(ctx)
                except Skip as exc:
                    rows[case.key].missing = str(exc)
                except Exception as exc:
                    rows[case.key].missing = f"error: {type(exc).__name__}: {exc}".splitlines()[0][:200]
            say(f"timing {len(timed)} cases, {settings.rounds} rounds")
            for key, samples in time_cases(timed, settings).items():
                row = rows[key]
                row.samples = samples
                row.us, row.spread = _median_spread(samples)
            for count in (1, 10, 100):
                row = rows[f"matcher_{count}"]
                if row.us is not None:
                    alone = matcher_call_us(count, 200 if settings.iterations else 20000)
                    row.note = f"Matcher.matches() alone: {alone:.2f} µs"

            if len(started) == 2:
                say("loading the servers")
                try:
                    _server_rows(rows, started, ctx, settings)
                except Exception as exc:
                    for key, _, _ in SERVER_ROWS:
                        rows[key].missing = f"error: {type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        for srv in started.values():
            srv.stop()
    _notes(rows)
    _targets(rows)
    return [rows[key] for key in ROW_KEYS]


def _node_rows(rows: dict[str, Row], output: dict[str, t.Any]) -> None:
    ops = {
        "node_decode": "decode",
        "node_get_token": "getToken",
        "node_with_auth": "withAuth",
        "node_get_server_session": "getServerSession",
    }
    versions = output.get("versions", {})
    for key, op in ops.items():
        result = output.get("results", {}).get(op, {})
        row = rows[key]
        if "us" in result:
            row.us = float(result["us"])
            row.samples = [float(x) for x in result.get("rounds", [])]
            if row.samples:
                row.spread = _median_spread(row.samples)[1]
            row.note = f"next-auth {versions.get('next-auth', '?')}, node {versions.get('node', '?')}"
        else:
            row.missing = "error: " + str(result.get("error", "no result"))


def _delta(rows: dict[str, Row], key: str) -> float | None:
    row = rows[key]
    base = rows[row.baseline] if row.baseline else None
    if row.us is None or base is None or base.us is None:
        return None
    return row.us - base.us


def _notes(rows: dict[str, Row]) -> None:
    http, local = rows["gss_http"], rows["get_server_session"]
    if http.us is not None and local.us is not None:
        faster, extra = http.us / local.us, http.us - local.us
        http.note = f"in-process is {faster:.1f}× faster ({extra:+.0f} µs per request over HTTP)"
    for key in ("node_get_token", "node_decode"):
        row = rows[key]
        if row.us is not None and row.baseline and rows[row.baseline].us is not None:
            row.note += f"; flask_authguard {rows[row.baseline].us:.1f} µs"
    for key, base in (
        ("node_with_auth", "with_auth_valid"),
        ("node_get_server_session", "get_server_session"),
    ):
        row, delta = rows[key], _delta(rows, base)
        if row.us is not None and delta is not None:
            row.note += f"; flask_authguard adds {delta:.1f} µs to a request"


def _targets(rows: dict[str, Row]) -> None:
    for key, limit in OVERHEAD_TARGETS.items():
        delta = _delta(rows, key)
        if delta is not None:
            verdict = "met" if delta <= limit else "missed"
            rows[key].target = f"{verdict}: {delta:+.1f} µs (≤ +{limit:g} µs)"
    m1, m100 = rows["matcher_1"].us, rows["matcher_100"].us
    if m1 is not None and m100 is not None:
        growth = m100 - m1
        verdict = "met" if growth <= MATCHER_FLAT_US else "missed"
        rows[
            "matcher_100"
        ].target = f"{verdict}: flat, {growth:+.1f} µs from 1 to 100 (≤ +{MATCHER_FLAT_US:g} µs)"
    c1, c5, c12 = (rows[f"cookie_{n}k"].us for n in (1, 5, 12))
    if c1 is not None and c5 is not None and c12 is not None:
        slope_a, slope_b = (c5 - c1) / 4, (c12 - c5) / 7
        linear = slope_b <= 1.5 * max(slope_a, 0.0) + 0.25
        rows["cookie_5k"].note = f"{slope_a:.2f} µs per KB from 1 to 5 KB"
        rows["cookie_12k"].note = f"{slope_b:.2f} µs per KB from 5 to 12 KB"
        rows["cookie_12k"].target = (
            f"{'met' if linear else 'missed'}: at most linear "
            f"({slope_b:.2f} ≤ 1.5 × {slope_a:.2f} + 0.25 µs/KB)"
        )
    bare, guarded = rows["server_bare"], rows["server_guarded"]
    if bare.rps and guarded.rps is not None:
        ratio = guarded.rps / bare.rps
        errors = (bare.errors or 0) + (guarded.errors or 0)
        verdict = "met" if ratio >= THROUGHPUT_TARGET and errors == 0 else "missed"
        guarded.target = f"{verdict}: {ratio:.2f}× bare (≥ {THROUGHPUT_TARGET:.2f}×), {errors} errors (= 0)"


# -- the table --------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _versions() -> str:
    names = [
        "flask",
        "werkzeug",
        "cryptography",
        "gunicorn",
        "flask-jwt-extended",
        "flask-login",
        "fastapi-nextauth-jwt",
    ]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def _git() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip() or "?"


def meta(settings: Settings) -> list[str]:
    """The lines that say where and how the figures were taken."""
    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except (OSError, AttributeError):
        load = "load average ?"
    rounds = (
        f"{settings.iterations} iterations a round"
        if settings.iterations
        else f"~{settings.round_seconds * 1000:g} ms a round, calibrated"
    )
    return [
        f"- {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {_git()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {load}",
        f"- {_versions()}",
        f"- {settings.rounds} interleaved rounds per row ({rounds}), warm-up first; figures are medians "
        "of the rounds, ± is half their inter-quartile range; GC enabled",
        "- Every request carries the same headers and next-auth's csrf-token and callback-url cookies; "
        "the token carries name, email, picture and sub (v4 cookie "
        f"{len(apps.make_token())} characters)",
    ]


def render(rows: list[Row], settings: Settings) -> str:
    """The markdown document: a few lines of context, then one table per group."""
    by_key = {row.key: row for row in rows}
    out = ["# flask_authguard benchmarks", "", *meta(settings), ""]

    def per_request_table(group: str, extra: tuple[str, ...] = ()) -> None:
        out.extend(
            [
                f"## {group}",
                "",
                "| row | scenario | µs | ± | vs baseline | Δ µs | target | note |",
                "| --- | --- | ---: | ---: | --- | ---: | --- | --- |",
            ]
        )
        members = [by_key[k] for k in extra] + [r for r in rows if r.group == group]
        for row in members:
            if row.us is None:
                out.append(f"| {row.key} | {row.label} | | | | | | {row.missing} |")
                continue
            base = by_key.get(row.baseline) if row.baseline else None
            ratio = delta = ""
            if base is not None and base.us:
                ratio = f"{row.us / base.us:.2f}× {base.key}"
                delta = f"{row.us - base.us:+.1f}"
            out.append(
                f"| {row.key} | {row.label} | {_num(row.us)} | {_num(row.spread)} | {ratio} | {delta} "
                f"| {row.target} | {row.note} |"
            )
        out.append("")

    per_request_table(REQUEST)
    per_request_table(SCALING, ("wsgi_bare", "with_auth_valid"))
    per_request_table(HTTP, ("get_server_session",))
    per_request_table(DATABASE, ("authguard_valid", "get_server_session"))

    out.extend(
        [
            f"## {NODE}",
            "",
            "| row | scenario | µs per call | ± | flask_authguard counterpart | note |",
            "| --- | --- | ---: | ---: | --- | --- |",
        ]
    )
    for row in (r for r in rows if r.group == NODE):
        if row.us is None:
            out.append(f"| {row.key} | {row.label} | | | {row.baseline} | {row.missing} |")
        else:
            out.append(
                f"| {row.key} | {row.label} | {_num(row.us)} | {_num(row.spread)} | {row.baseline} "
                f"| {row.note} |"
            )
    out.append("")

    out.extend(
        [
            f"## {SERVER}",
            "",
            "| row | scenario | req/s | vs bare | errors | server CPU µs/req | target | note |",
            "| --- | --- | ---: | --- | ---: | ---: | --- | --- |",
        ]
    )
    bare_rps = by_key["server_bare"].rps
    for row in (r for r in rows if r.group == SERVER):
        if row.rps is None:
            out.append(f"| {row.key} | {row.label} | | | | | | {row.missing} |")
            continue
        ratio = f"{row.rps / bare_rps:.2f}×" if bare_rps else ""
        out.append(
            f"| {row.key} | {row.label} | {_num(row.rps, 0)} | {ratio} | {row.errors} "
            f"| {_num(row.server_cpu_us)} | {row.target} | {row.note} |"
        )
    out.append("")

    verdicts = [r.target.split(":")[0] for r in rows if r.target]
    out.append(
        f"Targets: {verdicts.count('met')} met, {verdicts.count('missed')} missed "
        f"(of {len(OVERHEAD_TARGETS) + 3}; a target without a verdict could not be measured here)."
    )
    return "\n".join(out) + "\n"


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python bench/run.py")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: fewer and shorter rounds")
    parser.add_argument(
        "-o",
        "--output",
        type=pathlib.Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the markdown (default {DEFAULT_OUTPUT.relative_to(ROOT)})",
    )
    parser.add_argument("--rounds", type=int, help="timed rounds per row")
    parser.add_argument("--round-ms", type=float, help="length of one round of one row, in ms")
    parser.add_argument("--iterations", type=int, help="fixed calls per round instead of calibrating")
    parser.add_argument("--server-seconds", type=float, help="load time per server")
    parser.add_argument("--clients", type=int, help="load client processes")
    parser.add_argument("--no-server", action="store_true", help="skip the loopback server rows")
    parser.add_argument("--no-node", action="store_true", help="skip the next-auth (node) rows")
    args = parser.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    if args.rounds:
        settings.rounds = args.rounds
    if args.round_ms:
        settings.round_seconds = args.round_ms / 1000
    if args.iterations:
        settings.iterations = args.iterations
    if args.server_seconds:
        settings.server_seconds = args.server_seconds
    if args.clients:
        settings.clients = args.clients
    settings.server = settings.server and not args.no_server
    settings.node = settings.node and not args.no_node

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    rows = run_benchmarks(settings, log=log)
    text = render(rows, settings)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
