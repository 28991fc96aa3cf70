"""``get_server_session()`` in Flask: the session read, with the rolled cookie put on the
response from anywhere in the request (views, templates, error handlers, after_request
functions): on an app with ``AuthGuard`` by the guard's WSGI layer when the response starts,
after every after_request function; on an app without one by an ``after_this_request``
function."""

from __future__ import annotations

import typing as t

from flask import after_this_request, current_app, g, has_app_context, has_request_context, request
from werkzeug.wrappers import Request, Response

from ..core.settings.config import Config
from ..core.settings.options import OptionsArg
from ..core.tokens.request_token import TOKEN_CONFIG_KEY, TOKEN_ENVIRON_KEY
from ..guard.caching import CHECKED_KEY, cache_headers, vary_on_cookie
from ..sessions import NOT_UPDATE, Session, SessionResult, apply_cookies, config_of, read_session
from ..sessions.reading import cookies_to_add
from .state import LAYER_KEY, GuardState, request_state, state_of

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: Set once get_server_session() ran in the request: the response then varies on ``Cookie``.
_SESSION_HOOK_KEY = "authguard.session_hook"
_PENDING_KEY = "authguard.pending_cookies"
_NO_REQUEST = (
    "get_server_session() without arguments needs a Flask request; "
    "elsewhere call get_server_session(request, response, options)"
)


def _apply_pending(response: Response) -> Response:
    pending: dict[int, tuple[SessionResult, Config, bool]] = request.environ.pop(_PENDING_KEY, {})
    for result, config, secure in pending.values():
        apply_cookies(response.headers, result, config, secure)
    vary_on_cookie(response.headers)
    return response


def _with_pending(environ: WSGIEnvironment, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with the cookies of the request's get_server_session() calls."""
    existing = [value for name, value in headers if name.lower() == "set-cookie"]
    added_headers: list[tuple[str, str]] = []
    pending: dict[int, tuple[SessionResult, Config, bool]] | None = environ.pop(_PENDING_KEY, None)
    if pending:
        for result, config, secure in pending.values():
            added = cookies_to_add(existing, result, config, secure)
            if added:
                added_headers += [("Set-Cookie", value) for value in added]
                existing.extend(added)
    return [*headers, *added_headers]


def start_guarded_response(
    environ: WSGIEnvironment,
    start_response: StartResponse,
    status: str,
    headers: list[tuple[str, str]],
    exc_info: t.Any = None,
) -> t.Any:
    """The guard layer's ``start_response`` (bound to the request's ``environ`` and the server's
    ``start_response`` with :func:`functools.partial`): when the response starts (after the last
    after_request function) it keeps a checked request's response out of shared caches
    (:func:`~flask_authguard.guard.caching.cache_headers`) and adds the cookies of every
    get_server_session() call of the request (views, error handlers and after_request
    functions alike)."""
    checked, read = environ.get(CHECKED_KEY), environ.get(_SESSION_HOOK_KEY)
    if read:
        headers = _with_pending(environ, headers)
    if checked or read:  # the answer depends on who asks
        headers = cache_headers(headers, private=bool(checked))
    return start_response(status, headers, exc_info)


def _flask_session(options: OptionsArg | Config, update: t.Any = NOT_UPDATE) -> SessionResult:
    # the proxy resolved once, by its own method: ``request.environ`` on the proxy costs a
    # failed attribute lookup (an AttributeError made and cleared) before it is forwarded;
    # outside a request it raises, and the caller says what to do instead
    try:
        environ = request._get_current_object().environ  # type: ignore[attr-defined]
    except RuntimeError:
        raise RuntimeError(_NO_REQUEST) from None
    layer: GuardState | None = environ.get(LAYER_KEY)
    if options is not None:
        config = config_of(options)
    else:  # the guard's options
        config = request_state(environ).core.config
    result = read_session(environ, config, update=update)
    if update is not NOT_UPDATE:
        _hand_over(environ, config, result)
    queue_cookies(environ, result, config, layer)
    return result


def queue_cookies(
    environ: WSGIEnvironment, result: SessionResult, config: Config, layer: GuardState | None
) -> None:
    """Have ``result``'s cookies reach the response of this Flask request (in place of an
    earlier read's with the same options): by the guard ``layer`` when the response starts,
    else by an ``after_this_request`` function."""
    if result.set_cookies:
        secure = config.is_secure(environ.get("wsgi.url_scheme", "http"))
        pending = environ.get(_PENDING_KEY)
        if pending is None:
            pending = environ[_PENDING_KEY] = {}
        pending[id(config)] = (result, config, secure)
    if not environ.get(_SESSION_HOOK_KEY):
        environ[_SESSION_HOOK_KEY] = True
        if layer is None:  # no guard layer in front: the view's response only
            after_this_request(_apply_pending)


def _hand_over(environ: WSGIEnvironment, config: Config, result: SessionResult) -> None:
    """After an update: the updated token is the request's token from now on (``g.auth_token``,
    a later update or read in the same request), unless other options read the token already."""
    if result.token is None or environ.get(TOKEN_CONFIG_KEY) not in (None, config):
        return
    environ[TOKEN_ENVIRON_KEY] = result.token
    environ[TOKEN_CONFIG_KEY] = config
    if has_request_context() and request.environ is environ:
        state = current_app.extensions.get("authguard")
        if state is not None and state.config is config:
            g.__dict__["auth_token"] = result.token


def _werkzeug_session(req: t.Any, resp: t.Any, options: t.Any, update: t.Any = NOT_UPDATE) -> SessionResult:
    """The ``(request, response, options)`` forms: the read (or update), its cookies on ``resp``."""
    if not isinstance(req, Request):
        raise TypeError("the (request, response, ...) form needs a werkzeug Request")
    if resp is not None and not hasattr(getattr(resp, "headers", None), "getlist"):
        raise TypeError("the (request, response, ...) form: response must be a werkzeug Response")
    environ = req.environ
    if options is None and has_app_context() and "authguard" in current_app.extensions:
        config = state_of().config
    else:
        config = config_of(options)
    result = read_session(environ, config, update=update)
    if update is not NOT_UPDATE:
        _hand_over(environ, config, result)
    if resp is not None:
        apply_cookies(resp.headers, result, config, config.is_secure(environ.get("wsgi.url_scheme", "http")))
        vary_on_cookie(resp.headers)  # the response depends on the session cookie
    return result


@t.overload
def get_server_session() -> Session | None: ...


@t.overload
def get_server_session(options: OptionsArg | Config, /) -> Session | None: ...


@t.overload
def get_server_session(
    request: Request, response: Response | None, options: OptionsArg | Config = None, /
) -> Session | None: ...


def get_server_session(*args: t.Any) -> Session | None:
    """The session, next-auth's ``getServerSession``, in three forms:

    - ``get_server_session()`` in a Flask request: the guard's options;
    - ``get_server_session(options)`` in a Flask request;
    - ``get_server_session(request, response, options)`` with werkzeug objects, anywhere
      (``response`` may be ``None`` to write no cookie; ``options`` default to the guard's
      inside a Flask app with one, else to the environment).

    The cookie is refreshed with a new expiry (a rolling session); in Flask the Set-Cookie
    reaches the response from anywhere in the request (views, blueprints, templates, error
    handlers, and, on an app with ``AuthGuard``, ``after_request`` functions too). Repeated calls
    in one request decode and encode once. An invalid or expired cookie gives ``None`` and is
    cleared. A response that itself writes the session cookie (sign-out) gets no refresh.

    :returns: the session ``dict`` or ``None``.
    :raises ConfigurationError: no secret is configured, or bad options.
    :raises TypeError: arguments that fit none of the forms.
    :raises RuntimeError: the short forms outside a Flask request.
    """
    if not args:  # the usual call, first
        return _flask_session(None).session
    if len(args) > 3:
        raise TypeError(f"get_server_session takes at most 3 arguments ({len(args)} given)")
    if len(args) >= 2:
        return _werkzeug_session(args[0], args[1], args[2] if len(args) > 2 else None).session
    if len(args) == 1 and isinstance(args[0], Request):
        raise TypeError("get_server_session(request, response, options): pass the response too (or None)")
    return _flask_session(args[0]).session


@t.overload
def update_session(data: t.Any, /) -> Session | None: ...


@t.overload
def update_session(data: t.Any, options: OptionsArg | Config, /) -> Session | None: ...


@t.overload
def update_session(
    request: Request, response: Response | None, data: t.Any, options: OptionsArg | Config = None, /
) -> Session | None: ...


def update_session(*args: t.Any) -> Session | None:
    """Update the session from the server (Auth.js v5's ``unstable_update``), as next-auth's
    ``POST /api/auth/session`` (the front end's ``update(data)``) does it:

    - JWT sessions: ``callbacks.jwt(token=..., trigger="update", session=data)``, then
      ``callbacks.session(..., trigger="update", new_session=data)``; the token the ``jwt``
      callback returns is written to the rolled cookie;
    - database sessions: ``callbacks.session(session=..., user=..., trigger="update",
      new_session=data)`` shapes the answer, and the row is extended as on a read.

    Three forms, as :func:`get_server_session`:

    - ``update_session(data)`` in a Flask request (the guard's options);
    - ``update_session(data, options)`` in a Flask request;
    - ``update_session(request, response, data, options=None)`` with werkzeug objects, anywhere.

    Later reads in the same request (``get_server_session()``, ``g.auth_token``) see the
    updated session. The ``jwt`` callback decides what an update may change: ``data`` comes from
    your code here, but from the browser through ``POST /api/auth/session``.

    :returns: the updated session ``dict``, or ``None`` (signed out, or the callbacks returned
        ``None``).
    :raises ConfigurationError: no secret is configured, or bad options.
    :raises TypeError: arguments that fit none of the forms.
    :raises RuntimeError: the short forms outside a Flask request.

    .. versionadded:: 0.1
    """
    if args and isinstance(args[0], Request):
        if len(args) not in (3, 4):
            raise TypeError("update_session(request, response, data, options=None) takes 3 or 4 arguments")
        return _werkzeug_session(args[0], args[1], args[3] if len(args) > 3 else None, args[2]).session
    if len(args) not in (1, 2):
        raise TypeError("update_session(data) or update_session(data, options) in a Flask request")
    return _flask_session(args[1] if len(args) > 1 else None, args[0]).session
