"""The checks a decrypted token's claims pass: a JSON object without NaN or Infinity, a numeric
``exp`` in the future and ``iat``/``nbf`` numbers when present, with next-auth's clock tolerance."""

from __future__ import annotations

import json
import math
import typing as t

from .. import _clock
from ..errors import InvalidTokenError, TokenExpiredError

#: Seconds of clock skew tolerated on ``exp`` and ``nbf`` (next-auth's value).
CLOCK_TOLERANCE = 15


def reject_constant(name: str) -> t.NoReturn:
    """``parse_constant`` hook: a token whose JSON holds ``NaN`` or ``Infinity`` is refused."""
    raise ValueError(f"non-finite number {name}")


#: The JSON decoder for token headers and claims (no ``NaN``/``Infinity``).
JSON_DECODER = json.JSONDecoder(parse_constant=reject_constant)


def is_number(value: object) -> t.TypeGuard[int | float]:
    """Whether ``value`` is a finite JSON number (``bool`` is not one)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True  # math.isfinite would overflow on a huge int
    return isinstance(value, float) and math.isfinite(value)


def check_claims(claims: dict[str, t.Any]) -> None:
    """Check the time claims of a decrypted token.

    :raises InvalidTokenError: ``exp`` missing or not a number, ``iat``/``nbf`` not numbers,
        or ``nbf`` in the future.
    :raises TokenExpiredError: ``exp`` has passed (beyond :data:`CLOCK_TOLERANCE`).
    """
    now = _clock.now()
    exp = claims.get("exp")
    if not is_number(exp):
        raise InvalidTokenError("exp claim missing or not a number")
    for name in ("iat", "nbf"):
        if name in claims and not is_number(claims[name]):
            raise InvalidTokenError(f"{name} claim is not a number")
    if now >= exp + CLOCK_TOLERANCE:
        raise TokenExpiredError("token has expired")
    if "nbf" in claims and claims["nbf"] > now + CLOCK_TOLERANCE:
        raise InvalidTokenError("token is not valid yet (nbf)")
