"""Drive an ASGI app with a request given as a WSGI environ, the way the guard suites describe
requests: the scope an ASGI server would build (``raw_path`` from ``RAW_URI``, ``root_path`` from
``SCRIPT_NAME``), run to completion on a fresh event loop, the answer read whole."""

from __future__ import annotations

import asyncio
import typing as t

from werkzeug.datastructures import Headers


def scope_from_environ(environ: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The ``http`` scope for a WSGI environ (what uvicorn would hand the app)."""

    def text(value: str) -> str:  # WSGI strings carry bytes; ASGI paths are decoded UTF-8
        return value.encode("latin-1").decode("utf-8", "surrogateescape")

    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower().encode("latin-1"), value.encode("latin-1")))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").lower().encode("latin-1"), value.encode("latin-1")))
    script = environ.get("SCRIPT_NAME", "")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    scope: dict[str, t.Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": text(script + environ.get("PATH_INFO", "")),
        "root_path": text(script),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "server": (environ.get("SERVER_NAME", "localhost"), int(environ.get("SERVER_PORT") or 80)),
        "client": (environ.get("REMOTE_ADDR", "127.0.0.1"), 50000),
    }
    if raw:
        scope["raw_path"] = raw.encode("latin-1").split(b"?", 1)[0]
    return scope


def run_asgi(app: t.Any, environ: t.Mapping[str, t.Any]) -> tuple[list[bytes], str, Headers]:
    """``werkzeug.test.run_wsgi_app``'s answer ``(body chunks, status line, headers)`` for an
    ASGI app; an exception the app raises propagates."""
    wsgi_input = environ.get("wsgi.input")
    body = wsgi_input.read() if wsgi_input is not None else b""
    messages: list[dict[str, t.Any]] = []

    async def receive() -> dict[str, t.Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope_from_environ(environ), receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])])
    chunks = [m.get("body", b"") for m in messages if m["type"] == "http.response.body"]
    return chunks, f"{start['status']} -", headers
