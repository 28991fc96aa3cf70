"""path-to-regexp 6.3's lexer: a pattern source to tokens."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import unquote

#: A run of percent-escapes in a pattern's text (``%C3%A9``).
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


class PatternError(Exception):
    """A pattern could not be parsed; turned into :class:`ConfigurationError` with its source."""


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str  # MODIFIER, ESCAPED_CHAR, OPEN, CLOSE, NAME, PATTERN, CHAR, END
    index: int
    value: str


def lex(source: str) -> list[Token]:
    """path-to-regexp's lexer (v6.3), with one addition: a run of percent-escapes outside a
    ``(regex)`` is decoded (UTF-8; bytes that are not UTF-8 read as U+FFFD, as in a request's
    path), and each character it gives is literal text (``%3A`` is a ``:``, never a parameter),
    since the path matched is decoded text. ``\\%`` keeps a literal ``%``."""
    tokens: list[Token] = []
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char in "*+?":
            tokens.append(Token("MODIFIER", i, char))
            i += 1
        elif char == "\\":
            if i + 1 >= n:
                raise PatternError(f"a trailing backslash at {i} escapes nothing")
            tokens.append(Token("ESCAPED_CHAR", i, source[i + 1]))
            i += 2
        elif char == "{":
            tokens.append(Token("OPEN", i, char))
            i += 1
        elif char == "}":
            tokens.append(Token("CLOSE", i, char))
            i += 1
        elif char == ":":
            j = i + 1
            while j < n and (source[j].isascii() and (source[j].isalnum() or source[j] == "_")):
                j += 1
            if j == i + 1:
                raise PatternError(f"missing parameter name after ':' at {i}")
            tokens.append(Token("NAME", i, source[i + 1 : j]))
            i = j
        elif char == "(":
            i = lex_group(source, i, tokens)
        elif char == "%" and (run := _ESCAPES.match(source, i)) is not None:
            tokens.extend(Token("CHAR", i, decoded) for decoded in unquote(run.group()))
            i = run.end()
        elif char == ")":
            # path-to-regexp would take it as a literal; it is almost always a typo.
            raise PatternError(f"unbalanced parenthesis ')' at {i} (write '\\)' for a literal one)")
        else:
            tokens.append(Token("CHAR", i, char))
            i += 1
    tokens.append(Token("END", n, ""))
    return tokens


def lex_group(source: str, start: int, tokens: list[Token]) -> int:
    """Lex a parenthesised regular expression starting at ``start``; return the index after it."""
    n = len(source)
    j = start + 1
    if j < n and source[j] == "?":
        raise PatternError(f"a pattern cannot start with '?' at {j}")
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
                raise PatternError(
                    f"capturing group at {j}: use a non-capturing group '(?:...)' inside a pattern"
                )
        j += 1
    if depth:
        raise PatternError(f"unbalanced parenthesis '(' at {start}: no matching ')'")
    pattern = source[start + 1 : j]
    if not pattern:
        raise PatternError(f"empty pattern '()' at {start}")
    tokens.append(Token("PATTERN", start, pattern))
    return j + 1
