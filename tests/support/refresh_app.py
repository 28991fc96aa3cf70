"""The apps of the provider token refresh suite (``tests/sessions/test_refresh.py``): one OIDC
provider with ``refresh=True`` against the local OIDC server, on Flask (``AuthGuard``), plain WSGI
(``with_auth`` and the werkzeug form) or FastAPI (``AuthMiddleware`` and the ASGI form), each
with the same routes:

- ``GET /token`` (Flask: ``POST`` too): ``{"token": ..., "pid": ...}``, or 401
  ``{"error": ..., "reason": ...}`` on :class:`~flask_authguard.AccessTokenError`;
- ``GET /boom``: calls ``get_access_token`` and lets its error through (Flask and WSGI: a 500);
- ``GET /both``: ``get_server_session`` first, then ``get_access_token`` (Flask and WSGI);
- ``GET /private``: protected by the guard.

Run under gunicorn, :data:`app` is built from the environment (``REFRESH_ISSUER``, ``REFRESH_URL``,
``REFRESH_STORE``, ``REFRESH_PREFIX``, ``REFRESH_DB``).
"""

from __future__ import annotations

import os
import typing as t

from conftest import SECRET
from fastapi import Request as FastRequest
from fastapi import Response as FastResponse
from flask import Flask, jsonify
from werkzeug.wrappers import Request, Response

from flask_authguard import (
    AccessTokenError,
    AuthGuard,
    OIDCProvider,
    get_access_token,
    get_server_session,
    with_auth,
)

BASE = "http://app.example.com"
PROVIDER = "corp"
KINDS = ("flask", "wsgi", "fastapi")


def provider(issuer: str, **extra: t.Any) -> OIDCProvider:
    return OIDCProvider(
        id=PROVIDER,
        name="Corp",
        issuer=issuer,
        client_id="client-1",
        client_secret="client-secret-1",
        refresh=True,
        **extra,
    )


def options(issuer: str, **extra: t.Any) -> dict[str, t.Any]:
    opts: dict[str, t.Any] = {"secret": SECRET, "url": BASE, "providers": [provider(issuer)]}
    opts.update(extra)
    return opts


def _refused(exc: AccessTokenError) -> dict[str, t.Any]:
    return {"error": type(exc).__name__, "reason": exc.reason, "provider": exc.provider}


def flask_app(opts: dict[str, t.Any]) -> Flask:
    app = Flask(__name__)
    AuthGuard(app, opts, matcher=["/private"])

    @app.route("/token", methods=["GET", "POST"])
    def token() -> t.Any:
        try:
            return {"token": get_access_token(PROVIDER), "pid": os.getpid()}
        except AccessTokenError as exc:
            return jsonify(_refused(exc)), 401

    @app.get("/boom")
    def boom() -> t.Any:
        return {"token": get_access_token(PROVIDER)}

    @app.get("/both")
    def both() -> t.Any:
        session = get_server_session()  # its rolled cookie, then the refresh's in its place
        return {"token": get_access_token(PROVIDER), "session": session}

    @app.get("/private")
    def private() -> str:
        return "private"

    return app


def wsgi_app(opts: dict[str, t.Any]) -> t.Any:
    def site(environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
        request = Request(environ)
        response = Response(mimetype="application/json")
        if request.path == "/private":
            response.set_data("private")
        elif request.path in ("/token", "/boom", "/both"):
            if request.path == "/both":  # its rolled cookie on the response, then the refresh's
                get_server_session(request, response, opts)
            try:
                value = get_access_token(request, response, PROVIDER, opts)
                response.set_data(Response.json_module.dumps({"token": value, "pid": os.getpid()}))
            except AccessTokenError as exc:
                if request.path == "/boom":
                    raise
                response.status_code = 401
                response.set_data(Response.json_module.dumps(_refused(exc)))
        else:
            response.status_code = 404
        return response(environ, start_response)

    return with_auth(site, options=opts, matcher=["/private"])


def fastapi_app(opts: dict[str, t.Any]) -> t.Any:
    """The FastAPI app, driven through a2wsgi (the same werkzeug test client speaks to it)."""
    from a2wsgi import ASGIMiddleware
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from flask_authguard.asgi import AuthMiddleware
    from flask_authguard.asgi import get_access_token as get_access_token_asgi
    from support.handler_app import asgi_loop

    asgi = FastAPI()

    @asgi.get("/token")
    async def token(request: FastRequest, response: FastResponse) -> t.Any:
        try:
            return {"token": await get_access_token_asgi(request, response, PROVIDER), "pid": os.getpid()}
        except AccessTokenError as exc:
            refused = JSONResponse(_refused(exc), status_code=401)
            for value in response.headers.getlist("set-cookie"):
                refused.headers.append("set-cookie", value)
            return refused

    @asgi.get("/private")
    async def private() -> str:
        return "private"

    asgi.add_middleware(AuthMiddleware, options=opts, matcher=["/private"])
    asgi.middleware_stack = asgi.build_middleware_stack()
    return ASGIMiddleware(asgi, loop=asgi_loop())


def make(kind: str, opts: dict[str, t.Any]) -> t.Any:
    return {"flask": flask_app, "wsgi": wsgi_app, "fastapi": fastapi_app}[kind](opts)


def _from_environment() -> t.Any:
    issuer = os.environ.get("REFRESH_ISSUER")
    if not issuer:
        return None
    extra: dict[str, t.Any] = {
        "url": os.environ["REFRESH_URL"],
        "store": os.environ["REFRESH_STORE"],
        "store_prefix": os.environ["REFRESH_PREFIX"],
    }
    if os.environ.get("REFRESH_DB"):
        from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

        extra["adapter"] = SQLAlchemyAdapter(os.environ["REFRESH_DB"])
    return flask_app(options(issuer, **extra))


#: The app gunicorn serves (``support.refresh_app:app``).
app = _from_environment()
