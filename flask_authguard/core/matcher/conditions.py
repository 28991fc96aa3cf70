"""``has``/``missing`` conditions: checked at start-up, read from the WSGI environ per request."""

from __future__ import annotations

import dataclasses
import re
import typing as t
from urllib.parse import parse_qsl

from werkzeug.http import parse_cookie

from ..errors import ConfigurationError
from .lexer import PatternError
from .parse import FLAGS, js_to_python
from .safety import check_expression

_CONDITION_KEYS = frozenset({"type", "key", "value"})
_CONDITION_TYPES = ("header", "cookie", "query", "host")
#: CGI names of the two headers WSGI keeps without the ``HTTP_`` prefix.
_UNPREFIXED_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


class RequestView:
    """The parts of a WSGI environ that conditions read, each parsed at most once."""

    __slots__ = ("environ", "_cookies", "_query")

    def __init__(self, environ: t.Mapping[str, t.Any]) -> None:
        self.environ = environ
        self._cookies: t.Mapping[str, str] | None = None
        self._query: dict[str, str] | None = None

    def header(self, environ_key: str) -> str | None:
        value = self.environ.get(environ_key)
        return value if isinstance(value, str) else None

    def cookie(self, name: str) -> str | None:
        if self._cookies is None:
            self._cookies = parse_cookie(self.header("HTTP_COOKIE") or "")
        return self._cookies.get(name)

    def query(self, name: str) -> str | None:
        if self._query is None:
            raw = self.header("QUERY_STRING") or ""
            try:  # WSGI strings carry the raw bytes as latin-1
                raw = raw.encode("latin-1").decode("utf-8", "replace")
            except UnicodeEncodeError:
                pass
            # A repeated key counts with its last value, as in Next.js.
            self._query = dict(parse_qsl(raw, keep_blank_values=True, errors="replace"))
        return self._query.get(name)

    def host(self) -> str | None:
        host = self.header("HTTP_HOST")
        if not host:
            return None
        if host.startswith("["):  # an IPv6 literal keeps its colons
            end = host.find("]")
            return host[: end + 1].lower() if end != -1 else host.lower()
        return host.split(":", 1)[0].lower()


@dataclasses.dataclass(frozen=True)
class Condition:
    """One ``has``/``missing`` item, checked.

    ``type`` is ``"header"`` (case-insensitive ``key``), ``"cookie"``, ``"query"`` or ``"host"``
    (the ``Host`` header without its port, lower-cased; ``key`` is ignored). Without ``value``
    the item holds when the value is present and non-empty (Next.js's rule: an empty value
    counts as absent); with ``value`` the value must match that regular expression entirely.
    """

    type: str
    key: str | None
    value: re.Pattern[str] | None
    #: The environ key of a header.
    environ_key: str | None = None

    def holds(self, request: RequestView) -> bool:
        """Whether the request has this item."""
        if self.type == "header":
            assert self.environ_key is not None
            found = request.header(self.environ_key)
        elif self.type == "cookie":
            assert self.key is not None
            found = request.cookie(self.key)
        elif self.type == "query":
            assert self.key is not None
            found = request.query(self.key)
        else:
            found = request.host()
        if not found:
            return False
        return self.value is None or self.value.fullmatch(found) is not None


@dataclasses.dataclass(frozen=True)
class ConditionalEntry:
    """An entry with ``has``/``missing`` conditions: its path expression and its conditions."""

    source: str
    regex: re.Pattern[str]
    has: tuple[Condition, ...]
    missing: tuple[Condition, ...]

    def matches(self, path: str, request: RequestView) -> bool:
        """Whether ``path`` matches and every ``has`` item holds and no ``missing`` item does."""
        return (
            self.regex.fullmatch(path) is not None
            and all(c.holds(request) for c in self.has)
            and not any(c.holds(request) for c in self.missing)
        )


def condition(item: t.Any, source: str, where: str) -> Condition:
    def fail(what: str) -> ConfigurationError:
        return ConfigurationError(f"invalid matcher condition in {where} of {source!r}: {what}")

    if not isinstance(item, t.Mapping):
        raise fail(f"expected {{'type': ..., 'key': ..., 'value': ...}}, not {item!r}")
    unknown = set(item) - _CONDITION_KEYS
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (expected type, key, value)")
    kind = item.get("type")
    if kind not in _CONDITION_TYPES:
        raise fail(f"type must be one of {', '.join(_CONDITION_TYPES)}, not {kind!r}")
    key = item.get("key")
    value = item.get("value")
    if kind == "host":
        key = None  # Next.js ignores it too
        if not isinstance(value, str):
            raise fail(f"a 'host' condition needs a value (a regular expression), not {value!r}")
    elif not isinstance(key, str) or not key:
        raise fail(f"a {kind!r} condition needs a non-empty string key, not {key!r}")
    if value is not None and not isinstance(value, str):
        raise fail(f"value must be a regular expression string, not {value!r}")
    compiled: re.Pattern[str] | None = None
    if value:  # Next.js: an empty value means "present"
        try:
            compiled = re.compile(js_to_python(value), FLAGS)
        except re.error as exc:
            raise fail(f"value {value!r} is not a valid regular expression ({exc})") from None
        try:
            check_expression(value, f"value {value!r}")
        except PatternError as exc:
            raise fail(str(exc)) from None
    environ_key = None
    if kind == "header":
        assert key is not None
        environ_key = key.upper().replace("-", "_")
        if environ_key not in _UNPREFIXED_HEADERS:
            environ_key = "HTTP_" + environ_key
    return Condition(type=kind, key=key, value=compiled, environ_key=environ_key)


def conditions(items: t.Any, source: str, where: str) -> tuple[Condition, ...]:
    if items is None:
        return ()
    if isinstance(items, (str, bytes, t.Mapping)) or not isinstance(items, t.Sequence):
        raise ConfigurationError(
            f"invalid matcher entry {source!r}: {where} must be a list of conditions, not {items!r}"
        )
    return tuple(condition(item, source, where) for item in items)
