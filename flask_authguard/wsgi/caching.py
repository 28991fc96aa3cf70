"""Keep guarded responses out of shared caches.

A response to a request the guard checked depends on who asked: it gets ``Vary: Cookie`` and
``Cache-Control: private`` (a stricter ``no-store`` or ``private`` already there is kept), so a
proxy or CDN never serves one user's page to another. Public pages the guard did not check are
left alone.
"""

from __future__ import annotations

import typing as t

from werkzeug.datastructures import Headers, ResponseCacheControl
from werkzeug.http import parse_cache_control_header, parse_set_header

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: Set in the environ once the guard has checked the request.
CHECKED_KEY = "authguard.checked"


def vary_on_cookie(headers: Headers) -> None:
    """Add ``Cookie`` to ``Vary`` in place (all ``Vary`` headers merged into one), unless it or
    ``*`` is there already."""
    vary = parse_set_header(", ".join(headers.getlist("Vary")))
    if "*" not in vary and "cookie" not in vary:  # HeaderSet compares case-insensitively
        vary.add("Cookie")
        headers["Vary"] = vary.to_header()


def make_private(headers: Headers) -> None:
    """Add ``Vary: Cookie`` and make ``Cache-Control`` private, in place."""
    vary_on_cookie(headers)
    values = headers.getlist("Cache-Control")
    control = parse_cache_control_header(", ".join(values), cls=ResponseCacheControl)
    if control.no_store or control.private:
        return
    control.public = False
    control.s_maxage = None
    control.private = True
    headers["Cache-Control"] = control.to_header()


_PRIVATE_HEADERS = (("Vary", "Cookie"), ("Cache-Control", "private"))


def private_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with :func:`make_private` applied, as a WSGI list.

    The usual response sets neither ``Vary`` nor ``Cache-Control``: then the answer is the list
    with the two headers appended, exactly what ``Headers`` would build, without building it.
    Anything else (either header present, a value that is not a plain one-line string) takes
    the general path.
    """
    for name, value in headers:
        if (
            type(value) is not str
            or "\n" in value
            or "\r" in value
            # the length first (PEP 3333 names are str): most names are neither
            or (len(name) in (4, 13) and name.lower() in ("vary", "cache-control"))
        ):
            fixed = Headers(headers)
            make_private(fixed)
            return fixed.to_wsgi_list()
    return [*headers, *_PRIVATE_HEADERS]


def private_start_response(environ: WSGIEnvironment, start_response: StartResponse) -> StartResponse:
    """``start_response`` that applies :func:`make_private` when, by the time the response
    starts, the guard has checked the request (``environ[CHECKED_KEY]``)."""

    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
        if environ.get(CHECKED_KEY):
            headers = private_headers(headers)
        return start_response(status, headers, exc_info)

    return t.cast("StartResponse", wrapped)
