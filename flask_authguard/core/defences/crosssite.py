"""Cross-site request defence for cookie-authenticated mutations and WebSocket handshakes.

A browser sends the session cookie with a ``POST`` from a sibling subdomain (``SameSite=Lax``
treats it as same-site), with top-level cross-site form posts in older browsers, and with a
WebSocket handshake from any page (cross-site WebSocket hijacking); next-auth's ``withAuth``
checks nothing. :func:`cross_site_reason` decides, for a state-changing request (any method but
``GET``, ``HEAD`` and ``OPTIONS``, compared as sent: ``patch`` is one) or a WebSocket handshake
that carries the session cookie, whether it comes from somewhere allowed, as OWASP's
Fetch-Metadata resource-isolation policy and Django's ``CSRF_TRUSTED_ORIGINS`` do:

1. ``Sec-Fetch-Site`` when the browser sends it: ``same-origin`` and ``none`` (the user typed
   or bookmarked it) pass; ``same-site`` and ``cross-site`` pass only when ``Origin`` is one of
   ``trusted_origins``;
2. else ``Origin``: the request's own origin (as the server, or ``ProxyFix``, reports it), the
   configured ``url``'s, or a trusted one; ``Origin: null`` never passes;
3. else ``Referer``'s origin, by the same rule;
4. none of the three: not a browser request that could be forged (every browser since 2020
   sends ``Origin`` on a ``POST``), so it passes.

Bearer-token requests and safe methods are not concerned: the caller asks only for requests
that carry the session cookie, and asks before decoding it (a forged mutation costs no decode).
:func:`forged_reason` is the whole rule; the guard answers it with 403, and every other place
that supplies the user's identity (the session read, ``g.auth_token``) with "no session".
"""

from __future__ import annotations

import typing as t

from werkzeug.wsgi import get_host

from ..settings.checks import normalize_origin
from ..settings.config import Config
from ..tokens.request_token import session_cookie_values

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: The methods that never change state, compared as sent: any other (``patch``, ``PROPFIND``)
#: is checked, as werkzeug and the frameworks route ``patch`` to a ``PATCH`` view.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Set in the environ of a WebSocket handshake by the ASGI layer (an ASGI ``websocket`` scope,
#: whose handshake may carry no ``Upgrade`` header: HTTP/2's extended CONNECT).
WEBSOCKET_KEY = "authguard.websocket"


def is_trusted(origin: str, trusted: t.Iterable[str]) -> bool:
    """Whether the normalised ``origin`` is one of ``trusted`` (``*.`` entries: any subdomain)."""
    for entry in trusted:
        if entry == origin:
            return True
        if "://*." in entry:
            scheme, _, rest = entry.partition("://*.")
            prefix, _, host = origin.partition("://")
            if prefix == scheme and host.endswith("." + rest):
                return True
    return False


def own_origins(environ: WSGIEnvironment, config: Config) -> set[str]:
    """The origins that are this app: the request's (scheme and ``Host``) and ``url``'s."""
    out: set[str] = set()
    try:
        host = get_host(environ)
    except Exception:  # a malformed Host header is no origin of ours
        host = ""
    if host:
        mine = normalize_origin(f"{environ.get('wsgi.url_scheme', 'http')}://{host}")
        if mine:
            out.add(mine)
    if config.url:
        url = config.url if "://" in config.url else "https://" + config.url
        configured = normalize_origin(url)
        if configured:
            out.add(configured)
    return out


def _allowed(value: str, environ: WSGIEnvironment, config: Config) -> bool:
    origin = normalize_origin(value)
    if origin is None:
        return False
    return origin in own_origins(environ, config) or is_trusted(origin, config.trusted_origins)


def cross_site_reason(environ: WSGIEnvironment, config: Config) -> str | None:
    """Why this cookie-authenticated request must be refused, or ``None`` to let it through.

    Only the method and the headers are looked at; the caller checks that the request
    carries the session cookie (:func:`by_session_cookie`).
    """
    if not config.cross_site_protection:
        return None
    method = environ.get("REQUEST_METHOD", "GET")
    if method in SAFE_METHODS:
        if not is_websocket(environ):
            return None
        method = "WebSocket handshake"  # a GET that opens a channel acting as the user
    else:
        method = _shown(method)
    origin = environ.get("HTTP_ORIGIN")
    site = environ.get("HTTP_SEC_FETCH_SITE")
    if site is not None:
        site = site.strip().lower()
        if site in ("same-origin", "none"):
            return None
        if origin and _allowed(origin, environ, config):
            return None
        shown = f" from {_shown(origin)}" if origin else ""
        return f"{method} with the session cookie from another site (Sec-Fetch-Site: {_shown(site)}){shown}"
    if origin is not None:
        if _allowed(origin, environ, config):
            return None
        return f"{method} with the session cookie from another origin (Origin: {_shown(origin)})"
    referer = environ.get("HTTP_REFERER")
    if referer is not None:
        if _allowed(referer, environ, config):
            return None
        referer_origin = normalize_origin(referer) or "unreadable"
        return (
            f"{method} with the session cookie from another origin (Referer origin: {_shown(referer_origin)})"
        )
    return None


def is_websocket(environ: WSGIEnvironment) -> bool:
    """Whether the request is a WebSocket handshake (an ASGI ``websocket`` scope, or a WSGI
    ``GET`` with ``Upgrade: websocket``)."""
    if environ.get(WEBSOCKET_KEY):
        return True
    upgrade = environ.get("HTTP_UPGRADE")
    return upgrade is not None and upgrade.strip().lower() == "websocket"


def forged_reason(environ: WSGIEnvironment, config: Config) -> str | None:
    """Why this request must not act as the user, or ``None``: a state-changing request or a
    WebSocket handshake from another site (:func:`cross_site_reason`) that the session cookie
    authenticates (:func:`by_session_cookie`; a Bearer header alone cannot be forged by a page).
    ``None`` whenever ``cross_site_protection`` is off."""
    if not config.cross_site_protection:
        return None
    if (
        environ.get("REQUEST_METHOD", "GET") in SAFE_METHODS
        and not environ.get(WEBSOCKET_KEY)
        and not environ.get("HTTP_UPGRADE")
    ):
        return None  # a safe method that opens no channel: nothing to forge
    reason = cross_site_reason(environ, config)
    if reason is None or not by_session_cookie(environ, config):
        return None
    return reason


def by_session_cookie(environ: WSGIEnvironment, config: Config) -> bool:
    """Whether the request carries the session cookie (which then authenticates it: the cookie
    shadows any Bearer header, as in next-auth)."""
    secure = config.is_secure(environ.get("wsgi.url_scheme", "http"))
    return bool(session_cookie_values(environ, config.session_cookies[secure].name)[1])


def refusal_body(reason: str) -> dict[str, str]:
    """The 403 JSON of a refused cross-site request: what happened and what to do."""
    return {
        "error": "CrossSiteRequest",
        "message": f"Refused: {reason}. If that page is your front end, add its origin to trusted_origins.",
    }


def _shown(value: str) -> str:
    """A header value fit for a message: printable, bounded."""
    text = "".join(c if c.isprintable() else "?" for c in value)
    return text if len(text) <= 100 else text[:100] + "..."
