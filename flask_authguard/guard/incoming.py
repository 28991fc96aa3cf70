"""Reading a WSGI request as the guard sees it: the normalised path, that path as text, the path
and query a browser would show (``callbackUrl``) and, from ``core.clients``, whether it is an API client. (The
origin links use is :func:`flask_authguard.core.defences.urls.link_origin`'s.)"""

from __future__ import annotations

import typing as t
from urllib.parse import quote, quote_plus, unquote_to_bytes, urlsplit

from ..core.http.clients import is_api_request as is_api_request

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


# WHATWG URL percent-encode sets: what a browser leaves escaped in a path and in a query.
_PATH_SAFE = "!$&'()*+,-./:;=@_~|^[]\\%"


_QUERY_SAFE = "!$&()*+,-./:;=?@_~|^[]\\%`{}"


def normalize_path(path: str) -> str:
    """Resolve ``.`` and ``..`` segments and collapse ``//``, keeping a trailing slash.

    ``PATH_INFO`` arrives percent-decoded, so ``%2e%2e`` is already ``..`` here.
    """
    if not path:
        return "/"
    if path[0] != "/":  # before the fast path: "." and ".." are dot segments too (property test)
        path = "/" + path
    if "//" not in path and "/." not in path:
        return path
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    trailing = path.endswith(("/", "/.", "/..")) and bool(out)
    return "/" + "/".join(out) + ("/" if trailing else "")


def text_path(path: str) -> str:
    """A WSGI path (its UTF-8 bytes read as latin-1, as WSGI carries every string) as the text
    a browser shows and the app's router reads: ``/café`` arrives as ``/cafÃ©`` and reads ``/café``.

    Bytes that are not UTF-8 read as U+FFFD, as werkzeug reads them. A string that is already
    text (a character above U+00FF, so no WSGI string) is returned as it is. The caller skips
    the call for an ASCII path, which reads the same either way.
    """
    try:
        return path.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return path


def form_encode(value: str) -> str:
    """Encode a query value byte for byte as ``URLSearchParams`` does."""
    return quote_plus(value, safe="*").replace("~", "%7E")


def _wsgi_bytes(text: str) -> bytes:
    return text.encode("latin-1", "replace")


def _raw_path(environ: WSGIEnvironment, decoded: bytes) -> bytes | None:
    """The request-line path (``RAW_URI``/``REQUEST_URI``, set by werkzeug, gunicorn, uWSGI) when
    it decodes to exactly ``decoded``: it keeps escapes such as ``%2F`` that ``PATH_INFO`` lost."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw or not isinstance(raw, str):
        return None
    raw_path = _wsgi_bytes(raw).split(b"?", 1)[0].split(b"#", 1)[0]
    if b"://" in raw_path:  # absolute-form request target
        raw_path = urlsplit(raw_path).path or b"/"
    return raw_path if unquote_to_bytes(raw_path) == decoded else None


def browser_path(environ: WSGIEnvironment, path: str) -> str:
    """``SCRIPT_NAME + path + ?query`` escaped as a browser's URL parser would show it.

    When the server reports the raw request path and it is the one checked, that spelling is
    kept (``/a%2Fb`` stays so, as in next-auth's ``callbackUrl``).
    """
    decoded = _wsgi_bytes(environ.get("SCRIPT_NAME", "") + path)
    full = quote(_raw_path(environ, decoded) or decoded, safe=_PATH_SAFE)
    query = environ.get("QUERY_STRING", "")
    if query:
        full += "?" + quote(_wsgi_bytes(query), safe=_QUERY_SAFE)
    return full


def page_path(page: str) -> str | None:
    """The path a relative sign-in or error page is served at (its query and fragment off)."""
    if "://" in page or page.startswith("//"):
        return None
    return page.split("#", 1)[0].split("?", 1)[0] or None


def with_param(url: str, name: str, value: str) -> str:
    """``url`` with ``name=value`` (form-encoded) appended to its query."""
    return f"{url}{'&' if '?' in url else '?'}{name}={form_encode(value)}"
