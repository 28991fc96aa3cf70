"""The checks a decrypted token's claims pass: a JSON object without NaN or Infinity, a numeric
``exp`` in the future and ``iat``/``nbf`` numbers when present, with next-auth's clock tolerance."""

from __future__ import annotations

import json
import math
import typing as t

from . import _clock
from .errors import InvalidTokenError, TokenExpiredError

#: Seconds of clock skew tolerated on ``exp`` and ``nbf`` (next-auth's value).
CLOCK_TOLERANCE = 15


def _reject_constant(name: str) -> t.NoReturn:
    raise ValueError(f"non-finite number {name}")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True  # math.isfinite would overflow on a huge int
    return isinstance(value, float) and math.isfinite(value)


def _check_claims(claims: dict[str, t.Any]) -> None:
    now = _clock.now()
    exp = claims.get("exp")
    if not _is_number(exp):
        raise InvalidTokenError("exp claim missing or not a number")
    for name in ("iat", "nbf"):
        if name in claims and not _is_number(claims[name]):
            raise InvalidTokenError(f"{name} claim is not a number")
    if now >= exp + CLOCK_TOLERANCE:  # type: ignore[operator]
        raise TokenExpiredError("token has expired")
    if "nbf" in claims and claims["nbf"] > now + CLOCK_TOLERANCE:
        raise InvalidTokenError("token is not valid yet (nbf)")
