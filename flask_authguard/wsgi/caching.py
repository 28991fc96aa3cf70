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


def make_private(headers: Headers) -> None:
    """Add ``Vary: Cookie`` and make ``Cache-Control`` private, in place."""
    vary = parse_set_header(", ".join(headers.getlist("Vary")))
    if "*" not in vary and "cookie" not in vary:  # HeaderSet compares case-insensitively
        vary.add("Cookie")
        headers["Vary"] = vary.to_header()
    values = headers.getlist("Cache-Control")
    control = parse_cache_control_header(", ".join(values), cls=ResponseCacheControl)
    if control.no_store or control.private:
        return
    control.public = False
    control.s_maxage = None
    control.private = True
    headers["Cache-Control"] = control.to_header()


def private_start_response(environ: WSGIEnvironment, start_response: StartResponse) -> StartResponse:
    """``start_response`` that applies :func:`make_private` when, by the time the response
    starts, the guard has checked the request (``environ[CHECKED_KEY]``)."""

    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
        if environ.get(CHECKED_KEY):
            fixed = Headers(headers)
            make_private(fixed)
            headers = fixed.to_wsgi_list()
        return start_response(status, headers, exc_info)

    return t.cast("StartResponse", wrapped)
