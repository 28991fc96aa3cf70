"""The guard's own answers: the prebuilt sign-in redirect, JSON refusals, the 503 page."""

from __future__ import annotations

import json
import typing as t

from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def _json(status: int, body: dict[str, t.Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


_REDIRECT_TYPE = "text/plain; charset=utf-8"  # werkzeug's default for a bodiless Response


class Redirect:
    """A bodiless 307 to ``location``: the answer ``Response(status=307, headers={"Location":
    location})`` gives, byte for byte (same status line, same headers in the same order),
    without building a ``Response`` per request. Immutable, so one instance can be reused.

    :param location: the target, as given to ``Response`` (``iri_to_uri`` is applied when the
        answer is first sent, as werkzeug does when it sends the header).
    """

    __slots__ = ("location", "_headers")

    status = "307 TEMPORARY REDIRECT"

    def __init__(self, location: str) -> None:
        #: The ``Location`` as given (before ``iri_to_uri``).
        self.location = location
        self._headers: tuple[tuple[str, str], ...] | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        headers = self._headers
        if headers is None:
            headers = self._headers = (
                ("Location", iri_to_uri(self.location)),
                ("Content-Type", _REDIRECT_TYPE),
                ("Content-Length", "0"),
            )
        start_response(self.status, list(headers))
        return ()

    def to_response(self, cls: type[Response] = Response) -> Response:
        """The same answer as a ``Response`` of class ``cls`` (a framework's own response class,
        whatever its default mimetype)."""
        return cls(status=307, headers={"Location": self.location}, content_type=_REDIRECT_TYPE)


_UNAVAILABLE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Try again shortly</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Try again shortly</h1>
<p>We cannot check your session right now. Reload the page in a few seconds.</p>
</main></body></html>
"""
