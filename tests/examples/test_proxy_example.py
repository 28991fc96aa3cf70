"""``examples/proxy_app.py`` behind a (simulated) proxy, as the proxy how-to page says: links on
the public URL, secure cookie names from its scheme, the client address from ``X-Forwarded-For``,
an untrusted host refused."""

from __future__ import annotations

import types

import pytest
from flask import Flask
from support.examples import credentials_sign_in, load

SECRET = "proxy-example-secret-0123456789abcdef0123"
#: What the proxy adds to every request it passes on (one hop).
PROXIED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "app.example.com",
}


@pytest.fixture(scope="module")
def example() -> types.ModuleType:
    return load("proxy_app")


@pytest.fixture
def app(example: types.ModuleType) -> Flask:
    app: Flask = example.create_app(SECRET, "https://app.example.com", ["app.example.com"])
    return app


def test_redirects_use_the_public_url(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/dashboard", base_url="http://127.0.0.1:5008", headers=PROXIED)
    assert response.status_code == 307
    assert response.headers["Location"].startswith("https://app.example.com/api/auth/signin?callbackUrl=")


def test_the_app_sees_the_client_scheme_and_host(app: Flask) -> None:
    page = app.test_client().get("/", base_url="http://127.0.0.1:5008", headers=PROXIED).text
    assert (
        "client address: 203.0.113.7" in page and "scheme: https" in page and "host: app.example.com" in page
    )


def test_an_untrusted_host_is_refused(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/dashboard", headers={**PROXIED, "X-Forwarded-Host": "evil.example"})
    assert response.status_code == 400


def test_sign_in_sets_the_secure_cookie(app: Flask) -> None:
    client = app.test_client()
    client.environ_base.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in PROXIED.items()})
    response = credentials_sign_in(client, "alice", "alice-admin-pw", "/dashboard")
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("__Secure-next-auth.session-token=") and "; Secure" in c for c in cookies)
    assert client.get("/dashboard").text.endswith("Hello Alice</p>")
