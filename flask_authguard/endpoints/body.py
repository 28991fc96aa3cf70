"""The POST body of an auth route: form fields or a JSON object, with a size and a depth limit.

A body over :data:`MAX_BODY` bytes is refused with 413 before it is read; JSON nested deeper
than :data:`MAX_DEPTH` (which would overflow the parser's recursion), and JSON with a string
that is no UTF-8 text (a lone surrogate, ``"\\ud800"``), count as no body, like any other
unparsable JSON: the CSRF check then refuses the request.
"""

from __future__ import annotations

import io
import json
import typing as t

from werkzeug.exceptions import RequestEntityTooLarge

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

#: The largest body an auth route reads (a sign-in form is well under 1 KB).
MAX_BODY = 64 * 1024
#: The deepest JSON nesting accepted (``next-auth/react`` sends depth 2 or 3).
MAX_DEPTH = 32


class BodyTooLarge(RequestEntityTooLarge):
    """413 for an auth route body over :data:`MAX_BODY` bytes."""

    description = f"The request body is too large for an auth route (the limit is {MAX_BODY // 1024} KB)."


def _bound(request: Request) -> None:
    """Refuse a body over the limit; a chunked one (no ``Content-Length``) is read here, up to
    the limit, and handed on as an ordinary body of known length."""
    length = request.content_length
    if length is not None:
        if length > MAX_BODY:
            raise BodyTooLarge()
        return
    environ = request.environ
    if not environ.get("wsgi.input_terminated") or "stream" in request.__dict__:
        return  # werkzeug reads nothing without a length (or the stream is already in use)
    data = environ["wsgi.input"].read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise BodyTooLarge()
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    del environ["wsgi.input_terminated"]
    request.__dict__.pop("content_length", None)  # werkzeug caches it: read the new one


def json_depth(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether the brackets of JSON ``text`` nest at most ``limit`` deep (strings skipped)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth -= 1
    return True


def read_body(request: Request) -> t.Mapping[str, t.Any]:
    """The POST body: form fields, or a JSON object (what ``next-auth/react``'s ``update``
    sends); ``{}`` for other methods and for anything unparsable.

    :raises RequestEntityTooLarge: the body is over :data:`MAX_BODY` bytes.
    """
    if request.method != "POST":
        return {}
    _bound(request)
    if request.is_json:
        try:
            text = request.get_data(cache=True).decode("utf-8")
        except UnicodeDecodeError:
            return {}
        if not json_depth(text):
            return {}
        try:
            data = json.loads(text)
            # JSON's "\ud800" escape parses to a lone surrogate, which has no UTF-8 spelling
            # and would raise wherever the value is encoded later (a hash, a URL, a header)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
            return {}
        return data if isinstance(data, dict) else {}
    return request.form
