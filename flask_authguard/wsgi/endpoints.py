"""``AuthEndpoints``: the ``/api/auth/*`` routes as a WSGI app, for any WSGI app.

.. code-block:: python

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from flask_authguard import AuthEndpoints, CredentialsProvider, with_auth

    options = {"secret": "...", "providers": [CredentialsProvider(authorize=authorize)]}

    # one wrap: with_auth serves the routes itself when the options have providers
    application = with_auth(site, options=options, matcher=["/dashboard/:path*"])

    # or mounted beside an app
    application = DispatcherMiddleware(site, {"/api/auth": AuthEndpoints(options)})

The routes answer under the base path (``/api/auth``, or ``NEXTAUTH_URL``'s path), wherever
that is: in ``PATH_INFO`` (passed a whole site's requests) or at the end of ``SCRIPT_NAME``
(mounted there); anything else is 404.
"""

from __future__ import annotations

import typing as t

from werkzeug.wrappers import Request

from ..core.runtime import Runtime, runtime_for
from ..core.settings.config import Config
from ..core.settings.options import OptionsArg
from ..endpoints.handler import AuthHandler
from ..endpoints.pages import Pages
from ..sessions.revoke import Revoker
from ..sessions.user_sessions import end_session, list_sessions

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from jinja2 import BaseLoader


class AuthEndpoints:
    """The auth routes as a WSGI application.

    :param options: :class:`~flask_authguard.AuthOptions`, a dict, or options resolved already
        (a ``Config`` or a :class:`~flask_authguard.core.runtime.Runtime`).
    :param template_loader: a Jinja2 loader whose ``authguard/*.html`` templates replace the
        built-in pages (``jinja2.FileSystemLoader("templates")``).
    :raises ConfigurationError: a bad option or provider.
    """

    def __init__(
        self, options: OptionsArg | Config | Runtime = None, *, template_loader: BaseLoader | None = None
    ) -> None:
        #: The options' one runtime: ``AuthEndpoints(opts)`` beside ``with_auth(site, opts)``
        #: shares its store (revocations, throttle counters) with the guard.
        self.runtime = runtime_for(options)
        config = self.runtime.config
        pages = Pages(template_loader) if template_loader is not None else None
        #: The framework-free handler: ``handler(request) -> Response``.
        self.handler = AuthHandler(config, pages)

    @property
    def config(self) -> Config:
        """The resolved options."""
        return self.handler.config

    def serves(self, environ: WSGIEnvironment) -> bool:
        """Whether the request is under the auth base path."""
        return self.handler.locate(environ) is not None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        return self.handler(Request(environ))(environ, start_response)

    # -- revocation (defence) --------------------------------------------------------------------

    def revoke_user(self, user_id: t.Any) -> None:
        """End every session of ``user_id`` (a token's ``sub``) that started until now: JWT
        sessions through the ``store`` (refused on every worker that shares it, from their next
        request), database sessions by deleting their rows. As
        :meth:`AuthGuard.revoke_user <flask_authguard.AuthGuard.revoke_user>`.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        Revoker(self.config).revoke_user(user_id)

    def revoke_token(self, token: str | t.Mapping[str, t.Any]) -> str:
        """End one session: ``token`` is the encoded session token or its claims (JWT: the
        session's ``sid`` is revoked, so its later refreshes are refused too; a token without
        one by its ``jti``); with database sessions, the session token. As
        :meth:`AuthGuard.revoke_token <flask_authguard.AuthGuard.revoke_token>`.

        :returns: what was revoked: ``"sid"``, ``"jti"`` or ``"session"``.
        :raises InvalidTokenError: the token does not decrypt with the configured secrets.
        :raises BackendUnavailableError: the store cannot be reached.
        """
        return Revoker(self.config).revoke_token(token)

    def list_sessions(self, user_id: t.Any) -> list[dict[str, t.Any]]:
        """The live sessions of ``user_id``, as :meth:`AuthGuard.list_sessions
        <flask_authguard.AuthGuard.list_sessions>`.

        :raises BackendUnavailableError: the store or the database cannot be reached.
        """
        return list_sessions(self.config, user_id)

    def end_session(self, user_id: t.Any, session_id: str) -> bool:
        """End one session of ``user_id``, as :meth:`AuthGuard.end_session
        <flask_authguard.AuthGuard.end_session>`.

        :returns: whether ``user_id`` had such a session.
        :raises BackendUnavailableError: the store or the database cannot be reached.
        """
        return end_session(self.config, user_id, session_id)


class EndpointsFirst:
    """The auth routes in front of an app: requests under the base path go to ``endpoints``,
    all others to ``app``. What :func:`~flask_authguard.with_auth` wraps when the options have
    providers."""

    def __init__(self, endpoints: AuthEndpoints, app: WSGIApplication) -> None:
        #: The auth routes.
        self.endpoints = endpoints
        #: The app.
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        if self.endpoints.serves(environ):
            return self.endpoints(environ, start_response)
        return self.app(environ, start_response)
