"""Who is asking: a client that wants JSON, or a browser that wants a page.

One answer for every refusal and notice the library gives (the guard's 401/403/503, the auth
routes' 400/413/429/503): JSON for API clients, a page in the sign-in page's layout otherwise.
"""

from __future__ import annotations

import typing as t

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from ..settings.config import Config


def is_api_request(environ: WSGIEnvironment) -> bool:
    """A client that wants JSON, not a page: it prefers JSON over HTML, sends
    ``X-Requested-With``, or authenticates with a Bearer header."""
    if environ.get("HTTP_X_REQUESTED_WITH"):
        return True
    if environ.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
        return True
    accept = environ.get("HTTP_ACCEPT")
    if not accept or ("json" not in accept and "application/*" not in accept):
        return False  # what browsers send for pages: no need to parse it
    mimes = parse_accept_header(accept, MIMEAccept)
    return mimes.quality("application/json") > mimes.quality("text/html")


def answers_json(config: Config, environ: WSGIEnvironment) -> bool:
    """Whether a refusal or notice to this request is JSON: ``api_mode`` ``"json"`` always,
    ``"redirect"`` never, ``"auto"`` for :func:`is_api_request` clients."""
    mode = config.api_mode
    return mode == "json" or (mode == "auto" and is_api_request(environ))
