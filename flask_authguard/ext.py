"""``AuthGuard``: the Flask extension, built on :class:`~flask_authguard.middleware.AuthCore`.

.. code-block:: python

    from flask import Flask, g
    from flask_authguard import AuthGuard, auth_required, get_server_session

    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": "change-me"}, matcher=["/dashboard/:path*"])

    @app.get("/dashboard")
    def dashboard():
        return {"token": g.auth_token, "session": get_server_session()}

    @app.get("/health")
    @guard.exempt
    def health():
        return "ok"

The token is decoded once per request at the WSGI layer (where the path is also normalised)
and handed to Flask as ``g.auth_token``. Site-wide (``matcher``), blueprint
(:meth:`AuthGuard.protect`) and view (:func:`auth_required`) protection share one rule set.
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t

from flask import Blueprint, Flask, after_this_request, current_app, g, has_request_context, request
from werkzeug.wrappers import Request, Response

from .errors import ConfigurationError
from .middleware import TOKEN_ENVIRON_KEY, AuthCore, InnerMiddleware, OptionsArg
from .options import AuthOptions, Config, coerce_options
from .session import SessionResult, apply_cookies, config_of, read_session
from .token import Claims

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
Authorized = t.Callable[..., t.Any]

_EXEMPT_ATTR = "_authguard_exempt"
_SESSION_HOOK_KEY = "authguard.session_hook"

#: ``AUTHGUARD_*`` config keys and the option each one sets (``None`` leaves the option alone).
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "AUTHGUARD_SECRET": ("secret",),
    "AUTHGUARD_URL": ("url",),
    "AUTHGUARD_VERSION": ("version",),
    "AUTHGUARD_BASE_PATH": ("base_path",),
    "AUTHGUARD_SIGN_IN_PAGE": ("pages", "sign_in"),
    "AUTHGUARD_SIGN_OUT_PAGE": ("pages", "sign_out"),
    "AUTHGUARD_ERROR_PAGE": ("pages", "error"),
    "AUTHGUARD_SESSION_STRATEGY": ("session", "strategy"),
    "AUTHGUARD_SESSION_MAX_AGE": ("session", "max_age"),
    "AUTHGUARD_SESSION_UPDATE_AGE": ("session", "update_age"),
    "AUTHGUARD_JWT_MAX_AGE": ("jwt", "max_age"),
    "AUTHGUARD_USE_SECURE_COOKIES": ("use_secure_cookies",),
    "AUTHGUARD_API_MODE": ("api_mode",),
    "AUTHGUARD_ENDPOINTS": ("endpoints",),
}


@dataclasses.dataclass
class GuardState:
    """Per-app state, kept in ``app.extensions["authguard"]``."""

    guard: AuthGuard
    core: AuthCore

    @property
    def config(self) -> Config:
        """The app's resolved options."""
        return self.core.config


def _merged_options(options: OptionsArg, app_config: t.Mapping[str, t.Any]) -> AuthOptions:
    opts = coerce_options(options)
    for key, target in CONFIG_KEYS.items():
        value = app_config.get(key)
        if value is None:
            continue
        if len(target) == 1:
            opts = dataclasses.replace(opts, **{target[0]: value})
        else:
            group = dataclasses.replace(getattr(opts, target[0]), **{target[1]: value})
            opts = dataclasses.replace(opts, **{target[0]: group})
    return opts


class _TokenLayer:
    """WSGI layer in front of Flask: normalises the path and decodes the token once."""

    def __init__(self, wsgi_app: WSGIApplication, core: AuthCore) -> None:
        self.wsgi_app = wsgi_app
        self.core = core

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        self.core.path(environ)
        self.core.token(environ)
        return self.wsgi_app(environ, start_response)


class AuthGuard:
    """Protect a Flask app with NextAuth.js sessions.

    :param app: the app, or ``None`` to call :meth:`init_app` later (app factories).
    :param options: :class:`~flask_authguard.AuthOptions` or a dict; ``AUTHGUARD_*`` config
        keys of each app override them.
    :param matcher: Next.js ``config.matcher`` patterns protected site-wide: ``None`` protects
        every path, ``[]`` none (then protect blueprints and views one by one).
    :param middleware: ``middleware(request)`` run for authorized protected requests, as in
        :func:`~flask_authguard.with_auth`.
    """

    def __init__(
        self,
        app: Flask | None = None,
        options: OptionsArg = None,
        *,
        matcher: t.Any = None,
        middleware: InnerMiddleware | None = None,
    ) -> None:
        self.options = coerce_options(options)
        self.matcher = matcher
        self.middleware = middleware
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install the guard on ``app``: options resolved now, errors raised now.

        :raises ConfigurationError: a bad option, config key or matcher pattern.
        """
        for key in CONFIG_KEYS:
            app.config.setdefault(key, None)
        options = _merged_options(self.options, app.config)
        public = [app.static_url_path] if app.static_folder and app.static_url_path else []
        core = AuthCore(options, matcher=self.matcher, middleware=self.middleware, public_prefixes=public)
        state = GuardState(self, core)
        app.extensions["authguard"] = state
        app.wsgi_app = _TokenLayer(app.wsgi_app, core)  # type: ignore[method-assign]
        app.before_request(_before_request)
        app.context_processor(_template_context)
        if options.endpoints:
            from .handler import make_blueprint

            app.register_blueprint(make_blueprint(state), url_prefix=core.config.base_path)

    def exempt(self, view: F) -> F:
        """Leave one view public under site-wide protection (health checks, webhooks)."""
        setattr(view, _EXEMPT_ATTR, True)
        return view

    def protect(self, blueprint: Blueprint, authorized: Authorized | None = None) -> Blueprint:
        """Protect every view of ``blueprint``.

        :param authorized: ``authorized(request=..., token=...)`` for this blueprint; default
            ``callbacks.authorized``, else "a token is present".
        """

        def check() -> t.Any:
            return _check(authorized, run_inner=True)

        blueprint.before_request(check)
        return blueprint


def state_of(app: Flask | None = None) -> GuardState:
    """The :class:`GuardState` of ``app`` (default ``current_app``).

    :raises ConfigurationError: ``AuthGuard`` was not initialised on the app.
    """
    app = app or current_app
    try:
        return t.cast(GuardState, app.extensions["authguard"])
    except KeyError:
        raise ConfigurationError("AuthGuard is not initialised on this app: call AuthGuard(app)") from None


def _check(authorized: Authorized | None, *, run_inner: bool) -> WSGIApplication | None:
    core = state_of().core
    environ = request.environ
    refusal = core.authorize(environ, authorized, request=request)
    if refusal is None and run_inner:
        refusal = core.run_inner(environ)
    return refusal


def _before_request() -> t.Any:
    state = state_of()
    environ = request.environ
    g.auth_token = environ.get(TOKEN_ENVIRON_KEY)
    core = state.core
    if not core.is_protected(environ):
        return None
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is not None and getattr(view, _EXEMPT_ATTR, False):
        return None
    return _check(None, run_inner=True)


def _template_context() -> dict[str, t.Any]:
    return {"get_server_session": get_server_session, "auth_token": g.get("auth_token")}


@t.overload
def auth_required(view: F) -> F: ...


@t.overload
def auth_required(*, authorized: Authorized | None = None) -> t.Callable[[F], F]: ...


def auth_required(view: F | None = None, *, authorized: Authorized | None = None) -> t.Any:
    """Protect one view: ``@auth_required`` or ``@auth_required(authorized=fn)``.

    Refusals are the guard's: sign-in redirect (401 JSON for APIs) when anonymous, 403 when
    signed in but refused. ``async def`` views work.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            if request.method != "OPTIONS":
                refusal = _check(authorized, run_inner=False)
                if refusal is not None:
                    return refusal
            return current_app.ensure_sync(fn)(*args, **kwargs)

        return t.cast(F, wrapper)

    return decorate(view) if view is not None else decorate


def _flask_session(options: OptionsArg | Config) -> SessionResult:
    config = state_of().config if options is None else config_of(options)
    environ = request.environ
    result = read_session(environ, config)
    if result.set_cookies and not environ.get(_SESSION_HOOK_KEY):
        environ[_SESSION_HOOK_KEY] = True
        secure = config.is_secure(environ.get("wsgi.url_scheme", "http"))

        @after_this_request
        def _set_cookies(response: Response) -> Response:
            apply_cookies(response.headers, result, config, secure)
            response.vary.add("Cookie")
            return response

    return result


def get_server_session(*args: t.Any) -> dict[str, t.Any] | None:
    """The session, next-auth's ``getServerSession``, in three forms:

    - ``get_server_session()`` in a Flask request: the guard's options;
    - ``get_server_session(options)`` in a Flask request;
    - ``get_server_session(request, response, options)`` with werkzeug objects, anywhere.

    The cookie is refreshed with a new expiry (a rolling session); in Flask the Set-Cookie
    reaches the response from anywhere in the request. Repeated calls decode once.

    :returns: the session ``dict`` or ``None``.
    :raises ConfigurationError: no secret is configured.
    """
    if len(args) >= 2:
        req, resp = args[0], args[1]
        options = args[2] if len(args) > 2 else None
        if not isinstance(req, Request):
            raise TypeError("get_server_session(request, response, options) needs a werkzeug Request")
        config = config_of(options)
        result = read_session(req.environ, config)
        if resp is not None:
            apply_cookies(resp.headers, result, config, config.is_secure(req.scheme))
        return result.session
    if len(args) == 1 and isinstance(args[0], Request):
        raise TypeError("get_server_session(request, response, options): pass the response too (or None)")
    if not has_request_context():
        raise RuntimeError(
            "get_server_session() without arguments needs a Flask request; "
            "elsewhere call get_server_session(request, response, options)"
        )
    return _flask_session(args[0] if args else None).session


def current_token() -> Claims | None:
    """The decoded token of the current Flask request (``g.auth_token``)."""
    return t.cast("Claims | None", request.environ.get(TOKEN_ENVIRON_KEY))
