"""Next.js ``config.matcher`` for WSGI paths, compiled once at start-up.

The patterns are the ones a Next.js ``middleware.ts`` exports (path-to-regexp v6 syntax, the
version Next.js bundles), optionally with ``has``/``missing`` conditions on headers, cookies,
query parameters and the host:

.. code-block:: python

    from flask_authguard.matcher import compile_matcher

    matcher = compile_matcher([
        "/dashboard/:path*",
        "/((?!api|_next/static|_next/image|favicon.ico).*)",
        {
            "source": "/api/:path*",
            "has": [{"type": "header", "key": "Authorization", "value": "Bearer (.*)"}],
            "missing": [{"type": "cookie", "key": "session", "value": "active"}],
        },
    ])
    matcher.matches("/dashboard/settings")        # True
    matcher.matches("/api/users", request.environ)  # depends on the headers and cookies

Pattern syntax (path-to-regexp 6.3, with Next.js's options):

- literal text, matched case-sensitively; ``\\`` escapes the next character;
- ``:name``: one path segment; ``:name?`` zero or one, ``:name*`` zero or more, ``:name+`` one
  or more segments (``/about/:path*`` matches ``/about``, ``/about/a`` and ``/about/a/b``);
- ``:name(regex)``: a parameter with its own regular expression (``/post/:id(\\d+)``);
- ``(regex)``: an unnamed parameter (``/((?!api|_next/static).*)``); groups inside must be
  non-capturing or lookarounds (``(?:...)``, ``(?!...)``), as in path-to-regexp;
- ``{...}``: a group of text and at most one parameter, which may take a modifier
  (``/users{/:id}?``);
- the whole path must match, and one trailing slash is optional (``/about`` matches
  ``/about/``).

Invalid patterns fail at start-up with a :class:`~flask_authguard.errors.ConfigurationError`
that names the pattern and what is wrong. Besides path-to-regexp's own errors, a lone ``)``
(a literal for path-to-regexp, a typo in practice) is refused: escape it as ``\\)``.

Where this differs from Next.js, on purpose:

- Next.js also matches the ``/_next/data/<build id>/<path>.json`` form of every path, a
  ``.json`` suffix, and ``/index`` for ``/``. Those are Next.js's own data routes; a WSGI app
  has none, so they are not added.
- Next.js matches the *percent-encoded* pathname; the path given here is the decoded, normalised
  ``PATH_INFO``. So that a decoded ``?``, ``#`` or line break can never slip a request past a
  pattern, a parameter stops only at ``/`` (path-to-regexp stops at ``/``, ``#`` and ``?``,
  which never occur unencoded in a pathname), the optional trailing delimiter is ``/`` only, and
  ``.`` in your regular expressions matches any character, line breaks included.
- Regular expressions are compiled by Python's :mod:`re` with :data:`re.ASCII` (``\\d`` and
  ``\\w`` are ASCII, as in JavaScript). JavaScript's named groups ``(?<name>...)`` are accepted;
  other JavaScript-only syntax is a :class:`~flask_authguard.errors.ConfigurationError`.
- A condition's ``value`` must match the *whole* value: ``^(?:value)$``. Next.js builds
  ``^value$``, which for an alternation such as ``a|b`` anchors only its ends.
- Unknown keys in an entry or condition are errors rather than ignored, to catch typos.

Backtracking: Python's :mod:`re` has no time limit, so patterns are checked at start-up. The
built-in parameter forms cannot backtrack badly (a segment never matches its separator), a
repeated parameter (``*``/``+``) whose regular expression can match its own separator (as in
``/:path(.*)*``) is refused because it would backtrack exponentially, and repeating a parameter
without a separator is refused as path-to-regexp does. What remains is yours: several unbounded
wildcards in one pattern (``/(.*)/(.*)/(.*)/x``) cost polynomial time on long paths, and a
nested quantifier inside your own regular expression (``((?:a+)+)``) costs exponential time.
Keep custom expressions simple; the built-in forms are always safe.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from urllib.parse import parse_qsl

from werkzeug.http import parse_cookie

from .errors import ConfigurationError

__all__ = ["Matcher", "MatcherEntry", "MatcherPatterns", "compile_matcher"]

#: One entry: a path pattern, or ``{"source": ..., "has": [...], "missing": [...]}``.
MatcherEntry: t.TypeAlias = "str | t.Mapping[str, t.Any]"
#: What :class:`Matcher` accepts: ``None`` (every path), one entry, or a list of entries.
MatcherPatterns: t.TypeAlias = "str | t.Mapping[str, t.Any] | t.Sequence[MatcherEntry] | None"

#: Flags of every compiled expression: JavaScript's ASCII classes; ``.`` spans line breaks.
_FLAGS = re.ASCII | re.DOTALL
#: path-to-regexp's defaults, as Next.js calls it.
_PREFIXES = "./"
_DELIMITERS = "/#?"
#: The only delimiter of a decoded WSGI path (see the module notes).
_SEGMENT = "[^/]"
_ENTRY_KEYS = frozenset({"source", "has", "missing", "locale"})
_CONDITION_KEYS = frozenset({"type", "key", "value"})
_CONDITION_TYPES = ("header", "cookie", "query", "host")
#: CGI names of the two headers WSGI keeps without the ``HTTP_`` prefix.
_UNPREFIXED_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
#: A JavaScript named group ``(?<name>`` (not a lookbehind), not preceded by an escape.
_JS_NAMED_GROUP = re.compile(r"(?<!\\)((?:\\\\)*)\(\?<([A-Za-z_$][\w$]*)>")


class _PatternError(Exception):
    """A pattern could not be parsed; turned into :class:`ConfigurationError` with its source."""


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # MODIFIER, ESCAPED_CHAR, OPEN, CLOSE, NAME, PATTERN, CHAR, END
    index: int
    value: str


@dataclasses.dataclass(frozen=True)
class _Param:
    name: str
    prefix: str
    suffix: str
    #: The parameter's regular expression (``""`` for a ``{...}`` group of text only).
    pattern: str
    modifier: str


def _lex(source: str) -> list[_Token]:
    """path-to-regexp's lexer (v6.3)."""
    tokens: list[_Token] = []
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char in "*+?":
            tokens.append(_Token("MODIFIER", i, char))
            i += 1
        elif char == "\\":
            if i + 1 >= n:
                raise _PatternError(f"a trailing backslash at {i} escapes nothing")
            tokens.append(_Token("ESCAPED_CHAR", i, source[i + 1]))
            i += 2
        elif char == "{":
            tokens.append(_Token("OPEN", i, char))
            i += 1
        elif char == "}":
            tokens.append(_Token("CLOSE", i, char))
            i += 1
        elif char == ":":
            j = i + 1
            while j < n and (source[j].isascii() and (source[j].isalnum() or source[j] == "_")):
                j += 1
            if j == i + 1:
                raise _PatternError(f"missing parameter name after ':' at {i}")
            tokens.append(_Token("NAME", i, source[i + 1 : j]))
            i = j
        elif char == "(":
            i = _lex_group(source, i, tokens)
        elif char == ")":
            # path-to-regexp would take it as a literal; it is almost always a typo.
            raise _PatternError(f"unbalanced parenthesis ')' at {i} (write '\\)' for a literal one)")
        else:
            tokens.append(_Token("CHAR", i, char))
            i += 1
    tokens.append(_Token("END", n, ""))
    return tokens


def _lex_group(source: str, start: int, tokens: list[_Token]) -> int:
    """Lex a parenthesised regular expression starting at ``start``; return the index after it."""
    n = len(source)
    j = start + 1
    if j < n and source[j] == "?":
        raise _PatternError(f"a pattern cannot start with '?' at {j}")
    depth = 1
    while j < n:
        char = source[j]
        if char == "\\":
            j += 2
            continue
        if char == ")":
            depth -= 1
            if depth == 0:
                break
        elif char == "(":
            depth += 1
            if j + 1 >= n or source[j + 1] != "?":
                raise _PatternError(
                    f"capturing group at {j}: use a non-capturing group '(?:...)' inside a pattern"
                )
        j += 1
    if depth:
        raise _PatternError(f"unbalanced parenthesis '(' at {start}: no matching ')'")
    pattern = source[start + 1 : j]
    if not pattern:
        raise _PatternError(f"empty pattern '()' at {start}")
    tokens.append(_Token("PATTERN", start, pattern))
    return j + 1


def _parse(source: str) -> list[str | _Param]:
    """path-to-regexp's parser (v6.3): literal strings and parameters."""
    tokens = _lex(source)
    result: list[str | _Param] = []
    key = 0
    i = 0
    path = ""

    def try_consume(kind: str) -> str | None:
        nonlocal i
        if i < len(tokens) and tokens[i].kind == kind:
            i += 1
            return tokens[i - 1].value
        return None

    def must_consume(kind: str) -> str:
        value = try_consume(kind)
        if value is not None:
            return value
        token = tokens[i]
        found = "the end" if token.kind == "END" else repr(token.value)
        raise _PatternError(f"unexpected {found} at {token.index}, expected {_EXPECTED[kind]}")

    def consume_text() -> str:
        text = ""
        while True:
            value = try_consume("CHAR")
            if value is None:
                value = try_consume("ESCAPED_CHAR")
            if value is None:
                return text
            text += value

    def safe_pattern(prefix: str) -> str:
        # path-to-regexp 6.3's guard: a parameter after text without a delimiter may not start
        # with that text, so two parameters can never fight over the same characters.
        prev = result[-1] if result else None
        prev_text = prefix or (prev if isinstance(prev, str) else "")
        if prev is not None and not prev_text:
            assert isinstance(prev, _Param)
            raise _PatternError(f"parameters need text between them, none after {prev.name!r}")
        if not prev_text or any(d in prev_text for d in _DELIMITERS):
            return f"{_SEGMENT}+?"
        return f"(?:(?!{re.escape(prev_text)}){_SEGMENT})+?"

    while i < len(tokens):
        char = try_consume("CHAR")
        name = try_consume("NAME")
        pattern = try_consume("PATTERN")
        if name or pattern:
            prefix = char or ""
            if prefix and prefix not in _PREFIXES:
                path += prefix
                prefix = ""
            if path:
                result.append(path)
                path = ""
            if not name:
                name, key = str(key), key + 1
            result.append(
                _Param(
                    name=name,
                    prefix=prefix,
                    suffix="",
                    pattern=pattern or safe_pattern(prefix),
                    modifier=try_consume("MODIFIER") or "",
                )
            )
            continue
        value = char or try_consume("ESCAPED_CHAR")
        if value:
            path += value
            continue
        if path:
            result.append(path)
            path = ""
        if try_consume("OPEN"):
            prefix = consume_text()
            name = try_consume("NAME") or ""
            pattern = try_consume("PATTERN") or ""
            suffix = consume_text()
            must_consume("CLOSE")
            if not name and pattern:
                name, key = str(key), key + 1
            result.append(
                _Param(
                    name=name,
                    prefix=prefix,
                    suffix=suffix,
                    pattern=safe_pattern(prefix) if name and not pattern else pattern,
                    modifier=try_consume("MODIFIER") or "",
                )
            )
            continue
        must_consume("END")
    return result


_EXPECTED = {"END": "the end of the pattern", "CLOSE": "'}'"}


def _js_to_python(regex: str) -> str:
    """Accept JavaScript's named groups; the names are never used, so they become plain groups."""
    return _JS_NAMED_GROUP.sub(lambda m: f"{m.group(1)}(?:", regex)


def _check_repeatable(param: _Param) -> None:
    """Refuse a repeated parameter whose expression can match its own separator.

    ``(?:/(?:P)(?:/(?:P))*)`` splits a path one way only when ``P`` cannot match ``/``;
    otherwise every split is tried when a later part fails, which is exponential. The probe
    strings catch the usual culprits (``.*``, ``.+``, ``[^x]+``...); it is a heuristic.
    """
    separator = param.suffix + param.prefix
    try:
        compiled = re.compile(_js_to_python(param.pattern), _FLAGS)
    except re.error:
        return  # reported with the whole pattern
    probes = (
        separator,
        f"a{separator}",
        f"{separator}a",
        f"a{separator}a",
        f"0{separator}0",
        f"A{separator}A",
        f"-{separator}-",
        f".{separator}.",
    )
    if any(compiled.fullmatch(probe) for probe in probes):
        raise _PatternError(
            f"the expression ({param.pattern}) of repeated parameter {param.name!r} can match its "
            f"separator {separator!r}, which backtracks exponentially; drop the "
            f"'{param.modifier}' (e.g. '/:{param.name}(.*)') or keep {separator!r} out of it"
        )


def _to_regex(tokens: list[str | _Param]) -> str:
    """The regular expression of parsed tokens, for :func:`re.fullmatch` (no capturing groups)."""
    parts: list[str] = []
    for token in tokens:
        if isinstance(token, str):
            parts.append(re.escape(token))
            continue
        prefix = re.escape(token.prefix)
        suffix = re.escape(token.suffix)
        modifier = token.modifier
        pattern = _js_to_python(token.pattern)
        if not token.pattern:
            parts.append(f"(?:{prefix}{suffix}){modifier}")
        elif modifier in ("*", "+"):
            if not (prefix or suffix):
                raise _PatternError(
                    f"cannot repeat parameter {token.name!r} without a prefix or suffix "
                    f"(write '/:{token.name}{modifier}' or '{{/:{token.name}}}{modifier}')"
                )
            _check_repeatable(token)
            optional = "?" if modifier == "*" else ""
            parts.append(f"(?:{prefix}(?:{pattern})(?:{suffix}{prefix}(?:{pattern}))*{suffix}){optional}")
        elif prefix or suffix:
            parts.append(f"(?:{prefix}(?:{pattern}){suffix}){modifier}")
        else:
            parts.append(f"(?:{pattern}){modifier}")
    # path-to-regexp's non-strict mode: one trailing delimiter is optional.
    parts.append("/?")
    return "".join(parts)


def _compile_source(source: str) -> str:
    """Check a ``source`` and return its regular expression; the pattern is named on error."""
    try:
        regex = _to_regex(_parse(source))
        compiled = re.compile(regex, _FLAGS)
    except _PatternError as exc:
        raise ConfigurationError(f"invalid matcher pattern {source!r}: {exc}") from None
    except re.error as exc:
        raise ConfigurationError(
            f"invalid matcher pattern {source!r}: not a valid regular expression ({exc})"
        ) from None
    if compiled.groups:
        raise ConfigurationError(
            f"invalid matcher pattern {source!r}: capturing or named groups are not allowed; use '(?:...)'"
        )
    return regex


class _RequestView:
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

    def holds(self, request: _RequestView) -> bool:
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

    def matches(self, path: str, request: _RequestView) -> bool:
        """Whether ``path`` matches and every ``has`` item holds and no ``missing`` item does."""
        return (
            self.regex.fullmatch(path) is not None
            and all(c.holds(request) for c in self.has)
            and not any(c.holds(request) for c in self.missing)
        )


def _condition(item: t.Any, source: str, where: str) -> Condition:
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
            compiled = re.compile(_js_to_python(value), _FLAGS)
        except re.error as exc:
            raise fail(f"value {value!r} is not a valid regular expression ({exc})") from None
    environ_key = None
    if kind == "header":
        assert key is not None
        environ_key = key.upper().replace("-", "_")
        if environ_key not in _UNPREFIXED_HEADERS:
            environ_key = "HTTP_" + environ_key
    return Condition(type=kind, key=key, value=compiled, environ_key=environ_key)


def _conditions(items: t.Any, source: str, where: str) -> tuple[Condition, ...]:
    if items is None:
        return ()
    if isinstance(items, (str, bytes, t.Mapping)) or not isinstance(items, t.Sequence):
        raise ConfigurationError(
            f"invalid matcher entry {source!r}: {where} must be a list of conditions, not {items!r}"
        )
    return tuple(_condition(item, source, where) for item in items)


def _entry(entry: t.Any) -> tuple[str, tuple[Condition, ...], tuple[Condition, ...]]:
    """Check one entry: its source and its ``has``/``missing`` conditions."""
    has: tuple[Condition, ...] = ()
    missing: tuple[Condition, ...] = ()
    if isinstance(entry, str):
        source = entry
    elif isinstance(entry, t.Mapping):
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise ConfigurationError(
                f"invalid matcher entry {entry!r}: unknown key(s) "
                f"{', '.join(sorted(map(str, unknown)))} (expected source, has, missing)"
            )
        given = entry.get("source")
        if not isinstance(given, str):
            raise ConfigurationError(f"invalid matcher entry {entry!r}: 'source' must be a string")
        source = given
        if entry.get("locale") not in (None, False):
            raise ConfigurationError(
                f"invalid matcher entry {source!r}: 'locale' must be False or absent (no i18n here)"
            )
        has = _conditions(entry.get("has"), source, "has")
        missing = _conditions(entry.get("missing"), source, "missing")
    else:
        raise ConfigurationError(
            f"invalid matcher entry {entry!r}: expected a path pattern string or "
            "{'source': str, 'has': [...], 'missing': [...]}"
        )
    if not source.startswith("/"):
        raise ConfigurationError(f"invalid matcher pattern {source!r}: it must start with '/'")
    return source, has, missing


class Matcher:
    """Next.js ``config.matcher`` patterns, compiled once.

    :param patterns: ``None`` matches every path; ``[]`` matches none; otherwise one entry or a
        list of entries, each a path pattern string or a mapping
        ``{"source": str, "has": [...], "missing": [...]}`` (``locale: False`` is accepted).
    :raises ConfigurationError: an entry, pattern or condition is invalid; the message names it.

    Entries without conditions are joined into one regular expression, :attr:`regex`, so one
    pattern or a hundred cost a single :meth:`re.Pattern.fullmatch`; entries with conditions are
    kept in :attr:`conditional` and checked one by one, only when :attr:`regex` fails.
    """

    __slots__ = ("sources", "match_all", "regex", "conditional")

    def __init__(self, patterns: MatcherPatterns = None) -> None:
        #: Every entry's ``source``, in order (empty for ``None``).
        self.sources: tuple[str, ...] = ()
        #: ``True`` for ``None``: every path matches.
        self.match_all: bool = patterns is None
        #: One expression for every entry without conditions; ``None`` when there is none.
        self.regex: re.Pattern[str] | None = None
        #: The entries with ``has``/``missing`` conditions.
        self.conditional: tuple[ConditionalEntry, ...] = ()
        if patterns is None:
            return
        if isinstance(patterns, (str, t.Mapping)):
            entries: t.Sequence[t.Any] = [patterns]
        elif isinstance(patterns, t.Sequence) and not isinstance(patterns, (bytes, bytearray)):
            entries = patterns
        else:
            raise ConfigurationError(
                "matcher must be None, a path pattern, a {'source': ...} mapping or a list of "
                f"them, not {patterns!r}"
            )
        plain: dict[str, None] = {}  # ordered and without duplicates
        conditional: list[ConditionalEntry] = []
        sources: list[str] = []
        for entry in entries:
            source, has, missing = _entry(entry)
            regex = _compile_source(source)
            sources.append(source)
            if has or missing:
                conditional.append(ConditionalEntry(source, re.compile(regex, _FLAGS), has, missing))
            else:
                plain[regex] = None
        self.sources = tuple(sources)
        if plain:
            self.regex = re.compile("|".join(f"(?:{r})" for r in plain), _FLAGS)
        self.conditional = tuple(conditional)

    def matches(self, path: str, environ: t.Mapping[str, t.Any] | None = None) -> bool:
        """Whether the middleware applies to ``path``.

        :param path: the normalised path, without ``SCRIPT_NAME`` (``""`` counts as ``/``).
        :param environ: the WSGI environ, read only by ``has``/``missing`` conditions; without
            it no ``has`` item holds and every ``missing`` item is absent.
        """
        if self.match_all:
            return True
        path = path or "/"
        if self.regex is not None and self.regex.fullmatch(path) is not None:
            return True
        if self.conditional:
            request = _RequestView(environ if environ is not None else {})
            return any(entry.matches(path, request) for entry in self.conditional)
        return False

    __call__ = matches

    def __repr__(self) -> str:
        if self.match_all:
            return "Matcher(None)"
        return f"Matcher({list(self.sources)!r})"


def compile_matcher(patterns: MatcherPatterns | Matcher = None) -> Matcher:
    """A :class:`Matcher` for ``patterns``; a :class:`Matcher` is returned as it is.

    :raises ConfigurationError: a pattern is invalid; the message names it and what is wrong.
    """
    if isinstance(patterns, Matcher):
        return patterns
    return Matcher(patterns)
