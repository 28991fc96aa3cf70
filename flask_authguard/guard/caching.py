"""Keep guarded responses out of shared caches.

A response to a request the guard checked depends on who asked: it gets ``Vary: Cookie`` and
``Cache-Control: private`` (a stricter ``no-store`` or ``private`` already there is kept), so a
proxy or CDN never serves one user's page to another. Public pages the guard did not check are
left alone.
"""

from __future__ import annotations

from werkzeug.datastructures import Headers, ResponseCacheControl
from werkzeug.http import parse_cache_control_header, parse_set_header

#: Set in the environ once the guard has checked the request.
CHECKED_KEY = "authguard.checked"


def vary_with_cookie(vary: str) -> str:
    """The ``Vary`` value ``vary`` (``""`` for none) with ``Cookie`` in it, unless it or ``*``
    is there already: the one rule for ``Vary``, for every front end's headers."""
    found = parse_set_header(vary)
    if "*" not in found and "cookie" not in found:  # HeaderSet compares case-insensitively
        found.add("Cookie")
    return found.to_header()


def vary_on_cookie(headers: Headers) -> None:
    """Add ``Cookie`` to ``Vary`` in place (all ``Vary`` headers merged into one)."""
    headers["Vary"] = vary_with_cookie(", ".join(headers.getlist("Vary")))


def make_private(headers: Headers) -> None:
    """Add ``Vary: Cookie`` and make ``Cache-Control`` private, in place."""
    vary_on_cookie(headers)
    values = headers.getlist("Cache-Control")
    control = parse_cache_control_header(", ".join(values), cls=ResponseCacheControl)
    # A bare ``private`` (werkzeug: True) covers the whole response; a qualified one
    # (``private="Set-Cookie"``: werkzeug gives the field names) only those fields (RFC 9111
    # 5.2.2.7): a shared cache may still store the rest, so it is made private whole.
    if control.no_store or control.private is True:
        return
    control.public = False
    control.s_maxage = None
    control.private = True
    headers["Cache-Control"] = control.to_header()


_VARY = (("Vary", "Cookie"),)
_PRIVATE = (("Vary", "Cookie"), ("Cache-Control", "private"))


def cache_headers(headers: list[tuple[str, str]], *, private: bool = True) -> list[tuple[str, str]]:
    """``headers`` (a WSGI list) with ``Cookie`` in ``Vary`` and, when ``private``,
    ``Cache-Control`` made private (:func:`make_private`): the one writer of both, for WSGI,
    Flask and ASGI.

    The usual response sets neither header: then both are appended; anything else (either
    header there, a value that is not a string or holds a line break) goes through ``Headers``,
    which converts the value or refuses the line break (werkzeug's one rule for header values).
    """
    for name, value in headers:
        if (
            name.lower() in ("vary", "cache-control")
            or type(value) is not str
            or "\n" in value
            or "\r" in value
        ):
            fixed = Headers(headers)
            if private:
                make_private(fixed)
            else:
                vary_on_cookie(fixed)
            return fixed.to_wsgi_list()
    return [*headers, *(_PRIVATE if private else _VARY)]


def private_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` kept out of shared caches: :func:`cache_headers`."""
    return cache_headers(headers)
