"""A token's claims: written (:func:`claims_json`: ``iat``, ``exp`` and a ``jti`` added, as
``JSON.stringify`` writes them) and checked once decrypted (:func:`check_claims`: a JSON object
without NaN or Infinity, a numeric ``exp`` in the future and ``iat``/``nbf`` numbers when
present, with next-auth's clock tolerance)."""

from __future__ import annotations

import json
import math
import os
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


#: The latest ``expires_at`` kept of a provider's tokens (seconds since the epoch, in the year
#: 33658): a later one is cut to it, a negative one to 0.
LATEST_EXPIRY = 10**12
#: The longest ``expires_in`` taken from a provider (about 317 years).
LONGEST_EXPIRES_IN = 10**10


def kept_expiry(*, expires_in: object = None, expires_at: object = None) -> int | None:
    """The ``expires_at`` to keep of a provider's token answer: ``expires_in`` seconds from now
    (cut to 0 .. :data:`LONGEST_EXPIRES_IN`), else ``expires_at``; an integer from 0 to
    :data:`LATEST_EXPIRY`, so that no later expiry check overflows. ``None`` when neither is a
    finite number.

    :param expires_in: the answer's ``expires_in``, as sent.
    :param expires_at: the answer's ``expires_at`` (or one Authlib computed), as sent.
    """
    if is_number(expires_in):
        expires_at = _clock.now() + min(max(expires_in, 0), LONGEST_EXPIRES_IN)
    elif not is_number(expires_at):
        return None
    return int(min(max(expires_at, 0), LATEST_EXPIRY))


def is_timestamp(value: object) -> t.TypeGuard[int | float]:
    """Whether ``value`` is a moment one can compute with and convert (``float``, ``datetime``):
    a finite number of seconds from 0 to :data:`LATEST_EXPIRY` (what :func:`kept_expiry` keeps).
    A stored record's times (when a session signed in, was last seen, its provider tokens'
    ``expires_at``) are read with it; anything else is "unknown"."""
    return is_number(value) and 0 <= value <= LATEST_EXPIRY


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


def _now() -> int:
    return math.floor(_clock.now())


def _jti() -> str:
    """A random version 4 UUID, next-auth's ``jti`` (``crypto.randomUUID()``): 16 random bytes
    in hex, with the version nibble ``4`` and the variant bits ``10``, as RFC 9562 lays them out
    (``str(uuid.uuid4())`` spelt out: its class checks and converts the bytes several times)."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


#: The claims' JSON as ``JSON.stringify`` writes it (made once: ``json.dumps`` with options builds
#: an encoder per call).
_CLAIMS_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def claims_json(token: t.Mapping[str, t.Any], max_age: float) -> bytes:
    """The plaintext of a token that lives ``max_age`` seconds from now: ``token``'s claims (in
    their order) with ``iat``, ``exp`` and a new ``jti``, as ``JSON.stringify`` writes them.

    :raises ValueError: a claim that JSON cannot hold.
    """
    now = _now()
    exp = now + max_age
    if isinstance(exp, float) and exp.is_integer():
        exp = int(exp)  # JS writes 1700003600, not 1700003600.0
    # jose overwrites iat/exp/jti in place, so a caller's key order is kept.
    claims = dict(token)
    claims["iat"] = now
    claims["exp"] = exp
    claims["jti"] = _jti()
    try:
        text = _CLAIMS_ENCODER.encode(claims)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"token claims must be JSON-serialisable: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate: JSON.stringify escapes it (\ud800); only ASCII escapes can here.
        return json.dumps(claims, separators=(",", ":"), allow_nan=False).encode("ascii")
