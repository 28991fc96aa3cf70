"""Where the guard's time goes: cProfile of the hot paths and a timed breakdown of their parts.

.. code-block:: console

    $ python bench/hotpath.py                 # every path, 5000 requests each
    $ python bench/hotpath.py with_auth_valid --top 25

The breakdown times each step of the valid-cookie path on its own (best of 5 runs), next to
a few candidate replacements written here for comparison only (``proto:`` rows): they are not
the package's code and make no claim to cover its edge cases.
"""

from __future__ import annotations

import argparse
import binascii
import cProfile
import io
import json
import pstats
import sys
import time
import typing as t
import warnings

if __package__ in (None, ""):
    import pathlib

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench import apps  # noqa: E402

PATHS: dict[str, t.Callable[[str], tuple[t.Any, dict[str, t.Any]]]] = {
    "with_auth_valid": lambda cookie: (apps.with_auth_app(), apps.environ_for(cookie)),
    "with_auth_no_cookie": lambda cookie: (apps.with_auth_app(), apps.environ_for(apps.NOISE_COOKIES)),
    "authguard_valid": lambda cookie: (apps.guarded_flask(), apps.environ_for(cookie)),
    "authguard_no_cookie": lambda cookie: (apps.guarded_flask(), apps.environ_for(apps.NOISE_COOKIES)),
    "flask_bare": lambda cookie: (apps.bare_flask(), apps.environ_for(cookie)),
    "get_server_session": lambda cookie: (apps.gss_flask(), apps.environ_for(cookie)),
}


def _database(kind: str, backend: str) -> t.Callable[[str], tuple[t.Any, dict[str, t.Any]]]:
    """A database-session path as ``bench/cases.py`` builds its row (tables dropped at exit)."""

    def build(cookie: str) -> tuple[t.Any, dict[str, t.Any]]:
        import atexit
        import tempfile

        if backend == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp(prefix='authguard-hotpath-')}/sessions.db"
        else:
            url = apps.POSTGRES_URL
        adapter, token, cleanup = apps.database_setup(url)
        atexit.register(cleanup)
        app = (apps.database_guarded_flask if kind == "guard" else apps.database_gss_flask)(adapter)
        return app, apps.environ_for(apps.cookie_header(f"{apps.cookie_name()}={token}"))

    return build


#: Paths profiled only when named (they need SQLAlchemy, and PostgreSQL on loopback).
DATABASE_PATHS: dict[str, t.Callable[[str], tuple[t.Any, dict[str, t.Any]]]] = {
    f"db_{kind}_{backend}": _database(kind, backend)
    for kind in ("guard", "gss")
    for backend in ("sqlite", "postgresql")
}


def best_us(fn: t.Callable[[], object], n: int = 20000, repeat: int = 5) -> float:
    """Best-of-``repeat`` µs per call of ``fn``."""
    for _ in range(min(n, 200)):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / n / 1000)
    return best


def profile(name: str, cookie: str, n: int, top: int) -> str:
    app, environ = {**PATHS, **DATABASE_PATHS}[name](cookie)
    call = apps.caller(app, environ)
    for _ in range(300):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- candidate replacements, for comparison only ---------------------------------------------------


def proto_session_cookie(header: str, name: str) -> dict[str, str]:
    """Only the session cookie and its chunks, by ``str.split``; werkzeug when a value is quoted."""
    if name not in header:
        return {}
    if '"' in header:
        from werkzeug.http import parse_cookie

        cookies = parse_cookie(header)
        return {k: cookies[k] for k in cookies if k == name or k.startswith(name + ".")}
    found: dict[str, str] = {}
    prefix = name + "."
    for part in header.split(";"):
        key, _, value = part.partition("=")
        key = key.strip()
        if key == name or key.startswith(prefix):
            found.setdefault(key, value.strip())
    return found


_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_STD = bytes.maketrans(b"-_", b"+/")
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}


def proto_b64url_bytes(text: str) -> bytes:
    """Canonical unpadded base64url: ``bytes.translate`` deletes the alphabet to
    find stray characters, which is much cheaper than ``str.translate`` or a regex."""
    raw = text.encode("ascii")
    rest = len(raw) % 4
    if rest == 1 or raw.translate(None, _ALPHABET):
        raise ValueError("not base64url")
    if rest and _VALUE[raw[-1]] & (0x0F if rest == 2 else 0x03):
        raise ValueError("not canonical")
    return binascii.a2b_base64(raw.translate(_STD) + b"=" * (-rest % 4))


class ProtoDecoder:
    """A v4 decoder with per-key AESGCM objects, the validated header cached by its base64
    text, bytes-based base64url and a prebuilt JSON decoder."""

    def __init__(self, secrets: t.Sequence[str]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from flask_authguard.core import jwt as codec
        from flask_authguard.core.claims import check_claims, reject_constant

        self.codec = codec
        self.check_claims = check_claims
        self.aeads = [AESGCM(codec.derive_key(s)) for s in secrets]
        self.headers: dict[str, bool] = {}
        self.json = json.JSONDecoder(parse_constant=reject_constant)

    def __call__(self, token: str) -> dict[str, t.Any] | None:
        from cryptography.exceptions import InvalidTag

        parts = token.split(".")
        if len(parts) != 5 or parts[1]:
            return None
        header = parts[0]
        if header not in self.headers:
            try:
                self.codec._parse(token, 4)
            except Exception:
                return None
            self.headers[header] = True
        try:
            iv, ciphertext, tag = (proto_b64url_bytes(p) for p in parts[2:])
        except ValueError:
            return None
        if len(iv) != 12 or len(tag) != 16:
            return None
        for aead in self.aeads:
            try:
                plaintext = aead.decrypt(iv, ciphertext + tag, header.encode("ascii"))
            except InvalidTag:
                continue
            claims = self.json.decode(plaintext.decode("utf-8"))
            self.check_claims(claims)
            return t.cast("dict[str, t.Any]", claims)
        return None


def proto_token(environ: dict[str, t.Any], name: str, decoder: ProtoDecoder) -> dict[str, t.Any] | None:
    """The session cookie (chunks joined) by :func:`proto_session_cookie`, then the decoder."""
    found = proto_session_cookie(environ.get("HTTP_COOKIE", ""), name)
    if not found:
        return None
    value = found.get(name)
    if value is None:
        chunks = []
        for i in range(16):
            piece = found.get(f"{name}.{i}")
            if piece is None:
                break
            chunks.append(piece)
        value = "".join(chunks)
    return decoder(value) if value else None


def what_if(cookie_header: str) -> list[tuple[str, float]]:
    """Whole requests, best of 5 × 3: the current paths next to the same shape built on the
    candidate replacements (path checks kept, inner middleware and callbacks absent)."""
    from flask import Flask, g, request

    from flask_authguard.wsgi.middleware import AuthCore

    core = AuthCore({"secret": apps.SECRET})
    decoder = ProtoDecoder([apps.SECRET])
    name = apps.cookie_name()
    environ = apps.environ_for(cookie_header)

    def proto_wsgi(env: dict[str, t.Any], start_response: t.Any) -> t.Any:
        if core.is_protected(env):
            token = env["authguard.token"] = proto_token(env, name, decoder)
            if token is None:
                raise RuntimeError("the prototype refused the bench token")
        return apps.plain_wsgi_app(env, start_response)

    def flask_with(hook: t.Callable[[], object] | None) -> Flask:
        app = Flask("whatif")

        @app.get(apps.PROTECTED)
        def dashboard() -> str:
            return "hello"

        if hook is not None:
            app.before_request(hook)
        return app

    def proto_hook() -> None:
        environ = request.environ
        if core.is_protected(environ):
            g.auth_token = proto_token(environ, name, decoder)

    def current_hook() -> None:
        g.auth_token = core.token(request.environ)

    cases = [
        ("plain WSGI app", apps.plain_wsgi_app),
        ("with_auth (current)", apps.with_auth_app()),
        ("with_auth shape on the prototypes", proto_wsgi),
        ("bare Flask", flask_with(None)),
        (
            "Flask + before_request: AuthCore.token only (current decode, no guard logic)",
            flask_with(current_hook),
        ),
        ("AuthGuard (current)", apps.guarded_flask()),
        ("Flask + before_request: is_protected + prototypes", flask_with(proto_hook)),
    ]
    return [(label, min(best_us(apps.caller(app, environ), 2000) for _ in range(3))) for label, app in cases]


def components(cookie_header: str, token: str, n: int) -> list[tuple[str, str, float]]:
    """(step, where, µs) for the steps of the valid-cookie path."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from flask import request
    from werkzeug.http import parse_cookie
    from werkzeug.wrappers import Request

    from flask_authguard.core import jwt as codec
    from flask_authguard.core import token as token_mod
    from flask_authguard.core.claims import check_claims, reject_constant
    from flask_authguard.core.config import resolve_options
    from flask_authguard.core.cookies import session_values
    from flask_authguard.flask import ext
    from flask_authguard.wsgi import middleware

    config = resolve_options({"secret": apps.SECRET})
    core = middleware.AuthCore(config)
    environ = apps.environ_for(cookie_header)
    name = apps.cookie_name()
    cookies = parse_cookie(environ)
    key = codec.derive_key(apps.SECRET)
    header_b64, _, iv_b64, ct_b64, tag_b64 = token.split(".")
    parts = codec._parse(token, 4)
    aead = AESGCM(key)
    sealed = parts.ciphertext + parts.tag
    aad = header_b64.encode()
    plaintext = aead.decrypt(parts.iv, sealed, aad)
    text = plaintext.decode()
    big = apps.make_token(size=12 * 1024)
    big_header = apps.cookie_header(apps.session_cookies(big))
    big_ct = big.split(".")[3]
    rows: list[tuple[str, str, float]] = []

    def add(step: str, where: str, fn: t.Callable[[], object], count: int = n) -> None:
        rows.append((step, where, best_us(fn, count)))

    add("dict(environ) copy", "bench harness", lambda: dict(environ))
    add(
        "AuthCore.path + is_skipped",
        "middleware.py AuthCore.path/is_skipped",
        lambda: core.is_skipped(environ, core.path(environ)),
    )
    add(
        "AuthCore.is_protected (matcher None)",
        "middleware.py AuthCore.is_protected",
        lambda: core.is_protected(environ),
    )
    add(
        "Config.current_secrets + is_secure + session_cookie",
        "options.py Config",
        lambda: (config.current_secrets(), config.session_cookie(config.is_secure("http"))),
    )
    add(
        f"werkzeug parse_cookie ({len(cookie_header)} B header)",
        "token.py request_cookies",
        lambda: parse_cookie(environ),
    )
    add(
        "proto: split-based session-cookie extraction (same header)",
        "token.py request_cookies",
        lambda: proto_session_cookie(cookie_header, name),
    )
    add(
        f"werkzeug parse_cookie ({len(big_header)} B header, 4 chunks)",
        "token.py request_cookies",
        lambda: parse_cookie(big_header),
        n // 10,
    )
    add(
        "proto: split-based extraction (12 KB header)",
        "token.py request_cookies",
        lambda: proto_session_cookie(big_header, name),
        n // 10,
    )
    add("session_values (join chunks)", "cookies.py session_values", lambda: session_values(cookies, name))
    add("jwt.decode() total", "jwt.py decode", lambda: codec.decode(token=token, secret=apps.SECRET))
    proto = ProtoDecoder([apps.SECRET])
    add(
        "proto: ProtoDecoder (cached header + AESGCM, bytes b64, prebuilt JSON decoder)",
        "jwt.py decode",
        lambda: proto(token),
    )
    add("  _parse (header JSON, 4× b64url_decode, checks)", "jwt.py _parse", lambda: codec._parse(token, 4))
    add(
        f"  b64url_decode of the ciphertext ({len(ct_b64)} chars)",
        "jwt.py b64url_decode",
        lambda: codec.b64url_decode(ct_b64),
    )
    add(
        "  proto: bytes.translate alphabet check + a2b + last-char bit check (same)",
        "jwt.py b64url_decode",
        lambda: proto_b64url_bytes(ct_b64),
    )
    add(
        f"  b64url_decode of a 12 KB ciphertext ({len(big_ct)} chars)",
        "jwt.py b64url_decode",
        lambda: codec.b64url_decode(big_ct),
        n // 10,
    )
    add("  proto: bytes-based, 12 KB", "jwt.py b64url_decode", lambda: proto_b64url_bytes(big_ct), n // 10)
    add("  AESGCM(key) construction", "jwt.py _decrypt", lambda: AESGCM(key))
    add("  AESGCM.decrypt", "jwt.py _decrypt", lambda: aead.decrypt(parts.iv, sealed, aad))
    add(
        "  json.loads(parse_constant=...) + check_claims",
        "jwt.py decode",
        lambda: check_claims(json.loads(text, parse_constant=reject_constant)),
    )
    add(
        "token_for (cookie parse + decode), cookies not cached",
        "token.py token_for",
        lambda: token_mod.token_for(dict(environ), config),
    )
    add(
        "get_token(environ, secret=...) (resolves options per call)",
        "token.py get_token/_config_for",
        lambda: token_mod.get_token(dict(environ), secret=apps.SECRET),
    )
    add(
        "  resolve_options alone",
        "options.py resolve_options",
        lambda: resolve_options(
            {"version": 4, "secret": apps.SECRET, "use_secure_cookies": None, "jwt": {"decode": None}},
            warn_missing_secret=False,
        ),
    )
    add("werkzeug Request(environ)", "middleware.py authorize/run_inner, ext.py", lambda: Request(environ))
    add(
        "is_api_request (Accept parse, 307 path)",
        "middleware.py is_api_request",
        lambda: middleware.is_api_request(environ),
    )
    guarded = apps.guarded_flask()
    context = guarded.request_context(dict(environ))
    context.push()
    try:
        context.match_request()
        add(
            "flask `request` proxy attribute access (×1)", "ext.py (~15 per request)", lambda: request.environ
        )
        add("state_of() (current_app proxy + extensions)", "ext.py state_of (3 per request)", ext.state_of)
        add("_is_public_view()", "ext.py _is_public_view", ext._is_public_view)
        add("_before_request(), token already decoded", "ext.py _before_request", ext._before_request)
    finally:
        context.pop()
    return rows


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/hotpath.py", description=__doc__.split("\n\n")[0])
    known = {**PATHS, **DATABASE_PATHS}
    parser.add_argument(
        "paths", nargs="*", help=f"paths to profile, of {', '.join(known)} (default: all but the db_ ones)"
    )
    parser.add_argument("-n", type=int, default=5000, help="requests per profile")
    parser.add_argument("--top", type=int, default=15, help="functions shown per profile")
    parser.add_argument("--no-profile", action="store_true", help="only the breakdown")
    args = parser.parse_args(argv)
    unknown = [p for p in args.paths if p not in known]
    if unknown:
        parser.error(f"unknown path {unknown[0]!r}: choose from {', '.join(known)}")
    token = apps.make_token()
    cookie = apps.cookie_header(apps.session_cookies(token))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not args.no_profile:
            for name in args.paths or list(PATHS):
                app, environ = known[name](cookie)
                us = best_us(apps.caller(app, environ), 3000)
                print(f"## {name}: {us:.1f} µs/request (best of 5), cProfile by own time\n")
                print(profile(name, cookie, args.n, args.top))
        print("## Whole requests: current paths and the prototypes (µs per request)\n")
        print("| app | µs |\n| --- | ---: |")
        for label, us in what_if(cookie):
            print(f"| {label} | {us:.1f} |")
        print()
        print("## Breakdown of the valid-cookie path (best of 5, µs per call)\n")
        print("| step | where | µs |\n| --- | --- | ---: |")
        for step, where, us in components(cookie, token, 20000):
            print(f"| {step} | {where} | {us:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
