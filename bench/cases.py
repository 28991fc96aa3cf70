"""The in-process rows of ``bench/run.py``: what each one builds, checks and times.

A :class:`Case` is a key, a table group, a label, the row it is compared with and a ``setup``
that builds the app and request, checks that one call answers as the label says (status, body,
``Set-Cookie``), and returns the callable to time. A row that cannot run here raises
:class:`Skip` with the reason, which the table prints instead of a figure. The node and server
rows are defined here by key and label only (``bench/node.py`` and ``bench/run.py`` fill them).
"""

from __future__ import annotations

import typing as t
import warnings

from bench import apps
from bench.rows import Case, Context, Skip, Timed

# -- the table's groups -----------------------------------------------------------------------

REQUEST = "Per request: the WSGI app called directly"
SCALING = "Scaling: with_auth on the plain WSGI app, valid cookie (cache off, except the matcher rows)"
HTTP = "get_server_session(): in-process vs fetching /api/auth/session over loopback HTTP"
DATABASE = "Database sessions (the session looked up in SQLite or PostgreSQL on every request)"
STORE = "The revocation store on Redis (127.0.0.1), JWT sessions: the worker's copy, one MGET per request"
NODE = "The real next-auth v4 under Node.js (per call, same token and cookies)"
SERVER = "Throughput: gunicorn on 127.0.0.1, bounded keep-alive clients"


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


def matcher_patterns(count: int) -> list[str]:
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


def _database_tables(url: str, backend: str) -> tuple[t.Any, str]:
    """:func:`bench.apps.database_setup` at ``url``, its tables dropped at exit: the adapter
    and a signed-in session token, or :class:`Skip` saying what is missing."""
    import atexit

    try:
        adapter, token, cleanup = apps.database_setup(url)
    except apps.NotInstalled as exc:
        raise Skip(f"not installed: {exc}") from None
    except Exception as exc:  # no server: the row says so instead of failing the run
        where = url.split("@")[-1]
        raise Skip(f"skipped: {backend} unavailable at {where} ({type(exc).__name__})") from None
    atexit.register(cleanup)
    return adapter, token


def _database(kind: str, backend: str) -> t.Callable[[Context], Timed]:
    """A database-session row: ``kind`` "guard" or "gss", ``backend`` "sqlite" or "postgresql"."""

    def setup(ctx: Context) -> Timed:
        import tempfile

        if backend == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp(prefix='authguard-bench-')}/sessions.db"
        else:
            url = apps.POSTGRES_URL
        adapter, token = _database_tables(url, backend)
        build = apps.database_guarded_flask if kind == "guard" else apps.database_gss_flask
        environ = apps.environ_for(apps.cookie_header(f"{apps.cookie_name()}={token}"))
        return _wsgi(build(adapter), environ, body=HELLO, set_cookie=kind == "gss")

    return setup


def _postgresql_floor(ctx: Context) -> Timed:
    """authguard_valid's request, then the database rows' session lookup on a kept psycopg
    connection: the same request and the same round trip as ``db_guard_postgresql``, without
    the pool, the adapter or the session code."""
    adapter, token = _database_tables(apps.POSTGRES_URL, "postgresql")
    request = _wsgi(apps.guarded_flask(), _token_cookie(ctx), body=HELLO)
    round_trip = apps.database_round_trip(adapter, token)

    def run() -> None:
        request()
        round_trip()

    return run


def _redis_options(**extra: t.Any) -> dict[str, t.Any]:
    where = apps.REDIS_URL.split("@")[-1]
    try:
        return {**apps.redis_store_options(), **extra}
    except apps.NotInstalled as exc:
        raise Skip(f"not installed: {exc}") from None
    except Exception as exc:  # no server: the row says so instead of failing the run
        raise Skip(f"skipped: Redis unavailable at {where} ({type(exc).__name__})") from None


def _redis_guard(ctx: Context) -> Timed:
    """AuthGuard site-wide with the store on Redis, ``store_cache`` on (the default): the token's
    keys, read once, are answered from the worker's copy, polled for Redis's pushes first."""
    return _wsgi(apps.guarded_flask(_redis_options()), _token_cookie(ctx), body=HELLO)


def _redis_guard_uncached(ctx: Context) -> Timed:
    """The same with ``store_cache=False``: every request asks Redis (one ``MGET``)."""
    return _wsgi(apps.guarded_flask(_redis_options(store_cache=False)), _token_cookie(ctx), body=HELLO)


def _redis_floor(ctx: Context) -> Timed:
    """authguard_valid's request, then one MGET round trip on a raw socket: the same request
    and the same round trip as the Redis row, without the client or the revocation code."""
    _redis_options()  # skipped the same way when there is no Redis
    request = _wsgi(apps.guarded_flask(), _token_cookie(ctx), body=HELLO)
    round_trip = apps.redis_round_trip()

    def run() -> None:
        request()
        round_trip()

    return run


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
        _with_auth_token(matcher=matcher_patterns(1), uncached=False),
    ),
    Case(
        "matcher_10",
        SCALING,
        "matcher of 10 patterns (path matches the last)",
        "wsgi_bare",
        _with_auth_token(matcher=matcher_patterns(10), uncached=False),
    ),
    Case(
        "matcher_100",
        SCALING,
        "matcher of 100 patterns (path matches the last)",
        "wsgi_bare",
        _with_auth_token(matcher=matcher_patterns(100), uncached=False),
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
        "postgresql_floor",
        DATABASE,
        "Floor: authguard_valid's request plus the same session lookup on a kept psycopg connection "
        "(no pool, adapter or session code)",
        "authguard_valid",
        _postgresql_floor,
    ),
    Case(
        "db_gss_postgresql",
        DATABASE,
        "get_server_session() on database sessions, PostgreSQL on 127.0.0.1",
        "get_server_session",
        _database("gss", "postgresql"),
    ),
    # the store
    Case(
        "authguard_redis",
        STORE,
        "AuthGuard site-wide, valid cookie, revocation store on Redis (store_cache on, the default)",
        "authguard_valid",
        _redis_guard,
    ),
    Case(
        "authguard_redis_uncached",
        STORE,
        "the same with store_cache=False (one MGET per request)",
        "authguard_valid",
        _redis_guard_uncached,
    ),
    Case(
        "redis_floor",
        STORE,
        "Floor: authguard_valid's request plus one MGET round trip on a raw socket (no client)",
        "authguard_valid",
        _redis_floor,
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
    (
        "server_cache_headers",
        "bare Flask app sending the guard's two cache headers (Vary: Cookie, Cache-Control: private)",
        "server_bare",
    ),
]

# The ASGI rows build Starlette apps in their own module.
from bench.asgi_cases import ASGI_CASES  # noqa: E402

CASES += ASGI_CASES

#: Every row key, in table order.
ROW_KEYS: list[str] = [c.key for c in CASES] + [k for k, _, _ in NODE_ROWS] + [k for k, _, _ in SERVER_ROWS]
