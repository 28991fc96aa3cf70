"""After refused credentials the sign-in page gives back what was typed (issue 28): the declared
fields but passwords and hidden ones, carried in an encrypted cookie, read once; for each kind of
app (Flask, WSGI, Starlette, FastAPI)."""

from __future__ import annotations

import html
import re
import typing as t

import pytest
from support.handler_app import (
    APP_KINDS,
    CURRENT_KIND,
    client_of,
    cookie_header,
    cookie_names,
    make_app,
    set_cookies,
    sign_in,
)

from flask_authguard import CredentialsProvider

COOKIE = "next-auth.signin-fields"


@pytest.fixture(params=APP_KINDS)
def client(request: pytest.FixtureRequest) -> t.Iterator[t.Any]:
    CURRENT_KIND[0] = request.param
    yield client_of(make_app())
    CURRENT_KIND[0] = "flask"


def value_of(page: str, name: str) -> str | None:
    """The ``value`` attribute of the input named ``name`` (``None``: it has none)."""
    tag = re.search(rf'<input[^>]* name="{name}"[^>]*>', page)
    assert tag is not None, f"no input named {name}"
    found = re.search(r' value="([^"]*)"', tag.group(0))
    return None if found is None else html.unescape(found.group(1))


def refused_then_page(client: t.Any, username: str, password: str = "not-the-password") -> t.Any:
    refused = sign_in(client, username=username, password=password, callbackUrl="/private")
    assert refused.status_code == 302
    hop = client.get(refused.headers["Location"])
    return client.get(hop.headers["Location"])


def test_the_username_comes_back_the_password_never(client: t.Any) -> None:
    refused = sign_in(client, username="mallory", password="not-the-password", callbackUrl="/private")
    header = cookie_header(refused, COOKIE)
    assert header is not None and "HttpOnly" in header and "Max-Age=300" in header
    assert "mallory" not in header and "not-the-password" not in header  # encrypted
    page_response = client.get(client.get(refused.headers["Location"]).headers["Location"])
    page = page_response.get_data(as_text=True)
    assert value_of(page, "username") == "mallory"
    assert value_of(page, "password") is None
    assert "not-the-password" not in page
    assert re.search(r'name="password"[^>]* autofocus', page)  # the field to correct
    # read once: the page deletes it, and the next page is empty again
    assert "Max-Age=0" in (cookie_header(page_response, COOKIE) or "")
    again = client.get("/api/auth/signin?error=CredentialsSignin").get_data(as_text=True)
    assert value_of(again, "username") is None


def test_what_comes_back_is_escaped(client: t.Any) -> None:
    page = refused_then_page(client, '"><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert value_of(page, "username") == '"><script>alert(1)</script>'


def test_nothing_comes_back_without_the_refusal_or_with_a_forged_cookie(client: t.Any) -> None:
    refused = sign_in(client, username="mallory", password="x")
    assert COOKIE in cookie_names(refused)
    plain = client.get("/api/auth/signin").get_data(as_text=True)  # not after refused credentials
    assert value_of(plain, "username") is None
    client.set_cookie(COOKIE, "forged.value", domain="app.example.com")
    forged = client.get("/api/auth/signin?error=CredentialsSignin").get_data(as_text=True)
    assert value_of(forged, "username") is None


def test_json_clients_and_successes_set_no_such_cookie(client: t.Any) -> None:
    assert COOKIE not in cookie_names(sign_in(client, username="mallory", password="x", json="true"))
    assert COOKIE not in cookie_names(sign_in(client))


def test_on_https_it_is_a_host_cookie() -> None:
    CURRENT_KIND[0] = "flask"
    client = client_of(make_app(url="https://app.example.com"), "https://app.example.com")
    refused = sign_in(client, username="mallory", password="x")
    header = cookie_header(refused, "__Host-" + COOKIE)
    assert header is not None and "Secure" in header and "Path=/" in header and "Domain" not in header


def test_hidden_and_undeclared_fields_are_not_kept() -> None:
    CURRENT_KIND[0] = "flask"
    provider = CredentialsProvider(
        authorize=lambda **_: None,
        credentials={
            "username": {"label": "Username"},
            "otp": {"label": "Code", "type": "hidden"},
            "password": {"label": "Password", "type": "password"},
        },
    )
    client = client_of(make_app(providers=[provider]))
    refused = sign_in(client, username="mallory", password="pw", otp="123456", extra="undeclared")
    assert set_cookies(refused)
    page = client.get(client.get(refused.headers["Location"]).headers["Location"]).get_data(as_text=True)
    assert value_of(page, "username") == "mallory"
    assert "123456" not in page and "undeclared" not in page
