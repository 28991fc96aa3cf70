"""``examples/prisma_api.py``: a Flask API on the tables of a Next.js app's Prisma adapter.

The Next.js side is played by the real ``@auth/prisma-adapter`` on a Prisma 7 client (see
``tests/interop/test_interop_prisma.py``): Prisma's schema engine pushes Auth.js v5's models into a
PostgreSQL schema of the test's own, the adapter creates a user and a database session, and the
example, given Prisma's ``DATABASE_URL`` (``?schema=``), serves that user; signing out on the API
ends the session Prisma sees, and Prisma's sign-out ends the API's. Without Node.js/npm or
PostgreSQL the test is skipped with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from support import missing  # noqa: E402
from support.adapters import postgres_url, require_postgres  # noqa: E402
from support.examples import load  # noqa: E402
from support.jsadapters import run, soon  # noqa: E402
from support.nodejs import NodeUnavailable  # noqa: E402
from support.prisma import Schema, generate, install  # noqa: E402

SECRET = "prisma-api-example-secret-0123456789abcdef"
COOKIE = "next-auth.session-token"


def test_the_api_serves_the_sessions_prisma_writes() -> None:
    try:
        where = install()
    except NodeUnavailable as exc:
        missing(f"the Prisma example needs Node.js and npm: {exc}")
    engine = require_postgres()
    schema_name = f"authguard_example_{os.getpid()}_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
    schema = Schema(5, stamps=True)
    client = generate(where, schema, "postgresql")
    url = sa.engine.make_url(postgres_url()).set(drivername="postgresql").render_as_string(False)
    prisma = {"op": "calls", "client": str(client / "client"), "provider": "postgresql", "url": url}
    prisma["dbSchema"] = schema_name
    adapter = None
    try:
        [pushed, [user, first, second]] = run(
            where,
            [
                {"op": "push", "schema": str(client / "schema.prisma"), "url": url, "dbSchema": schema_name},
                {
                    **prisma,
                    "calls": [
                        {"method": "createUser", "args": [{"name": "Nora", "email": "nora@example.com"}]},
                        {
                            "method": "createSession",
                            "args": [
                                {"sessionToken": "tok-1", "userId": {"$ref": [0, "id"]}, "expires": soon(30)}
                            ],
                        },
                        {
                            "method": "createSession",
                            "args": [
                                {"sessionToken": "tok-2", "userId": {"$ref": [0, "id"]}, "expires": soon(30)}
                            ],
                        },
                    ],
                },
            ],
        )
        assert pushed["executedSteps"] > 0 and first["sessionToken"] == "tok-1"
        example = load("prisma_api")
        adapter = example.adapter_for(f"{postgres_url()}?schema={schema_name}")  # Prisma's DATABASE_URL
        app = example.create_app(adapter, SECRET, "http://localhost:3000")
        api = app.test_client()
        assert api.get("/health").json == {"ok": True}
        assert api.get("/api/me", headers={"Accept": "application/json"}).status_code == 401

        api.set_cookie(COOKIE, "tok-1")
        me = api.get("/api/me")
        assert me.status_code == 200
        assert me.json == {
            "id": user["id"],
            "user": {"name": "Nora", "email": "nora@example.com", "image": None},
        }

        # Prisma ends a session (the Next.js app's sign-out): the API sees it gone.
        run(where, [{**prisma, "calls": [{"method": "deleteSession", "args": ["tok-1"]}]}])
        assert api.get("/api/me", headers={"Accept": "application/json"}).status_code == 401

        # The API signs the user out everywhere: Prisma finds no session left.
        api.set_cookie(COOKIE, "tok-2")
        assert api.post("/api/sign-out").json == {"signedOut": True}
        [[left]] = run(where, [{**prisma, "calls": [{"method": "getSessionAndUser", "args": ["tok-2"]}]}])
        assert left is None and second["expires"] > dt.datetime.now(dt.timezone.utc)
    finally:
        if adapter is not None:
            adapter.close()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema_name}" CASCADE'))
