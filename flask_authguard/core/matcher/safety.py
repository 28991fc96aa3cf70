"""Start-up checks that keep matching fast: patterns that would backtrack badly are refused."""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing as t

from .lexer import PatternError
from .parse import FLAGS, SEGMENT, Param, js_to_python


def check_repeatable(param: Param) -> None:
    """Refuse a repeated parameter whose expression can match its own separator.

    ``(?:/(?:P)(?:/(?:P))*)`` splits a path one way only when ``P`` cannot match ``/``;
    otherwise every split is tried when a later part fails, which is exponential. The probe
    strings catch the usual culprits (``.*``, ``.+``, ``[^x]+``...) with a clear message;
    :func:`check_linear` refuses any other repeat inside ``P`` that can take the separator.
    """
    separator = param.suffix + param.prefix
    try:
        compiled = re.compile(js_to_python(param.pattern), FLAGS)
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
        raise PatternError(
            f"the expression ({param.pattern}) of repeated parameter {param.name!r} can match its "
            f"separator {separator!r}, which backtracks exponentially; drop the "
            f"'{param.modifier}' (e.g. '/:{param.name}(.*)') or keep {separator!r} out of it"
        )


# -- Linear-time matching -------------------------------------------------------------------------
#
# Python's re backtracks: when a match fails late, every other way of splitting the text between
# the repeated parts is tried. A repeat R can only be retried at many places when it is still
# "open": everything the pattern required since R could also have been eaten by R. A later repeat
# R2 multiplies the work when it is open to the same characters (it overlaps R) and nothing
# required in between is a character R2 cannot take (which would stop R2 at the next one, so the
# retries of R2 stay inside disjoint stretches). The longest chain of repeats each multiplying the
# previous one gives the cost: one repeat matches in linear time, a chain of d about n**d steps.
# Character sets are over-approximated (every non-ASCII character is one symbol), which only
# ever makes the check stricter.

_parser: t.Any
try:
    _parser = importlib.import_module("re._parser")  # Python 3.11+
except ImportError:  # pragma: no cover - Python 3.10
    _parser = importlib.import_module("sre_parse")

#: Stands for every non-ASCII character.
_NON_ASCII = "\x80"
_ALPHABET = frozenset(chr(i) for i in range(129))
_ASCII_SETS = {
    "CATEGORY_DIGIT": frozenset("0123456789"),
    "CATEGORY_SPACE": frozenset(" \t\n\r\f\v"),
    "CATEGORY_WORD": frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"),
}
_SINGLE = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN"})
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_ASSERTS = frozenset({"ASSERT", "ASSERT_NOT"})


@dataclasses.dataclass(frozen=True)
class _Open:
    """A repeat that can still give back characters: its set, its chain, what was required since."""

    chars: frozenset[str]
    chain: tuple[str, ...]
    #: The sets of the characters required since; one disjoint from a later repeat stops it.
    between: frozenset[frozenset[str]] = frozenset()


_State = tuple[_Open, ...]


def _merge(*states: _State) -> _State:
    """The repeats open after either of several alternatives, one per set and chain length.

    Two versions of a repeat merge into one that stops a later repeat only when both would:
    each pair of their required sets becomes one union set.
    """
    merged: dict[tuple[frozenset[str], int], _Open] = {}
    for state in states:
        for o in state:
            key = (o.chars, len(o.chain))
            known = merged.get(key)
            if known is not None and known.between != o.between:
                between = frozenset(a | b for a in known.between for b in o.between)
                o = dataclasses.replace(known, between=between if len(between) <= 64 else frozenset())
            merged[key] = o
    return tuple(merged.values())


def _op(constant: t.Any) -> str:
    """The name of one of :mod:`re`'s parser constants (``LITERAL``, ``CATEGORY_DIGIT``...)."""
    return str(constant.name)


def _char(code: int) -> str:
    return chr(code) if code < 128 else _NON_ASCII


def _category(name: str) -> frozenset[str]:
    base = name.replace("NOT_", "").replace("UNI_", "").replace("LOC_", "")
    chars = _ASCII_SETS.get(base)
    if chars is None:  # LINEBREAK and anything unknown: all characters
        return _ALPHABET
    if "NOT_" in name:
        return (_ALPHABET - chars) | {_NON_ASCII}
    return chars if name == base else chars | {_NON_ASCII}


def _class(items: list[tuple[t.Any, t.Any]]) -> frozenset[str]:
    chars: set[str] = set()
    negate = False
    for op, av in items:
        name = _op(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            chars.add(_char(av))
        elif name == "RANGE":
            low, high = av
            chars.update(chr(c) for c in range(low, min(high, 127) + 1))
            if high >= 128:
                chars.add(_NON_ASCII)
        elif name == "CATEGORY":
            chars |= _category(_op(av))
        else:
            return _ALPHABET
    return (_ALPHABET - chars) | {_NON_ASCII} if negate else frozenset(chars)


class _Walk:
    """Walk one expression (or a path pattern part by part), keeping the worst chain."""

    def __init__(self) -> None:
        self.worst: tuple[str, ...] = ()

    def required(self, state: _State, chars: frozenset[str]) -> _State:
        """One required character from ``chars``: it closes the repeats that cannot take it."""
        return tuple(
            dataclasses.replace(o, between=o.between | {chars})
            for o in state
            if not o.chars.isdisjoint(chars)
        )

    def text(self, state: _State, text: str) -> _State:
        for char in text:
            state = self.required(state, frozenset(_char(ord(char))))
        return state

    def repeat(self, state: _State, chars: frozenset[str], minimum: int, what: str) -> _State:
        """A repeat of ``chars``: it multiplies the open repeats it overlaps and can catch up with."""
        longest: tuple[str, ...] = ()
        for o in state:
            if o.chars.isdisjoint(chars) or any(b.isdisjoint(chars) for b in o.between):
                continue
            if len(o.chain) > len(longest):
                longest = o.chain
        chain = (*longest, what)
        if len(chain) > len(self.worst):
            self.worst = chain
        if minimum:
            state = self.required(state, chars)
        return (*state, _Open(chars, chain))

    def expression(
        self, state: _State, items: t.Iterable[tuple[t.Any, t.Any]], icase: bool, what: str
    ) -> _State:
        """Walk the parsed items of a regular expression."""
        for op, av in items:
            name = _op(op)
            if name in _SINGLE:
                state = self.required(state, _single(name, av, icase))
            elif name == "SUBPATTERN":
                state = self.expression(state, av[3], _case(av, icase), what)
            elif name == "ATOMIC_GROUP":
                state = self.expression(state, av, icase, what)
            elif name == "BRANCH":
                state = _merge(*(self.expression(state, branch, icase, what) for branch in av[1]))
            elif name in _ASSERTS:
                self.expression(state, av[1], icase, what)  # re-run wherever it is reached
            elif name in _REPEATS:
                state = self._repeat(state, av, what, icase)
            elif name != "AT":  # anything else: assume the worst
                state = self.repeat(state, _ALPHABET, 0, what)
        return state

    def _repeat(self, state: _State, av: t.Any, what: str, icase: bool) -> _State:
        minimum, maximum, body = av
        chars = _simple(body, icase)
        if maximum < _parser.MAXREPEAT and (chars is None or minimum == maximum or maximum == 1):
            # ``x?``, ``x{3}`` and a bounded repeat of a group are the body written out (so ``x?``
            # is no repeat); two copies show any chain that a third one would.
            for copy in range(min(maximum, 2)):
                taken = self.expression(state, body, icase, what)
                state = taken if copy < minimum else _merge(state, taken)
            return state
        if chars is None:
            raise PatternError(
                f"the expression in {what} repeats a part that is itself repeated or has alternatives, "
                "which backtracks exponentially on a long path; repeat single characters only "
                "(e.g. '[a-z0-9-]+')"
            )
        return self.repeat(state, chars, minimum, what)


def _case(subpattern: t.Any, icase: bool) -> bool:
    """Whether a group ``(?i:...)`` / ``(?-i:...)`` matches ignoring case."""
    _group, add, delete, _body = subpattern
    return (icase or bool(add & re.IGNORECASE)) and not delete & re.IGNORECASE


def _single(name: str, av: t.Any, icase: bool) -> frozenset[str]:
    if name == "LITERAL":
        chars = frozenset(_char(av))
    elif name == "NOT_LITERAL":
        chars = _ALPHABET - ({_char(av)} - {_NON_ASCII})
    elif name == "IN":
        chars = _class(av)
    else:
        chars = _ALPHABET
    if icase:
        chars = chars | {c.swapcase() for c in chars}
    return chars


def _simple(items: t.Iterable[tuple[t.Any, t.Any]], icase: bool) -> frozenset[str] | None:
    """The characters a repeat body of single characters takes, or ``None`` for any other body.

    ``(?!x)[^/]`` takes ``[^/]`` without ``x``: the segment form path-to-regexp uses after text.
    """
    chars: set[str] = set()
    excluded: frozenset[str] = frozenset()
    for op, av in items:
        name = _op(op)
        if name in _SINGLE:
            chars |= _single(name, av, icase) - excluded
            excluded = frozenset()
        elif name == "ASSERT_NOT" and av[0] == 1 and len(av[1]) == 1 and _op(av[1][0][0]) in _SINGLE:
            excluded = excluded | _single(_op(av[1][0][0]), av[1][0][1], icase)
        elif name in _ASSERTS and _simple(av[1], icase) is not None:
            excluded = frozenset()
        elif name == "SUBPATTERN" and (inner := _simple(av[3], _case(av, icase))) is not None:
            chars |= inner
            excluded = frozenset()
        elif name != "AT":
            return None
    return frozenset(chars)


def _parse_expression(regex: str) -> tuple[t.Any, bool]:
    """The parsed items of an expression, and whether it starts with a global ``(?i)``."""
    parsed = _parser.parse(js_to_python(regex), FLAGS)
    return parsed, bool(parsed.state.flags & re.IGNORECASE)


def _describe(param: Param) -> str:
    if param.name.isdigit():
        return f"({param.pattern}){param.modifier}"
    custom = f"({param.pattern})" if param.custom else ""
    return f":{param.name}{custom}{param.modifier}"


def _limit(walk: _Walk, subject: str) -> None:
    if len(walk.worst) > 1:
        parts = ", ".join(repr(p) for p in walk.worst)
        raise PatternError(
            f"{len(walk.worst)} repeats (in {parts}) can take the same characters, so a {subject} of n "
            f"characters that fails to match is split between them in about n**{len(walk.worst)} ways "
            "(not linear in n); keep one repeat that can take the text between them (a single "
            "':path*' or '(.*)') and make the others stop at that text ('/:id', '([^/]+)')"
        )


def simplify(tokens: list[str | Param]) -> list[str | Param]:
    """Drop what cannot change whether a path matches but would make matching quadratic.

    After a whole-segment parameter (``:name`` is ``[^/]+?``), an optional parameter that
    path-to-regexp gives a non-``/`` prefix, as in ``/:name.:ext*`` or ``/:name.:ext?``, matches
    no segment that ``:name`` alone does not; and with ``+`` one ``.ext`` matches the same
    segments as several (the name takes the rest). The regex stays the same language.
    """
    result: list[str | Param] = []
    for token in tokens:
        prev = result[-1] if result else None
        if (
            isinstance(token, Param)
            and isinstance(prev, Param)
            and not (token.custom or prev.custom or prev.modifier or prev.suffix or token.suffix)
            and prev.pattern == f"{SEGMENT}+?"
            and token.pattern
            and token.prefix
            and "/" not in token.prefix
            and token.modifier in ("*", "?", "+")
        ):
            if token.modifier == "+":
                result.append(dataclasses.replace(token, modifier=""))
            continue
        result.append(token)
    return result


def check_linear(tokens: t.Sequence[str | Param]) -> None:
    """Refuse a parsed pattern that Python's backtracking :mod:`re` could not match in linear time.

    :raises PatternError: a repeat nests another (exponential), or two repeated parts can take the
        same characters with nothing in between that stops the later one (polynomial).
    """
    walk = _Walk()
    state: _State = ()
    for token in tokens:
        if isinstance(token, str):
            state = walk.text(state, token)
            continue
        what = _describe(token)
        separators = token.prefix + token.suffix
        if token.modifier in ("*", "+"):
            body: frozenset[str] = frozenset()
            if token.pattern:
                body = _consumed(token.pattern)
            chars = body | frozenset(_char(ord(c)) for c in separators)
            if token.pattern:
                # One repetition, after the previous ones: each must stop at the separator.
                previous = _Open(chars, (what,), frozenset(frozenset(_char(ord(c))) for c in separators))
                inner = _Walk()
                inner.expression((previous,), *_parse_expression(token.pattern), what=what)
                _limit(inner, "path")
            state = walk.repeat(state, chars, 1 if token.modifier == "+" else 0, what)
            continue
        taken = walk.text(state, token.prefix)
        if token.pattern:
            taken = walk.expression(taken, *_parse_expression(token.pattern), what=what)
        taken = walk.text(taken, token.suffix)
        state = _merge(state, taken) if token.modifier == "?" else taken
    _limit(walk, "path")


def _consumed(regex: str) -> frozenset[str]:
    """Every character an expression can take (its repeats' and its single characters')."""
    chars: set[str] = set()

    def visit(items: t.Iterable[tuple[t.Any, t.Any]]) -> None:
        for op, av in items:
            name = _op(op)
            if name in _SINGLE:
                chars.update(_single(name, av, True))
            elif name == "SUBPATTERN":
                visit(av[3])
            elif name == "ATOMIC_GROUP":
                visit(av)
            elif name == "BRANCH":
                for branch in av[1]:
                    visit(branch)
            elif name in _REPEATS:
                visit(av[2])
            elif name not in _ASSERTS and name != "AT":
                chars.update(_ALPHABET)

    visit(_parse_expression(regex)[0])
    return frozenset(chars)


def check_expression(regex: str, what: str) -> None:
    """Refuse a condition's ``value`` expression that could not be matched in linear time.

    :raises PatternError: as :func:`check_linear`.
    """
    walk = _Walk()
    walk.expression((), *_parse_expression(regex), what=what)
    _limit(walk, "value")
