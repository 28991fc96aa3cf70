"""``examples/database_app.py`` as the database how-to page runs it: on SQLite and on PostgreSQL
(in a schema of its own), alice signs in, her session is a row, signing out deletes it."""

from __future__ import annotations

import pathlib
import secrets
import types
import typing as t

import pytest
import sqlalchemy as sa
from support.adapters import postgres_url, require_postgres
from support.examples import credentials_sign_in, load

SECRET = "database-example-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def example() -> types.ModuleType:
    return load("database_app")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> t.Iterator[tuple[str, str | None]]:
    """``(url, schema)``: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/sessions.sqlite3", None
        return
    engine = require_postgres()
    schema = f"authguard_docs_{secrets.token_hex(4)}"
    try:
        yield postgres_url(), schema
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def test_sessions_live_in_the_database(example: types.ModuleType, database: tuple[str, str | None]) -> None:
    url, schema = database
    app = example.create_app(url, SECRET, schema=schema)
    adapter = app.extensions["authguard"].config.options.adapter
    try:
        client = app.test_client()
        assert credentials_sign_in(client, "alice", "alice-admin-pw").status_code == 302
        me = client.get("/api/me").get_json()
        assert me["user"]["email"] == "alice@example.com" and me["user"]["role"] == "admin"
        assert client.get("/admin").status_code == 200
        sessions = adapter.tables.sessions
        with adapter.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 1
        csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
        client.post("/api/auth/signout", data={"csrfToken": csrf})
        with adapter.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 0
        assert client.get("/api/me").status_code == 401
    finally:
        adapter.close()
