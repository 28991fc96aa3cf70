"""Session cookies: chunked reading and writing, as next-auth's ``SessionStore`` does.

A token longer than one cookie holds is split into ``<name>.0``, ``<name>.1``, ... Reading takes
only the exact name and its numbered chunks (never names that merely share the prefix) and
offers every plausible value, so a half-updated set of cookies never signs anyone out:
authenticated decryption tells the right one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import string
import typing as t
from urllib.parse import quote, unquote

from werkzeug.http import dump_cookie

from ..settings.config import CookieSpec
from .dates import http_date

__all__ = [
    "MAX_CHUNKS",
    "Cookies",
    "chunk",
    "chunk_names",
    "clean",
    "decode_value",
    "delete_cookie_header",
    "encode_value",
    "hides_session_cookie",
    "is_session_cookie",
    "opaque_session_value",
    "session_values",
    "set_cookie_header",
]

#: More chunks than this are not read: a session token never needs them.
MAX_CHUNKS = 16
#: A chunk set sent with duplicates is read in every way it can be assembled, up to this many;
#: more are no session (no browser sends them: only a cookie planted beside the user's does).
MAX_ASSEMBLIES = 16

Cookies = t.Mapping[str, str]

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
#: A value werkzeug writes unquoted (its ``_cookie_no_quote_re``): every value
#: :func:`encode_value` gives.
_PLAIN_VALUE = re.compile(r"[\w!#$%&'()*+\-./:<=>?@\[\]^`{|}~]*", re.ASCII)


def _getlist(cookies: t.Any, name: str) -> list[str]:
    getlist = getattr(cookies, "getlist", None)
    if getlist is not None:
        values = list(getlist(name))
    else:
        value = cookies.get(name)
        values = [] if value is None else [value]
    return [_percent_decode(v) for v in values]


def _percent_decode(value: str) -> str:
    """A cookie value as Next.js reads it: ``decodeURIComponent`` when it holds a ``%``, and
    the raw value when that fails (its ``cookie.parse``); werkzeug leaves values encoded."""
    if "%" not in value or _BAD_ESCAPE.search(value):
        return value
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value


def is_session_cookie(key: str, name: str) -> bool:
    """``key`` is session cookie ``name`` or one of its chunks (``<name>.0``, ``<name>.1``...);
    a name that merely shares the prefix (``<name>-legacy``) is not."""
    if key == name:
        return True
    prefix = name + "."
    return key.startswith(prefix) and key[len(prefix) :].isdigit()


def chunk_names(cookies: t.Iterable[str], name: str) -> list[str]:
    """The request cookie names that belong to session cookie ``name``, in request order."""
    return [key for key in dict.fromkeys(cookies) if is_session_cookie(key, name)]


def opaque_session_value(cookies: t.Any, name: str) -> str | None:
    """The one session token of a database session cookie, or ``None``.

    Such a token (a UUID) is never chunked, so chunk cookies (``name.0``...) are never read for
    it: a sibling subdomain that plants them cannot swap in a session of its own. Two different
    ``name`` cookies (one tossed in for another domain or path) are no session rather than a
    guess at which one is the victim's, as next-auth signs such a request out.
    """
    values = [v for v in dict.fromkeys(_getlist(cookies, name)) if v]
    return values[0] if len(values) == 1 else None


def session_values(cookies: t.Any, name: str) -> list[str]:
    """Candidate session token values, most likely first, empty ones dropped.

    First the chunks ``name.0..name.N-1`` joined, then each bare ``name`` cookie, then shorter
    runs of chunks (a stale trailing chunk left by a failed rewrite). Values are percent-decoded
    as Next.js does (next-auth writes them with ``encodeURIComponent``).

    A chunk sent twice with different values (one planted from a sibling subdomain, say) makes
    the chunk set ambiguous: then every way of assembling it (at most :data:`MAX_ASSEMBLIES`,
    else none) is offered beside the bare cookies, so that the reader sees every identity the
    cookies hold and, finding two, answers "no session" rather than either of them.
    """
    first = _getlist(cookies, f"{name}.0")
    if not first:  # the usual case: one unchunked cookie
        bare = _getlist(cookies, name)
        return bare if len(bare) == 1 and bare[0] else [c for c in dict.fromkeys(bare) if c]
    sent = [list(dict.fromkeys(first))]
    for i in range(1, MAX_CHUNKS):
        values = _getlist(cookies, f"{name}.{i}")
        if not values:
            break
        sent.append(list(dict.fromkeys(values)))
    bare = _getlist(cookies, name)
    if any(len(values) > 1 for values in sent):
        if math.prod(len(values) for values in sent) > MAX_ASSEMBLIES:
            return []
        assemblies = ["".join(pieces) for pieces in itertools.product(*sent)]
        return [c for c in dict.fromkeys([*assemblies, *bare]) if c]
    chunks = [values[0] for values in sent]
    candidates = ["".join(chunks), *bare]
    for end in range(len(chunks) - 1, 0, -1):
        candidates.append("".join(chunks[:end]))
    return [c for c in dict.fromkeys(candidates) if c]


def hides_session_cookie(header: str | None, cookies: t.Any, name: str) -> bool:
    """Whether a quoted value in the ``Cookie`` header hides session cookie ``name`` (or a
    chunk) from ``cookies``, werkzeug's parse of it.

    werkzeug reads a quoted value across ``;``: ``a="x; name=<token>; b=y"`` is one cookie
    ``a`` to it, where browsers and Next.js split at every ``;`` and see ``name`` too. A cookie
    planted around the user's could so hide it and leave another one in view; such a header is
    no session. Counted as the ``;``-separated pairs whose name is ``name`` or a chunk of it,
    against the values werkzeug found for those names.
    """
    if not header or '"' not in header:
        return False
    keys = (pair.split("=", 1)[0].strip(" \t") for pair in header.split(";"))
    split = sum(1 for key in keys if is_session_cookie(key, name))
    parsed = sum(len(cookies.getlist(key)) for key in cookies if is_session_cookie(key, name))
    return split != parsed


def set_cookie_header(
    spec: CookieSpec,
    value: str,
    *,
    name: str | None = None,
    expires: float | dt.datetime | None = None,
    max_age: int | None = None,
) -> str:
    """One ``Set-Cookie`` value with ``spec``'s attributes, byte for byte as werkzeug's
    ``dump_cookie`` writes it (:attr:`~.config.CookieSpec.attributes`, written once a spec).

    :param value: the cookie value, already encoded (:func:`encode_value`): written as it is.
    :param expires: a timestamp or datetime for ``Expires``; ``None`` for a browser-session cookie.
    :param max_age: ``Max-Age``; ``0`` deletes the cookie.
    """
    if not _PLAIN_VALUE.fullmatch(value):  # werkzeug would quote it: let it
        return _dumped(spec, value, name=name, expires=expires, max_age=max_age)
    when = "" if expires is None else f"; Expires={http_date(expires)}"
    return _written(spec, name or spec.name, value, when, max_age)


def _written(spec: CookieSpec, name: str, value: str, when: str, max_age: int | None) -> str:
    """The ``Set-Cookie`` value of a plain ``value`` (:data:`_PLAIN_VALUE`); ``when`` is the
    ``Expires`` attribute already written, or ``""``."""
    domain, tail = spec.attributes
    # werkzeug sends a non-ASCII name as mojibake; every other part is ASCII already
    key = name.encode().decode("latin1")
    age = "" if max_age is None else f"; Max-Age={max_age}"
    return f"{key}={value}{domain}{when}{age}{tail}"


def _dumped(
    spec: CookieSpec,
    value: str,
    *,
    name: str | None,
    expires: float | dt.datetime | None,
    max_age: int | None,
) -> str:
    return dump_cookie(
        name or spec.name,
        value,
        max_age=max_age,
        expires=expires if expires is None or isinstance(expires, dt.datetime) else http_date(expires),
        path=spec.path,
        domain=spec.domain,
        secure=spec.secure,
        httponly=spec.http_only,
        samesite=spec.same_site,
        sync_expires=False,
        max_size=0,  # we chunk ourselves; next-auth's chunk size is the compatibility contract
    )


def delete_cookie_header(spec: CookieSpec, name: str | None = None) -> str:
    """A deletion as next-auth writes it: empty value, ``Max-Age=0``, no ``Expires``."""
    return set_cookie_header(spec, "", name=name, max_age=0)


def chunk(
    spec: CookieSpec,
    value: str,
    *,
    existing: t.Iterable[str],
    chunk_size: int,
    expires: float | dt.datetime | None = None,
) -> list[str]:
    """``Set-Cookie`` values that store ``value`` and expire every stale chunk.

    The order is next-auth's: deletions of the request's session cookies first, each replaced
    in place by the new cookie of the same name, then the remaining new chunks. ``value`` is cut
    into ``chunk_size`` characters first and each piece is then percent-encoded, as next-auth
    does (a no-op for a JWE).

    :param existing: the request's cookie names (only ``spec.name`` and its chunks count).
    :param chunk_size: 3933 characters for v4, 3936 for v5.
    """
    pieces = [value[i : i + chunk_size] for i in range(0, len(value), chunk_size)]
    if len(pieces) == 1:
        new = {spec.name: pieces[0]}
    else:
        new = {f"{spec.name}.{i}": piece for i, piece in enumerate(pieces)}
    # A request cookie's slot keeps its place, holding the new value or its deletion.
    out: dict[str, str | None] = dict.fromkeys(chunk_names(existing, spec.name))
    out.update(new)
    when = "" if expires is None else f"; Expires={http_date(expires)}"  # the same for every chunk
    return [
        delete_cookie_header(spec, name)
        if piece is None
        else _written(spec, name, encode_value(piece), when, None)  # encoded: plain
        for name, piece in out.items()
    ]


def clean(spec: CookieSpec, *, existing: t.Iterable[str]) -> list[str]:
    """Deletions for every session cookie and chunk the request carried."""
    return [delete_cookie_header(spec, n) for n in chunk_names(existing, spec.name)]


#: What ``encodeURIComponent`` leaves as it is: letters, digits and ``-_.!~*'()``.
_URI_COMPONENT_SAFE = "-_.!~*'()"
_UNESCAPED_BYTES = (string.ascii_letters + string.digits + _URI_COMPONENT_SAFE).encode()


def encode_value(value: str) -> str:
    """Percent-encode a cookie value as JavaScript's ``encodeURIComponent`` does."""
    # A session token (base64url and dots) has nothing to escape: one table pass over its bytes
    # says so, where ``quote`` checks each character against the safe set (about 2 µs a token).
    if value.isascii() and not value.encode().translate(None, _UNESCAPED_BYTES):
        return value
    return quote(value, safe=_URI_COMPONENT_SAFE)


def decode_value(value: str) -> str:
    """Undo :func:`encode_value` (werkzeug leaves cookie values percent-encoded)."""
    return unquote(value)
