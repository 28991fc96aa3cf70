"""FastAPI dependencies over :mod:`flask_authguard.asgi` (FastAPI itself is the app's choice).

.. code-block:: python

    from fastapi import Depends, FastAPI
    from flask_authguard.asgi.fastapi import ServerSession, Token, require_auth

    @app.get("/api/me")
    async def me(token: Token):                       # 401/redirect when anonymous
        return token

    @app.get("/api/admin", dependencies=[Depends(require_auth(authorized=is_admin))])
    async def admin(): ...

    @app.get("/api/session")
    async def session(session: ServerSession):        # None when signed out; rolls the cookie
        return session
"""

from __future__ import annotations

import typing as t

from fastapi import Depends, Request, Response

from ..core.tokens.request_token import Claims
from ..sessions import Session
from .session import get_server_session, require_auth


async def server_session(request: Request, response: Response) -> Session | None:
    """The session (:func:`~flask_authguard.asgi.get_server_session`) with the rolled cookie
    set on FastAPI's response."""
    return await get_server_session(request, response)


#: The token of a signed-in request; anonymous requests get the guard's refusal.
Token = t.Annotated[Claims, Depends(require_auth())]
#: The session, or ``None``; the rolled cookie goes out with the response.
ServerSession = t.Annotated[t.Optional[Session], Depends(server_session)]  # noqa: UP045 (FastAPI reads it at run time)

__all__ = ["ServerSession", "Token", "require_auth", "server_session"]
