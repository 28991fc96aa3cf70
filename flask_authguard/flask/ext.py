"""``AuthGuard``: the Flask extension, built on :class:`~flask_authguard.wsgi.middleware.AuthCore`.

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
and only on first use, so a page or asset that never reads it costs no decode (no session query).
Rendering a template reads it: templates get ``auth_token``, its plain value (``is none`` works).
Site-wide (``matcher``), blueprint (:meth:`AuthGuard.protect`) and view (:func:`auth_required`)
protection share one rule set, ``with_auth``'s: CORS preflights (with ``cors_preflight``) and
the skip list (the auth endpoints, the sign-in and error pages, ``/_next``, ``/favicon.ico``)
pass, and so do static files; ``authorized(request=..., token=...)`` decides; an anonymous
request is redirected (307) to the sign-in page (401 JSON for API requests), a signed-in one
that is refused gets 403.

The site-wide check is the app's first ``before_request`` hook: a refused request runs no
``before_request`` hook of the app or its blueprints, and not the view. Flask calls the app's and
the blueprints' ``url_value_preprocessor`` functions (and ``request_started`` receivers) before
any ``before_request`` hook, so those run for every request, refused ones included: they should
not load or check objects (an ``abort(404)`` there answers an anonymous visitor before the
guard's 307, telling ids that exist from ids that do not). :meth:`AuthGuard.protect`'s check is a
hook of the blueprint: Flask runs it after the app's own ``before_request`` hooks (and after the
blueprint's hooks registered before ``protect`` was called).

The three checks live in :mod:`flask_authguard.flask.protection`; ``get_server_session()``
(:mod:`flask_authguard.flask.session`) works anywhere in a request; the ``AUTHGUARD_*`` config
keys are in :mod:`flask_authguard.flask.config`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import typing as t

from flask import Blueprint, Flask, current_app, g, has_app_context, has_request_context, request
from werkzeug.wrappers import Response

from ..core.errors import BackendUnavailableError, ConfigurationError
from ..core.http.clients import answers_json
from ..core.settings.options import OptionsArg, coerce_options
from ..endpoints.error_route import configuration_answer
from ..endpoints.handler import AuthHandler
from ..endpoints.pages import Pages
from ..guard.decision import AuthCore, InnerMiddleware
from ..guard.step_up import checked_max_age
from ..sessions.revoke import Revoker
from ..sessions.user_sessions import end_session, list_sessions
from .config import CONFIG_KEYS, merged_options
from .protection import EXEMPT_ATTR, Authorized, F, auth_required, blueprint_check, site_wide_check
from .session import get_server_session, start_guarded_response
from .state import LAYER_KEY, GuardState, current_token, state_of, token_globals

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The methods routed to the auth endpoints (they answer next-auth's 400 for the ones they refuse).
_ENDPOINT_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _PathLayer:
    """WSGI layer in front of Flask: normalises the path before Flask routes it, so the app
    serves exactly the path that was checked (``/public/../admin`` is ``/admin``), hands the
    request the guard's state (:data:`~flask_authguard.flask.state.LAYER_KEY`), and keeps the
    responses to checked requests (any protection mode) out of shared caches."""

    def __init__(self, wsgi_app: WSGIApplication, state: GuardState) -> None:
        self.wsgi_app = wsgi_app
        self.state = state

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        state = self.state
        state.core.path(environ)
        environ[LAYER_KEY] = state
        if has_app_context() and current_app._get_current_object() is state.app:  # type: ignore[attr-defined]
            # an app context pushed by hand outlives the request: its g must not keep the
            # last request's token
            g.__dict__.pop("auth_token", None)
        return self.wsgi_app(environ, functools.partial(start_guarded_response, environ, start_response))


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
        # Only the app given here, so that revoke_user/revoke_token work outside an app context
        # (admin scripts, jobs); each app's state still lives in app.extensions.
        self._app = app
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
        state = GuardState(self, core, app, static_view)
        app.extensions["authguard"] = state
        app.wsgi_app = _PathLayer(app.wsgi_app, state)  # type: ignore[method-assign]
        app.app_ctx_globals_class = token_globals(app.app_ctx_globals_class)
        if not core.matcher.is_empty:
            # The first before_request hook: a refused request runs none of the app's or its
            # blueprints' before_request hooks, nor the view. Flask runs every url_value_preprocessor
            # (and request_started receiver) before any before_request hook, for refused requests too.
            app.before_request_funcs.setdefault(None, []).insert(0, site_wide_check)
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
        setattr(view, EXEMPT_ATTR, True)
        return view

    def protect(
        self,
        blueprint: Blueprint,
        authorized: Authorized | None = None,
        *,
        mfa: bool = False,
        max_age: int | None = None,
    ) -> Blueprint:
        """Protect every view of ``blueprint`` (call it before the blueprint is registered).

        The check is a ``before_request`` hook of the blueprint: Flask runs it after every
        ``url_value_preprocessor`` and every ``before_request`` hook of the app, and after the
        blueprint's own hooks registered before this call (so call it first).

        The blueprint's static files, CORS preflights (``cors_preflight``), the skip list and views marked
        :meth:`exempt` stay public.

        :param authorized: ``authorized(request=..., token=...)`` for this blueprint; default
            ``callbacks.authorized``, else "a token is present". Only a truthy result passes.
        :param mfa: also require the second factor (``two_factor``): a session without it is
            sent to enrol or enter a code (401 JSON for APIs).
        :param max_age: step-up sign-in: seconds since the session signed in beyond which it
            must sign in again (:mod:`~flask_authguard.guard.step_up`).
        :returns: the blueprint.
        :raises ValueError: ``max_age`` is not whole seconds, at least 1.
        """
        max_age = checked_max_age(max_age)
        blueprint.before_request(blueprint_check(authorized, mfa=mfa, max_age=max_age))
        return blueprint

    # -- revocation (defence) --------------------------------------------------------------------

    def revoke_user(self, user_id: t.Any, *, app: Flask | None = None) -> None:
        """End every session of ``user_id`` (a token's ``sub``) that started until now: JWT
        sessions through the ``store`` (refused on every worker that shares it, from their next
        request), database sessions by deleting their rows.

        Works in an admin script or a job, without an app context, when the guard was built
        with the app (``AuthGuard(app, ...)``).

        :param app: the app whose options to use (default: ``current_app`` in an app context,
            else the app the guard was built with); needed with :meth:`init_app` outside an
            app context.
        :raises ConfigurationError: no app to use (see ``app``).
        :raises BackendUnavailableError: the store cannot be reached.
        """
        self._revoker(app).revoke_user(user_id)

    def revoke_token(self, token: str | t.Mapping[str, t.Any], *, app: Flask | None = None) -> str:
        """End one session: ``token`` is the encoded session token or its claims (JWT: the
        session's ``sid`` is revoked, so its later refreshes are refused too; a token without
        one by its ``jti``); with database sessions, the session token.

        :param app: as for :meth:`revoke_user`.
        :returns: what was revoked: ``"sid"``, ``"jti"`` or ``"session"``.
        :raises InvalidTokenError: the token does not decrypt with the app's secrets.
        :raises ConfigurationError: no app to use.
        :raises BackendUnavailableError: the store cannot be reached.
        """
        return self._revoker(app).revoke_token(token)

    # -- a user's sessions ("your devices") -----------------------------------------------------

    def list_sessions(self, user_id: t.Any, *, app: Flask | None = None) -> list[dict[str, t.Any]]:
        """The live sessions of ``user_id`` (a token's ``sub``), the most recently seen first.

        Each is a ``dict``: ``id`` (opaque, never the session token: what :meth:`end_session`
        takes), ``signed_in_at`` and ``last_seen_at`` (aware UTC datetimes, ``None`` when
        unknown; "last seen" moves at most once per ``session.update_age``), ``user_agent``, and
        ``current`` (the session of the request asking, inside a request). JWT sessions are
        those signed in here since the store was last empty (next-auth tokens with a ``sid``
        claim once seen); database sessions are the rows (the adapter needs
        ``list_user_sessions``).

        Works outside a request and an app context, as :meth:`revoke_user` does.

        :param app: as for :meth:`revoke_user`.
        :raises ConfigurationError: no app to use, or a database adapter without
            ``list_user_sessions``.
        :raises BackendUnavailableError: the store or the database cannot be reached.

        .. versionadded:: 0.1
        """
        environ = request.environ if has_request_context() else None
        return list_sessions(self._revoker(app).config, user_id, environ)

    def end_session(self, user_id: t.Any, session_id: str, *, app: Flask | None = None) -> bool:
        """End one session of ``user_id``: ``session_id`` is an ``id`` from
        :meth:`list_sessions`. A JWT session's ``sid`` is revoked through the ``store`` (every
        worker sharing it refuses the session from its next request); a database session's row
        is deleted.

        :param app: as for :meth:`revoke_user`.
        :returns: whether ``user_id`` had such a session (``False`` for an unknown id, or one of
            another user).
        :raises ConfigurationError: no app to use, or a database adapter without
            ``list_user_sessions``.
        :raises BackendUnavailableError: the store or the database cannot be reached.

        .. versionadded:: 0.1
        """
        return end_session(self._revoker(app).config, user_id, session_id)

    def _revoker(self, app: Flask | None) -> Revoker:
        """The revoker of ``app``, else of ``current_app``, else of the guard's own app."""
        if app is None and not has_app_context():
            app = self._app
            if app is None:
                raise ConfigurationError(
                    "revoking outside an app context needs the app: call revoke_user/revoke_token "
                    "with app=your_app, or inside 'with app.app_context():'"
                )
        return Revoker(state_of(app).config)


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
    api = answers_json(config, request.environ)
    return configuration_answer(request._get_current_object(), config, pages, api=api)  # type: ignore[attr-defined]


def _template_context() -> dict[str, t.Any]:
    """``get_server_session`` and ``auth_token`` for the app's templates (``g.get("auth_token")``,
    read on ``g``'s own object rather than through the proxy)."""
    return {
        "get_server_session": get_server_session,
        "auth_token": getattr(g._get_current_object(), "auth_token", None),
    }


__all__ = [
    "CONFIG_KEYS",
    "AuthGuard",
    "GuardState",
    "auth_required",
    "current_token",
    "get_server_session",
    "merged_options",
    "state_of",
]
