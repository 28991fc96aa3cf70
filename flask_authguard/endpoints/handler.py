"""The ``/api/auth/...`` endpoints: next-auth's route handler on werkzeug's Request and Response.

:class:`AuthHandler` turns a request under the auth base path into a response, with no
framework in it; :class:`~flask_authguard.AuthEndpoints` serves it as a WSGI app (``with_auth``
mounts it when the options have providers) and :class:`~flask_authguard.AuthGuard` routes its
base path to it.

============================  ==========================================================
``GET  /session``             the session JSON (same code as ``get_server_session``)
``POST /session``             update the session (CSRF; ``callbacks.jwt`` gets
                              ``trigger="update"`` and the posted ``data``)
``GET  /csrf``                ``{"csrfToken": ...}``
``GET  /providers``           the configured providers
``GET  /signin``              the sign-in page (or a redirect to ``pages.sign_in``)
``POST /signin/<id>``         start signing in with a provider (CSRF)
``GET|POST /callback/<id>``   finish signing in (credentials: POST with CSRF)
``GET  /signout``             the sign-out page (or a redirect to ``pages.sign_out``)
``POST /signout``             sign out (CSRF)
``GET  /error``               the error page (or a redirect to ``pages.error``)
``GET  /verify-request``      "check your email" after an email link was sent (or a
                              redirect to ``pages.verify_request``; 400 without an email
                              provider)
``POST /_log``                next-auth's client logger (``{}``)
``GET|POST /two-factor``      ``two_factor``: enrol, or the second factor's state
                              (:mod:`.two_factor`)
``GET|POST /two-factor/verify``  ``two_factor``: the code of a waiting sign-in
``GET  /webauthn-options/<id>``, ``GET|POST /passkeys``, ``GET /passkey.js``
                              passkeys (:mod:`.passkeys`; 400 without a passkey provider)
============================  ==========================================================

Anything else under the base path answers next-auth's 400 (the error page's layout, or JSON for
JSON clients, as every answer that is not a redirect: 413, a bad ``Host``, 429, 503). Redirects
are 302; a POST with ``json=true`` answers ``{"url": ...}`` instead, for fetch-based clients such as
``next-auth/react``. Every URL the user goes to next passes ``callbacks.redirect`` (default
:func:`~flask_authguard.core.defences.urls.safe_redirect`: same origin only). Bodies over 64 KB answer 413.
Links are built on the trusted origin (:func:`~flask_authguard.core.defences.urls.link_origin`): a host
``trusted_hosts`` does not list gets 400, and with no trusted origin for the host every route
but ``/session``, ``/csrf`` and ``/_log`` answers the Configuration error.
"""

from __future__ import annotations

import logging
import typing as t

from werkzeug.exceptions import BadRequest, HTTPException, NotFound
from werkzeug.wrappers import Response

from ..core.defences.hosts import TRUST_ADVICE
from ..core.defences.urls import safe_redirect
from ..core.errors import BackendUnavailableError, ConfigurationError
from ..core.settings.config import Config
from ..core.settings.options import NO_SECRET
from ..core.tokens.request_token import CONFIG_ENVIRON_KEY
from ..providers.base import check_providers
from . import error_route, passkeys, session_route, signin, signout, two_factor
from .error_route import configuration_error, configuration_json
from .flow import Flow, unsupported
from .messages import ERROR_PAGES, NO_CACHE, PAGE_HEADERS, SIGNIN_ERRORS, SIGNIN_MESSAGES
from .pages import Pages, default_pages, http_error_answer

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from ..providers.base import Provider

logger = logging.getLogger("flask_authguard")

Action = t.Callable[[Flow, "str | None"], Response]

#: ``(action, has a provider id)`` -> method -> what answers it.
ROUTES: dict[tuple[str, bool], dict[str, Action]] = {
    ("session", False): {"GET": session_route.session_get, "POST": session_route.session_update},
    ("csrf", False): {"GET": session_route.csrf},
    ("providers", False): {"GET": session_route.providers_list},
    ("signin", False): {"GET": signin.signin_page},
    ("signin", True): {"POST": signin.signin_start},
    ("callback", True): {"GET": signin.callback, "POST": signin.callback},
    ("signout", False): {"GET": signout.signout_page, "POST": signout.signout},
    ("error", False): {"GET": error_route.error_page},
    ("verify-request", False): {"GET": signin.verify_request_page},
    ("_log", False): {"POST": session_route.client_log},
    ("two-factor", False): {"GET": two_factor.settings_page, "POST": two_factor.settings},
    ("two-factor", True): {"GET": two_factor.verify_page, "POST": two_factor.verify},
    ("webauthn-options", True): {"GET": passkeys.webauthn_options},
    ("passkeys", False): {"GET": passkeys.manage_page, "POST": passkeys.remove},
    ("passkey.js", False): {"GET": passkeys.script},
}
#: The routes whose answers are JSON whoever asks (fetched by next-auth's client).
_JSON_ROUTES = frozenset({"session", "csrf", "providers", "_log", "webauthn-options"})
#: The routes that answer without a secret: the error page is where a missing secret sends people.
_NO_SECRET_NEEDED = frozenset({"error"})
#: The routes that build no link, served on any host (the session JSON, the CSRF token, the
#: client logger); every other one needs a trusted origin (``core.urls.link_origin``).
_NO_LINK_BUILT = frozenset({"session", "csrf", "_log"})


class AuthHandler:
    """The endpoints for one set of resolved options: ``handler(request) -> Response``.

    :param config: the resolved options (shared with the guard, so the token is decoded once).
    :param pages: the page renderer; default the built-in templates.
    :raises ConfigurationError: a provider is not usable (checked here, at start-up).
    """

    def __init__(self, config: Config, pages: Pages | None = None) -> None:
        #: The resolved options.
        self.config = config
        #: The providers by id.
        self.providers: dict[str, Provider] = check_providers(config.options.providers, config)
        #: The page renderer.
        self.pages = pages or default_pages()
        base = config.base_path.rstrip("/")
        self._base = base
        self._prefix = base + "/"
        if self.providers and not (config.url or config.trusted_hosts or config.trust_host):
            logger.warning(
                "no trusted origin configured: sign-in links and redirects are built only for "
                "loopback hosts (localhost), other hosts get the Configuration error; %s",
                TRUST_ADVICE,
            )

    def locate(self, environ: t.Mapping[str, t.Any]) -> tuple[str, str] | None:
        """``(script_root, action path)`` when the request is under the base path, else ``None``.

        The base path is looked for in ``PATH_INFO`` (the handler inside an app), else at the
        end of ``SCRIPT_NAME`` (the handler mounted at the base path by a dispatcher).
        """
        script: str = environ.get("SCRIPT_NAME", "")
        path: str = environ.get("PATH_INFO", "")
        if path == self._base or path.startswith(self._prefix):
            return script.rstrip("/"), path[len(self._base) :]
        # The base path starts with "/": a match at the end of SCRIPT_NAME is on a segment boundary.
        if self._base and script.endswith(self._base):
            return script[: len(script) - len(self._base)], path
        return None

    def __call__(self, request: Request) -> Response:
        """The response to ``request``, HTTP errors (400 bad Host, 413) included."""
        try:
            return self.respond(request)
        except HTTPException as exc:
            return exc.get_response(request.environ)

    def respond(self, request: Request) -> Response:
        """The response to ``request``; HTTP errors are raised as ``werkzeug.exceptions``
        (a framework's error handlers may render them; left alone, they answer the library's
        page, or JSON for JSON clients).

        A request whose host gives no trusted origin (no ``url``, ``trusted_hosts`` or
        ``trust_host``, and not loopback) gets the Configuration error on every route that
        builds a link; ``/session``, ``/csrf`` and ``/_log`` build none and answer.

        :raises HTTPException: 400 for an unusable ``Host`` header or one ``trusted_hosts``
            does not list, 413 for a body over 64 KB, 404 for a path outside the base path.
        """
        found = self.locate(request.environ)
        if found is None:
            raise NotFound()
        script_root, action_path = found
        # "/<action>" or "/<action>/<provider id>"; "/signin/" or deeper paths match nothing.
        name, slash, provider_id = action_path[1:].partition("/")
        valid = not slash or (provider_id and "/" not in provider_id)
        routes = ROUTES.get((name, bool(slash))) if valid else None
        method = "GET" if request.method == "HEAD" else request.method
        action = routes.get(method) if routes else None
        request.environ[CONFIG_ENVIRON_KEY] = self.config
        try:
            _check_query(request)
            f = Flow(request, self.config, self.providers, self.pages, script_root)
            if method == "POST":
                f.form  # noqa: B018 - read now: the body limit (413) holds on every route
        except HTTPException as exc:
            # the library's page (or JSON) for whoever does not handle the error itself
            exc.response = http_error_answer(exc, request.environ, self.config, self.pages)
            raise
        if action is None:
            return unsupported(f)  # OPTIONS too, as in next-auth
        if name not in _NO_SECRET_NEEDED and not self.config.current_secrets():
            logger.error("auth endpoint: %s", NO_SECRET)
            return configuration_error(f, name)
        if not f.trusted and name not in _NO_LINK_BUILT:
            logger.warning("auth endpoint: no trusted origin for this request's host; %s", TRUST_ADVICE)
            return configuration_error(f, name)
        try:
            return action(f, provider_id or None)
        except ConfigurationError as exc:
            logger.error("auth endpoint: %s", exc)
            return configuration_json()
        except BackendUnavailableError as exc:
            logger.error("auth endpoint: session store unavailable: %s", exc)
            retry = {"Retry-After": "5"}
            return f.notice("ServiceUnavailable", headers=retry, force_json=name in _JSON_ROUTES)


def _check_query(request: Request) -> None:
    """Read the query's arguments now, so that every route can.

    :raises BadRequest: the query string is not UTF-8: raw bytes such as ``0xFF``, which a
        server that passes the request line through hands on, make werkzeug raise
        ``UnicodeDecodeError`` (a 500) wherever the arguments are read.
    """
    try:
        request.args  # noqa: B018 - werkzeug parses and keeps them on first access
    except UnicodeDecodeError:
        raise BadRequest("The query string is not UTF-8.") from None


__all__ = [
    "ERROR_PAGES",
    "NO_CACHE",
    "PAGE_HEADERS",
    "ROUTES",
    "SIGNIN_ERRORS",
    "SIGNIN_MESSAGES",
    "AuthHandler",
    "safe_redirect",
]
