"""``examples/nextjs/api_fastapi.py``, the FastAPI version of the API behind Next.js, given the
cookie next-auth sets (written here with the same codec; ``tests/interop`` proves next-auth reads
and writes that very format) and the headers the Next.js rewrite sends."""

from __future__ import annotations

import types
import typing as t

import pytest
from starlette.testclient import TestClient
from support.examples import load

from flask_authguard.testing import make_session_cookie

SECRET = "nextjs-fastapi-secret-0123456789abcdef012345"
URL = "http://localhost:3000"  # the Next.js app's public URL: NEXTAUTH_URL on both sides
ALICE = {"sub": "1", "name": "Alice", "email": "alice@example.com", "role": "admin"}
BOB = {"sub": "2", "name": "Bob", "email": "bob@example.com", "role": "user"}
SAME_ORIGIN = {"Origin": URL, "Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
def example() -> types.ModuleType:
    return load("nextjs/api_fastapi")


@pytest.fixture
def client(example: types.ModuleType) -> t.Iterator[TestClient]:
    app = example.create_app(secret=SECRET, url=URL)
    with TestClient(app, base_url=URL, follow_redirects=False) as test_client:
        yield test_client


def signed_in(client: TestClient, claims: dict[str, t.Any]) -> TestClient:
    for name, value in make_session_cookie({"secret": SECRET, "url": URL}, claims).items():
        client.cookies.set(name, value)
    return client


def test_public_and_anonymous(client: TestClient) -> None:
    assert client.get("/api/py/public").status_code == 200
    me = client.get("/api/py/me")
    assert me.status_code == 401 and me.headers["content-type"].startswith("application/json")
    assert client.get("/api/py/session").status_code == 401


def test_users_and_roles(client: TestClient) -> None:
    bob = signed_in(client, BOB)
    assert bob.get("/api/py/me").json()["user"]["email"] == "bob@example.com"
    assert bob.get("/api/py/admin").status_code == 403
    session = bob.get("/api/py/session")
    assert session.json()["session"]["user"]["role"] == "user"
    assert "next-auth.session-token=" in session.headers["set-cookie"]  # rolled, as next-auth does
    bob.cookies.clear()
    assert signed_in(client, ALICE).get("/api/py/admin").json()["admin"] is True


def test_notes_refuse_a_cross_site_post(client: TestClient) -> None:
    alice = signed_in(client, ALICE)
    mine = alice.post("/api/py/notes", json={"text": "hello"}, headers=SAME_ORIGIN)
    assert mine.status_code == 201 and mine.json() == {"notes": ["hello"]}
    forged = alice.post(
        "/api/py/notes",
        json={"text": "forged"},
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403 and forged.json()["error"] == "CrossSiteRequest"
    assert alice.post("/api/py/notes", json={"text": ""}, headers=SAME_ORIGIN).status_code == 422
