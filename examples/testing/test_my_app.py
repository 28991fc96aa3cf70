"""Tests of ``examples/flask_app.py`` with flask_authguard's helpers, as your app's tests would be.

Run them with ``python -m pytest examples/testing`` (from the repository root). The helpers write
the real session cookie (next-auth's JWE, chunked when large), so the guard, ``g.auth_token`` and
``get_server_session()`` see exactly what a signed-in browser sends; no sign-in round trip.
"""

from __future__ import annotations

import importlib.util
import pathlib
import typing as t

import pytest
from flask import Flask
from werkzeug.test import Client

from flask_authguard.testing import make_session_cookie, sign_in, sign_out

SECRET = "a-test-secret-0123456789abcdef0123456789"


def create_app() -> Flask:
    """``examples/flask_app.py``'s factory; in your project: ``from myapp import create_app``."""
    path = pathlib.Path(__file__).resolve().parent.parent / "flask_app.py"
    spec = importlib.util.spec_from_file_location("flask_app_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return t.cast(Flask, module.create_app(SECRET))


@pytest.fixture
def app() -> Flask:
    return create_app()


def test_anonymous_visitors_go_to_sign_in(app: Flask) -> None:
    response = app.test_client().get("/")
    assert response.status_code == 307
    assert response.headers["Location"].startswith("http://localhost/api/auth/signin?callbackUrl=")


def test_a_signed_in_user_sees_the_site(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, sub="2", name="Bob", role="user")  # any claims your app reads
    assert "Signed in as <strong>Bob</strong>" in client.get("/").text
    assert client.get("/admin/").status_code == 403  # signed in, but not an admin
    sign_out(client)
    assert client.get("/").status_code == 307


def test_the_admin_area_needs_the_role(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, sub="1", name="Alice", role="admin")
    assert client.get("/admin/").status_code == 200


def test_the_api_answers_401_without_a_session(app: Flask) -> None:
    response = app.test_client().get("/api/me")
    assert response.status_code == 401 and response.json == {
        "error": "Unauthorized",
        "message": "Sign in to use this API.",
    }


def test_any_client_can_carry_the_cookie(app: Flask) -> None:
    cookies = make_session_cookie(app, {"sub": "1", "name": "Alice", "role": "admin"})
    client = Client(app)  # a plain werkzeug client, or requests, or a browser driver
    for name, value in cookies.items():
        client.set_cookie(name, value)
    assert client.get("/api/me").json["sub"] == "1"
