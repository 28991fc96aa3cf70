"""Requests to identity providers with one deadline each and a cap on what they answer.

``requests`` (Authlib's HTTP client) only knows timeouts per socket operation: a server that
drips one byte every half second never trips a 3.5 s read timeout and holds the worker as long
as it likes. Here every request (discovery, JWKS, token, userinfo, a ``userinfo_request`` of
your own through the session it is given) ends within ``timeout`` seconds in total, redirects
included: a timer shuts the connection's socket down when the deadline passes, whatever phase
it is in (TLS handshake, status line, headers, body), and the request fails with
:class:`DeadlineExceeded`. Its body is read here, decoded, and refused past
:data:`MAX_RESPONSE_BYTES` (:class:`ResponseTooLarge`) before anyone parses it.

Imported only when a provider talks to its identity provider: ``requests`` and ``urllib3`` come
with the ``oauth`` extra.
"""

from __future__ import annotations

import socket
import threading
import time
import typing as t

import requests
from authlib.integrations.requests_client import OAuth2Session
from requests.adapters import HTTPAdapter
from urllib3 import connection, connectionpool, poolmanager

#: The most bytes a provider's answer may have (decoded): a discovery document, a JWKS, a token
#: response or a profile is a few kilobytes; a profile this large could not go in a cookie anyway.
MAX_RESPONSE_BYTES = 1024 * 1024
_CHUNK = 64 * 1024


class DeadlineExceeded(requests.exceptions.Timeout):
    """The identity provider did not answer in full within the provider's ``timeout``."""


class ResponseTooLarge(requests.exceptions.RequestException):
    """The identity provider's answer is longer than :data:`MAX_RESPONSE_BYTES`."""


class _Watchdog:
    """Shuts down the sockets of one request when its deadline passes (a blocked ``recv`` then
    returns at once, in whatever phase the request is)."""

    def __init__(self, deadline: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # closed already
        pass


#: The watchdog of the request this thread is sending (connections are made in that thread).
_current = threading.local()


def _watch(sock: socket.socket | None) -> None:
    watchdog: _Watchdog | None = getattr(_current, "watchdog", None)
    if watchdog is not None and sock is not None:
        watchdog.watch(sock)


class _WatchedHTTP(connection.HTTPConnection):
    """A connection whose plain socket (under TLS too) the current request's watchdog holds."""

    _raw_sock: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._raw_sock = sock
        _watch(sock)  # from here on: connect, TLS handshake, the first request
        return sock

    def getresponse(self) -> t.Any:
        _watch(self._raw_sock)  # a kept-alive connection serving a later request
        return super().getresponse()


class _WatchedHTTPS(connection.HTTPSConnection):
    _raw_sock: socket.socket | None = None
    _new_conn = _WatchedHTTP._new_conn
    getresponse = _WatchedHTTP.getresponse


class _HTTPPool(connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP


class _HTTPSPool(connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def _use_watched_pools(manager: t.Any) -> t.Any:
    # Only urllib3's own pools are swapped (a SOCKS proxy manager keeps its own; the deadline is
    # then checked between reads of the body only).
    if getattr(manager, "pool_classes_by_scheme", None) is poolmanager.pool_classes_by_scheme:
        manager.pool_classes_by_scheme = _POOLS
    return manager


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that ends each request at :attr:`deadline` (a ``time.monotonic()``
    value) and reads its body itself, at most ``max_bytes`` of it."""

    def __init__(self, seconds: float, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        super().__init__()
        #: The total time a request may take when no :attr:`deadline` is set.
        self.seconds = seconds
        self.max_bytes = max_bytes
        #: Set by :class:`~DeadlineSession`'s ``request`` for the whole call, redirects included.
        self.deadline: float | None = None

    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _use_watched_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: t.Any) -> t.Any:
        return _use_watched_pools(super().proxy_manager_for(proxy, **kwargs))

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: t.Any = None, **kwargs: t.Any
    ) -> requests.Response:
        deadline = self.deadline if self.deadline is not None else time.monotonic() + self.seconds
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the provider's time was up before this request", request=request)
        watchdog = _Watchdog(deadline)
        _current.watchdog = watchdog
        response: requests.Response | None = None
        try:
            # Socket timeouts still apply per operation; the watchdog bounds the whole.
            response = super().send(request, stream=True, timeout=left, **kwargs)
            body = self._read(response, watchdog)
        except Exception as exc:
            if response is not None:
                response.close()
            if isinstance(exc, (DeadlineExceeded, ResponseTooLarge)):
                raise
            if watchdog.fired:
                raise DeadlineExceeded("the provider did not answer in time", request=request) from None
            if isinstance(exc, requests.exceptions.RequestException):
                raise
            raise requests.exceptions.ConnectionError(type(exc).__name__, request=request) from None
        finally:
            watchdog.cancel()
            _current.watchdog = None
        response._content = body
        response._content_consumed = True
        return response

    def _read(self, response: requests.Response, watchdog: _Watchdog) -> bytes:
        """The whole body, decoded, within the deadline and the cap."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ResponseTooLarge(f"the answer declares {declared} bytes", response=response)
        chunks: list[bytes] = []
        size = 0
        for piece in response.raw.stream(_CHUNK, decode_content=True):
            size += len(piece)
            if size > self.max_bytes:
                raise ResponseTooLarge(f"the answer is over {self.max_bytes} bytes", response=response)
            chunks.append(piece)
        if watchdog.fired:  # a body without a length, cut short by the shutdown
            raise DeadlineExceeded("the provider did not answer in time", response=response)
        response.raw.release_conn()
        return b"".join(chunks)


class DeadlineSession(OAuth2Session):  # type: ignore[misc]
    """Authlib's ``OAuth2Session`` whose every call (``get``, ``post``, ``fetch_token``...) ends
    within ``timeout`` seconds in total, redirects included, its answer capped.

    :param timeout: seconds a call may take, from the first byte sent to the last one read.
    """

    def __init__(self, *, timeout: float, **kwargs: t.Any) -> None:
        super().__init__(default_timeout=timeout, **kwargs)
        self._deadlines = DeadlineAdapter(timeout)
        self.mount("https://", self._deadlines)
        self.mount("http://", self._deadlines)

    def request(self, method: str, url: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        adapter = self._deadlines
        if adapter.deadline is not None:  # a call inside a call (Authlib refreshing a token)
            return super().request(method, url, *args, **kwargs)
        adapter.deadline = time.monotonic() + adapter.seconds
        try:
            return super().request(method, url, *args, **kwargs)
        finally:
            adapter.deadline = None
