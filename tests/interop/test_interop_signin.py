"""Cookies written by our sign-in endpoint, read by the real next-auth ``getToken``.

A Flask app signs a user in through ``POST /api/auth/callback/credentials``; the ``Set-Cookie``
values it answers are sent, as a browser would send them back, to next-auth 4.24.15's
``getToken`` (and ``@auth/core``'s for v5) under Node.js. Needs ``node`` and ``npm``; see
``tests/support/nodejs.py`` for the cached install and the skip rule (a failure under ``CI=true``).
"""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_authguard import AuthGuard, CredentialsProvider

if t.TYPE_CHECKING:
    from support.nodejs import NextAuth

SECRET = "interop-signin-secret-5e4d3c2b1a09f8e7d6c5b4a3"
USER = {"id": 42, "name": "Zoë Ångström", "email": "zoe@example.com", "image": "https://example.com/z.png"}


def authorize(*, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any] | None:
    return dict(USER) if credentials.get("password") == "pw" else None


def _jwt(extra: dict[str, t.Any]) -> t.Callable[..., dict[str, t.Any]]:
    def jwt(*, token: dict[str, t.Any], user: t.Any = None, **_: t.Any) -> dict[str, t.Any]:
        if user is not None:
            token.update(extra)
        return token

    return jwt


def _signed_in(
    *, version: int = 4, https: bool = False, extra: dict[str, t.Any] | None = None
) -> tuple[list[str], t.Any]:
    """Sign in through the endpoint; the ``Set-Cookie`` values and the client."""
    app = Flask(__name__)
    origin = "https://app.example.com" if https else "http://localhost"
    AuthGuard(
        app,
        {
            "secret": SECRET,
            "version": version,
            "url": origin,
            "providers": [CredentialsProvider(authorize=authorize)],
            "callbacks": {"jwt": _jwt(extra or {})},
        },
        matcher=[],
    )
    client = app.test_client()
    csrf = client.get("/api/auth/csrf", base_url=origin).get_json()["csrfToken"]
    response = client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": csrf, "username": "zoe", "password": "pw"},
        base_url=origin,
    )
    assert response.status_code == 302, response.data
    return response.headers.getlist("Set-Cookie"), client


def _cookie_header(set_cookies: t.Sequence[str]) -> str:
    """The ``Cookie`` header a browser sends back (deletions are not sent)."""
    pairs = [header.split(";", 1)[0] for header in set_cookies]
    return "; ".join(pair for pair in pairs if pair.split("=", 1)[1])


def _expected(extra: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"name": USER["name"], "email": USER["email"], "picture": USER["image"], "sub": "42", **extra}


def _check(token: dict[str, t.Any], extra: dict[str, t.Any]) -> None:
    expected = _expected(extra)
    assert {k: token[k] for k in expected} == expected
    # auth_time and sid: the sign-in time and session id revocation relies on (docs/security.rst, Revocation)
    assert set(token) == set(expected) | {"iat", "exp", "jti", "auth_time", "sid"}
    assert token["exp"] - token["iat"] == 30 * 24 * 60 * 60


CASES = [
    pytest.param({}, False, None, id="plain"),
    pytest.param({"role": "admin", "groups": ["a", "b"]}, False, None, id="extra-claims"),
    pytest.param({}, True, True, id="https-secure-cookie"),
    pytest.param({"blob": "é" * 3000}, False, None, id="chunked"),
]


@pytest.mark.parametrize("extra, https, secure", CASES)
def test_next_auth_get_token_reads_our_sign_in_cookie(
    nextauth: NextAuth, extra: dict[str, t.Any], https: bool, secure: bool | None
) -> None:
    set_cookies, _ = _signed_in(https=https, extra=extra)
    names = [h.split("=", 1)[0] for h in set_cookies if "session-token" in h]
    prefix = "__Secure-" if https else ""
    if "blob" in extra:
        assert names == [f"{prefix}next-auth.session-token.{i}" for i in range(len(names))] and len(names) > 1
    else:
        assert names == [f"{prefix}next-auth.session-token"]
    request: dict[str, t.Any] = {
        "op": "getToken",
        "req": {"headers": {"cookie": _cookie_header(set_cookies)}},
        "secret": SECRET,
    }
    if secure is not None:
        request["secureCookie"] = secure
    [token] = nextauth.values([request])
    assert token is not None, "next-auth refused our cookie"
    _check(token, extra)


def test_next_auth_refuses_it_with_another_secret(nextauth: NextAuth) -> None:
    set_cookies, _ = _signed_in()
    request = {
        "op": "getToken",
        "req": {"headers": {"cookie": _cookie_header(set_cookies)}},
        "secret": "a-different-secret-0123456789abcdef",
    }
    assert nextauth.values([request]) == [None]


def test_next_auth_reads_the_token_after_a_session_update(nextauth: NextAuth) -> None:
    set_cookies, client = _signed_in(extra={"role": "user"})
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    response = client.post("/api/auth/session", json={"csrfToken": csrf, "data": {"theme": "dark"}})
    assert response.status_code == 200
    cookies = response.headers.getlist("Set-Cookie")
    request = {"op": "getToken", "req": {"headers": {"cookie": _cookie_header(cookies)}}, "secret": SECRET}
    [token] = nextauth.values([request])
    assert token["sub"] == "42" and token["role"] == "user"


def test_auth_js_v5_get_token_reads_our_v5_sign_in_cookie(nextauth: NextAuth) -> None:
    set_cookies, _ = _signed_in(version=5, extra={"role": "admin"})
    assert [h.split("=", 1)[0] for h in set_cookies if "session-token" in h] == ["authjs.session-token"]
    request = {
        "op": "v5getToken",
        "req": {"headers": {"cookie": _cookie_header(set_cookies)}},
        "secret": SECRET,
        "secureCookie": False,
    }
    [token] = nextauth.values([request])
    assert token is not None, "Auth.js refused our cookie"
    _check(token, {"role": "admin"})
