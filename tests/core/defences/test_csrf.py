"""next-auth's double-submit CSRF token (spec 7.1): ``token|sha256(token + secret)``."""

from __future__ import annotations

import hashlib
import re
import typing as t

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import Client

from flask_authguard import AuthEndpoints, AuthGuard
from flask_authguard.core.defences import csrf
from flask_authguard.core.http.cookies import encode_value

#: The spec's vector: token "csrf", secret "secret".
VECTOR_HASH = "c0cbdcb1753b9a518167996c4fa23435179203b312ca3d8f6db0812d999a27fc"
SECRET = "secret"


def test_hash_matches_the_next_auth_vector() -> None:
    assert csrf.csrf_hash("csrf", "secret") == VECTOR_HASH
    assert csrf.csrf_cookie_value("csrf", "secret") == f"csrf|{VECTOR_HASH}"


def test_hash_is_plain_sha256_of_token_then_secret_not_hmac() -> None:
    assert csrf.csrf_hash("tök", "sëcret") == hashlib.sha256("töksëcret".encode()).hexdigest()


def test_cookie_value_is_url_encoded_on_the_wire() -> None:
    assert encode_value(csrf.csrf_cookie_value("csrf", "secret")) == f"csrf%7C{VECTOR_HASH}"


def test_new_tokens_are_64_hex_characters_and_unique() -> None:
    tokens = {csrf.new_csrf_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(re.fullmatch(r"[0-9a-f]{64}", token) for token in tokens)


@pytest.mark.parametrize(
    "cookie, secrets, expected",
    [
        pytest.param(f"csrf|{VECTOR_HASH}", ["secret"], "csrf", id="raw"),
        pytest.param(f"csrf%7C{VECTOR_HASH}", ["secret"], "csrf", id="url-encoded"),
        pytest.param(f"csrf%7c{VECTOR_HASH}", ["secret"], "csrf", id="url-encoded-lowercase"),
        pytest.param(f"csrf|{VECTOR_HASH}", ["newer", "secret"], "csrf", id="rotated-secret"),
        pytest.param(f"csrf|{VECTOR_HASH}", ["another"], None, id="another-secret"),
        pytest.param(f"csrf|{VECTOR_HASH[:-1]}0", ["secret"], None, id="tampered-hash"),
        pytest.param(f"csrf|{VECTOR_HASH.upper()}", ["secret"], None, id="uppercase-hash"),
        pytest.param(f"csrg|{VECTOR_HASH}", ["secret"], None, id="tampered-token"),
        pytest.param(f"csrf|{VECTOR_HASH}|x", ["secret"], None, id="extra-part"),
        pytest.param(f"|{VECTOR_HASH}", ["secret"], None, id="empty-token"),
        pytest.param("csrf|", ["secret"], None, id="empty-hash"),
        pytest.param("csrf", ["secret"], None, id="no-separator"),
        pytest.param(VECTOR_HASH, ["secret"], None, id="hash-only"),
        pytest.param("", ["secret"], None, id="empty"),
        pytest.param(None, ["secret"], None, id="missing"),
        pytest.param("%ZZ|%", ["secret"], None, id="bad-escapes"),
        pytest.param("tök|ünïcode", ["secret"], None, id="non-ascii"),
        pytest.param(f"csrf|{VECTOR_HASH}", [], None, id="no-secret"),
    ],
)
def test_token_from_cookie(cookie: str | None, secrets: list[str], expected: str | None) -> None:
    assert csrf.token_from_cookie(cookie, secrets) == expected


@pytest.mark.parametrize(
    "token, submitted, expected",
    [
        pytest.param("abc", "abc", True, id="equal"),
        pytest.param("abc", "abd", False, id="different"),
        pytest.param("abc", "abc ", False, id="trailing-space"),
        pytest.param("abc", "ABC", False, id="case"),
        pytest.param("abc", "", False, id="empty"),
        pytest.param("abc", None, False, id="missing"),
        pytest.param("abc", ["abc"], False, id="list"),
        pytest.param("123", 123, False, id="number"),
        pytest.param("", "", False, id="both-empty"),
        pytest.param(None, "abc", False, id="no-cookie-token"),
        pytest.param("tök", "tök", False, id="non-ascii"),
        pytest.param("abc", "\ud800", False, id="lone-surrogate"),
        pytest.param("abc", "ab\udfff", False, id="lone-surrogate-same-length"),
    ],
)
def test_verify(token: str | None, submitted: object, expected: bool) -> None:
    assert csrf.verify(token, submitted) is expected


def test_checks_are_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = csrf.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(csrf.hmac, "compare_digest", spy)
    assert csrf.token_from_cookie(f"csrf|{VECTOR_HASH}", ["other", "secret"]) == "csrf"
    assert csrf.verify("csrf", "csrf")
    assert len(calls) == 3  # one per secret tried, one for the body token


@given(token=st.text(min_size=1).filter(lambda s: "|" not in s), secret=st.text(min_size=1))
def test_round_trip(token: str, secret: str) -> None:
    cookie = encode_value(csrf.csrf_cookie_value(token, secret))
    assert csrf.token_from_cookie(cookie, [secret]) == token
    # the tokens we (and next-auth) issue are hex: a non-ASCII body token is never one of them
    assert csrf.verify(csrf.token_from_cookie(cookie, [secret]), token) is token.isascii()


def _flask_endpoints() -> t.Any:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=[])
    return app.test_client()


def _wsgi_endpoints() -> t.Any:
    return Client(AuthEndpoints({"secret": SECRET}))


@pytest.mark.parametrize(
    "make_client",
    [pytest.param(_flask_endpoints, id="flask"), pytest.param(_wsgi_endpoints, id="wsgi")],
)
def test_a_cookie_next_auth_wrote_is_accepted_by_the_endpoints(make_client: t.Callable[[], t.Any]) -> None:
    """The cookie exactly as next-auth sets it (``csrf%7C<hash>``) yields its token."""
    client = make_client()
    client.set_cookie("next-auth.csrf-token", f"csrf%7C{VECTOR_HASH}")
    response = client.get("/api/auth/csrf")
    assert response.get_json() == {"csrfToken": "csrf"}
    assert "Set-Cookie" not in response.headers
