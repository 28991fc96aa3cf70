"""The tokens, requests and apps the benchmark measures, shared by the timed rows, the
instruction counts and the smoke test.

Every app answers ``GET /dashboard`` with a short text body; a guarded app's view reads the
token (``g.auth_token``, ``environ["authguard.token"]``, ``request.state.auth_token``), so a row
differs from its bare baseline by the check and that read. :data:`REQUESTS` names the
single-request rows: each builds its app, checks that one request answers as the row says and
returns the callable to time (or count). A peer package that is missing raises
:class:`Skip` ("not installed: ..."), and its row says so.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import gc
import itertools
import os
import typing as t
import uuid
import warnings

from flask import Flask, g, jsonify, render_template, request, session
from jinja2 import DictLoader
from werkzeug.test import EnvironBuilder

from flask_authguard import AuthGuard, auth_required, encode, get_server_session, with_auth
from flask_authguard.core.settings.config import resolve_options

SECRET = "bench-secret-5f1d0c2a9e8b7d6c5b4a39281706f5e4"
CLAIMS: dict[str, t.Any] = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "picture": "https://avatars.example.com/u/42.png",
    "sub": "42",
}
PROTECTED = "/dashboard"
HELLO = ("hello " + CLAIMS["name"]).encode()
#: The other next-auth cookies and headers a browser sends to the same site on every request.
NOISE_COOKIES = "next-auth.csrf-token=" + "3f" * 32 + "%7C" + "9a" * 32 + "; next-auth.callback-url=%2F"
HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
}
#: Where the database and store rows find their services (the test suite's defaults).
POSTGRES_URL = os.environ.get(
    "AUTHGUARD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("AUTHGUARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")

Timed = t.Callable[[], object]


class Skip(Exception):
    """The row cannot run here; the message says why ("not installed: ...", "no PostgreSQL ...")."""


def cookie_name(version: int = 4) -> str:
    """The plain (non-``__Secure-``) session cookie name of next-auth v4 / Auth.js v5."""
    return resolve_options({"version": version, "secret": SECRET}).session_cookie(False).name


def make_token(version: int = 4, **claims: t.Any) -> str:
    """A session token with :data:`CLAIMS` (and ``claims`` on top)."""
    salt = cookie_name(version) if version == 5 else ""
    return encode(token={**CLAIMS, **claims}, secret=SECRET, salt=salt, version=version)


def cookie_header(token: str | None, version: int = 4) -> str:
    """A browser's ``Cookie`` header: the session cookie (when ``token``) and :data:`NOISE_COOKIES`."""
    return NOISE_COOKIES if token is None else f"{cookie_name(version)}={token}; {NOISE_COOKIES}"


def environ_for(cookie: str | None, path: str = PROTECTED) -> dict[str, t.Any]:
    """A prepared WSGI environ for ``GET path`` (copy it per call: the guard writes into it)."""
    headers = dict(HEADERS, Cookie=cookie) if cookie else HEADERS
    builder = EnvironBuilder(path=path, base_url="http://localhost:5000", headers=headers)
    try:
        return dict(builder.get_environ(), REMOTE_ADDR="127.0.0.1")
    finally:
        builder.close()


# -- calling an app ---------------------------------------------------------------------------


def answer(app: t.Any, environ: dict[str, t.Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request: status, headers and body (used to check a row measures what it says)."""
    seen: list[t.Any] = []
    body = app(dict(environ), lambda status, headers, exc_info=None: seen.extend((status, headers)))
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return int(seen[0].split()[0]), seen[1], data


def _ignore(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
    return None


def checked(app: t.Any, *environs: dict[str, t.Any], status: int = 200, body: bytes | None = None) -> Timed:
    """Check that a request answers ``status`` (and ``body``), then return the caller: one
    request a call, from each of ``environs`` in turn (a fresh copy), its body consumed and closed."""
    for environ in environs[:2]:
        got, _, data = answer(app, environ)
        if got != status or (body is not None and data != body):
            raise RuntimeError(f"expected {status} {body!r}, got {got} {data[:200]!r}")
    turn = itertools.cycle(environs)

    def call() -> None:
        result = app(dict(next(turn)), _ignore)
        for _ in result:
            pass
        getattr(result, "close", lambda: None)()

    return call


# -- WSGI and Flask apps ----------------------------------------------------------------------


def plain_wsgi_app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    """The smallest WSGI app."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def token_wsgi_app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    """The same, reading the token ``with_auth`` put in the environ."""
    body = b"hello " + environ["authguard.token"]["name"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def bare_flask() -> Flask:
    app = Flask("bench_bare")
    app.add_url_rule(PROTECTED, "dashboard", lambda: "hello")
    return app


def guarded_flask(options: dict[str, t.Any] | None = None, **guard: t.Any) -> Flask:
    """``AuthGuard`` site-wide (or as ``guard`` says) in front of a view reading ``g.auth_token``."""
    app = Flask("bench_guarded")
    app.add_url_rule(PROTECTED, "dashboard", lambda: "hello " + g.auth_token["name"])
    AuthGuard(app, {"secret": SECRET, "endpoints": False, **(options or {})}, **guard)
    return app


def auth_required_flask() -> Flask:
    """Nothing site-wide (``matcher=[]``); the view has ``@auth_required``."""
    app = Flask("bench_auth_required")

    @app.get(PROTECTED)
    @auth_required
    def dashboard() -> str:
        return "hello " + g.auth_token["name"]

    AuthGuard(app, {"secret": SECRET, "endpoints": False}, matcher=[])
    return app


def gss_flask(site_wide: bool = False) -> Flask:
    """``get_server_session()`` in the view (decode, callbacks, re-encode, ``Set-Cookie``); the
    guard site-wide too when ``site_wide``."""
    app = Flask("bench_gss")

    @app.get(PROTECTED)
    def dashboard() -> str:
        found = get_server_session()
        return "hello " + (found["user"]["name"] if found else "stranger")

    AuthGuard(app, {"secret": SECRET, "endpoints": False}, **({} if site_wide else {"matcher": []}))
    return app


def _peer(name: str) -> None:
    try:
        __import__(name)
    except ImportError:
        raise Skip(f"not installed: {name} (pip install -e '.[bench]')") from None


def _signed_in(app: Flask) -> str:
    """The session cookie ``/login`` of ``app`` sets."""
    status, headers, _ = answer(app, environ_for(None, "/login"))
    cookies = [v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie"]
    if status != 200 or not cookies:
        raise RuntimeError(f"{app.name} did not sign the bench user in")
    return cookies[0]


def flask_session_flask() -> tuple[Flask, str]:
    """Flask's own signed-cookie session holding the user; and its cookie."""
    app = Flask("bench_flask_session")
    app.secret_key = SECRET
    app.add_url_rule(PROTECTED, "dashboard", lambda: "hello " + session["user"]["name"])

    @app.get("/login")
    def login() -> str:
        session["user"] = dict(CLAIMS)
        return "ok"

    return app, _signed_in(app)


def flask_login_flask() -> tuple[Flask, str]:
    """Flask-Login, ``@login_required`` with a user loader; and the cookie of a signed-in user."""
    _peer("flask_login")
    from flask_login import LoginManager, UserMixin, current_user, login_required, login_user

    class User(UserMixin):
        id, name = CLAIMS["sub"], CLAIMS["name"]

    app = Flask("bench_flask_login")
    app.secret_key = SECRET
    LoginManager(app).user_loader(lambda user_id: User() if user_id == User.id else None)
    app.add_url_rule(PROTECTED, "dashboard", login_required(lambda: "hello " + current_user.name))
    app.add_url_rule("/login", "login", lambda: "ok" if login_user(User()) else "no")
    return app, _signed_in(app)


def jwt_extended_flask() -> tuple[Flask, str]:
    """Flask-JWT-Extended, ``@jwt_required()`` reading an access-token cookie; and that cookie."""
    _peer("flask_jwt_extended")
    from flask_jwt_extended import JWTManager, create_access_token, get_jwt, jwt_required

    app = Flask("bench_jwt_extended")
    app.config.update(
        JWT_SECRET_KEY=SECRET,
        JWT_TOKEN_LOCATION=["cookies"],
        JWT_COOKIE_CSRF_PROTECT=False,
        JWT_ACCESS_TOKEN_EXPIRES=dt.timedelta(days=30),
    )
    JWTManager(app)
    app.add_url_rule(PROTECTED, "dashboard", jwt_required()(lambda: "hello " + get_jwt()["name"]))
    with app.app_context():
        extra = {k: v for k, v in CLAIMS.items() if k != "sub"}
        token = create_access_token(identity=CLAIMS["sub"], additional_claims=extra)
    return app, f"access_token_cookie={token}"


def _with_cookie(factory: t.Callable[[], tuple[Flask, str]]) -> Timed:
    app, cookie = factory()
    return checked(app, environ_for(f"{cookie}; {NOISE_COOKIES}"), body=HELLO)


# -- ASGI apps --------------------------------------------------------------------------------

LOOP = asyncio.new_event_loop()
atexit.register(LOOP.close)
#: Requests per call of an ASGI caller, awaited in one run of the loop as a server's loop runs
#: them (starting the loop per request would cost more than the request).
BATCH = 20


def _scope(cookie: str) -> dict[str, t.Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PROTECTED,
        "raw_path": PROTECTED.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost:3000"), (b"accept", b"text/html"), (b"cookie", cookie.encode())],
        "server": ("localhost", 3000),
        "client": ("127.0.0.1", 50000),
    }


async def _receive() -> dict[str, t.Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def asgi_checked(app: t.Any, cookie: str, body: bytes) -> Timed:
    """Check one request answers 200 ``body``; the caller runs :data:`BATCH` requests (its
    ``batch`` attribute says so)."""
    sent: list[dict[str, t.Any]] = []

    async def record(message: dict[str, t.Any]) -> None:
        sent.append(message)

    scope = _scope(cookie)
    LOOP.run_until_complete(app(dict(scope), _receive, record))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if status != 200 or text != body:
        raise RuntimeError(f"expected 200 {body!r}, got {status} {text[:200]!r}")

    async def ignore(message: dict[str, t.Any]) -> None:
        return None

    async def many() -> None:
        for _ in range(BATCH):
            await app(dict(scope), _receive, ignore)

    def call() -> None:
        LOOP.run_until_complete(many())

    call.batch = BATCH  # type: ignore[attr-defined]
    return call


def starlette(read_token: bool) -> t.Any:
    _peer("starlette")
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(req: t.Any) -> t.Any:
        return PlainTextResponse("hello " + req.state.auth_token["name"] if read_token else "hello")

    return Starlette(routes=[Route(PROTECTED, hello)])


def asgi_guarded() -> t.Any:
    from flask_authguard.asgi import AuthMiddleware

    return AuthMiddleware(starlette(True), {"secret": SECRET})


def asgi_nextauth_jwt() -> t.Any:
    """fastapi-nextauth-jwt's ``NextAuthJWTv4`` in a plain ASGI middleware, putting the claims
    where the route reads them."""
    _peer("fastapi_nextauth_jwt")
    from fastapi_nextauth_jwt import NextAuthJWTv4
    from starlette.requests import Request

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoder = NextAuthJWTv4(secret=SECRET, secure_cookie=False, csrf_prevention_enabled=False)
    inner = starlette(True)

    async def middleware(scope: t.Any, receive: t.Any, send: t.Any) -> None:
        scope.setdefault("state", {})["auth_token"] = decoder(Request(scope))
        await inner(scope, receive, send)

    return middleware


# -- the floor -------------------------------------------------------------------------------


def floor_app(app: t.Any) -> t.Any:
    """Issue 29's "lean prototype" on today's primitives: not a guard, the floor the instruction
    targets are read against. It does only what every guarded request must: the skip list on the
    path, the session cookie's one fast path (``single_cookie_value``), the verified-token cache
    (a fresh copy per hit, ``exp`` checked), the token into the environ and the two cache headers
    (``cache_headers``), inline in one function. None of the guard's other steps: no path
    normalisation, host, secret, cross-site, ``authorized``, revocation or device step."""
    from flask_authguard.core.tokens.jwt import verified_claims
    from flask_authguard.core.tokens.request_token import single_cookie_value
    from flask_authguard.guard.caching import cache_headers

    config = resolve_options({"secret": SECRET})
    name, salt = config.session_cookie(False).name, config.session_salts[False]
    secrets, version = config.secrets, config.version
    skip_exact, skip_prefixes = {"/api/auth", "/_next", "/favicon.ico"}, ("/api/auth/", "/_next/")

    def floor(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        path = environ.get("PATH_INFO") or "/"
        if path in skip_exact or path.startswith(skip_prefixes):
            return app(environ, start_response)
        value = single_cookie_value(environ.get("HTTP_COOKIE"), name)
        if value is None:
            raise RuntimeError("the floor serves a valid cookie only")
        environ["authguard.token"] = verified_claims(value, secrets, salt, version)

        def private_start(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            return start_response(status, cache_headers(headers), exc_info)

        return app(environ, private_start)

    return floor


def inline_app(app: t.Any) -> t.Any:
    """Every step of ``with_auth``'s check, each in its usual case, inline in one function over
    today's primitives: the lowest any structure of the guard reaches. A reference for issue 29's
    targets, not a guard: a case it does not cover (a path to normalise, a matcher, a host list,
    a cross-site request, a hook, a revoked or recorded session, a refusal) raises.

    Over :func:`floor_app` it adds path normalisation's test, the matcher, ``trusted_hosts``,
    the secret, the cross-site rule, the secure flag, ``session.max_lifetime``, the revocation
    list (a memory store nobody revoked in), the device record (seen recently), the token's
    second environ key, ``callbacks.authorized`` and the inner middleware."""
    from flask_authguard.core import _clock
    from flask_authguard.core.defences.crosssite import SAFE_METHODS, WEBSOCKET_KEY
    from flask_authguard.core.runtime import runtime_of
    from flask_authguard.core.tokens.jwt import verified_claims
    from flask_authguard.core.tokens.request_token import single_cookie_value
    from flask_authguard.guard.caching import cache_headers

    config = resolve_options({"secret": SECRET})
    runtime = runtime_of(config)
    store = runtime.revocations.store
    reads = {
        secure: (config.session_cookie(secure).name, config.session_salts[secure]) for secure in (False, True)
    }
    secrets, version = config.secrets, config.version
    skip_exact, skip_prefixes = {"/api/auth", "/_next", "/favicon.ico"}, ("/api/auth/", "/_next/")
    match_all, middleware, last_seen = True, None, {"": 0.0}

    def unusual(step: str) -> t.NoReturn:
        raise RuntimeError(f"the inline reference serves the usual case only, not: {step}")

    def inline(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        path = environ.get("PATH_INFO", "")
        if path[:1] != "/" or "//" in path or "/." in path or not path.isascii():
            unusual("a path to normalise")
        if path in skip_exact or path.startswith(skip_prefixes):
            return app(environ, start_response)
        if not match_all:
            unusual("a matcher")
        environ["authguard.checked"] = True
        if config.trusted_hosts is not None:
            unusual("trusted_hosts")
        if not config.secrets:
            unusual("no secret")
        if config.cross_site_protection and (
            environ.get("REQUEST_METHOD", "GET") not in SAFE_METHODS
            or WEBSOCKET_KEY in environ
            or "HTTP_UPGRADE" in environ
        ):
            unusual("a cross-site check")
        secure = config.secure
        if secure is None:
            secure = environ.get("wsgi.url_scheme") == "https"
        name, salt = reads[secure]
        value = single_cookie_value(environ.get("HTTP_COOKIE"), name)
        if value is None:
            unusual("no plain cookie")
        claims = verified_claims(value, secrets, salt, version)
        if config.max_lifetime is not None:
            unusual("session.max_lifetime")
        if not store.is_empty():
            unusual("a revocation entry")
        sid = claims.get("sid")
        if isinstance(sid, str) and _clock.now() >= last_seen.get(sid, 0.0):
            unusual("a device record to write")
        environ["authguard.token"] = claims
        environ["authguard.token_config"] = config
        if config.callbacks.authorized is not None:
            unusual("callbacks.authorized")
        if middleware is not None:
            unusual("an inner middleware")

        def private_start(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            return start_response(status, cache_headers(headers), exc_info)

        return app(environ, private_start)

    return inline


# -- the single-request rows, by key ------------------------------------------------------------


def _requests() -> dict[str, t.Callable[[], Timed]]:
    token = make_token()
    valid, none = environ_for(cookie_header(token)), environ_for(NOISE_COOKIES)
    return {
        "wsgi_bare": lambda: checked(plain_wsgi_app, valid, body=b"hello"),
        "with_auth": lambda: checked(with_auth(token_wsgi_app, {"secret": SECRET}), valid, body=HELLO),
        "floor": lambda: checked(floor_app(token_wsgi_app), valid, body=HELLO),
        "inline": lambda: checked(inline_app(token_wsgi_app), valid, body=HELLO),
        "with_auth_no_cookie": lambda: checked(
            with_auth(token_wsgi_app, {"secret": SECRET}), none, status=307
        ),
        "flask_bare": lambda: checked(bare_flask(), valid, body=b"hello"),
        "authguard": lambda: checked(guarded_flask(), valid, body=HELLO),
        "authguard_no_cookie": lambda: checked(guarded_flask(), none, status=307),
        "auth_required": lambda: checked(auth_required_flask(), valid, body=HELLO),
        "get_server_session": lambda: checked(gss_flask(), valid, body=HELLO),
        "flask_session": lambda: _with_cookie(flask_session_flask),
        "flask_login": lambda: _with_cookie(flask_login_flask),
        "jwt_extended": lambda: _with_cookie(jwt_extended_flask),
        "starlette_bare": lambda: asgi_checked(starlette(False), cookie_header(token), b"hello"),
        "asgi": lambda: asgi_checked(asgi_guarded(), cookie_header(token), HELLO),
        "fastapi_nextauth_jwt": lambda: asgi_checked(asgi_nextauth_jwt(), cookie_header(token), HELLO),
    }


REQUESTS = _requests()


# -- database sessions and the Redis store -------------------------------------------------------


def database_guarded(url: str) -> tuple[Timed, t.Callable[[], None]]:
    """``AuthGuard`` site-wide on database sessions at ``url`` (fresh tables, a signed-in user):
    the caller and the clean-up that drops the tables."""
    _peer("sqlalchemy")
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    prefix = f"bench_{uuid.uuid4().hex[:8]}_"
    names = {n: prefix + n for n in ("users", "accounts", "sessions", "verification_token")}
    try:
        adapter = SQLAlchemyAdapter(url, table_names=names, create_tables=True)
    except Exception as exc:  # no server: the row says so
        raise Skip(f"no database at {url.split('@')[-1]} ({type(exc).__name__})") from None
    user = adapter.create_user({"name": CLAIMS["name"], "email": CLAIMS["email"]})
    token = uuid.uuid4().hex
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
    adapter.create_session({"sessionToken": token, "userId": user["id"], "expires": expires})

    def cleanup() -> None:
        adapter.drop_tables()
        adapter.close()

    app = guarded_flask({"adapter": adapter})
    return checked(app, environ_for(cookie_header(token)), body=HELLO), cleanup


def redis_guarded() -> Timed:
    """``AuthGuard`` site-wide with the revocation store on Redis (``store_cache`` on, the default)."""
    _peer("redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Skip(f"no Redis at {REDIS_URL} ({type(exc).__name__})") from None
    finally:
        client.close()
    options = {"store": REDIS_URL, "store_prefix": f"authguard-bench-{uuid.uuid4().hex[:8]}:"}
    return checked(guarded_flask(options), environ_for(cookie_header(make_token())), body=HELLO)


# -- the gunicorn worker's app ("bench.apps:server_app('guarded')") ------------------------------

#: The worker rows' routes: a hello-world, a JSON answer and a rendered template.
ROUTES = ("/hello", "/json", "/template")
PAGE = """<!doctype html><title>{{ title }}</title><h1>{{ title }}</h1>
<ul>{% for item in items %}<li>{{ item.name }}: {{ item.value }}</li>{% endfor %}</ul>"""


def _batch_start() -> str:
    gc.collect()  # the cyclic collector runs before a batch and is off during it, as in-process
    gc.disable()
    os.getsid(0)
    return str(os.getpid())


def _batch_end() -> str:
    os.getsid(0)
    gc.enable()
    return "counted"


def server_app(kind: str = "guarded") -> Flask:
    """``/health`` public and :data:`ROUTES`, behind ``AuthGuard`` site-wide when ``kind`` is
    ``"guarded"`` (each view then reads ``g.auth_token``), bare when ``"bare"``."""
    if kind not in ("bare", "guarded"):
        raise ValueError(f"kind must be 'bare' or 'guarded', not {kind!r}")
    app = Flask(f"bench_server_{kind}")
    app.jinja_loader = DictLoader({"page.html": PAGE})  # (compiled once and cached, as from a file)
    items = [{"name": f"item {i}", "value": i * 7} for i in range(10)]

    def who() -> str:
        return g.auth_token["name"] if kind == "guarded" else "stranger"

    views = {
        "/health": lambda: "ok",
        # A counted batch's brackets (bench/instructions.py): callgrind writes out its counters,
        # and starts them again from zero, whenever the worker calls getsid().
        "/bench/start": _batch_start,
        "/bench/end": _batch_end,
        "/hello": lambda: "hello " + who(),
        "/json": lambda: jsonify(user=who(), items=items, path=request.path),
        "/template": lambda: render_template("page.html", title="hello " + who(), items=items),
    }
    for path, view in views.items():
        app.add_url_rule(path, path, view)
    if kind == "guarded":
        AuthGuard(app, {"secret": SECRET}, matcher=[f"{r}/:path*" for r in ROUTES])
    return app
