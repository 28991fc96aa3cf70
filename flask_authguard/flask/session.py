"""``get_server_session()`` in Flask: the session read, with the rolled cookie put on the
response from anywhere in the request (views, templates, error handlers, after_request
functions) by the guard's own after_request function, which runs last."""

from __future__ import annotations

import typing as t

from flask import after_this_request, current_app, has_app_context, has_request_context, request
from werkzeug.wrappers import Request, Response

from ..core.config import Config
from ..core.options import OptionsArg
from ..sessions import Session, SessionResult, apply_cookies, read_session, request_config
from .state import state_of

_SESSION_HOOK_KEY = "authguard.session_hook"


_PENDING_KEY = "authguard.pending_cookies"


def _apply_pending(response: Response) -> Response:
    pending: dict[int, tuple[SessionResult, Config, bool]] = request.environ.pop(_PENDING_KEY, {})
    for result, config, secure in pending.values():
        apply_cookies(response.headers, result, config, secure)
    if "Vary" in response.headers:
        response.vary.add("Cookie")
    else:
        response.headers["Vary"] = "Cookie"  # what vary.add gives, without the header-set round trip
    return response


def _after_request(response: Response) -> Response:
    """The guard's last after_request function: the cookies of every get_server_session() call
    of the request, views and after_request functions alike."""
    if request.environ.get(_SESSION_HOOK_KEY):
        return _apply_pending(response)
    return response


def _flask_session(options: OptionsArg | Config) -> SessionResult:
    environ = request.environ
    config = state_of().config if options is None else request_config(environ, options)
    result = read_session(environ, config)
    if result.set_cookies:
        secure = config.is_secure(environ.get("wsgi.url_scheme", "http"))
        environ.setdefault(_PENDING_KEY, {})[id(config)] = (result, config, secure)
    if not environ.get(_SESSION_HOOK_KEY):
        environ[_SESSION_HOOK_KEY] = True
        if "authguard" not in current_app.extensions:  # no guard hook: the view's response only
            after_this_request(_apply_pending)
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
    if len(args) > 3:
        raise TypeError(f"get_server_session takes at most 3 arguments ({len(args)} given)")
    if len(args) >= 2:
        req, resp = args[0], args[1]
        options = args[2] if len(args) > 2 else None
        if not isinstance(req, Request):
            raise TypeError("get_server_session(request, response, options) needs a werkzeug Request")
        if resp is not None and not hasattr(getattr(resp, "headers", None), "getlist"):
            raise TypeError(
                "get_server_session(request, response, options): response must be a werkzeug Response"
            )
        environ = req.environ
        if options is None and has_app_context() and "authguard" in current_app.extensions:
            config = state_of().config
        else:
            config = request_config(environ, options)
        result = read_session(environ, config)
        if resp is not None:
            apply_cookies(
                resp.headers, result, config, config.is_secure(environ.get("wsgi.url_scheme", "http"))
            )
            vary = getattr(resp, "vary", None)
            if vary is not None:
                vary.add("Cookie")  # the response depends on the session cookie
        return result.session
    if len(args) == 1 and isinstance(args[0], Request):
        raise TypeError("get_server_session(request, response, options): pass the response too (or None)")
    if not has_request_context():
        raise RuntimeError(
            "get_server_session() without arguments needs a Flask request; "
            "elsewhere call get_server_session(request, response, options)"
        )
    return _flask_session(args[0] if args else None).session
