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

Every request gets ``g.auth_token`` (the decoded token or ``None``), decoded once per request
(static-file requests: a lazy proxy, decoded on first use, so assets cost no session query).
Site-wide (``matcher``), blueprint (:meth:`AuthGuard.protect`) and view (:func:`auth_required`)
protection share one rule set, ``with_auth``'s: CORS preflights (with ``cors_preflight``) and
the skip list (the auth endpoints, the sign-in and error pages, ``/_next``, ``/favicon.ico``)
pass, and so do static files; ``authorized(request=..., token=...)`` decides; an anonymous
request is redirected (307) to the sign-in page (401 JSON for API requests), a signed-in one
that is refused gets 403.

``get_server_session()`` works anywhere in a request (views, blueprints, templates, error
handlers, after_request functions): the refreshed session cookie reaches the response through
the guard's own after_request function, which runs last, and repeated calls decode and encode
once.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import typing as t

from flask import (
    Blueprint,
    Flask,
    after_this_request,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
)
from werkzeug.wrappers import Request, Response

from ..core.errors import BackendUnavailableError, ConfigurationError
from ..core.options import AuthOptions, Config, OptionsArg, coerce_options
from ..core.token import Claims
from ..endpoints.error_route import configuration_answer
from ..endpoints.handler import AuthHandler
from ..endpoints.pages import Pages
from ..sessions import Session, SessionResult, apply_cookies, read_session, request_config
from ..sessions.revoke import Revoker
from ..wsgi.caching import private_start_response
from ..wsgi.middleware import TOKEN_ENVIRON_KEY, AuthCore, InnerMiddleware, Redirect, is_api_request

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
Authorized = t.Callable[..., t.Any]

_EXEMPT_ATTR = "_authguard_exempt"
_SESSION_HOOK_KEY = "authguard.session_hook"
_PENDING_KEY = "authguard.pending_cookies"
#: The methods routed to the auth endpoints (they answer next-auth's 400 for the ones they refuse).
_ENDPOINT_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

#: ``AUTHGUARD_*`` config keys and the option each one sets; a key left at ``None`` leaves the
#: option as given to :class:`AuthGuard`.
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "AUTHGUARD_SECRET": ("secret",),
    "AUTHGUARD_URL": ("url",),
    "AUTHGUARD_VERSION": ("version",),
    "AUTHGUARD_BASE_PATH": ("base_path",),
    "AUTHGUARD_SIGN_IN_PAGE": ("pages", "sign_in"),
    "AUTHGUARD_SIGN_OUT_PAGE": ("pages", "sign_out"),
    "AUTHGUARD_ERROR_PAGE": ("pages", "error"),
    "AUTHGUARD_VERIFY_REQUEST_PAGE": ("pages", "verify_request"),
    "AUTHGUARD_SESSION_STRATEGY": ("session", "strategy"),
    "AUTHGUARD_SESSION_MAX_AGE": ("session", "max_age"),
    "AUTHGUARD_SESSION_UPDATE_AGE": ("session", "update_age"),
    "AUTHGUARD_JWT_MAX_AGE": ("jwt", "max_age"),
    "AUTHGUARD_USE_SECURE_COOKIES": ("use_secure_cookies",),
    "AUTHGUARD_API_MODE": ("api_mode",),
    "AUTHGUARD_ENDPOINTS": ("endpoints",),
    "AUTHGUARD_CORS_PREFLIGHT": ("cors_preflight",),
    "AUTHGUARD_TRUSTED_HOSTS": ("trusted_hosts",),
    "AUTHGUARD_TRUSTED_ORIGINS": ("trusted_origins",),
    "AUTHGUARD_CROSS_SITE_PROTECTION": ("cross_site_protection",),
    "AUTHGUARD_STORE": ("store",),
    "AUTHGUARD_SESSION_MAX_LIFETIME": ("session", "max_lifetime"),
}


def _is_text(value: t.Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_seconds(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_secret(value: t.Any) -> bool:
    if _is_text(value):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(_is_text(s) for s in value)


#: What each config key accepts: a check and the words for the error message.
_CONFIG_CHECKS: dict[str, tuple[t.Callable[[t.Any], bool], str]] = {
    "AUTHGUARD_SECRET": (_is_secret, "a non-empty string or a list of them (newest first)"),
    "AUTHGUARD_URL": (_is_text, "the app's URL, e.g. 'https://example.com'"),
    "AUTHGUARD_VERSION": (lambda v: v in (4, 5) and not isinstance(v, bool), "4 (next-auth) or 5 (Auth.js)"),
    "AUTHGUARD_BASE_PATH": (lambda v: _is_text(v) and v.startswith("/"), "a path starting with '/'"),
    "AUTHGUARD_SIGN_IN_PAGE": (_is_text, "a non-empty path or URL"),
    "AUTHGUARD_SIGN_OUT_PAGE": (_is_text, "a non-empty path or URL"),
    "AUTHGUARD_ERROR_PAGE": (_is_text, "a non-empty path or URL"),
    "AUTHGUARD_VERIFY_REQUEST_PAGE": (_is_text, "a non-empty path or URL"),
    "AUTHGUARD_SESSION_STRATEGY": (lambda v: v in ("jwt", "database"), "'jwt' or 'database'"),
    "AUTHGUARD_SESSION_MAX_AGE": (_is_seconds, "a whole number of seconds >= 0"),
    "AUTHGUARD_SESSION_UPDATE_AGE": (_is_seconds, "a whole number of seconds >= 0"),
    "AUTHGUARD_JWT_MAX_AGE": (_is_seconds, "a whole number of seconds >= 0"),
    "AUTHGUARD_USE_SECURE_COOKIES": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_API_MODE": (lambda v: v in ("auto", "redirect", "json"), "'auto', 'redirect' or 'json'"),
    "AUTHGUARD_ENDPOINTS": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_CORS_PREFLIGHT": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_TRUSTED_HOSTS": (lambda v: isinstance(v, (list, tuple)), "a list of host names"),
    "AUTHGUARD_TRUSTED_ORIGINS": (
        lambda v: isinstance(v, (list, tuple)) and all(_is_text(o) for o in v),
        "a list of origins such as ['http://localhost:3000']",
    ),
    "AUTHGUARD_CROSS_SITE_PROTECTION": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_STORE": (_is_text, "'memory://' or a Redis URI such as 'redis://127.0.0.1:6379/0'"),
    "AUTHGUARD_SESSION_MAX_LIFETIME": (_is_seconds, "a whole number of seconds >= 0"),
}


@dataclasses.dataclass
class GuardState:
    """Per-app state, kept in ``app.extensions["authguard"]``."""

    guard: AuthGuard
    core: AuthCore
    #: The app's own static-file view (``None`` without a static folder): public by identity.
    static_view: t.Callable[..., t.Any] | None = None

    @property
    def config(self) -> Config:
        """The app's resolved options."""
        return self.core.config


def merged_options(options: OptionsArg, app_config: t.Mapping[str, t.Any]) -> AuthOptions:
    """``options`` with the ``AUTHGUARD_*`` keys of ``app_config`` applied.

    :raises ConfigurationError: a key holds a value of the wrong type; the message names the key.
    """
    opts = coerce_options(options)
    for key, target in CONFIG_KEYS.items():
        value: t.Any = app_config.get(key)
        if value is None:
            continue
        check, expected = _CONFIG_CHECKS[key]
        if not check(value):
            shown = type(value).__name__ if key == "AUTHGUARD_SECRET" else repr(value)  # never a secret
            raise ConfigurationError(f"app.config[{key!r}] must be {expected}, not {shown}")
        if isinstance(value, list):
            value = tuple(value)
        if len(target) == 1:
            opts = dataclasses.replace(opts, **{target[0]: value})
        else:
            group = dataclasses.replace(getattr(opts, target[0]), **{target[1]: value})
            opts = dataclasses.replace(opts, **{target[0]: group})
    return opts


class _PathLayer:
    """WSGI layer in front of Flask: normalises the path before Flask routes it, so the app
    serves exactly the path that was checked (``/public/../admin`` is ``/admin``), and keeps the
    responses to checked requests (any protection mode) out of shared caches."""

    def __init__(self, wsgi_app: WSGIApplication, core: AuthCore) -> None:
        self.wsgi_app = wsgi_app
        self.core = core

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        self.core.path(environ)
        return self.wsgi_app(environ, private_start_response(environ, start_response))


class AuthGuard:
    """Protect a Flask app with NextAuth.js sessions.

    One guard may serve several apps (app factories): every :meth:`init_app` resolves the
    options for its app and keeps the result in ``app.extensions["authguard"]``; nothing is
    stored on the guard per app.

    :param app: the app, or ``None`` to call :meth:`init_app` later (app factories).
    :param options: :class:`~flask_authguard.AuthOptions` or a dict; the ``AUTHGUARD_*`` config
        keys of each app (see :data:`CONFIG_KEYS`) override them.
    :param matcher: Next.js ``config.matcher`` patterns protected site-wide: ``None`` protects
        every path, ``[]`` none (then protect blueprints and views one by one), a list those
        paths. Static files are always public.
    :param middleware: ``middleware(request)`` run once for each authorized protected request
        (site-wide, blueprint or view), as in :func:`~flask_authguard.with_auth`: return
        ``None`` to go on, or a response to answer with.
    :raises ConfigurationError: ``options`` is not an :class:`~flask_authguard.AuthOptions` or a
        dict of its keys.
    """

    def __init__(
        self,
        app: Flask | None = None,
        options: OptionsArg = None,
        *,
        matcher: t.Any = None,
        middleware: InnerMiddleware | None = None,
    ) -> None:
        #: The options as given; each app's config keys are applied on top in :meth:`init_app`.
        self.options = coerce_options(options)
        #: The site-wide matcher patterns.
        self.matcher = matcher
        #: The inner middleware.
        self.middleware = middleware
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install the guard on ``app``: options resolved now, errors raised now.

        :raises ConfigurationError: a bad option, config key or matcher pattern, or the app
            already has an ``AuthGuard``.
        """
        if "authguard" in app.extensions:
            raise ConfigurationError(f"AuthGuard is already initialised on app {app.name!r}")
        for key in CONFIG_KEYS:
            app.config.setdefault(key, None)
        options = merged_options(self.options, app.config)
        if options.trusted_hosts is None and app.config.get("TRUSTED_HOSTS"):
            # Flask's own list: the guard's redirects honour it as Flask's request.host does.
            options = dataclasses.replace(options, trusted_hosts=tuple(app.config["TRUSTED_HOSTS"]))
        core = AuthCore(options, matcher=self.matcher, middleware=self.middleware)
        # The static view Flask registered, recognised later by identity: a user view that is
        # named "static" or routed under /static/ stays protected.
        static_view = app.view_functions.get("static") if app.has_static_folder else None
        state = GuardState(self, core, static_view)
        app.extensions["authguard"] = state
        app.wsgi_app = _PathLayer(app.wsgi_app, core)  # type: ignore[method-assign]
        app.app_ctx_globals_class = _lazy_token_globals(app.app_ctx_globals_class)
        # First of the app's hooks: g.auth_token is there for the user's own before_request.
        app.before_request_funcs.setdefault(None, []).insert(0, _before_request)
        # First in the list, so last to run (Flask runs them in reverse): the session cookies of
        # get_server_session() calls made in any other after_request function still get written.
        app.after_request_funcs.setdefault(None, []).insert(0, _after_request)
        app.context_processor(_template_context)
        app.register_error_handler(BackendUnavailableError, _backend_unavailable)
        # The app's templates override the built-in pages; its globals and context processors work in them.
        pages = Pages(parent=lambda: app.jinja_env, update_context=app.update_template_context)
        app.register_error_handler(ConfigurationError, functools.partial(_configuration_error, core, pages))
        if options.endpoints:
            handler = AuthHandler(core.config, pages)

            def auth_endpoints(**_: t.Any) -> Response:
                return handler.respond(request._get_current_object())  # type: ignore[attr-defined]

            base = core.config.base_path
            for rule in (base, base + "/", base + "/<path:_action>"):
                app.add_url_rule(
                    rule,
                    "authguard_endpoints",
                    auth_endpoints,
                    methods=_ENDPOINT_METHODS,
                    provide_automatic_options=False,  # the handler answers OPTIONS as next-auth does
                )

    def exempt(self, view: F) -> F:
        """Leave one view public under site-wide or blueprint protection (health checks,
        webhooks). :func:`auth_required` on the same view still applies."""
        setattr(view, _EXEMPT_ATTR, True)
        return view

    def protect(self, blueprint: Blueprint, authorized: Authorized | None = None) -> Blueprint:
        """Protect every view of ``blueprint`` (call it before the blueprint is registered).

        The blueprint's static files, CORS preflights (``cors_preflight``), the skip list and views marked
        :meth:`exempt` stay public.

        :param authorized: ``authorized(request=..., token=...)`` for this blueprint; default
            ``callbacks.authorized``, else "a token is present". Only a truthy result passes.
        :returns: the blueprint.
        """

        def check() -> t.Any:
            if _is_public_view():
                return None
            return _check(authorized)

        blueprint.before_request(check)
        return blueprint

    # -- revocation (defence) --------------------------------------------------------------------

    def revoke_user(self, user_id: t.Any, *, app: Flask | None = None) -> None:
        """End every session of ``user_id`` (a token's ``sub``) that started until now: JWT
        sessions through the ``store`` (refused on every worker that shares it, from their next
        request), database sessions by deleting their rows.

        :param app: the app whose options to use (default ``current_app``).
        :raises BackendUnavailableError: the store cannot be reached.
        """
        Revoker(state_of(app).config).revoke_user(user_id)

    def revoke_token(self, token: str | t.Mapping[str, t.Any], *, app: Flask | None = None) -> str:
        """End one session: ``token`` is the encoded session token or its claims (JWT: the
        session's ``sid`` is revoked, so its later refreshes are refused too; a token without
        one by its ``jti``); with database sessions, the session token.

        :returns: what was revoked: ``"sid"``, ``"jti"`` or ``"session"``.
        :raises InvalidTokenError: the token does not decrypt with the app's secrets.
        :raises BackendUnavailableError: the store cannot be reached.
        """
        return Revoker(state_of(app).config).revoke_token(token)


def state_of(app: Flask | None = None) -> GuardState:
    """The :class:`GuardState` of ``app`` (default ``current_app``).

    :raises ConfigurationError: ``AuthGuard`` was not initialised on the app.
    """
    app = app or current_app
    try:
        return t.cast(GuardState, app.extensions["authguard"])
    except KeyError:
        raise ConfigurationError("AuthGuard is not initialised on this app: call AuthGuard(app)") from None


def _is_public_view() -> bool:
    """A CORS preflight (``cors_preflight``), a static file, an exempt view, or a path of the
    skip list."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    core = state_of(app).core
    environ = request.environ
    if core.is_preflight(environ) or _is_open_endpoint(app, request.endpoint):
        return True
    return core.is_skipped(environ, core.path(environ))


def _check(authorized: Authorized | None) -> WSGIApplication | None:
    """The refusal for the current request, or ``None`` after running the inner middleware."""
    core = state_of().core
    environ = request.environ
    refusal = core.authorize(environ, authorized, request=request._get_current_object())  # type: ignore[attr-defined]
    if refusal is None:
        refusal = core.run_inner(environ)
    return refusal


def _before_request() -> t.Any:
    # The per-request path: each Flask proxy is resolved once (a lookup costs about 1 µs).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    req = request._get_current_object()  # type: ignore[attr-defined]
    core = t.cast(GuardState, app.extensions["authguard"]).core
    environ = req.environ
    # g.auth_token is computed on first use (see _lazy_token_globals): a public page or a static
    # file that never reads it, or a cross-site mutation refused before any decode, costs no
    # decode (with database sessions, no query). An app context may outlive one request
    # (pushed by hand): drop the last request's value.
    g.__dict__.pop("auth_token", None)
    if not core.is_protected(environ) or _is_open_endpoint(app, req.endpoint):
        return None
    refusal = core.authorize(environ, None, request=req)
    if refusal is None:
        refusal = core.run_inner(environ)
    if type(refusal) is Redirect:  # as the app's own Response: Flask would run a WSGI app to get one
        return refusal.to_response(app.response_class)
    return refusal


def _lazy_token_globals(base: type[t.Any]) -> type[t.Any]:
    """The app's ``g`` class (kept, whatever it is) with ``auth_token`` computed on first use in
    a request: the decoded token or ``None``, decoded once per request (the guard's check and
    ``g.auth_token`` share it), then an ordinary attribute."""
    if getattr(base, "_authguard_lazy", False):
        return base

    class AuthGuardGlobals(base):  # type: ignore[misc]
        _authguard_lazy = True

        def __getattr__(self, name: str) -> t.Any:
            if name == "auth_token" and has_request_context() and "authguard" in current_app.extensions:
                value = current_token()
                self.__dict__["auth_token"] = value
                return value
            return super().__getattr__(name)

        def get(self, name: str, default: t.Any = None) -> t.Any:
            if name == "auth_token" and name not in self.__dict__ and has_request_context():
                return getattr(self, name, default)
            return super().get(name, default)

        def __contains__(self, item: str) -> bool:
            if item == "auth_token" and has_request_context():
                return True
            return bool(super().__contains__(item))

    AuthGuardGlobals.__name__ = AuthGuardGlobals.__qualname__ = f"AuthGuard{base.__name__}"
    return AuthGuardGlobals


def _token_or_none(core: AuthCore, environ: WSGIEnvironment) -> Claims | None:
    try:
        return core.token(environ)
    except BackendUnavailableError:
        # The session store failed: public pages go on without a token; a protected one
        # answers 503 from the check (the failure is remembered, not retried).
        return None


def _is_open_endpoint(app: Flask, endpoint: str | None) -> bool:
    """A static file (the app's or a registered blueprint's own static view) or an exempt view."""
    if endpoint is None:
        return False
    view = app.view_functions.get(endpoint)
    return view is not None and (getattr(view, _EXEMPT_ATTR, False) or _is_static(app, view))


def _is_static(app: Flask, view: t.Callable[..., t.Any]) -> bool:
    """``view`` is the app's or a registered blueprint's own static-file view."""
    if view is t.cast(GuardState, app.extensions["authguard"]).static_view:
        return True
    # A blueprint's static rule is its own bound send_static_file.
    owner = getattr(view, "__self__", None)
    return (
        isinstance(owner, Blueprint)
        and getattr(view, "__name__", None) == "send_static_file"
        and any(owner is bp for bp in app.blueprints.values())
    )


def _backend_unavailable(exc: BackendUnavailableError) -> Response:
    """503 (``Retry-After``) when the session store fails during a view: nobody is signed out."""
    core = state_of().core
    logger = logging.getLogger("flask_authguard")
    logger.error("session store unavailable, answering 503 for %s: %s", request.path, exc)
    return core.unavailable(request.environ)


def _configuration_error(core: AuthCore, pages: Pages, exc: ConfigurationError) -> Response:
    """next-auth's Configuration error when a view hits one (``get_server_session()`` with no
    secret): the error page for browsers, 500 JSON for API clients."""
    logging.getLogger("flask_authguard").error("configuration error in %s: %s", request.path, exc)
    config = core.config
    api = config.api_mode == "json" or (config.api_mode == "auto" and is_api_request(request.environ))
    return configuration_answer(request._get_current_object(), config, pages, api=api)  # type: ignore[attr-defined]


def _template_context() -> dict[str, t.Any]:
    return {"get_server_session": get_server_session, "auth_token": g.get("auth_token")}


@t.overload
def auth_required(view: F) -> F: ...


@t.overload
def auth_required(*, authorized: Authorized | None = None) -> t.Callable[[F], F]: ...


def auth_required(view: F | None = None, *, authorized: Authorized | None = None) -> t.Any:
    """Protect one view: ``@auth_required`` or ``@auth_required(authorized=fn)``.

    Refusals are the guard's: sign-in redirect (401 JSON for APIs) when anonymous, 403 when
    signed in but refused. CORS preflights (``cors_preflight``) and the skip list pass; the
    guard's inner middleware runs for an authorized request. ``async def`` views work (``flask[async]``).
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            core = state_of().core
            environ = request.environ
            if not core.is_preflight(environ):
                if not core.is_skipped(environ, core.path(environ)):
                    refusal = _check(authorized)
                    if refusal is not None:
                        return refusal
            return current_app.ensure_sync(fn)(*args, **kwargs)

        return t.cast(F, wrapper)

    return decorate(view) if view is not None else decorate


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


def current_token() -> Claims | None:
    """The decoded token of the current Flask request (``g.auth_token``'s value), decoded now
    if nothing asked for it yet."""
    state = current_app.extensions.get("authguard")
    if state is None:  # no guard on this app: whatever a with_auth layer left in the environ
        return t.cast("Claims | None", request.environ.get(TOKEN_ENVIRON_KEY))
    return _token_or_none(t.cast(GuardState, state).core, request.environ)
