"""The one answer to "is this URL safe to send the user to?", and the app's origin.

:func:`safe_redirect` is next-auth's default ``redirect`` callback, hardened; :func:`checked_target`
is the check every other target (a custom callback's answer) passes; :func:`base_url_of` is the
origin redirects and page links are built on.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import quote, urlsplit

from werkzeug.exceptions import BadRequest

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from .config import Config

#: Characters never allowed in a redirect target: controls, space, backslash (browsers read
#: ``\\`` as ``/`` and drop tabs and newlines, which turns ``/\\evil.com`` into ``//evil.com``).
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
#: Longer redirect targets fall back to the base URL (proxies refuse huge Location headers).
MAX_REDIRECT_LENGTH = 4096
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
#: A host name (letters, digits, ``-``, ``_``, ``.``) or a bracketed IPv6 address, and a port.
_HOST = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")


def location(url: str) -> str:
    """A URL as an ASCII ``Location`` value: non-ASCII (and quotes, brackets...) percent-encoded."""
    return quote(url, safe=_URL_SAFE)


def acceptable(url: t.Any) -> bool:
    """A non-empty string of sane length without controls, whitespace or backslashes."""
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
    ``base_url``: ``//host``, ``/\\host``, backslashes, control characters, whitespace, other
    schemes (``javascript:``, ``data:``), userinfo tricks (``https://app@evil``), lookalike
    hosts (``https://app.example.com.evil.com``), non-strings.

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


def base_url_of(config: Config, request: Request) -> str:
    """The app's origin: ``url``'s (``NEXTAUTH_URL``), else the request's.

    :raises BadRequest: no ``url`` is configured and the ``Host`` header is not a host name or
        address with an optional port (it would end up in redirects and page links).
    """
    if config.url:
        url = config.url if "://" in config.url else "https://" + config.url
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"
    host = request.host
    match = _HOST.fullmatch(host)
    if match is None or (match.group(1) is not None and int(match.group(1)) > 65535):
        raise BadRequest("Invalid Host header.")
    return f"{request.scheme}://{host}"
