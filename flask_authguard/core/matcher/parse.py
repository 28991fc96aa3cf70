"""path-to-regexp 6.3's parser: tokens to literal text and parameters."""

from __future__ import annotations

import dataclasses
import re

from .lexer import PatternError, lex

#: Flags of every compiled expression: JavaScript's ASCII classes; ``.`` spans line breaks.
FLAGS = re.ASCII | re.DOTALL
#: path-to-regexp's defaults, as Next.js calls it.
PREFIXES = "./"
DELIMITERS = "/#?"
#: The only delimiter of a decoded WSGI path (see the module notes).
SEGMENT = "[^/]"
#: A JavaScript named group ``(?<name>`` (not a lookbehind), not preceded by an escape.
JS_NAMED_GROUP = re.compile(r"(?<!\\)((?:\\\\)*)\(\?<([A-Za-z_$][\w$]*)>")


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    prefix: str
    suffix: str
    #: The parameter's regular expression (``""`` for a ``{...}`` group of text only).
    pattern: str
    modifier: str
    #: Whether ``pattern`` is the user's own expression rather than path-to-regexp's segment form.
    custom: bool = False


def parse(source: str) -> list[str | Param]:
    """path-to-regexp's parser (v6.3): literal strings and parameters."""
    tokens = lex(source)
    result: list[str | Param] = []
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
        raise PatternError(f"unexpected {found} at {token.index}, expected {EXPECTED[kind]}")

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
            assert isinstance(prev, Param)
            raise PatternError(f"parameters need text between them, none after {prev.name!r}")
        if not prev_text or any(d in prev_text for d in DELIMITERS):
            return f"{SEGMENT}+?"
        return f"(?:(?!{re.escape(prev_text)}){SEGMENT})+?"

    while i < len(tokens):
        char = try_consume("CHAR")
        name = try_consume("NAME")
        pattern = try_consume("PATTERN")
        if name or pattern:
            prefix = char or ""
            if prefix and prefix not in PREFIXES:
                path += prefix
                prefix = ""
            if path:
                result.append(path)
                path = ""
            if not name:
                name, key = str(key), key + 1
            result.append(
                Param(
                    name=name,
                    prefix=prefix,
                    suffix="",
                    pattern=pattern or safe_pattern(prefix),
                    modifier=try_consume("MODIFIER") or "",
                    custom=bool(pattern),
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
                Param(
                    name=name,
                    prefix=prefix,
                    suffix=suffix,
                    pattern=safe_pattern(prefix) if name and not pattern else pattern,
                    modifier=try_consume("MODIFIER") or "",
                    custom=bool(pattern),
                )
            )
            continue
        must_consume("END")
    return result


EXPECTED = {"END": "the end of the pattern", "CLOSE": "'}'"}


def js_to_python(regex: str) -> str:
    """Accept JavaScript's named groups; the names are never used, so they become plain groups."""
    return JS_NAMED_GROUP.sub(lambda m: f"{m.group(1)}(?:", regex)
