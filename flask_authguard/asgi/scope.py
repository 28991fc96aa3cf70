"""ASGI scope → WSGI environ, so the framework-free core reads an ASGI request as it reads any
other: the same path rules, cookies, headers and proxy-set scheme.

Two views of a request: :func:`environ_from_scope`, the whole PEP 3333 environ (every header,
``wsgi.input``), for the endpoints, the session read and code of the app handed a request; and
:func:`guard_environ`, only what the guard's check reads (:data:`GUARD_KEYS`), which
:class:`~flask_authguard.asgi.AuthMiddleware` builds when its options give the check nothing
else to read (see :func:`~flask_authguard.asgi.guard.needs_whole_environ`).
:func:`environ_of` completes that view in place the first time anyone needs the whole environ.

Written here rather than taken from ``asgiref``'s ``WsgiToAsgi``: that one joins repeated
headers with ``,``, which turns the several ``cookie`` headers an HTTP/2 client sends into one
unreadable cookie (``a=1,b=2``); cookies are joined with ``; `` as RFC 9113 §8.2.3 says.
"""

from __future__ import annotations

import functools
import io
import sys
import typing as t

from ..core.defences.crosssite import WEBSOCKET_KEY
from ..guard.incoming import normalize_path

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

Scope = t.MutableMapping[str, t.Any]

#: Where the environ built for a scope is kept in the scope, so one request builds it once.
ENVIRON_KEY = "authguard.environ"

#: Set in an environ that holds only :data:`GUARD_KEYS` (:func:`guard_environ`), until
#: :func:`environ_of` completes it.
PARTIAL_KEY = "authguard.partial_environ"

#: The headers the guard's check reads (its refusals included): the session cookie or Bearer
#: token; ``Host`` for the sign-in redirect's origin and the trusted-host and cross-site rules;
#: ``Origin``, ``Sec-Fetch-Site``, ``Referer`` and ``Upgrade`` for the cross-site rule;
#: ``Access-Control-Request-Method`` for a CORS preflight; ``Accept`` and ``X-Requested-With``
#: for "JSON or a page"; ``User-Agent`` for the session's device record.
GUARD_HEADERS = frozenset(
    {
        "HTTP_ACCEPT",
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD",
        "HTTP_AUTHORIZATION",
        "HTTP_COOKIE",
        "HTTP_HOST",
        "HTTP_ORIGIN",
        "HTTP_REFERER",
        "HTTP_SEC_FETCH_SITE",
        "HTTP_UPGRADE",
        "HTTP_USER_AGENT",
        "HTTP_X_REQUESTED_WITH",
    }
)

#: Everything :func:`guard_environ` holds: the request line, the server, the scheme, the
#: WebSocket flag and :data:`GUARD_HEADERS`.
GUARD_KEYS = GUARD_HEADERS | {
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "RAW_URI",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    WEBSOCKET_KEY,
}


#: The ASGI names (lower case, as servers send them) of :data:`GUARD_HEADERS`.
_GUARD_NAMES = {key[5:].lower().replace("_", "-").encode("latin-1"): key for key in GUARD_HEADERS}


def _latin1(text: str) -> str:
    """A decoded ASGI path as WSGI carries it: UTF-8 bytes, one ``str`` char a byte."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


class _NoBody(io.BytesIO):
    """The ``wsgi.input`` of a header-only view: always empty, whoever reads it."""

    def write(self, data: t.Any) -> int:
        raise io.UnsupportedOperation("the request body is not part of this view")


_NO_BODY = _NoBody()
_SCHEMES = {"ws": "http", "wss": "https"}
_WSGI_FLAGS = {
    "wsgi.version": (1, 0),
    "wsgi.multithread": True,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
}


def _under(path: str, root: str) -> bool:
    """Whether ``path`` lies under the root path ``root`` (at a segment boundary)."""
    return path == root or path.startswith(root + "/")


def _request_keys(scope: Scope) -> dict[str, t.Any]:
    """The environ keys of the request line, the server and the scheme (``RAW_URI`` from
    ``raw_path``, ``authguard.websocket`` for a handshake): what both views hold."""
    root, path = scope.get("root_path", ""), scope.get("path", "/")
    if root and not _under(path, root):
        # The app routes on the path under its root: Starlette's rule (``get_route_path``),
        # where the root ends at a segment boundary (``/apiary`` under the root ``/api`` is
        # ``/apiary``). The app is handed the path the guard resolved (``..``, ``//``), so a
        # path that resolves under the root (``//api/x``, ``/x/../api/x``) is ``/x`` under it,
        # checked and routed alike.
        path = normalize_path(path)
        if not _under(path, root):
            root = ""
    if not (root.isascii() and path.isascii()):
        root, path = _latin1(root), _latin1(path)
    if root:
        path = path[len(root) :]
    websocket = scope["type"] == "websocket"
    scheme = scope.get("scheme") or ("ws" if websocket else "http")
    host, port = scope.get("server") or ("localhost", 80)
    query = scope.get("query_string", b"").decode("latin-1")
    environ = {
        "REQUEST_METHOD": scope.get("method", "GET"),
        "SCRIPT_NAME": root,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": str(host),
        "SERVER_PORT": str(port if port is not None else 80),
        # the guard's cookie-name and redirect rules speak http(s); a websocket is its handshake
        "wsgi.url_scheme": _SCHEMES.get(scheme, scheme),
    }
    raw_path = scope.get("raw_path")
    if raw_path:
        environ["RAW_URI"] = raw_path.decode("latin-1") + ("?" + query if query else "")
    if websocket:  # the cross-site rule checks a handshake as it checks a mutation
        environ[WEBSOCKET_KEY] = True
    return environ


def _repeated(key: str, first: str, value: str) -> str:
    """A repeated header's values joined: with ``,``, cookies with ``; ``."""
    return first + ("; " if key == "HTTP_COOKIE" else ",") + value


def environ_from_scope(scope: Scope, body: bytes | None = None) -> WSGIEnvironment:
    """The WSGI environ of an ``http`` or ``websocket`` scope (PEP 3333 keys, ``HTTP_*`` headers,
    ``RAW_URI`` from ``raw_path``, ``authguard.websocket`` for a handshake); ``body`` becomes
    ``wsgi.input`` (none: an empty one). Header names with ``_`` are left out, as werkzeug's
    server and gunicorn leave them out: ``sec_fetch_site`` is not ``Sec-Fetch-Site``."""
    environ = _request_keys(scope)
    environ["SERVER_PROTOCOL"] = f"HTTP/{scope.get('http_version', '1.1')}"
    environ.update(_WSGI_FLAGS)
    environ["wsgi.input"] = _NO_BODY if body is None else io.BytesIO(body)
    environ["wsgi.errors"] = sys.stderr
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = str(client[0])
    for raw_name, raw_value in scope.get("headers", ()):
        if b"_" in raw_name:
            # "x_name" and "x-name" are one environ key: "sec_fetch_site", which no browser
            # sends, would pass for Sec-Fetch-Site. werkzeug's server and gunicorn drop them too.
            continue
        key = _environ_key(raw_name)
        value = raw_value.decode("latin-1")
        if key in environ:
            value = _repeated(key, environ[key], value)
        environ[key] = value
    return environ


@functools.lru_cache(maxsize=512)
def _environ_key(raw_name: bytes) -> str:
    """``HTTP_X_NAME`` (or ``CONTENT_TYPE``/``CONTENT_LENGTH``) for a header name."""
    name = raw_name.decode("latin-1").lower()
    special = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}.get(name)
    return special or "HTTP_" + name.upper().replace("-", "_")


def guard_environ(scope: Scope) -> WSGIEnvironment:
    """The environ of :data:`GUARD_KEYS` alone for this scope, kept in it as :func:`environ_of`
    keeps the whole one (which then completes it): what the guard's check reads, for a
    fraction of the work when a request carries many headers."""
    environ = _request_keys(scope)
    for raw_name, raw_value in scope.get("headers", ()):
        key = _GUARD_NAMES.get(raw_name)
        if key is None:
            if (raw_name.isascii() and raw_name.islower()) or b"_" in raw_name:
                continue  # spelt as ASGI servers send names, or with "_": as the whole environ drops it
            key = _environ_key(raw_name)  # any other spelling: as the whole environ reads it
            if key not in GUARD_HEADERS:
                continue
        value = raw_value.decode("latin-1")
        if key in environ:
            value = _repeated(key, environ[key], value)
        environ[key] = value
    environ[PARTIAL_KEY] = True
    scope[ENVIRON_KEY] = environ
    return environ


def environ_of(scope: Scope) -> WSGIEnvironment:
    """The whole environ of this scope (a body-less view: the guard and the session read need
    headers only), built once and kept in it; a :func:`guard_environ` kept there is completed
    in place, so what the guard left in it (the decoded token, the normalised path) stays."""
    environ: WSGIEnvironment | None = scope.get(ENVIRON_KEY)
    if environ is None:
        environ = environ_from_scope(scope)
        scope[ENVIRON_KEY] = environ
    elif environ.pop(PARTIAL_KEY, False):
        for key, value in environ_from_scope(scope).items():
            environ.setdefault(key, value)
    return environ
