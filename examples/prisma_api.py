"""A Flask API that shares its users and sessions with a Next.js app on Auth.js's Prisma adapter.

The Next.js app signs people in (``session: { strategy: "database" }``, ``adapter:
PrismaAdapter(prisma)``); its session cookie reaches this API on the same site, and the API reads
the very ``Session`` and ``User`` rows Prisma wrote, through ``SQLAlchemyAdapter(layout="prisma")``.
Signing out on either side ends the session for both.

Run it with the Next.js app's environment::

    DATABASE_URL="postgresql://app@db:5432/app?schema=public" \\
    NEXTAUTH_SECRET="the Next.js app's secret" NEXTAUTH_URL="https://app.example.com" \\
        python examples/prisma_api.py          # http://127.0.0.1:5014 (--host/--port, HOST/PORT)

``DATABASE_URL`` is Prisma's own (PostgreSQL or MySQL; its ``?schema=`` is read too). The tables
stay Prisma's: ``prisma migrate`` owns them, this app never changes their shape.

Routes: ``GET /api/me`` (the signed-in user, 401 JSON without a session), ``POST /api/sign-out``
(ends the session for the Next.js app too), ``GET /health``.
"""

from __future__ import annotations

import argparse
import os
import typing as t

from flask import Flask, g, jsonify
from sqlalchemy.engine import make_url

from flask_authguard import AuthGuard, get_server_session
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter


def adapter_for(database_url: str) -> SQLAlchemyAdapter:
    """The adapter on the database a Prisma ``DATABASE_URL`` names (``?schema=`` is Prisma's
    PostgreSQL schema: the adapter's ``schema`` here)."""
    url = make_url(database_url)
    schema = url.query.get("schema")
    url = url.difference_update_query(["schema"])
    return SQLAlchemyAdapter(url, layout="prisma", schema=schema if isinstance(schema, str) else None)


def create_app(
    adapter: SQLAlchemyAdapter | None = None, secret: str | None = None, site: str | None = None
) -> Flask:
    """The API on ``adapter`` (default: on ``DATABASE_URL``), with the Next.js app's ``secret``
    (default ``NEXTAUTH_SECRET``) and URL (default ``NEXTAUTH_URL``)."""
    app = Flask(__name__)
    adapter = adapter or adapter_for(os.environ["DATABASE_URL"])
    options: dict[str, t.Any] = {"adapter": adapter, "url": site or os.environ.get("NEXTAUTH_URL")}
    if secret:
        options["secret"] = secret  # else NEXTAUTH_SECRET / AUTH_SECRET
    guard = AuthGuard(app, options, matcher=["/api/:path*"])

    @app.get("/api/me")
    def me() -> t.Any:
        session = get_server_session()
        return jsonify(id=g.auth_token["sub"], user=session["user"] if session else None)

    @app.post("/api/sign-out")
    def sign_out() -> t.Any:
        guard.revoke_user(g.auth_token["sub"])  # every session of the user, for both apps
        return jsonify(signedOut=True)

    @app.get("/health")
    def health() -> t.Any:
        return jsonify(ok=True)

    return app


DEFAULT_PORT = "5014"


def main(argv: list[str] | None = None) -> None:
    """Serve the API: ``--host``/``--port`` (or ``HOST``/``PORT``), default 127.0.0.1:5014."""
    parser = argparse.ArgumentParser(description="a Flask API on a Next.js app's Prisma tables")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    create_app().run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
