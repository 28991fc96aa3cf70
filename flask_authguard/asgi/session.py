"""``await get_server_session(request, response, options)``: next-auth's ``getServerSession``
for ASGI apps, and ``require_auth`` for views and FastAPI dependencies."""

from __future__ import annotations

import functools
import inspect
import logging
import typing as t

from starlette.requests import HTTPConnection  # at run time: FastAPI reads the annotations

from ..core.errors import BackendUnavailableError, ConfigurationError
from ..core.tokens.request_token import TOKEN_CONFIG_KEY, TOKEN_ENVIRON_KEY, Claims
from ..guard.caching import vary_with_cookie
from ..guard.decision import CHECK_ATTR, AuthCore
from ..guard.step_up import checked_max_age
from ..sessions import NOT_UPDATE, Session, apply_cookies, config_of, read_session, strategy_of
from .guard import CORE_KEY, run_guard, runs_inline
from .middleware import AuthRefusal, store_unavailable
from .scope import environ_of

if t.TYPE_CHECKING:
    from starlette.responses import Response

logger = logging.getLogger("flask_authguard")


class ResponseHeaders:
    """A Starlette response's mutable headers seen as the werkzeug ``Headers`` the session code
    writes to (``getlist``, ``add``, ``remove``)."""

    def __init__(self, response: Response) -> None:
        self._headers = response.headers

    def getlist(self, name: str) -> list[str]:
        return self._headers.getlist(name)

    def add(self, name: str, value: str) -> None:
        self._headers.append(name, value)

    def remove(self, name: str) -> None:
        del self._headers[name]


def core_of(connection: HTTPConnection) -> AuthCore | None:
    """The :class:`AuthMiddleware`'s core for this request, if one is installed."""
    return t.cast("AuthCore | None", connection.scope.get(CORE_KEY))


async def get_server_session(
    request: HTTPConnection, response: Response | None = None, options: t.Any = None
) -> Session | None:
    """The session, as the Flask layer's ``get_server_session``: ``callbacks.jwt`` and
    ``callbacks.session`` run, and the rolled cookie is set on ``response`` (pass ``None`` to
    write no cookie; in FastAPI, declare a ``response: Response`` parameter and pass it).

    :param options: default: the options of the :class:`AuthMiddleware` in front of the app,
        else the environment (``NEXTAUTH_SECRET``...).
    :returns: the session ``dict`` or ``None`` (``None`` too for a cookie-authenticated
        mutation or WebSocket handshake from another site, see ``trusted_origins``).
    :raises ConfigurationError: no secret is configured, or bad options.
    :raises AuthRefusal: the session store failed: :class:`AuthMiddleware` answers 503 JSON
        with ``Retry-After``, as the guard does; nobody is signed out.
    """
    return await _session(request, response, options, NOT_UPDATE)


async def update_session(
    request: HTTPConnection, response: Response | None, data: t.Any, options: t.Any = None
) -> Session | None:
    """Update the session from the server, as the Flask layer's ``update_session``: ``callbacks.jwt``
    runs with ``trigger="update"`` and ``session=data`` (database sessions: ``callbacks.session``
    with ``trigger="update"`` and ``new_session=data``), and the rolled cookie carrying the
    updated token is set on ``response``.

    :returns: the updated session ``dict`` or ``None``.
    :raises ConfigurationError: no secret is configured, or bad options.
    :raises AuthRefusal: the session store failed (503, as :func:`get_server_session`).

    .. versionadded:: 0.1
    """
    return await _session(request, response, options, data)


async def _session(
    request: HTTPConnection, response: Response | None, options: t.Any, update: t.Any
) -> Session | None:
    environ = environ_of(request.scope)
    core = core_of(request)
    config = core.config if options is None and core is not None else config_of(options)
    if core is not None and core.config is config:
        inline = runs_inline(core)
    else:
        inline = not strategy_of(config).blocking
    try:
        read = read_session if update is NOT_UPDATE else functools.partial(read_session, update=update)
        result = await run_guard(inline, read, environ, config)
    except BackendUnavailableError as exc:
        # not Starlette's 500: the guard's 503, sent by AuthMiddleware like any refusal
        logger.error("session store unavailable, answering 503 for %s: %s", environ["PATH_INFO"], exc)
        raise store_unavailable(environ, core) from exc
    if (
        update is not NOT_UPDATE
        and result.token is not None
        and environ.get(TOKEN_CONFIG_KEY) in (None, config)
    ):
        # later reads of this request see the update
        environ[TOKEN_ENVIRON_KEY] = result.token
        environ[TOKEN_CONFIG_KEY] = config
        if core is not None and core.config is config:
            request.scope.setdefault("state", {})["auth_token"] = result.token
    if response is not None:
        secure = config.is_secure(environ.get("wsgi.url_scheme", "http"))
        apply_cookies(ResponseHeaders(response), result, config, secure)
        response.headers["vary"] = vary_with_cookie(response.headers.get("vary", ""))
    return result.session


def require_auth(
    authorized: t.Callable[..., t.Any] | None = None,
    *,
    mfa: bool = False,
    max_age: int | None = None,
) -> t.Callable[[HTTPConnection], t.Awaitable[Claims]]:
    """A dependency (FastAPI ``Depends(require_auth())``) or an awaitable check for a view:
    the token when the request passes, else the guard's refusal (sign-in redirect or 401 JSON
    when anonymous, 403 when signed in but refused), sent by :class:`AuthMiddleware`; a WebSocket
    handshake refused before the app accepts it is closed with code 1008, as the middleware's own
    refusals are (a Starlette app's exception handler may answer it first, with the refusal as a
    denial response).

    :param authorized: ``authorized(request=..., token=...)`` for this route; default
        ``callbacks.authorized``, else "a token is present". Only a truthy result passes.
    :param mfa: also require the second factor (``two_factor``): a session without it is
        sent to enrol or enter a code (401 JSON for APIs).
    :param max_age: step-up sign-in: a session that signed in more than ``max_age`` seconds ago
        is sent to sign in again (401 JSON for APIs; :mod:`~flask_authguard.guard.step_up`).
    :raises ValueError: ``max_age`` is not whole seconds, at least 1.
    """
    max_age = checked_max_age(max_age)

    async def dependency(request: HTTPConnection) -> Claims:
        core = core_of(request)
        if core is None:
            raise ConfigurationError("require_auth() needs AuthMiddleware in front of the app")
        environ = environ_of(request.scope)
        inline = runs_inline(core) and not inspect.iscoroutinefunction(authorized)
        check = functools.partial(core.check, max_age=max_age, mfa=mfa)
        refusal = await run_guard(inline, check, environ, authorized)
        if refusal is not None:
            raise AuthRefusal(refusal, environ)
        return t.cast(Claims, environ[TOKEN_ENVIRON_KEY])

    setattr(dependency, CHECK_ATTR, True)  # AuthMiddleware leaves it the inner middleware
    return dependency
