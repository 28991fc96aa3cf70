"""ASGI scope → WSGI environ, so the framework-free core reads an ASGI request as it reads any
other: the same path rules, cookies, headers and proxy-set scheme.

Written here rather than taken from ``asgiref``'s ``WsgiToAsgi``: that one joins repeated
headers with ``,``, which turns the several ``cookie`` headers an HTTP/2 client sends into one
unreadable cookie (``a=1,b=2``); cookies are joined with ``; `` as RFC 9113 §8.2.3 says.
"""

from __future__ import annotations

import functools
import io
import sys
import typing as t

from ..core.crosssite import WEBSOCKET_KEY

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

Scope = t.MutableMapping[str, t.Any]

#: Where the environ built for a scope is kept in the scope, so one request builds it once.
ENVIRON_KEY = "authguard.environ"


def _latin1(text: str) -> str:
    """A decoded ASGI path as WSGI carries it: UTF-8 bytes, one ``str`` char a byte."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


class _NoBody(io.BytesIO):
    """The ``wsgi.input`` of a header-only view: always empty, whoever reads it."""

    def write(self, data: t.Any) -> int:
        raise io.UnsupportedOperation("the request body is not part of this view")


_NO_BODY = _NoBody()
_SCHEMES = {"ws": "http", "wss": "https"}


def environ_from_scope(scope: Scope, body: bytes | None = None) -> WSGIEnvironment:
    """The WSGI environ of an ``http`` or ``websocket`` scope (PEP 3333 keys, ``HTTP_*`` headers,
    ``RAW_URI`` from ``raw_path``, ``authguard.websocket`` for a handshake); ``body`` becomes
    ``wsgi.input`` (none: an empty one)."""
    root = _latin1(scope.get("root_path", ""))
    path = _latin1(scope.get("path", "/"))
    if root and path.startswith(root):
        path = path[len(root) :]
    websocket = scope["type"] == "websocket"
    scheme = scope.get("scheme") or ("ws" if websocket else "http")
    server = scope.get("server") or ("localhost", 80)
    raw_path = scope.get("raw_path")
    query: bytes = scope.get("query_string", b"")
    # what every request of this server shares, copied; then this request's own keys
    environ: dict[str, t.Any] = _server_keys(server[0], server[1], scope.get("http_version", "1.1")).copy()
    environ["REQUEST_METHOD"] = scope.get("method", "GET")
    environ["SCRIPT_NAME"] = root
    environ["PATH_INFO"] = path
    environ["QUERY_STRING"] = query.decode("latin-1")
    # the guard's cookie-name and redirect rules speak http(s); a websocket is its handshake
    environ["wsgi.url_scheme"] = _SCHEMES.get(scheme, scheme)
    environ["wsgi.input"] = _NO_BODY if body is None else io.BytesIO(body)
    environ["wsgi.errors"] = sys.stderr
    if websocket:  # the cross-site rule checks a handshake as it checks a mutation
        environ[WEBSOCKET_KEY] = True
    if raw_path:
        environ["RAW_URI"] = raw_path.decode("latin-1") + ("?" + environ["QUERY_STRING"] if query else "")
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = str(client[0])
    for raw_name, raw_value in scope.get("headers", ()):
        key = _environ_key(raw_name)
        value = raw_value.decode("latin-1")
        if key in environ:  # a repeated header
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + value
        environ[key] = value
    return environ


_WSGI_FLAGS = {"wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False}


@functools.lru_cache(maxsize=64)
def _server_keys(host: t.Any, port: t.Any, http_version: t.Any) -> dict[str, t.Any]:
    """``SERVER_NAME``, ``SERVER_PORT``, ``SERVER_PROTOCOL`` and the WSGI flags: the same for
    every request a server takes, so made once (read-only: the caller copies them)."""
    return {
        "SERVER_NAME": str(host),
        "SERVER_PORT": str(port if port is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{http_version}",
        "wsgi.version": (1, 0),
        **_WSGI_FLAGS,
    }


@functools.lru_cache(maxsize=512)
def _environ_key(raw_name: bytes) -> str:
    """``HTTP_X_NAME`` (or ``CONTENT_TYPE``/``CONTENT_LENGTH``) for a header name."""
    name = raw_name.decode("latin-1").lower()
    special = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}.get(name)
    return special or "HTTP_" + name.upper().replace("-", "_")


def environ_of(scope: Scope) -> WSGIEnvironment:
    """:func:`environ_from_scope` for this scope, built once and kept in it (a body-less view:
    the guard and the session read need headers only)."""
    environ: WSGIEnvironment | None = scope.get(ENVIRON_KEY)
    if environ is None:
        environ = environ_from_scope(scope)
        scope[ENVIRON_KEY] = environ
    return environ
