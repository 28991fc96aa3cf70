"""Helpers for driving an OAuth sign-in through the endpoints and a real identity provider.

``client`` is either test client of ``test_handler`` (a Flask app's or a plain WSGI app's).
"""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

import requests

from flask_authguard.core.http.cookies import decode_value


def start(client: t.Any, provider_id: str, callback_url: str = "/private") -> t.Any:
    """``POST /signin/<id>`` with a fresh CSRF token: the response (a 302 to the provider)."""
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    return client.post(
        f"/api/auth/signin/{provider_id}", data={"csrfToken": csrf, "callbackUrl": callback_url}
    )


def consent(authorization_url: str) -> str:
    """What a browser does at the identity provider: GET the authorization URL over real HTTP;
    the URL it redirects back to."""
    response = requests.get(authorization_url, allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:500]
    return t.cast(str, response.headers["Location"])


def back(client: t.Any, redirect: str) -> t.Any:
    """Follow the identity provider's redirect to ``/callback/<id>`` with the test client."""
    parts = urlsplit(redirect)
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client: t.Any, provider_id: str, callback_url: str = "/private") -> t.Any:
    """The whole round trip: the callback's response."""
    begun = start(client, provider_id, callback_url)
    assert begun.status_code == 302, begun.data[:500]
    return back(client, consent(begun.headers["Location"]))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def cookie_of(client: t.Any, name: str) -> str | None:
    cookie = client.get_cookie(name, domain=client.host)
    return None if cookie is None else decode_value(cookie.value)
