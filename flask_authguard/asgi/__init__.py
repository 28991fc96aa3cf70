"""The ASGI layer: the guard and sign-in for Starlette, FastAPI and any ASGI app.

.. code-block:: python

    from fastapi import Depends, FastAPI, Request, Response
    from flask_authguard.asgi import AuthMiddleware, get_server_session, require_auth

    app = FastAPI()
    app.add_middleware(AuthMiddleware, options={"secret": "...", "providers": [...]})

    @app.get("/api/me")
    async def me(token: dict = Depends(require_auth())):
        return token

    @app.get("/api/session")
    async def session(request: Request, response: Response):
        return await get_server_session(request, response)

``pip install flask_authguard[asgi]`` brings Starlette. Everything here is a thin layer over the
same core, sessions and endpoints as the WSGI and Flask layers: one options object serves all.
"""

from __future__ import annotations

from .access_token import get_access_token
from .middleware import AsgiEndpoints, AuthMiddleware, AuthRefusal
from .session import core_of, get_server_session, require_auth, update_session

__all__ = [
    "AsgiEndpoints",
    "AuthMiddleware",
    "AuthRefusal",
    "core_of",
    "get_access_token",
    "get_server_session",
    "require_auth",
    "update_session",
]
