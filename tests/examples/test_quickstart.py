"""The README's three quick starts (``examples/quickstart``): each is the README's snippet,
word for word, and each signs ``alice`` in and shows her the dashboard, as the README says."""

from __future__ import annotations

import re
import types
import typing as t

import pytest
from starlette.testclient import TestClient
from support import ROOT
from support.examples import EXAMPLES, load
from werkzeug.test import Client

QUICKSTARTS = ["flask_app", "wsgi_app", "fastapi_app"]


def readme_snippets() -> list[str]:
    """The Python code blocks of README.rst, dedented, in order."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, re.MULTILINE)
    return [re.sub(r"^    ", "", block, flags=re.MULTILINE).strip() + "\n" for block in blocks]


def test_the_readme_snippets_are_the_quickstart_files() -> None:
    files = [(EXAMPLES / "quickstart" / f"{name}.py").read_text(encoding="utf-8") for name in QUICKSTARTS]
    assert readme_snippets() == files


def sign_in(client: t.Any, username: str, password: str) -> t.Any:
    answer = client.get("/api/auth/csrf")
    csrf = (answer.json() if isinstance(client, TestClient) else answer.json)["csrfToken"]
    form = {"username": username, "password": password, "csrfToken": csrf, "callbackUrl": "/dashboard"}
    return client.post("/api/auth/callback/credentials", data=form)


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_alice_signs_in(name: str) -> None:
    module: types.ModuleType = load(f"quickstart/{name}")
    if name == "fastapi_app":
        # The address the README opens (a loopback host: links are built for it).
        with TestClient(module.app, base_url="http://127.0.0.1:5012", follow_redirects=False) as client:
            check_sign_in(client, json=True)
        return
    app = module.app if name == "flask_app" else module.application
    check_sign_in(Client(app), json=False)


def check_sign_in(client: t.Any, *, json: bool) -> None:
    anonymous = client.get("/dashboard")
    assert anonymous.status_code == 307
    assert "/api/auth/signin?callbackUrl=" in anonymous.headers["Location"]
    page = client.get("/api/auth/signin")
    assert 'name="username"' in page.text and 'name="password"' in page.text  # the provider's form
    assert sign_in(client, "alice", "wrong").status_code == 302
    assert client.get("/dashboard").status_code == 307  # refused: still signed out
    assert sign_in(client, "alice", "alice-admin-pw").headers["Location"].endswith("/dashboard")
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert (dashboard.json() == {"hello": "Alice"}) if json else (dashboard.text == "Hello Alice")
