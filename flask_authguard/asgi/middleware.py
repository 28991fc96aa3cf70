"""``AuthMiddleware``: next-auth's ``withAuth`` for any ASGI app (Starlette, FastAPI).

.. code-block:: python

    from fastapi import FastAPI, Request
    from flask_authguard.asgi import AuthMiddleware

    app = FastAPI()
    app.add_middleware(AuthMiddleware, options={"secret": "..."}, matcher=["/api/private/:path*"])

    @app.get("/api/private/me")
    def me(request: Request):
        return request.state.auth_token

Per request the rules of :func:`~flask_authguard.with_auth` (one :class:`AuthCore`, the same
options): matcher and skip list on the normalised path, ``authorized``, 307 to sign-in with
``callbackUrl`` (401 JSON for API requests), 403 for a signed-in user who is refused. The token
of a checked request is in ``scope["state"]["auth_token"]`` (``request.state.auth_token``).
With ``providers`` in the options the ``/api/auth/*`` routes are served too, by the very
endpoints of the WSGI layer, run in a worker thread. ``websocket`` connections are checked once,
at the handshake (a cross-site ``Origin`` with the session cookie is refused, as a cross-site
mutation is), and refused with close code 1008, as is a ``require_auth()`` refusal before the
app accepts the handshake; ``lifespan`` passes through. The app routes on the checked path:
the inner scope's ``path`` and ``raw_path`` both carry it; so do the ``/api/auth/*`` routes.
"""

from __future__ import annotations

import functools
import json
import typing as t
from urllib.parse import quote

from ..core.settings.options import OptionsArg
from ..core.tokens.request_token import TOKEN_ENVIRON_KEY
from ..guard.answers import unavailable_json
from ..guard.decision import AuthCore, InnerMiddleware
from .guard import CORE_KEY, needs_whole_environ, run_guard, runs_inline
from .later_check import mounted_apps, route_checks_again, routes_of
from .respond import Receive, Send, call_wsgi, collect, private_if_checked, send_collected
from .scope import ENVIRON_KEY, Scope, environ_of, guard_environ

ASGIApp = t.Callable[[Scope, Receive, Send], t.Awaitable[None]]

#: The WebSocket close code for a refused handshake (RFC 6455: policy violation).
POLICY_VIOLATION = 1008

#: The messages after which an app's answer has begun: an HTTP response, or a WebSocket
#: handshake accepted, closed or denied; a refusal can no longer be sent after any of them.
_ANSWER_STARTS = frozenset(
    {"http.response.start", "websocket.accept", "websocket.close", "websocket.http.response.start"}
)


class AuthRefusal(Exception):
    """Raised by :func:`~flask_authguard.asgi.require_auth` to answer with the guard's refusal
    (sign-in redirect, 401 or 403 JSON), and by :func:`~flask_authguard.asgi.get_server_session`
    with a 503 when the session store fails; :class:`AuthMiddleware` sends it.

    :param response: the refusal, a WSGI app (a werkzeug ``Response``).
    :param environ: the request it answers.
    """

    def __init__(self, response: t.Any, environ: t.Any) -> None:
        super().__init__("refused by the guard")
        #: The refusal.
        self.response = response
        #: The request's environ.
        self.environ = environ


def store_unavailable(environ: t.Any, core: AuthCore | None) -> Exception:
    """What a session read raises when the store fails: :class:`AuthRefusal` with the guard's 503
    JSON when :class:`AuthMiddleware` is in front to send it, else Starlette's ``HTTPException``
    (503, the same message, ``Retry-After``), which Starlette and FastAPI answer themselves: a
    503 either way, never a 500, and nobody is signed out."""
    answer = unavailable_json()
    if core is not None:
        return AuthRefusal(answer, environ)
    from starlette.exceptions import HTTPException

    message = json.loads(answer.get_data())["message"]
    return HTTPException(503, message, {"Retry-After": answer.headers["Retry-After"]})


class AuthMiddleware:
    """Protect an ASGI app with NextAuth.js sessions.

    :param app: any ASGI application.
    :param options: :class:`~flask_authguard.AuthOptions` or a dict with the same keys.
    :param matcher: Next.js ``config.matcher`` patterns; ``None`` protects every path.
    :param middleware: ``middleware(request)`` run for authorized requests, with a werkzeug
        ``Request``, as in :func:`~flask_authguard.with_auth`.
    :raises ConfigurationError: a bad option or matcher pattern.
    """

    def __init__(
        self,
        app: ASGIApp,
        options: OptionsArg = None,
        *,
        matcher: t.Any = None,
        middleware: InnerMiddleware | None = None,
    ) -> None:
        #: The wrapped app.
        self.app = app
        #: The shared rules.
        self.core = AuthCore(options, matcher=matcher, middleware=middleware)
        #: The ``/api/auth/*`` routes, when the options have providers.
        self.endpoints = _endpoints_for(self.core)
        self._inline = runs_inline(self.core)
        # the check reads the request line and a few headers, unless the options hand it to code
        # of the app: then the whole environ is built up front
        self._whole_environ = needs_whole_environ(self.core)
        add_handler = getattr(app, "add_exception_handler", None)
        if callable(add_handler):
            # A Starlette app wrapped whole: its own error middleware, inside this one, would
            # turn a refusal into a 500 before it got here.
            add_handler(AuthRefusal, refusal_response)
        self._mounts_handled = False
        self._fastapi = _fastapi_in(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._fastapi is not None and self._fastapi.root_path:
            # ``FastAPI(root_path=...)`` puts its root in the scope itself, in its own
            # ``__call__``, after this check: put it there first, so the path checked is the
            # one FastAPI routes on (else ``/api/dashboard`` is checked whole and served as
            # the protected ``/dashboard``)
            scope["root_path"] = self._fastapi.root_path
        core = self.core
        scope[CORE_KEY] = core
        # this guard's own view of its scope, never one a guard in front of it left there: under
        # a ``Mount`` its path and root are not this app's
        scope.pop(ENVIRON_KEY, None)
        environ = environ_of(scope) if self._whole_environ else guard_environ(scope)
        path = core.path(environ)  # normalised once, before any rule looks at it
        if self.endpoints is not None and kind == "http" and self.endpoints.serves(environ):
            # served the path it was matched on (``//``, ``..`` resolved), as with_auth serves it
            await call_wsgi(self.endpoints, _routed_scope(scope, environ), receive, send)
            return
        if not self._mounts_handled:  # once, now that the app is whole (see mounted_handlers)
            mounted_handlers(routes_of(self.app, scope))
            self._mounts_handled = True
        inner = _routed_scope(scope, environ)
        refusal = None
        checked = core.is_protected(environ, path)
        if checked:
            # the inner middleware runs after the route's own require_auth when it has one
            last = core.middleware is None or not route_checks_again(inner, self.app)
            if self._inline:  # CPU work only: on the loop, without a coroutine round trip
                refusal = core.check(environ, inner=last)
            else:
                refusal = await run_guard(False, functools.partial(core.check, inner=last), environ)
        if refusal is not None:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            else:  # answered as a WSGI app, which may read any of the request: the whole environ
                await send_collected(collect(refusal, environ_of(scope)), send)
            return
        state = inner.setdefault("state", {})
        if checked or "auth_token" not in state:  # where this guard did not check, one in front's stays
            state["auth_token"] = environ.get(TOKEN_ENVIRON_KEY)
        started = False

        async def tracking_send(message: t.MutableMapping[str, t.Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                # checked by this middleware, or by a require_auth() since
                message["headers"] = private_if_checked(environ, message.get("headers", ()))
            started = started or message["type"] in _ANSWER_STARTS
            await send(message)

        try:
            await self.app(inner, receive, tracking_send)
        except AuthRefusal as exc:  # require_auth() in a view or dependency refused
            if started:  # too late to answer otherwise: the app's error, as any other
                raise
            if kind == "websocket":  # refused at the handshake, as this middleware refuses it
                await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            else:
                await send_collected(collect(exc.response, exc.environ), send)


class AsgiEndpoints:
    """The ``/api/auth/*`` routes alone as an ASGI app, to mount under the base path (e.g.
    Starlette's ``Mount("/api/auth", app=AsgiEndpoints(options))``): the WSGI layer's
    :class:`~flask_authguard.AuthEndpoints`, run in a worker thread; 404 for anything else.

    :param options: :class:`~flask_authguard.AuthOptions`, a dict, or resolved options.
    """

    def __init__(self, options: t.Any = None) -> None:
        from ..wsgi.endpoints import AuthEndpoints

        #: The WSGI endpoints this bridges to.
        self.endpoints = AuthEndpoints(options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        await call_wsgi(self.endpoints, scope, receive, send)


def mounted_handlers(routes: t.Sequence[t.Any]) -> int:
    """Give every Starlette or FastAPI app mounted among ``routes`` the handler that answers an
    :class:`AuthRefusal` with the refusal (:func:`refusal_response`): without it, a
    ``require_auth()`` refusing in a mounted app reaches that app's own error handling first,
    a 500. Done at the first request, before a mounted app builds its middleware (Starlette reads
    the handlers then). Returns how many apps got it."""
    added = 0
    for mounted in mounted_apps(routes):
        handlers = getattr(mounted, "exception_handlers", None)
        add_handler = getattr(mounted, "add_exception_handler", None)
        if isinstance(handlers, dict) and AuthRefusal not in handlers and callable(add_handler):
            add_handler(AuthRefusal, refusal_response)
            added += 1
    return added


def refusal_response(request: t.Any, exc: Exception) -> t.Any:
    """Starlette exception handler: the guard's refusal as a Starlette ``Response``."""
    from starlette.responses import Response

    assert isinstance(exc, AuthRefusal)
    answer = collect(exc.response, exc.environ)
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = answer.headers
    return response


#: What a ``raw_path`` leaves unescaped: RFC 3986's ``pchar`` and ``/`` (letters, digits and
#: ``-._~`` are never escaped by ``quote``).
_RAW_PATH_SAFE = "/!$&'()*+,;=:@"


def _routed_scope(scope: Scope, environ: t.Mapping[str, t.Any]) -> Scope:
    """The scope with the path the guard checked (``..`` and ``//`` resolved), so the app
    routes on exactly that path: ``path`` and, when the server sent one, a ``raw_path`` that
    encodes it (a framework routing on ``raw_path`` must not see ``/public/..%2fadmin``)."""
    # the root the check applied (``SCRIPT_NAME``: the scope's ``root_path`` when the path lies
    # under it) and the checked path, as text
    path: str = environ["SCRIPT_NAME"] + environ["PATH_INFO"]
    if not path.isascii():
        path = path.encode("latin-1").decode("utf-8", "surrogateescape")
    raw = scope.get("raw_path")
    if raw is None:
        return scope if scope.get("path") == path else {**scope, "path": path}
    plain = path.encode("utf-8", "surrogateescape")
    if raw == plain and scope.get("path") == path:  # the usual request: nothing to escape
        return scope
    encoded = quote(plain, safe=_RAW_PATH_SAFE).encode("ascii")
    if raw == encoded and scope.get("path") == path:  # escaped, and the same path
        return scope
    # the checked path, and its canonical encoding in place of the bytes the client sent
    return {**scope, "path": path, "raw_path": encoded}


#: How many wrapping middlewares (``.app``) are looked through for a FastAPI app.
_WRAPPER_DEPTH = 16


def _fastapi_in(app: t.Any) -> t.Any:
    """The FastAPI app ``app`` is, or wraps through middlewares that keep the app they wrap as
    ``.app`` (Starlette's do), else ``None``: its ``root_path`` option rewrites the scope."""
    try:
        from fastapi import FastAPI
    except ImportError:  # not installed: no app is one
        return None
    for _ in range(_WRAPPER_DEPTH):
        if isinstance(app, FastAPI):
            return app
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


def _endpoints_for(core: AuthCore) -> t.Any:
    """The WSGI layer's ``AuthEndpoints`` for these options, or ``None`` without providers."""
    if not (core.config.options.providers and core.config.options.endpoints):
        return None
    from ..wsgi.endpoints import AuthEndpoints

    return AuthEndpoints(core.config)
