"""The guard's decision, written once and framework-free: :class:`AuthCore`.

``with_auth`` (WSGI), ``AuthGuard`` (Flask: site-wide, ``protect``, ``@auth_required``) and the
ASGI layer (``AuthMiddleware``, ``require_auth``) all call :meth:`AuthCore.is_protected` and
:meth:`AuthCore.check`, and only adapt the answer: ``None`` to go on to the app, else the
refusal as a WSGI app (a werkzeug ``Response`` or a :class:`~.answers.Redirect`).

The steps, in order: the path (normalised, ``PATH_INFO`` rewritten) -> skip list and CORS
preflight -> matcher -> ``trusted_hosts`` -> a secret is configured -> cross-site refusal (before
any decode) -> the token -> ``authorized`` -> a recent sign-in (``max_age``) -> the second factor
(``mfa``) -> the inner middleware -> refusal or pass. The inner middleware comes last: it runs
only for a request every check let through, and its answer never stands in for a check.
"""

from __future__ import annotations

import logging
import typing as t
from urllib.parse import unquote

from werkzeug.exceptions import BadRequest, SecurityError
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_host

from ..core._compat import call_sync
from ..core.defences import crosssite
from ..core.defences.crosssite import SAFE_METHODS, WEBSOCKET_KEY
from ..core.defences.hosts import trusted_host
from ..core.defences.urls import link_origin, mount_path, under
from ..core.errors import BackendUnavailableError
from ..core.http.clients import answers_json
from ..core.matcher import Matcher, compile_matcher
from ..core.runtime import Runtime, runtime_for
from ..core.settings.config import Config
from ..core.settings.options import NO_SECRET, OptionsArg
from ..core.tokens.request_token import TOKEN_CONFIG_KEY as _TOKEN_CONFIG_KEY
from ..core.tokens.request_token import TOKEN_ENVIRON_KEY as TOKEN_ENVIRON_KEY
from ..core.tokens.request_token import Claims
from ..sessions import strategy_of
from . import step_up
from .answers import Redirect, json_response, unavailable_json
from .caching import CHECKED_KEY
from .incoming import browser_path, normalize_path, page_path, text_path, with_param
from .two_factor import mfa_refusal

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

logger = logging.getLogger("flask_authguard")

_INNER_KEY = "authguard.inner_ran"

#: ``middleware(request)``: ``None`` to go on, or a Response / WSGI app to answer with.
InnerMiddleware = t.Callable[[Request], t.Any]

#: Set (``True``) on a check a front end runs after its site-wide one (Flask's ``@auth_required``
#: views and protected blueprints' hooks, the ASGI ``require_auth`` dependency): the site-wide
#: check then leaves the inner middleware to it (``check(..., inner=False)``), so the inner
#: middleware runs after the strictest check, and its answer never stands in for one.
CHECK_ATTR = "_authguard_check"

_ALWAYS_PUBLIC = ("/_next", "/favicon.ico")


#: Distinct sign-in redirects kept per :class:`AuthCore` (they depend on the request's host,
#: script root, path and query); when full, the cache starts again. Kept: building one costs
#: about 40 µs (``browser_path``, the trusted origin, ``iri_to_uri``), and the refusal rows'
#: targets (``with_auth`` and ``AuthGuard`` without a cookie) need it.
REDIRECT_CACHE_SIZE = 256


class AuthCore:
    """The rules of ``withAuth``, shared by :func:`with_auth` and the Flask extension.

    :param options: :class:`~flask_authguard.AuthOptions`, a dict, or ``None``.
    :param matcher: Next.js ``config.matcher`` patterns; ``None`` protects every path.
    :param middleware: the inner middleware, run for authorized requests.
    """

    def __init__(
        self,
        options: OptionsArg | Config | Runtime = None,
        *,
        matcher: t.Any = None,
        middleware: InnerMiddleware | None = None,
        public_prefixes: t.Sequence[str] = (),
    ) -> None:
        #: The options' one runtime (shared with every other entry point given the same options).
        self.runtime = runtime_for(options)
        #: The resolved options.
        self.config = self.runtime.config
        #: Where sessions live, chosen once: :class:`~flask_authguard.sessions.JwtSessions` or
        #: :class:`~flask_authguard.sessions.DatabaseSessions`.
        self.sessions = strategy_of(self.config)
        #: The compiled matcher.
        self.matcher: Matcher = compile_matcher(matcher)
        self._match_all = self.matcher.match_all
        if middleware is not None and not callable(middleware):
            raise TypeError(f"middleware must be callable, not {middleware!r}")
        #: The inner middleware.
        self.middleware = middleware
        self._public = tuple(_ALWAYS_PUBLIC) + tuple(public_prefixes)
        # A page configured with a query (``/login?src=mw``) is still served at its path: comparing
        # the whole string, as next-auth does, would redirect the sign-in page to itself.
        pages = (page_path(self.config.sign_in_page), page_path(self.config.error_page))
        self._pages = frozenset(p for p in pages if p)
        # The skip list, precomputed for the per-request check: exact paths and "<prefix>/", as
        # text (a page configured as "/anmeldung-%C3%BC" or "/anmeldung-ü" is the same page),
        # since the request's path is compared as text (text_path).
        base = unquote(self.config.base_path)
        public = [unquote(p) for p in self._public]
        self._skip_exact = {unquote(p) for p in self._pages} | {base, *public}
        self._skip_prefixes = tuple(p.rstrip("/") + "/" for p in (base, *public))
        self._redirects: dict[tuple[t.Any, ...], Redirect] = {}

    # -- the token -------------------------------------------------------------------------

    def token(self, environ: WSGIEnvironment) -> Claims | None:
        """The request's decoded token, decoded once per request and kept in the environ;
        ``None`` for a cookie-authenticated mutation or WebSocket handshake from another site
        (``g.auth_token`` on a route the guard does not check must not act as the user either).
        """
        if environ.get(_TOKEN_CONFIG_KEY) is self.config:  # set only once the token is read
            return t.cast("Claims | None", environ.get(TOKEN_ENVIRON_KEY))
        reason = crosssite.forged_reason(environ, self.config)
        if reason is not None:  # defence: the same rule as the guard's 403, as "no token"
            logger.info("cross-site request, read as signed out: %s", reason)
            environ[TOKEN_ENVIRON_KEY] = None
            environ[_TOKEN_CONFIG_KEY] = self.config
            return None
        return self._decoded(environ)

    def _decoded(self, environ: WSGIEnvironment) -> Claims | None:
        """The token decoded now and kept in the environ (the caller has ruled out a forgery)."""
        token = self.sessions.token(environ)
        environ[TOKEN_ENVIRON_KEY] = token
        environ[_TOKEN_CONFIG_KEY] = self.config
        return token

    # -- which requests are checked ----------------------------------------------------------

    def path(self, environ: WSGIEnvironment) -> str:
        """The normalised path; ``PATH_INFO`` is rewritten to it so the app serves what was checked.

        Computed from the current ``PATH_INFO`` each time: a dispatcher between two layers may
        have moved a prefix into ``SCRIPT_NAME`` since.
        """
        raw: str = environ.get("PATH_INFO", "")
        path = normalize_path(raw)
        if path != raw and raw:  # "" and "/" route alike; leave an empty PATH_INFO alone
            environ["PATH_INFO"] = path
        return path

    def is_skipped(self, environ: WSGIEnvironment, path: str) -> bool:
        """Public whatever the matcher says: the auth endpoints, the sign-in and error pages,
        ``/_next``, ``/favicon.ico`` and extra public prefixes (segment boundaries), all of them
        compared with ``path`` (``PATH_INFO``) alone, as text (see :meth:`is_protected`)."""
        # Only the path the app routes on counts: ``SCRIPT_NAME`` can come from the client
        # (gunicorn's SCRIPT_NAME header, ProxyFix's X-Forwarded-Prefix), so it never opens a path.
        return self._in_skip_list(path if path.isascii() else text_path(path))

    def _in_skip_list(self, text: str) -> bool:
        """Whether the path ``text`` (already decoded: :func:`~.incoming.text_path`) is on the
        skip list: one of its exact paths, or under one of its prefixes."""
        return text in self._skip_exact or text.startswith(self._skip_prefixes)

    def is_preflight(self, environ: WSGIEnvironment) -> bool:
        """A CORS preflight the options let through: ``OPTIONS`` with ``Origin`` and
        ``Access-Control-Request-Method``, and ``cors_preflight`` on. Any other ``OPTIONS``
        is checked like any method: a plain WSGI app may well serve its page to it."""
        return (
            self.config.cors_preflight
            and environ.get("REQUEST_METHOD") == "OPTIONS"
            and bool(environ.get("HTTP_ORIGIN"))
            and bool(environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"))
        )

    def is_protected(self, environ: WSGIEnvironment, path: str | None = None) -> bool:
        """Whether the guard checks this request at all: the path (normalised first: the app
        must see the normalised path in every case), CORS preflight, skip list, matcher.

        The skip list and the matcher compare the path as text, decoded from WSGI's latin-1
        (:func:`~.incoming.text_path`): the path the app routes on, and the one a browser shows,
        so ``/café/:path*`` protects ``/café/menu`` whichever front end carried it. Percent-escapes
        in the matcher's entries and in the configured pages are decoded at start-up
        (``/caf%C3%A9/:path*`` is ``/café/:path*``), so either spelling of a page works.

        :param path: the path :meth:`path` gave for this request already (a layer in front
            normalised it), else ``None``: normalised now.
        """
        if path is None:
            path = self.path(environ)
        if self.config.cors_preflight and self.is_preflight(environ):
            return False
        if not path.isascii():  # an ASCII path reads the same as text
            path = text_path(path)
        if self._in_skip_list(path):
            return False
        return self._match_all or self.matcher.matches(path, environ)

    # -- the decision ------------------------------------------------------------------------

    def check(
        self,
        environ: WSGIEnvironment,
        authorized: t.Callable[..., t.Any] | None = None,
        *,
        request: Request | None = None,
        max_age: int | None = None,
        mfa: bool = False,
        inner: bool = True,
    ) -> WSGIApplication | None:
        """The guard's decision for a request it protects: ``None`` to go on to the app, else
        the answer that refuses it, or, for a request that passed every check, the inner
        middleware's own answer (:meth:`run_inner`).

        :param authorized: overrides ``callbacks.authorized`` (per view or blueprint).
        :param max_age: step-up sign-in: an authorized session that signed in longer ago is
            sent to sign in again (:mod:`~flask_authguard.guard.step_up`).
        :param mfa: the session must have passed the second factor
            (:mod:`~flask_authguard.guard.two_factor`), checked after ``max_age``.
        :param inner: run the inner middleware for a request that passes; ``False`` when a
            stricter check of the same request follows (it runs the inner middleware then).
        """
        environ[CHECKED_KEY] = True  # its answer, whatever it is, depends on who asks
        config = self.config
        trusted = config.trusted_hosts
        if trusted is not None and trusted_host(environ, trusted) is None:
            # No redirect may take its origin from a host we were not told to serve.
            logger.warning("request for an untrusted host refused (400); see trusted_hosts")
            from ..endpoints.pages import http_error_answer

            refusal = SecurityError("The request's host is not one this site serves.")
            return http_error_answer(refusal, environ, config)
        if not (config.secrets or config.current_secrets()):
            logger.error(NO_SECRET)
            return self.config_error(environ)
        # defence: cross-site, before the token is read (a forgery costs no decode); a safe
        # method that opens no channel has nothing to forge
        if config.cross_site_protection and (
            environ.get("REQUEST_METHOD", "GET") not in SAFE_METHODS
            or WEBSOCKET_KEY in environ
            or "HTTP_UPGRADE" in environ
        ):
            refused = self.cross_site(environ)
            if refused is not None:
                return refused
        try:
            if environ.get(_TOKEN_CONFIG_KEY) is config:
                token = environ.get(TOKEN_ENVIRON_KEY)
            else:  # the cross-site rule ran just above: decode without asking it again
                token = environ[TOKEN_ENVIRON_KEY] = self.sessions.token(environ)
                environ[_TOKEN_CONFIG_KEY] = config
            check = authorized or config.callbacks.authorized
            if check is None:
                allowed = token is not None
            else:
                if request is None:
                    request = Request(environ)
                allowed = bool(call_sync(check, request=request, token=token))
            stale = max_age is not None and allowed and step_up.is_stale(self, environ, token, max_age)
        except BackendUnavailableError as exc:
            logger.error("session store unavailable, answering 503 for %s: %s", self.path(environ), exc)
            return self.unavailable(environ)
        if not allowed:
            return self.deny(environ, token)
        if stale and max_age is not None:
            return step_up.sign_in_again(self, environ, max_age)
        if mfa:
            second = mfa_refusal(self, environ)
            if second is not None:
                return second
        if inner and self.middleware is not None:
            return self.run_inner(environ)
        return None

    def cross_site(self, environ: WSGIEnvironment) -> Response | None:
        """403 JSON for a state-changing request or a WebSocket handshake that carries the
        session cookie and comes from another origin (see :mod:`flask_authguard.core.defences.crosssite`),
        else ``None``.

        Decided on the headers alone, before the cookie is decoded (or a database session
        looked up): a forged mutation costs no decode, and is refused whether or not the cookie
        still holds a valid session.
        """
        reason = crosssite.forged_reason(environ, self.config)
        if reason is None:
            return None
        logger.info("cross-site request refused: %s", reason)
        return json_response(403, crosssite.refusal_body(reason))

    def config_error(self, environ: WSGIEnvironment) -> Redirect:
        """next-auth's answer to a missing secret: 307 to the error page, ``error=Configuration``."""
        return Redirect(self._page_url(environ, self.config.error_page, "error", "Configuration"))

    def unavailable(self, environ: WSGIEnvironment) -> Response:
        """503 with ``Retry-After`` when the session store fails: JSON for API requests, else
        the library's page (a link to sign in, back to this page). Nobody is signed out."""
        if answers_json(self.config, environ):
            return unavailable_json()
        from ..endpoints.messages import NOTICES
        from ..endpoints.pages import page_notice

        code = "ServiceUnavailable"
        callback = browser_path(environ, self.path(environ))
        response = page_notice(environ, self.config, NOTICES[code], code, callback=callback)
        response.headers["Retry-After"] = "5"
        return response

    def deny(self, environ: WSGIEnvironment, token: Claims | None) -> WSGIApplication:
        """The refusal: sign-in redirect (401 JSON for APIs) when anonymous, else 403."""
        config = self.config
        api = answers_json(config, environ)
        if token is not None:
            if config.options.forbidden is not None:
                answer = call_sync(config.options.forbidden, request=Request(environ), token=token)
                if answer is not None:  # None: the default answer below; never "let it through"
                    if not callable(answer):
                        raise TypeError("forbidden must return None, a Response or a WSGI app")
                    return t.cast("WSGIApplication", answer)
            if api:
                return json_response(
                    403, {"error": "Forbidden", "message": "You do not have access to this resource."}
                )
            from ..endpoints.pages import forbidden_response

            # a way home, and a way to sign out and back in to this page with another account
            callback = browser_path(environ, self.path(environ))
            return forbidden_response(environ, config, callback=callback)
        path = self.path(environ)
        if not api:
            return self.sign_in_redirect(environ, path)
        callback = browser_path(environ, path)
        location = self._page_url(environ, config.sign_in_page, "callbackUrl", callback)
        realm = get_host(environ).replace('"', "")
        return json_response(
            401,
            {"error": "Unauthorized", "message": "Sign in to access this resource.", "url": location},
            {"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )

    def sign_in_redirect(self, environ: WSGIEnvironment, path: str) -> Redirect:
        """The 307 to the sign-in page with this request's ``callbackUrl``.

        Kept per request origin, script root, path and query (what the URL is made of), so a
        repeat of the same refusal builds nothing."""
        get = environ.get
        key: tuple[t.Any, ...] | None = (
            get("wsgi.url_scheme"),
            get("HTTP_HOST"),
            get("SERVER_NAME"),
            get("SERVER_PORT"),
            get("SCRIPT_NAME", ""),
            path,
            get("RAW_URI"),
            get("REQUEST_URI"),
            get("QUERY_STRING", ""),
        )
        try:
            redirect = self._redirects.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable environ value: build it without the cache
            key, redirect = None, None
        if redirect is None:
            callback = browser_path(environ, path)
            redirect = Redirect(self._page_url(environ, self.config.sign_in_page, "callbackUrl", callback))
            if key is not None:
                if len(self._redirects) >= REDIRECT_CACHE_SIZE:
                    self._redirects.clear()
                self._redirects[key] = redirect
        return redirect

    def sign_in_url(self, environ: WSGIEnvironment, callback: str) -> str:
        """The sign-in page's URL with ``callbackUrl=callback``, on the trusted origin."""
        return self._page_url(environ, self.config.sign_in_page, "callbackUrl", callback)

    def _page_url(self, environ: WSGIEnvironment, page: str, param: str, value: str) -> str:
        """``page`` with ``param=value``: on the trusted origin (:func:`link_origin`), else
        relative, which the browser resolves against the URL it asked for."""
        if "://" in page:
            return with_param(page, param, value)
        script = environ.get("SCRIPT_NAME", "")
        mount = "" if not script or under(page, script) else mount_path(script)
        try:
            origin = link_origin(self.config, environ) or ""
        except BadRequest:  # an unusable Host header (an untrusted one was refused before)
            origin = ""
        return with_param(origin + mount + page, param, value)

    def run_inner(self, environ: WSGIEnvironment) -> WSGIApplication | None:
        """Run the inner middleware: its answer, or ``None`` to go on to the app."""
        ran: tuple[AuthCore, ...] = environ.get(_INNER_KEY, ())
        if self.middleware is None or any(core is self for core in ran):
            return None  # once per request and core (a view check may follow the site-wide one)
        environ[_INNER_KEY] = (*ran, self)
        result = call_sync(self.middleware, Request(environ))
        if result is not None and not callable(result):
            raise TypeError("the inner middleware must return None, a Response or a WSGI app")
        return t.cast("WSGIApplication | None", result)


__all__ = ["CHECK_ATTR", "AuthCore", "InnerMiddleware", "TOKEN_ENVIRON_KEY"]
