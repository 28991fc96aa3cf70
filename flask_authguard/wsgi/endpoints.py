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

from ..core.options import Config, OptionsArg, resolve_options
from ..endpoints.handler import AuthHandler
from ..endpoints.pages import Pages

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from jinja2 import BaseLoader



class AuthEndpoints:
    """The auth routes as a WSGI application.

    :param options: :class:`~flask_authguard.AuthOptions`, a dict, or options resolved already.
    :param template_loader: a Jinja2 loader whose ``authguard/*.html`` templates replace the
        built-in pages (``jinja2.FileSystemLoader("templates")``).
    :raises ConfigurationError: a bad option or provider.
    """

    def __init__(
        self, options: OptionsArg | Config = None, *, template_loader: BaseLoader | None = None
    ) -> None:
        config = options if isinstance(options, Config) else resolve_options(options)
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
