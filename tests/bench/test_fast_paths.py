"""The per-request shortcuts answer exactly as the general code they stand in for."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.datastructures import Headers

from flask_authguard.guard.caching import make_private, private_headers

HEADER_LISTS: list[list[tuple[str, t.Any]]] = [
    [],
    [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "5")],
    [("Location", "http://x/y"), ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "0")],
    [("Vary", "Accept-Encoding")],
    [("vary", "cookie")],
    [("VARY", "*"), ("X", "1")],
    [("Cache-Control", "public, max-age=60, s-maxage=600")],
    [("cache-control", "no-store")],
    [("Cache-Control", "private, max-age=5"), ("Vary", "Origin"), ("Vary", "Cookie")],
    [("Content-Length", 5)],  # not a string: werkzeug converts it
    [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
    # names of the very lengths the shortcut looks closer at (4 and 13), in any case
    [("Date", "Mon"), ("ETag", '"x"'), ("Accept-Ranges", "bytes"), ("Last-Modified", "Mon")],
    [("ETag", '"x"'), ("CACHE-CONTROL", "max-age=1"), ("vAry", "Origin")],
]


@pytest.mark.parametrize("headers", HEADER_LISTS)
def test_private_headers_match_the_general_path(headers: list[tuple[str, t.Any]]) -> None:
    general = Headers(headers)
    make_private(general)
    assert private_headers(list(headers)) == general.to_wsgi_list()


@pytest.mark.parametrize("value", ["a\nb", "a\rb"])
def test_private_headers_refuse_newlines_as_werkzeug_does(value: str) -> None:
    with pytest.raises(ValueError):
        private_headers([("X-Bad", value)])


def _run(app: t.Any, environ: dict[str, t.Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    seen: list[t.Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
        seen.extend((status, headers))

    body = b"".join(app(environ, start_response))
    return seen[0], list(seen[1]), body


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:5000/api/auth/signin?callbackUrl=%2Fdashboard",
        "/login?src=mw&callbackUrl=%2Fa%2Fb%3Fq%3D1",
        "http://xn--n3h.example/p\u00e5th?q=\u00e8ry",
        "https://sso.example.com:8443/signin?x=1&callbackUrl=%2F",
    ],
)
def test_redirect_is_the_response_it_replaces(method: str, location: str) -> None:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Response

    from flask_authguard.wsgi.middleware import Redirect

    environ = EnvironBuilder(path="/x", method=method).get_environ()
    expected = _run(Response(status=307, headers={"Location": location}), environ)
    redirect = Redirect(location)
    assert _run(redirect, environ) == expected
    assert _run(redirect, environ) == expected  # reused
    assert _run(redirect.to_response(), environ) == expected


def test_sign_in_redirects_are_kept_apart_by_what_the_url_is_made_of() -> None:
    from werkzeug.test import EnvironBuilder

    from flask_authguard.guard import decision as middleware
    from flask_authguard.wsgi.middleware import AuthCore

    core = AuthCore({"secret": "s" * 32, "trust_host": True})  # the hosts give the links their origin
    requests = [
        {"path": "/a", "base_url": "http://one.example/"},
        {"path": "/a", "base_url": "http://two.example/"},
        {"path": "/a", "base_url": "https://one.example/"},
        {"path": "/a", "base_url": "http://one.example/app"},
        {"path": "/a", "base_url": "http://one.example/", "query_string": "q=1"},
        {"path": "/b", "base_url": "http://one.example/"},
    ]
    locations = set()
    for _ in range(2):  # the second time from the cache
        for kwargs in requests:
            environ = EnvironBuilder(**kwargs).get_environ()
            status, headers, _ = _run(core.deny(environ, None), environ)
            assert status.startswith("307")
            locations.add(dict(headers)["Location"])
    assert len(locations) == len(requests)
    for i in range(middleware.REDIRECT_CACHE_SIZE + 5):  # bounded
        core.deny(EnvironBuilder(path=f"/p{i}").get_environ(), None)
    assert len(core._redirects) <= middleware.REDIRECT_CACHE_SIZE


def test_redirect_as_a_flask_response_is_the_same_answer() -> None:
    from flask import Flask
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Response

    from flask_authguard.wsgi.middleware import Redirect

    location = "http://localhost/api/auth/signin?callbackUrl=%2Fdashboard"
    environ = EnvironBuilder(path="/dashboard").get_environ()
    as_flask = Redirect(location).to_response(Flask("x").response_class)
    assert _run(as_flask, environ) == _run(Response(status=307, headers={"Location": location}), environ)


def _plain_redirect(location: str) -> t.Any:
    from werkzeug.wrappers import Response

    return Response(status=307, headers={"Location": location})


@pytest.mark.parametrize(
    "change",
    ["none", "location", "iri-location", "header", "set-data", "body-by-hand", "status", "autocorrect"],
)
def test_prepared_redirect_is_sent_as_werkzeug_sends_it_whatever_was_changed(change: str) -> None:
    """The Flask 307 is sent with the headers werkzeug made for it the first time only while
    nothing changed it; after any change werkzeug makes them again."""
    from flask import Flask
    from werkzeug.test import EnvironBuilder

    from flask_authguard.guard.answers import Redirect

    location = "http://localhost/api/auth/signin?callbackUrl=%2Fdashboard"
    redirect = Redirect(location)
    cls = Flask("x").response_class
    environ = EnvironBuilder(path="/dashboard").get_environ()

    def changed(response: t.Any) -> t.Any:
        if change == "location":
            response.headers["Location"] = "http://localhost/elsewhere"
        elif change == "iri-location":
            response.headers["Location"] = "http://localhost/ünïcode?q=é"
        elif change == "header":
            response.headers["X-Frame-Options"] = "DENY"
        elif change == "set-data":
            response.set_data(b"moved")
        elif change == "body-by-hand":
            response.response = [b"moved"]
        elif change == "status":
            response.status_code = 302
        elif change == "autocorrect":
            response.autocorrect_location_header = True
        return response

    for _ in range(3):  # the first send prepares, the next ones reuse (or must not)
        _run(redirect.to_response(cls), environ)
        expected = changed(_plain_redirect(location))
        assert _run(changed(redirect.to_response(cls)), environ) == _run(expected, environ)


def test_prepared_redirect_keeps_a_response_class_that_makes_its_own_headers() -> None:
    from flask import Flask
    from werkzeug.test import EnvironBuilder

    from flask_authguard.guard.answers import Redirect

    class Stamped(Flask.response_class):
        def get_wsgi_headers(self, environ: t.Any) -> Headers:
            headers = super().get_wsgi_headers(environ)
            headers["X-Path"] = environ["PATH_INFO"]
            return headers

    redirect = Redirect("http://localhost/api/auth/signin")
    for path in ("/a", "/b"):
        response = redirect.to_response(Stamped)
        assert type(response) is Stamped
        _, headers, _ = _run(response, EnvironBuilder(path=path).get_environ())
        assert dict(headers)["X-Path"] == path


@pytest.mark.parametrize("blocks", [1, 2, 3, 17, 64])
def test_v5_decryption_matches_cryptographys_cbc(blocks: int) -> None:
    import os

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from flask_authguard.core.tokens import jwt as jwt_mod
    from flask_authguard.core.tokens.cbc_hs512 import mac_tag

    key = os.urandom(64)
    for _ in range(20):
        iv, ciphertext = os.urandom(16), os.urandom(16 * blocks)
        decryptor = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        tag = mac_tag(key[:32], b"aad", iv, ciphertext)
        parts = jwt_mod._Parts("aad", "A256CBC-HS512", None, iv, ciphertext, tag)
        pad = padded[-1]
        valid = 1 <= pad <= 16 and padded[-pad:] == bytes([pad]) * pad
        assert jwt_mod._decrypt(parts, key) == (padded[:-pad] if valid else None)


def test_v5_tokens_of_every_padding_length_round_trip() -> None:
    from flask_authguard.core.tokens import jwt as jwt_mod

    salt = "authjs.session-token"
    for size in range(40):
        token = jwt_mod.encode(token={"sub": "x" * size}, secret="s" * 32, salt=salt, version=5)
        claims = jwt_mod.decrypt(token=token, secret="s" * 32, salt=salt, version=5)
        assert claims["sub"] == "x" * size


def test_cbc_tag_is_stdlib_hmac_sha512() -> None:
    import hashlib
    import hmac
    import os

    from flask_authguard.core.tokens.cbc_hs512 import mac_tag

    for size in (0, 1, 15, 16, 111, 112, 127, 128, 129, 1000):
        key, aad, iv, ciphertext = os.urandom(32), os.urandom(7), os.urandom(16), os.urandom(size)
        message = aad + iv + ciphertext + (len(aad) * 8).to_bytes(8, "big")
        expected = hmac.new(key, message, hashlib.sha512).digest()[:32]
        assert mac_tag(key, aad, iv, ciphertext) == expected


def test_iso_ms_matches_the_strftime_spelling() -> None:
    import datetime as dt
    import random

    from flask_authguard.sessions.base import iso_ms

    def general(timestamp: float) -> str:
        moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    rng = random.Random(15)
    stamps = [0.0, 1e9, 1_700_000_000.9999, 1_700_000_000.0005, 253402300799.999]
    stamps += [rng.uniform(-30000000000.0, 253402300799.0) for _ in range(2000)]
    for stamp in stamps:
        assert iso_ms(stamp) == general(stamp), stamp


def _rolled_claims(cookies: list[str], secret: str) -> dict[str, t.Any]:
    from flask_authguard.core.tokens import jwt as jwt_mod

    value = cookies[0].split(";", 1)[0].split("=", 1)[1]
    return jwt_mod.decode(token=value, secret=secret) or {}


def test_rolled_cookie_follows_a_jwt_callback_that_changes_a_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """The incoming token stands for the claims only when the callback left them exactly as
    decoded: ``True`` turned into ``1`` (equal in Python) still encodes anew."""
    from flask_authguard.core import _clock
    from flask_authguard.core.settings.config import resolve_options
    from flask_authguard.core.tokens import jwt as jwt_mod
    from flask_authguard.sessions import read_session

    secret = "t" * 32
    as_number = [False]

    def jwt_callback(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        if as_number[0]:
            token["admin"] = 1
        return token

    config = resolve_options({"secret": secret, "callbacks": {"jwt": jwt_callback}})
    monkeypatch.setattr(_clock, "now", lambda: 1_700_000_000.25)
    token = jwt_mod.encode(token={"sub": "1", "admin": True}, secret=secret)
    environ = {"HTTP_COOKIE": f"next-auth.session-token={token}", "wsgi.url_scheme": "http"}
    first = read_session(dict(environ), config).set_cookies
    assert _rolled_claims(first, secret)["admin"] is True
    as_number[0] = True  # the same cookie in the same second, the callback now gives 1
    second = read_session(dict(environ), config).set_cookies
    assert second != first
    claims = _rolled_claims(second, secret)
    assert claims["admin"] == 1 and claims["admin"] is not True


def test_rolled_cookie_follows_changes_made_through_g_auth_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard's decoded token is the app's to change (``g.auth_token``): a read after such a
    change is never answered with the cookie made from the unchanged claims."""
    from flask import Flask, g

    from flask_authguard import AuthGuard, get_server_session
    from flask_authguard.core import _clock
    from flask_authguard.core.tokens import jwt as jwt_mod

    secret = "g" * 32
    monkeypatch.setattr(_clock, "now", lambda: 1_700_000_000.25)
    app = Flask(__name__)
    AuthGuard(app, {"secret": secret, "endpoints": False})

    @app.get("/page/<name>")
    def page(name: str) -> str:
        if name != "same":
            g.auth_token["name"] = name
        get_server_session()
        return "ok"

    client = app.test_client(use_cookies=False)
    cookie = "next-auth.session-token=" + jwt_mod.encode(token={"sub": "1", "name": "Ann"}, secret=secret)
    same = client.get("/page/same", headers={"Cookie": cookie}).headers.getlist("Set-Cookie")
    assert _rolled_claims(same, secret)["name"] == "Ann"
    # the same cookie again, in the same second, the view changing the name first
    changed = client.get("/page/Bea", headers={"Cookie": cookie}).headers.getlist("Set-Cookie")
    assert changed != same
    assert _rolled_claims(changed, secret)["name"] == "Bea"


def test_v5_kept_decryptor_answers_each_token_alone() -> None:
    """One CBC encryptor and decryptor per thread and key serve token after token: every answer
    is what a fresh Cipher(AES, CBC(iv)) gives, whatever token came before, and no IV repeats."""
    import os
    import random

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from flask_authguard.core.tokens.cbc_hs512 import CbcHs512

    key = os.urandom(64)
    box = CbcHs512(key)
    rng = random.Random(15)
    ivs = set()
    for _ in range(200):
        plaintext = os.urandom(rng.randrange(0, 100))
        iv, ciphertext, tag = box.seal(b"aad", plaintext)
        assert len(iv) == 16 and iv not in ivs and len(ciphertext) == (len(plaintext) // 16 + 1) * 16
        ivs.add(iv)
        fresh = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).decryptor()
        padded = fresh.update(ciphertext) + fresh.finalize()
        assert padded[: len(plaintext)] == plaintext
        assert box.open(b"aad", iv, ciphertext, tag) == plaintext
        if rng.random() < 0.3:  # refused ones in between change nothing for the next
            assert box.open(b"aad", iv, ciphertext[:-1], tag) is None
            assert box.open(b"aad", iv, ciphertext, bytes(32)) is None
    with pytest.raises(ValueError):
        box.open(b"aad", b"short", b"", bytes(32))


def test_v5_kept_decryptors_are_per_thread() -> None:
    import os
    import threading

    from flask_authguard.core.tokens.cbc_hs512 import CbcHs512

    box = CbcHs512(os.urandom(64))
    tokens = []
    for size in range(40):
        plaintext = os.urandom(size)
        tokens.append((*box.seal(b"h", plaintext), plaintext))
    wrong: list[int] = []

    def work() -> None:
        for _ in range(200):
            for iv, ciphertext, tag, plaintext in tokens:
                if box.open(b"h", iv, ciphertext, tag) != plaintext:
                    wrong.append(len(plaintext))
                if box.open(b"h", *box.seal(b"h", plaintext)) != plaintext:
                    wrong.append(-len(plaintext))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


_SESSION_SET = "next-auth.session-token=new; Path=/; HttpOnly; SameSite=Lax"


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "5")],
        [("Vary", "Cookie")],
        [("vary", "cookie")],
        [("Vary", "Accept-Encoding")],
        [("Vary", "Origin"), ("Vary", "Cookie")],
        [("Vary", "*")],
        [("Set-Cookie", "theme=dark; Path=/")],
        [("SET-COOKIE", _SESSION_SET)],  # already there: not added twice
        [("Set-Cookie", "next-auth.session-token=; Max-Age=0; Path=/")],  # sign-out: its word wins
        [("Date", "Mon"), ("ETag", '"x"'), ("Set-Cookie!", "x")],
    ],
)
def test_pending_cookies_are_what_the_headers_object_path_gives(headers: list[tuple[str, str]]) -> None:
    """The guard layer's list shortcut adds the session's cookies and ``Vary: Cookie`` exactly
    as ``apply_cookies`` and ``vary_on_cookie`` on werkzeug ``Headers`` do."""
    from flask_authguard.core.settings.config import resolve_options
    from flask_authguard.flask.session import _PENDING_KEY, _with_pending
    from flask_authguard.guard.caching import cache_headers, vary_on_cookie
    from flask_authguard.sessions import apply_cookies
    from flask_authguard.sessions.base import SessionResult

    config = resolve_options({"secret": "p" * 32})
    result = SessionResult({"user": {}}, [_SESSION_SET], {"sub": "1"})
    general = Headers(headers)
    apply_cookies(general, result, config, False)
    vary_on_cookie(general)
    got = _with_pending({_PENDING_KEY: {id(config): (result, config, False)}}, list(headers))
    assert cache_headers(got, private=False) == general.to_wsgi_list()
    assert cache_headers(_with_pending({}, list(headers)), private=False) == _vary_only(headers)


def _vary_only(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    from flask_authguard.guard.caching import vary_on_cookie

    general = Headers(headers)
    vary_on_cookie(general)
    return general.to_wsgi_list()
