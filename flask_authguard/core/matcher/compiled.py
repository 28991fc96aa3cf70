"""The :class:`Matcher`: entries checked and compiled once, then matched per request."""

from __future__ import annotations

import re
import typing as t

from ..errors import ConfigurationError
from .conditions import Condition, ConditionalEntry, RequestView, conditions
from .lexer import PatternError
from .parse import FLAGS, Param, js_to_python, parse
from .safety import check_linear, check_repeatable, simplify

#: One entry: a path pattern, or ``{"source": ..., "has": [...], "missing": [...]}``.
MatcherEntry: t.TypeAlias = "str | t.Mapping[str, t.Any]"
#: What :class:`Matcher` accepts: ``None`` (every path), one entry, or a list of entries.
MatcherPatterns: t.TypeAlias = "str | t.Mapping[str, t.Any] | t.Sequence[MatcherEntry] | None"
_ENTRY_KEYS = frozenset({"source", "has", "missing", "locale"})


def to_regex(tokens: list[str | Param]) -> str:
    """The regular expression of parsed tokens, for :func:`re.fullmatch` (no capturing groups)."""
    parts: list[str] = []
    for token in tokens:
        if isinstance(token, str):
            parts.append(re.escape(token))
            continue
        prefix = re.escape(token.prefix)
        suffix = re.escape(token.suffix)
        modifier = token.modifier
        pattern = js_to_python(token.pattern)
        if not token.pattern:
            parts.append(f"(?:{prefix}{suffix}){modifier}")
        elif modifier in ("*", "+"):
            if not (prefix or suffix):
                raise PatternError(
                    f"cannot repeat parameter {token.name!r} without a prefix or suffix "
                    f"(write '/:{token.name}{modifier}' or '{{/:{token.name}}}{modifier}')"
                )
            check_repeatable(token)
            optional = "?" if modifier == "*" else ""
            parts.append(f"(?:{prefix}(?:{pattern})(?:{suffix}{prefix}(?:{pattern}))*{suffix}){optional}")
        elif prefix or suffix:
            parts.append(f"(?:{prefix}(?:{pattern}){suffix}){modifier}")
        else:
            parts.append(f"(?:{pattern}){modifier}")
    # path-to-regexp's non-strict mode: one trailing delimiter is optional.
    parts.append("/?")
    return "".join(parts)


def compile_source(source: str) -> str:
    """Check a ``source`` and return its regular expression; the pattern is named on error."""
    try:
        tokens = simplify(parse(source))
        regex = to_regex(tokens)
        compiled = re.compile(regex, FLAGS)
    except PatternError as exc:
        raise ConfigurationError(f"invalid matcher pattern {source!r}: {exc}") from None
    except re.error as exc:
        raise ConfigurationError(
            f"invalid matcher pattern {source!r}: not a valid regular expression ({exc})"
        ) from None
    if compiled.groups:
        raise ConfigurationError(
            f"invalid matcher pattern {source!r}: capturing or named groups are not allowed; use '(?:...)'"
        )
    try:
        check_linear(tokens)
    except PatternError as exc:
        raise ConfigurationError(f"invalid matcher pattern {source!r}: {exc}") from None
    return regex


def entry_of(entry: t.Any) -> tuple[str, tuple[Condition, ...], tuple[Condition, ...]]:
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
        has = conditions(entry.get("has"), source, "has")
        missing = conditions(entry.get("missing"), source, "missing")
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
            source, has, missing = entry_of(entry)
            regex = compile_source(source)
            sources.append(source)
            if has or missing:
                conditional.append(ConditionalEntry(source, re.compile(regex, FLAGS), has, missing))
            else:
                plain[regex] = None
        self.sources = tuple(sources)
        if plain:
            self.regex = re.compile("|".join(f"(?:{r})" for r in plain), FLAGS)
        self.conditional = tuple(conditional)

    @property
    def is_empty(self) -> bool:
        """Whether no path can match (``[]``)."""
        return not self.match_all and self.regex is None and not self.conditional

    def matches(self, path: str, environ: t.Mapping[str, t.Any] | None = None) -> bool:
        """Whether the middleware applies to ``path``.

        :param path: the normalised path as text (``/café``, not WSGI's latin-1 ``/cafÃ©``;
            the guard decodes it), without ``SCRIPT_NAME`` (``""`` counts as ``/``).
        :param environ: the WSGI environ, read only by ``has``/``missing`` conditions; without
            it no ``has`` item holds and every ``missing`` item is absent.
        """
        if self.match_all:
            return True
        path = path or "/"
        if self.regex is not None and self.regex.fullmatch(path) is not None:
            return True
        if self.conditional:
            request = RequestView(environ if environ is not None else {})
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
