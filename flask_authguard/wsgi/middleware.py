"""``with_auth``: next-auth's ``withAuth`` middleware for any WSGI app.

.. code-block:: python

    from flask_authguard import with_auth

    def inner(request):
        print(request.environ["authguard.token"])  # the decoded token

    application = with_auth(application, inner, {"secret": "..."}, matcher=["/dashboard/:path*"])

Per request, in order: CORS preflights (only with ``cors_preflight``), paths outside ``matcher``
and the skip list (the auth base path, the exact sign-in and error pages, ``/_next``,
``/favicon.ico``, all on ``PATH_INFO``) pass untouched; a ``Host`` outside ``trusted_hosts`` gets
400; no secret redirects to the error page with ``error=Configuration``; the token is read from
the session cookie or a Bearer header; ``callbacks.authorized`` decides; an authorized request runs the
inner middleware and then the app; an anonymous one is redirected (307) to the sign-in page with
a ``callbackUrl`` (401 JSON for API requests); a signed-in one that is refused gets 403.

Behind a proxy, wrap the result in ``werkzeug.middleware.proxy_fix.ProxyFix`` so redirects use
the public scheme and host. Redirects are absolute on the trusted origin
(:func:`~flask_authguard.core.defences.urls.link_origin`: ``url``, ``trusted_hosts``, ``trust_host`` or a
loopback host), relative otherwise.
"""

from __future__ import annotations

import typing as t

from ..core.defences.urls import under
from ..core.settings.options import AuthOptions, OptionsArg
from ..core.tokens.request_token import TOKEN_ENVIRON_KEY as TOKEN_ENVIRON_KEY
from ..guard.answers import Redirect
from ..guard.caching import cache_headers
from ..guard.decision import AuthCore, InnerMiddleware
from ..guard.incoming import browser_path, form_encode, is_api_request, normalize_path

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class WithAuth:
    """The WSGI app :func:`with_auth` returns; :attr:`core` holds the rules."""

    def __init__(self, app: WSGIApplication, core: AuthCore, *, mfa: bool = False) -> None:
        #: The wrapped app.
        self.app = app
        #: The shared rules.
        self.core = core
        #: Whether protected paths also need the second factor (``two_factor``).
        self.mfa = mfa

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        core = self.core
        if not core.is_protected(environ):
            return self.app(environ, start_response)

        def private_start(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            return start_response(status, cache_headers(headers), exc_info)

        refusal = core.check(environ, mfa=self.mfa)
        if refusal is not None:
            return refusal(environ, private_start)
        return self.app(environ, private_start)


def with_auth(
    app: WSGIApplication,
    middleware: InnerMiddleware | OptionsArg = None,
    options: OptionsArg = None,
    *,
    matcher: t.Any = None,
    mfa: bool = False,
) -> WithAuth:
    """Wrap a WSGI app with next-auth's ``withAuth`` semantics.

    The forms of next-auth: ``with_auth(app)``, ``with_auth(app, middleware)``,
    ``with_auth(app, middleware, options)``, ``with_auth(app, options=options)`` and
    ``with_auth(app, options)`` (options in second place, told apart by type).

    :param app: any WSGI application.
    :param middleware: ``middleware(request)`` run for authorized requests: return ``None``
        to go on to ``app``, or a werkzeug ``Response`` (any WSGI app) to answer instead.
        The token is in ``request.environ["authguard.token"]``.
    :param options: :class:`~flask_authguard.AuthOptions` or a dict with the same keys. With
        ``providers`` (and ``endpoints`` left on), the auth routes
        (:class:`~flask_authguard.AuthEndpoints`) are served under the base path too.
    :param matcher: Next.js ``config.matcher`` patterns; ``None`` protects every path.
    :param mfa: the protected paths also need the second factor (``two_factor``): a session
        without it is sent to enrol or enter a code (401 JSON for APIs).
    :raises ConfigurationError: a bad option or matcher pattern.
    """
    if not callable(app):
        raise TypeError(f"with_auth needs a WSGI app, not {app!r}")
    if middleware is not None and not callable(middleware):
        if options is not None or not isinstance(middleware, (AuthOptions, t.Mapping)):
            raise TypeError(
                "with_auth(app, middleware, options): middleware must be callable, "
                f"and options AuthOptions or a dict, not {middleware!r}"
            )
        middleware, options = None, t.cast(OptionsArg, middleware)
    core = AuthCore(options, matcher=matcher, middleware=middleware)
    if core.config.options.providers and core.config.options.endpoints:
        from .endpoints import AuthEndpoints, EndpointsFirst

        # One wrap gives a plain WSGI app sign-in, sign-out and the session route.
        app = EndpointsFirst(AuthEndpoints(core.runtime), app)
    return WithAuth(app, core, mfa=mfa)


__all__ = [
    "TOKEN_ENVIRON_KEY",
    "AuthCore",
    "InnerMiddleware",
    "OptionsArg",
    "Redirect",
    "WithAuth",
    "browser_path",
    "form_encode",
    "is_api_request",
    "normalize_path",
    "under",
    "with_auth",
]
