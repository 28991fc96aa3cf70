"""The guard's own answers: the prebuilt sign-in redirect and JSON refusals (its pages are the
endpoints' templates: :mod:`flask_authguard.endpoints.pages`)."""

from __future__ import annotations

import json
import typing as t

from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def json_response(status: int, body: dict[str, t.Any], headers: dict[str, str] | None = None) -> Response:
    """A JSON answer of the guard, never cached."""
    response = Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def unavailable_json() -> Response:
    """503 JSON with ``Retry-After`` when the session store fails: nobody is signed out."""
    message = "The session store is unavailable. Try again shortly."
    return json_response(503, {"error": "ServiceUnavailable", "message": message}, {"Retry-After": "5"})


_REDIRECT_TYPE = "text/plain; charset=utf-8"  # werkzeug's default for a bodiless Response


class Redirect:
    """A bodiless 307 to ``location``: the answer ``Response(status=307, headers={"Location":
    location})`` gives (same status line, same headers in the same order), without building a
    ``Response`` for a plain WSGI refusal.

    :param location: the target, as given to ``Response`` (``iri_to_uri`` is applied when the
        answer is sent, as werkzeug does when it sends the header).
    """

    __slots__ = ("location",)

    status = "307 TEMPORARY REDIRECT"

    def __init__(self, location: str) -> None:
        #: The ``Location`` as given (before ``iri_to_uri``).
        self.location = location

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        headers = [
            ("Location", iri_to_uri(self.location)),
            ("Content-Type", _REDIRECT_TYPE),
            ("Content-Length", "0"),
        ]
        start_response(self.status, headers)
        return ()

    def to_response(self, cls: type[Response] = Response) -> Response:
        """The same answer as a ``Response`` of class ``cls`` (a framework's own response class,
        whatever its default mimetype), for a framework's after-request functions to see and
        change like any response."""
        return cls(status=307, headers={"Location": self.location}, content_type=_REDIRECT_TYPE)
