"""``await get_access_token(request, response, provider_id)``: the signed-in user's access token
for a provider, refreshed when due, for ASGI apps (:mod:`flask_authguard.sessions.refresh`).

.. code-block:: python

    from fastapi import Request, Response
    from flask_authguard import AccessTokenError
    from flask_authguard.asgi import get_access_token

    @app.get("/api/repos")
    async def repos(request: Request, response: Response):
        try:
            token = await get_access_token(request, response, "keycloak")
        except AccessTokenError:
            return JSONResponse({"error": "sign in again"}, status_code=401)
        ...
"""

from __future__ import annotations

import logging
import typing as t

import anyio.to_thread
from starlette.requests import HTTPConnection

from ..core.errors import BackendUnavailableError
from ..guard.caching import vary_with_cookie
from ..sessions import config_of
from ..sessions.reading import swap_cookies
from ..sessions.refresh import access_token
from .middleware import store_unavailable
from .scope import environ_of
from .session import ResponseHeaders, core_of

if t.TYPE_CHECKING:
    from starlette.responses import Response

logger = logging.getLogger("flask_authguard")


async def get_access_token(
    request: HTTPConnection, response: Response | None, provider_id: str, options: t.Any = None
) -> str | None:
    """The signed-in user's current access token for ``provider_id`` (a provider with
    ``refresh=True``), refreshed when it expires within 60 seconds, as the Flask layer's
    ``get_access_token``. The refresh runs in a worker thread; the rolled cookie goes on
    ``response`` (in FastAPI, declare a ``response: Response`` parameter and pass it), before any
    error is raised.

    :param options: default: the options of the :class:`AuthMiddleware` in front of the app,
        else the environment.
    :returns: the access token, or ``None`` (nobody signed in, no account with the provider).
    :raises AccessTokenError: the refresh failed; the user stays signed in and the session
        read carries ``"error": "RefreshAccessTokenError"``.
    :raises AuthRefusal: the store or database failed: :class:`AuthMiddleware` answers 503.
    :raises ConfigurationError: no provider with that id and ``refresh=True``; no secret.

    .. versionadded:: 0.1
    """
    environ = environ_of(request.scope)
    core = core_of(request)
    config = core.config if options is None and core is not None else config_of(options)
    try:
        answer = await anyio.to_thread.run_sync(access_token, environ, config, provider_id)
    except BackendUnavailableError as exc:
        logger.error("session store unavailable, answering 503 for %s: %s", environ["PATH_INFO"], exc)
        raise store_unavailable(environ, core) from exc
    if response is not None:
        secure = config.is_secure(environ.get("wsgi.url_scheme", "http"))
        swap_cookies(ResponseHeaders(response), answer.replaced, answer.result, config, secure)
        response.headers["vary"] = vary_with_cookie(response.headers.get("vary", ""))
    if answer.error is not None:
        raise answer.error
    return answer.token
