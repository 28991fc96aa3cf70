"""The guard's own answers: the prebuilt sign-in redirect and JSON refusals (its pages are the
endpoints' templates: :mod:`flask_authguard.endpoints.pages`)."""

from __future__ import annotations

import json
import typing as t

from werkzeug.datastructures import Headers
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from ..endpoints.messages import NOTICES
from ..endpoints.pages import notice_json

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def json_response(status: int, body: dict[str, t.Any], headers: dict[str, str] | None = None) -> Response:
    """A JSON answer of the guard, never cached."""
    response = Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def unavailable_json() -> Response:
    """503 JSON with ``Retry-After`` when the session store fails: nobody is signed out. The
    endpoints' answer, word for word (:data:`~flask_authguard.endpoints.messages.NOTICES`)."""
    response = notice_json(NOTICES["ServiceUnavailable"], "ServiceUnavailable")
    response.headers["Retry-After"] = "5"
    return response


_REDIRECT_TYPE = "text/plain; charset=utf-8"  # werkzeug's default for a bodiless Response


class Redirect:
    """A bodiless 307 to ``location``: the answer ``Response(status=307, headers={"Location":
    location})`` gives, byte for byte (same status line, same headers in the same order),
    without building a ``Response`` per request. Immutable, so one instance can be reused.

    :param location: the target, as given to ``Response`` (``iri_to_uri`` is applied when the
        answer is first sent, as werkzeug does when it sends the header).
    """

    __slots__ = ("location", "_headers", "_sent")

    status = "307 TEMPORARY REDIRECT"

    def __init__(self, location: str) -> None:
        #: The ``Location`` as given (before ``iri_to_uri``).
        self.location = location
        self._headers: tuple[tuple[str, str], ...] | None = None
        #: For :meth:`to_response`: the response's headers as built, and as werkzeug sent them.
        self._sent: tuple[list[tuple[str, str]], list[tuple[str, str]]] | None = None

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
        whatever its default mimetype), for a framework's after-request functions to see and
        change like any response. While they leave it as built, it is sent with the headers
        werkzeug made for it the first time (``iri_to_uri`` of the ``Location`` included)."""
        headers = {"Location": self.location}
        response = _prepared_class(cls)(status=307, headers=headers, content_type=_REDIRECT_TYPE)
        if isinstance(response, _PreparedRedirect):
            response._authguard_redirect = self
        return response


class _PreparedRedirect(Response):
    """Marks the response classes :func:`_prepared_class` makes."""

    _authguard_redirect: Redirect | None = None

    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        redirect = self._authguard_redirect
        if (
            redirect is None
            or self.status_code != 307
            or self.response != []  # a body set by hand (set_data would have changed a header)
            or self.autocorrect_location_header
            or not self.automatically_set_content_length
        ):
            return super().get_wsgi_headers(environ)
        built = list(self.headers)
        sent = redirect._sent
        if sent is not None and sent[0] == built:
            # the headers werkzeug made from these very headers (with autocorrect off, they
            # depend on nothing else for a bodiless 307)
            return Headers(sent[1])
        headers = super().get_wsgi_headers(environ)
        redirect._sent = (built, list(headers))
        return headers


#: The classes :func:`_prepared_class` made, by the class they extend.
_PREPARED: dict[type[Response], type[Response]] = {}


def _prepared_class(cls: type[Response]) -> type[Response]:
    """``cls`` with :class:`_PreparedRedirect`'s ``get_wsgi_headers``, when ``cls`` keeps
    werkzeug's own (a class that makes its headers otherwise is used as it is)."""
    prepared = _PREPARED.get(cls)
    if prepared is None:
        prepared = cls
        if getattr(cls, "get_wsgi_headers", None) is Response.get_wsgi_headers:
            prepared = type(cls.__name__, (_PreparedRedirect, cls), {"__module__": cls.__module__})
            prepared.__qualname__ = cls.__qualname__
        if len(_PREPARED) < 64:  # bounded: an app has one or two response classes
            _PREPARED[cls] = prepared
    return prepared
