"""Running a WSGI app (a werkzeug ``Response``, the endpoints) for an ASGI request."""

from __future__ import annotations

import typing as t

import anyio.to_thread

from ..endpoints.body import MAX_BODY as ENDPOINT_MAX_BODY
from ..guard.caching import CHECKED_KEY, cache_headers
from .scope import Scope, environ_from_scope

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

Receive = t.Callable[[], t.Awaitable[t.MutableMapping[str, t.Any]]]
Send = t.Callable[[t.MutableMapping[str, t.Any]], t.Awaitable[None]]

#: The most of a request body the bridge reads: one byte past the endpoints' own limit, so
#: that they, not the bridge, answer a body that is too large (their 413 page).
MAX_BODY = ENDPOINT_MAX_BODY + 1


class Collected(t.NamedTuple):
    """A WSGI response, read whole."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def collect(app: WSGIApplication, environ: WSGIEnvironment) -> Collected:
    """Call a WSGI app and read its whole answer (refusals and auth pages are small)."""
    started: list[t.Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
        started[:] = [status, headers]
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    status, headers = started
    encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    return Collected(int(status.split(" ", 1)[0]), private_if_checked(environ, encoded), body)


def _encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


#: What :func:`~flask_authguard.guard.caching.cache_headers` adds to a response that sets
#: neither ``Vary`` nor ``Cache-Control``, as ASGI headers.
_PRIVATE = _encoded(cache_headers([]))


def private_if_checked(
    environ: WSGIEnvironment, headers: t.Iterable[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``headers`` kept out of shared caches (:func:`private`) when the guard checked the
    request, else as they are (as a list)."""
    return private(headers) if environ.get(CHECKED_KEY) else list(headers)


def private(headers: t.Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Vary: Cookie`` and ``Cache-Control: private`` (the one rule,
    :func:`~flask_authguard.guard.caching.cache_headers`), as a new list."""
    answer = list(headers)
    for name, _ in answer:
        if name == b"vary" or name == b"cache-control":  # ASGI names are lower case
            decoded = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in answer]
            return _encoded(cache_headers(decoded))
    answer.extend(_PRIVATE)
    return answer


async def send_collected(answer: Collected, send: Send) -> None:
    """Send a collected answer as one ASGI response."""
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})


async def send_wsgi(app: WSGIApplication, environ: WSGIEnvironment, send: Send) -> None:
    """Answer with a WSGI app that does no I/O (a werkzeug ``Response``), on the loop's thread."""
    await send_collected(collect(app, environ), send)


async def read_body(receive: Receive, limit: int = MAX_BODY) -> bytes:
    """The request body, cut after ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)  # the client went away: what came is all there is
        chunk = message.get("body", b"")
        parts.append(chunk[: limit - size])
        size += len(chunk)
        if size >= limit:
            return b"".join(parts)
        if not message.get("more_body"):
            return b"".join(parts)


async def call_wsgi(app: WSGIApplication, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve an ASGI ``http`` request with a WSGI app run in a worker thread (it may block on
    a database or an identity provider): the bridge that puts the endpoints under ASGI."""
    body = await read_body(receive)
    environ = environ_from_scope(scope, body)
    environ["CONTENT_LENGTH"] = str(len(body))
    answer = await anyio.to_thread.run_sync(collect, app, environ)
    await send_collected(answer, send)
