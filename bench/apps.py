"""Tokens, requests and apps shared by ``bench/run.py``, its servers and its smoke test.

Every app answers the same request (``GET /dashboard`` with the same cookies) with a short
text body, so the rows of the table differ only by the check in front of the view. The peer
packages (Flask-JWT-Extended, Flask-Login, fastapi-nextauth-jwt) are imported when their app is
built: a missing one raises :class:`NotInstalled`, and its row says so.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import typing as t
import warnings
import weakref

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, g, request
from werkzeug.test import EnvironBuilder

from flask_authguard import AuthGuard, encode, get_server_session, with_auth
from flask_authguard.core.config import resolve_options

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECRET = "bench-secret-5f1d0c2a9e8b7d6c5b4a39281706f5e4"
#: Rotation, worst case for v4: the token is signed by the last secret, so two keys fail first.
ROTATED_SECRETS = ("bench-secret-newest-000000000000000000", "bench-secret-middle-11111111111111111", SECRET)
CLAIMS: dict[str, t.Any] = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "picture": "https://avatars.example.com/u/42.png",
    "sub": "42",
}
BASE_URL = "http://localhost:5000"
PROTECTED = "/dashboard"
#: The other next-auth cookies a browser sends to the same site on every request.
NOISE_COOKIES = (
    "next-auth.csrf-token="
    + "3f" * 32
    + "%7C"
    + "9a" * 32
    + "; next-auth.callback-url=http%3A%2F%2Flocalhost%3A5000%2Fdashboard"
)
HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
}


class NotInstalled(Exception):
    """A peer package the row needs is not installed."""


# -- tokens and cookies ----------------------------------------------------------------------


def cookie_name(version: int = 4) -> str:
    """The plain (non-``__Secure-``) session cookie name of next-auth v4 / Auth.js v5."""
    return resolve_options({"version": version, "secret": SECRET}).session_cookie(False).name


def chunk_size(version: int = 4) -> int:
    """next-auth's cookie chunk size for ``version``."""
    return resolve_options({"version": version, "secret": SECRET}).chunk_size


def make_token(*, version: int = 4, secret: str = SECRET, size: int | None = None) -> str:
    """A session token with :data:`CLAIMS`; ``size``: pad a claim until it is about that long."""
    salt = cookie_name(version) if version == 5 else ""

    def build(pad: int) -> str:
        claims = dict(CLAIMS, pad="x" * pad) if pad else dict(CLAIMS)
        return encode(token=claims, secret=secret, salt=salt, version=version)

    token = build(0)
    if size is None or len(token) >= size:
        return token
    pad = (size - len(token)) * 3 // 4
    for _ in range(8):  # base64 and JSON overhead make the first guess a little off
        token = build(pad)
        if abs(len(token) - size) <= 4:
            break
        pad += (size - len(token)) * 3 // 4
    return token


def session_cookies(token: str, version: int = 4) -> str:
    """The ``Cookie`` header pairs holding ``token``, chunked as next-auth chunks it."""
    name, size = cookie_name(version), chunk_size(version)
    if len(token) <= size:
        return f"{name}={token}"
    pieces = [token[i : i + size] for i in range(0, len(token), size)]
    return "; ".join(f"{name}.{i}={piece}" for i, piece in enumerate(pieces))


def cookie_header(*pairs: str) -> str:
    """A ``Cookie`` header: the given pairs, then :data:`NOISE_COOKIES`."""
    return "; ".join([*pairs, NOISE_COOKIES])


def environ_for(cookie: str | None, path: str = PROTECTED) -> WSGIEnvironment:
    """A prepared environ for ``GET path`` (copy it per call: the guard writes into it)."""
    headers = dict(HEADERS)
    if cookie:
        headers["Cookie"] = cookie
    builder = EnvironBuilder(
        path=path, base_url=BASE_URL, headers=headers, environ_overrides={"REMOTE_ADDR": "127.0.0.1"}
    )
    try:
        return t.cast("WSGIEnvironment", builder.get_environ())
    finally:
        builder.close()


# -- calling a WSGI app ----------------------------------------------------------------------


def _ignore_start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
    return None


def caller(app: WSGIApplication, environ: WSGIEnvironment) -> t.Callable[[], None]:
    """One request per call: a fresh copy of ``environ``, the body consumed, ``close()`` called."""
    start = _ignore_start_response

    def call() -> None:
        body = app(dict(environ), start)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return call


class Answer(t.NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def answer(app: WSGIApplication, environ: WSGIEnvironment) -> Answer:
    """Run one request and keep what came back (used to check a row measures what it says)."""
    seen: list[t.Any] = []

    def start(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
        seen[:] = [status, headers]

    body = app(dict(environ), start)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return Answer(int(seen[0].split()[0]), list(seen[1]), data)


# -- the apps --------------------------------------------------------------------------------


def plain_wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
    """The smallest WSGI app: what ``with_auth`` is measured against."""
    body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "5")])
    return [body]


def bare_flask() -> Flask:
    """A Flask app with one unguarded route."""
    app = Flask("bench_bare")

    @app.get(PROTECTED)
    def dashboard() -> str:
        return "hello"

    return app


def guarded_flask(options: dict[str, t.Any] | None = None, matcher: t.Any = None) -> Flask:
    """The same route behind ``AuthGuard`` (site-wide by default), reading ``g.auth_token``."""
    app = Flask("bench_guarded")

    @app.get(PROTECTED)
    def dashboard() -> str:
        return "hello " + g.auth_token["name"]

    AuthGuard(app, {"secret": SECRET, "endpoints": False, **(options or {})}, matcher=matcher)
    return app


def _session_callback(*, session: dict[str, t.Any], token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
    session["user"]["id"] = token.get("sub")
    return session


def _jwt_callback(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
    return token


GSS_OPTIONS: dict[str, t.Any] = {
    "secret": SECRET,
    "endpoints": False,
    "callbacks": {"jwt": _jwt_callback, "session": _session_callback},
}


def gss_flask() -> Flask:
    """``get_server_session()`` in a view: decode, ``jwt`` and ``session`` callbacks, re-encode,
    ``Set-Cookie``. No site-wide protection (``matcher=[]``)."""
    app = Flask("bench_gss")

    @app.get(PROTECTED)
    def dashboard() -> str:
        session = get_server_session()
        return "hello " + (session["user"]["name"] if session else "stranger")

    AuthGuard(app, GSS_OPTIONS, matcher=[])
    return app


def gss_over_http_flask(port: int) -> Flask:
    """The anti-pattern next-auth warns about: a view fetching ``/api/auth/session`` over HTTP
    from the same app (served on ``127.0.0.1:port``), one keep-alive connection per thread."""
    app = Flask("bench_gss_http")
    local = threading.local()

    @app.get(PROTECTED)
    def dashboard() -> str:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Cookie": request.headers.get("Cookie", "")}

        def fetch() -> bytes:
            conn.request("GET", "/api/auth/session", headers=headers)
            return conn.getresponse().read()

        try:
            body = fetch()
        except (http.client.RemoteDisconnected, ConnectionError):
            # the server closed the connection after its keep-alive timeout (the quiet gate may
            # wait between rounds): once more on a new one, as an HTTP pool would
            conn.close()
            body = fetch()
        session = json.loads(body)
        return "hello " + (session["user"]["name"] if session else "stranger")

    return app


def with_auth_app(options: dict[str, t.Any] | None = None, matcher: t.Any = None) -> WSGIApplication:
    """``with_auth`` around :func:`plain_wsgi_app`."""
    return t.cast(
        "WSGIApplication", with_auth(plain_wsgi_app, {"secret": SECRET, **(options or {})}, matcher=matcher)
    )


def jwt_extended_flask() -> tuple[Flask, str]:
    """Flask-JWT-Extended, ``@jwt_required()`` reading an access-token cookie; and that cookie."""
    try:
        from flask_jwt_extended import JWTManager, create_access_token, get_jwt, jwt_required
    except ImportError:
        raise NotInstalled("flask-jwt-extended") from None
    import datetime as dt

    app = Flask("bench_jwt_extended")
    app.config.update(
        JWT_SECRET_KEY=SECRET,
        JWT_TOKEN_LOCATION=["cookies"],
        JWT_COOKIE_CSRF_PROTECT=False,
        JWT_ACCESS_TOKEN_EXPIRES=dt.timedelta(days=30),
    )
    JWTManager(app)

    @app.get(PROTECTED)
    @jwt_required()
    def dashboard() -> str:
        return "hello " + get_jwt()["name"]

    with app.app_context():
        extra = {k: v for k, v in CLAIMS.items() if k != "sub"}
        token = create_access_token(identity=CLAIMS["sub"], additional_claims=extra)
    return app, f"access_token_cookie={token}"


def flask_login_flask() -> tuple[Flask, str]:
    """Flask-Login, ``@login_required`` with a user loader; and the session cookie of a user
    signed in through the app itself (so session protection is satisfied)."""
    try:
        from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
    except ImportError:
        raise NotInstalled("flask-login") from None

    class User(UserMixin):
        def __init__(self, user_id: str, name: str) -> None:
            self.id = user_id
            self.name = name

    users = {CLAIMS["sub"]: User(CLAIMS["sub"], CLAIMS["name"])}
    app = Flask("bench_flask_login")
    app.secret_key = SECRET
    manager = LoginManager(app)

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        return users.get(user_id)

    @app.get(PROTECTED)
    @login_required
    def dashboard() -> str:
        return "hello " + current_user.name

    @app.get("/login")
    def login() -> str:
        login_user(users[CLAIMS["sub"]])
        return "ok"

    got = answer(app, environ_for(None, "/login"))
    cookies = [v.split(";", 1)[0] for k, v in got.headers if k.lower() == "set-cookie"]
    if got.status != 200 or not cookies:
        raise RuntimeError("Flask-Login did not sign the bench user in")
    return app, cookies[0]


def fastapi_nextauth_flask() -> Flask:
    """fastapi-nextauth-jwt's decoder (``NextAuthJWTv4``) run in a Flask ``before_request`` hook:
    it reads ``request.cookies`` the same way from a Flask request as from a Starlette one."""
    try:
        from fastapi_nextauth_jwt import NextAuthJWTv4
        from fastapi_nextauth_jwt.exceptions import NextAuthJWTException
    except ImportError:
        raise NotInstalled("fastapi-nextauth-jwt") from None
    from flask import redirect

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoder = NextAuthJWTv4(secret=SECRET, secure_cookie=False, csrf_prevention_enabled=False)
    app = Flask("bench_fastapi_nextauth_jwt")

    @app.before_request
    def check() -> t.Any:
        try:
            g.auth_token = decoder(request)
        except NextAuthJWTException:
            return redirect("/api/auth/signin", 307)
        return None

    @app.get(PROTECTED)
    def dashboard() -> str:
        return "hello " + g.auth_token["name"]

    return app


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def floor_decoder(token: str, secret: str = SECRET) -> t.Callable[[], dict[str, t.Any]]:
    """The least any v4 check can do: split, base64url, AES-256-GCM decrypt, ``json.loads``,
    with the key derived and the cipher object built beforehand."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"", info=b"NextAuth.js Generated Encryption Key"
    ).derive(secret.encode())
    aead = AESGCM(key)

    def run() -> dict[str, t.Any]:
        header, _, iv, ciphertext, tag = token.split(".")
        plaintext = aead.decrypt(_b64url(iv), _b64url(ciphertext) + _b64url(tag), header.encode("ascii"))
        return t.cast("dict[str, t.Any]", json.loads(plaintext))

    return run


# -- the server apps (gunicorn: "bench.apps:server_app('guarded')") ---------------------------


#: The apps :func:`server_app` makes.
SERVER_KINDS = ("bare", "guarded", "cache_headers")


def server_app(kind: str = "guarded") -> Flask:
    """The demo shape: ``/health`` public, ``/dashboard`` protected by ``AuthGuard`` (matcher
    ``/dashboard/:path*``) with the auth endpoints on; ``kind="bare"``: the same without a guard;
    ``kind="cache_headers"``: bare, its ``/dashboard`` sending the two headers the guard adds to
    a checked response (what they cost a server and its clients, without the guard).
    Every response names the worker process that served it (``X-Bench-Worker``)."""
    if kind not in SERVER_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, SERVER_KINDS))}, not {kind!r}")
    app = Flask(f"bench_server_{kind}")

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.after_request
    def worker_header(response: t.Any) -> t.Any:
        # Lets a load client keep its connection on one worker of its own (bench/server.py).
        response.headers["X-Bench-Worker"] = str(os.getpid())
        return response

    if kind == "bare":

        @app.get(PROTECTED)
        def dashboard() -> str:
            return "hello"

        return app
    if kind == "cache_headers":

        @app.get(PROTECTED)
        def dashboard_with_cache_headers() -> tuple[str, dict[str, str]]:
            return "hello", {"Vary": "Cookie", "Cache-Control": "private"}

        return app

    @app.get(PROTECTED)
    def guarded_dashboard() -> str:
        return "hello " + g.auth_token["name"]

    options = dict(GSS_OPTIONS, endpoints=True)
    AuthGuard(app, options, matcher=[PROTECTED + "/:path*"])
    return app


# -- database sessions ------------------------------------------------------------------------

#: Where the PostgreSQL rows run (the test suite's variable and default).
POSTGRES_URL = os.environ.get(
    "AUTHGUARD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def database_setup(url: str) -> tuple[t.Any, str, t.Callable[[], None]]:
    """An adapter on fresh tables (a unique name prefix), a signed-in session token, and the
    clean-up that drops the tables.

    :raises NotInstalled: SQLAlchemy (or the PostgreSQL driver) is missing.
    """
    try:
        from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter
    except ImportError as exc:  # the sqlalchemy extra
        raise NotInstalled(str(exc)) from None
    import datetime as dt
    import uuid

    prefix = f"bench_{uuid.uuid4().hex[:8]}_"
    names = {n: prefix + n for n in ("users", "accounts", "sessions", "verification_token")}
    adapter = SQLAlchemyAdapter(url, table_names=names, create_tables=True)
    user = adapter.create_user({"name": CLAIMS["name"], "email": CLAIMS["email"], "image": CLAIMS["picture"]})
    token = uuid.uuid4().hex
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
    adapter.create_session({"sessionToken": token, "userId": user["id"], "expires": expires})

    def cleanup() -> None:
        adapter.drop_tables()
        adapter.close()

    return adapter, token, cleanup


#: Where the revocation/throttling store rows find Redis (a database of its own: nothing is written).
REDIS_URL = os.environ.get("AUTHGUARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_store_options(url: str = REDIS_URL) -> dict[str, t.Any]:
    """Options putting the store (revocations, throttling) on Redis at ``url``, under a key prefix
    of this run's own; the server is pinged first.

    :raises NotInstalled: the redis client (the ``redis`` extra) is missing.
    :raises Exception: whatever the client raises when no Redis answers at ``url``.
    """
    try:
        import redis
    except ImportError as exc:
        raise NotInstalled(str(exc)) from None
    import uuid

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return {"store": url, "store_prefix": f"authguard-bench-{uuid.uuid4().hex[:8]}:"}


def redis_round_trip(url: str = REDIS_URL) -> t.Callable[[], None]:
    """One ``MGET`` of two keys per call on a raw socket to the Redis at ``url``, the command
    packed once: what loopback and the Redis server cost, with no client around them (the floor
    under the Redis row). The socket is closed when the returned callable is collected."""
    import socket
    from urllib.parse import urlsplit

    from redis.connection import Connection

    keys = ("authguard-bench-floor:u:42", "authguard-bench-floor:s:1")
    packed = b"".join(Connection().pack_command("MGET", *keys))
    where = urlsplit(url)
    sock = socket.create_connection((where.hostname or "127.0.0.1", where.port or 6379), timeout=2)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def round_trip() -> None:
        sock.sendall(packed)
        if not sock.recv(4096):
            raise ConnectionError("Redis closed the connection")

    weakref.finalize(round_trip, sock.close)  # closed with the row, not left to the collector
    return round_trip


def database_round_trip(adapter: t.Any, token: str) -> t.Callable[[], None]:
    """The adapter's own session lookup (its compiled SQL and parameters) run once per call on a
    psycopg connection of its own, kept open, in autocommit: the round trip and the server's
    work with no SQLAlchemy pool, adapter or guard around it (the floor under the database
    rows). The connection is closed when the returned callable is collected."""
    import psycopg

    reader = adapter._session_lookup
    if adapter.get_session_and_user(token) is None:  # one read through the adapter compiles it
        raise RuntimeError("the bench session is not in the database")
    compiled = reader._ready()
    args = compiled.arguments({"token": token})
    url = adapter.engine.url
    connection = psycopg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username, dbname=url.database,
        password=url.password, autocommit=True,
    )
    cursor = connection.cursor()

    def round_trip() -> None:
        cursor.execute(compiled.sql, args)
        if cursor.fetchone() is None:
            raise RuntimeError("the bench session is gone")

    weakref.finalize(round_trip, connection.close)
    return round_trip


def database_guarded_flask(adapter: t.Any) -> Flask:
    """``AuthGuard`` site-wide on database sessions: the guard looks the session up."""
    app = Flask("bench_db_guarded")

    @app.get(PROTECTED)
    def dashboard() -> str:
        return "hello " + g.auth_token["name"]

    AuthGuard(app, {"secret": SECRET, "endpoints": False, "adapter": adapter})
    return app


def database_gss_flask(adapter: t.Any) -> Flask:
    """``get_server_session()`` in a view on database sessions (lookup, expiry rules, cookie)."""
    app = Flask("bench_db_gss")

    @app.get(PROTECTED)
    def dashboard() -> str:
        session = get_server_session()
        return "hello " + (session["user"]["name"] if session else "stranger")

    AuthGuard(app, {"secret": SECRET, "endpoints": False, "adapter": adapter}, matcher=[])
    return app
