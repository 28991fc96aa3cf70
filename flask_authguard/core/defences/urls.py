"""The one answer to "is this URL safe to send the user to?", and the app's origin.

:func:`safe_redirect` is next-auth's default ``redirect`` callback, hardened; :func:`checked_target`
is the check every other target (a custom callback's answer) passes; :func:`base_url_of` is the
origin redirects and page links are built on (:func:`link_origin`, the trusted-origin rule), and
:func:`mount_path` the app's mount point between that origin and the path.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import quote, urlsplit

from werkzeug.exceptions import SecurityError

from .hosts import checked_host, is_loopback, trusted_host

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.wrappers import Request

    from ..settings.config import Config

#: Characters never allowed in a redirect target: controls, space, backslash (browsers read
#: ``\\`` as ``/`` and drop tabs and newlines, which turns ``/\\evil.com`` into ``//evil.com``),
#: and lone surrogates (a JSON ``"\\ud800"``: no UTF-8 spelling, so no ``Location`` either).
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f-\x9f\\\ud800-\udfff]")
#: Longer redirect targets fall back to the base URL (proxies refuse huge Location headers).
MAX_REDIRECT_LENGTH = 4096
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
#: Where the endpoints leave the request's auth URL (origin, mount point, base path) for the
#: providers: an OAuth callback sends the ``redirect_uri`` its first step sent.
AUTH_URL_ENVIRON_KEY = "authguard.auth_url"
#: What stays as it is in a mount path: RFC 3986 ``pchar`` and ``/`` (no ``%``, no backslash).
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def location(url: str) -> str:
    """A URL as an ASCII ``Location`` value: non-ASCII (and quotes, brackets...) percent-encoded."""
    return quote(url, safe=_URL_SAFE)


def acceptable(url: t.Any) -> bool:
    """A non-empty string of sane length without controls, whitespace, backslashes or lone
    surrogates."""
    return (
        isinstance(url, str) and bool(url) and len(url) <= MAX_REDIRECT_LENGTH and not _UNSAFE_URL.search(url)
    )


def under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or below it, on a segment boundary."""
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def safe_redirect(url: t.Any, base_url: str) -> str:
    """next-auth's default ``redirect`` callback, hardened against open redirects.

    A single-slash relative path is joined to ``base_url``; an absolute ``http(s)`` URL passes
    only with exactly ``base_url``'s origin (scheme, host and port); everything else gives
    ``base_url``: ``//host``, ``/\\host``, backslashes, control characters, whitespace, lone
    surrogates, other schemes (``javascript:``, ``data:``), userinfo tricks (``https://app@evil``),
    lookalike hosts (``https://app.example.com.evil.com``), non-strings.

    :param url: the requested target (``callbackUrl``).
    :param base_url: the app's origin, ``scheme://host[:port]``, no trailing slash.
    :returns: an absolute URL, ASCII-only.
    """
    if not acceptable(url):
        return base_url
    if url.startswith("/"):
        return base_url if url.startswith("//") else location(base_url + url)
    try:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
    except ValueError:
        return base_url
    if parts.scheme in ("http", "https") and origin == base_url:
        return location(url)
    return base_url


def checked_target(url: t.Any, base_url: str) -> str | None:
    """What a custom ``redirect`` callback returned, made sendable: a single-slash path joined
    to ``base_url``, or an ``http(s)`` URL with a host (any origin: the callback allowed it);
    ``None`` for anything else (``//host``, other schemes, controls, a port out of range)."""
    if not acceptable(url):
        return None
    if url.startswith("/"):
        return None if url.startswith("//") else location(base_url + url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range, which werkzeug cannot send
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return location(url)


def link_origin(config: Config, environ: WSGIEnvironment) -> str | None:
    """The trusted-origin rule, the one answer to "which origin may a link use?": every
    absolute link built for a request (the email sign-in link, an OAuth ``redirect_uri``, the
    endpoints' redirects, the guard's sign-in redirect) starts with what it returns.

    1. ``trusted_hosts`` set and the ``Host`` header not listed: refused (400), first of all.
    2. ``url`` (``NEXTAUTH_URL``) set: ``url``'s origin, whatever the request says.
    3. The request's ``scheme://host`` when its host is trusted: listed in ``trusted_hosts``,
       any host with ``trust_host`` (``AUTH_TRUST_HOST``), or a loopback host (``localhost``,
       ``127.0.0.1``, ``::1``: development).
    4. Otherwise ``None``: no trusted origin. The auth routes answer the Configuration error;
       the guard redirects with a relative ``Location``.

    Without the rule, ``Host: evil.example`` on ``POST /api/auth/signin/email`` mailed the victim
    a genuine link to ``http://evil.example/...&token=...`` (Auth.js refuses such hosts unless
    ``trustHost``; next-auth v4 builds on ``NEXTAUTH_URL``).

    :raises SecurityError: ``trusted_hosts`` is set and does not list the request's host (400).
    :raises BadRequest: the origin would come from a ``Host`` header that is not a host name or
        address with a port in range.
    """
    trusted = config.trusted_hosts
    if trusted is not None and trusted_host(environ, trusted) is None:
        raise SecurityError("The request's host is not one this site serves.")
    if config.url_origin is not None:
        return config.url_origin
    host = checked_host(environ)
    if trusted is None and not config.trust_host and not is_loopback(host):
        return None
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def base_url_of(config: Config, request: Request) -> str | None:
    """The app's origin for links, :func:`link_origin` for a werkzeug request: ``url``'s, else
    the request's when its host is trusted; ``None`` when no trusted origin exists.

    :raises SecurityError: ``trusted_hosts`` does not list the request's host.
    :raises BadRequest: the origin would come from an unusable ``Host`` header.
    """
    return link_origin(config, request.environ)


def mount_path(script_root: str) -> str:
    """The app's mount point (``SCRIPT_NAME``) as the path part of a link: ``""``, or ``/`` and
    the rest percent-encoded. ``SCRIPT_NAME`` may come from the client (ProxyFix's
    ``X-Forwarded-Prefix``): ``.evil.example`` or ``:443@evil.example`` after an origin would
    move the link to another host, and ``//evil.example`` or ``/\\evil.example`` would make a
    relative link protocol-relative; here a link always goes on with one ``/`` after its origin.
    """
    path = script_root.strip("/")
    if not path:
        return ""
    return "/" + quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE)
