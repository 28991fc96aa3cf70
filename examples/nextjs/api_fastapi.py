"""The API behind the Next.js example (``examples/nextjs``), in FastAPI: ``api.py``'s routes.

next-auth (in the Next.js app) signs users in and owns ``/api/auth/*``; this API only reads the
session cookie next-auth set, which reaches it through the Next.js rewrite of ``/api/py/*``. The
settings that must agree with ``lib/auth.js`` are ``api.py``'s: the secret (``NEXTAUTH_SECRET``)
and the public URL (``NEXTAUTH_URL``). To serve it instead of ``api.py`` (``pip install -e
".[asgi]" fastapi uvicorn``), on the port the Next.js rewrite points at::

    NEXTAUTH_SECRET=... NEXTAUTH_URL=http://localhost:3000 \\
        uvicorn --app-dir examples/nextjs api_fastapi:app --port 5009 --proxy-headers

(uvicorn's ``--proxy-headers`` takes the client address and scheme from the rewrite's
``X-Forwarded-*`` headers; ``url`` gives the public origin.)
"""

from __future__ import annotations

import os
import typing as t

from fastapi import Body, Depends, FastAPI
from fastapi.responses import JSONResponse

from flask_authguard.asgi import AuthMiddleware, require_auth
from flask_authguard.asgi.fastapi import ServerSession, Token


def is_admin(*, token: t.Mapping[str, t.Any] | None, **_: t.Any) -> bool:
    """``authorized`` for the admin route: a signed-in user refused here gets 403."""
    return token is not None and token.get("role") == "admin"


def session_callback(*, session: dict[str, t.Any], token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
    """The same session shape as next-auth's ``session`` callback in ``lib/auth.js``."""
    session["user"]["id"] = token.get("sub")
    session["user"]["role"] = token.get("role")
    return session


def user_of(token: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {
        "id": token.get("sub"),
        "name": token.get("name"),
        "email": token.get("email"),
        "role": token.get("role"),
    }


def create_app(*, secret: str | None = None, url: str | None = None) -> FastAPI:
    """The API; ``secret`` and ``url`` default to ``NEXTAUTH_SECRET`` and ``NEXTAUTH_URL``."""
    options = {
        "secret": secret or os.environ.get("NEXTAUTH_SECRET"),
        "url": url or os.environ.get("NEXTAUTH_URL"),  # the Next.js app's public URL
        "endpoints": False,  # next-auth serves /api/auth/*; this API never signs anyone in
        "api_mode": "json",  # refusals answer 401/403 JSON, never a redirect
        "callbacks": {"session": session_callback},
    }
    app = FastAPI(title="flask_authguard: the API behind Next.js")
    app.add_middleware(AuthMiddleware, options=options, matcher=[])  # each route says what it needs
    notes: dict[str, list[str]] = {}

    @app.get("/api/py/public")
    async def public() -> dict[str, t.Any]:
        return {"message": "Anyone may read this."}

    @app.get("/api/py/me")
    async def me(token: Token) -> dict[str, t.Any]:
        return {"user": user_of(token)}

    @app.get("/api/py/admin")
    async def admin(
        token: t.Annotated[t.Any, Depends(require_auth(authorized=is_admin))],
    ) -> dict[str, t.Any]:
        return {"admin": True, "user": user_of(token)}

    @app.get("/api/py/session")
    async def session(found: ServerSession) -> t.Any:
        if found is None:  # next-auth's session shape; the cookie is re-set, rolled
            return JSONResponse({"error": "Unauthorized", "session": None}, status_code=401)
        return {"session": found}

    @app.post("/api/py/notes", status_code=201)
    async def add_note(
        token: Token, text: t.Annotated[str, Body(embed=True, min_length=1, max_length=500)]
    ) -> t.Any:
        mine = notes.setdefault(str(token.get("sub")), [])
        mine.append(text.strip())
        return {"notes": list(mine)}

    return app


#: ``uvicorn api_fastapi:app``: the secret and URL from the environment.
app = create_app()
