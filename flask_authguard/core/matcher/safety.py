"""Start-up checks that keep matching fast: patterns that would backtrack badly are refused."""

from __future__ import annotations

import re

from .lexer import PatternError
from .parse import FLAGS, Param, js_to_python


def check_repeatable(param: Param) -> None:
    """Refuse a repeated parameter whose expression can match its own separator.

    ``(?:/(?:P)(?:/(?:P))*)`` splits a path one way only when ``P`` cannot match ``/``;
    otherwise every split is tried when a later part fails, which is exponential. The probe
    strings catch the usual culprits (``.*``, ``.+``, ``[^x]+``...); it is a heuristic.
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

