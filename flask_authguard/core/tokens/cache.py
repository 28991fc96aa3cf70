"""The verified-token cache: tokens that decrypted and checked out, so a session's repeat
requests skip the crypto (bounded; see :class:`VerifiedTokenCache`)."""

from __future__ import annotations

import copy
import threading
import typing as t

from .. import _clock
from ..errors import InvalidTokenError, TokenError, TokenExpiredError
from .claims import CLOCK_TOLERANCE, check_claims, is_number

#: ``verify(token, secrets, salt, version)``: a token's claims, decrypted and checked.
Verify = t.Callable[[str, tuple[str, ...], str, int], dict[str, t.Any]]


class VerifiedTokenCache:
    """Tokens that decrypted and checked out, so a session's repeat requests skip the crypto.

    Bounded (oldest out first); keyed by the exact token text *and* the secrets, salt and
    version it was verified with; failures are never stored; ``exp`` and ``nbf`` are checked
    again on every hit; each hit hands out a fresh copy, so no caller can change what others
    get. Only tokens that authenticated decryption accepted get in, so a hit is as good as a
    decryption.

    :param verify: ``verify(token, secrets, salt, version)``: the claims of a token the cache does
        not hold, decrypted and checked (raising :class:`~flask_authguard.core.errors.TokenError`
        when it does not check out).
    :param maxsize: entries kept.
    :param max_token_length: longer tokens are not kept (a memory bound).
    """

    def __init__(self, verify: Verify, maxsize: int = 1024, max_token_length: int = 16 * 1024) -> None:
        self.verify = verify
        self.maxsize = maxsize
        self.max_token_length = max_token_length
        # claims, and for claims whose timestamps are numbers (all that decode() stores): exp,
        # nbf and whether every value is atomic (then a shallow copy is a fresh copy).
        self._entries: dict[tuple[t.Any, ...], tuple[dict[str, t.Any], t.Any, t.Any, bool]] = {}
        self._lock = threading.Lock()

    def claims(self, token: str, secrets: tuple[str, ...], salt: str, version: int) -> dict[str, t.Any]:
        """The claims of ``token`` verified under ``secrets``, ``salt`` and ``version``: a copy of
        the kept ones (checked against the clock), else verified now and kept.

        :raises TokenError: the token does not check out (or a kept one has expired).
        """
        key = (token, version, salt, secrets)
        entry = self._entries.get(key)
        if entry is None:
            claims = self.verify(token, secrets, salt, version)
            self.put(key, claims)
            return claims
        claims, exp, nbf, atomic = entry
        if exp is None:  # claims put() got without numeric timestamps: the full check
            try:
                check_claims(claims)
            except TokenError:
                self._entries.pop(key, None)
                raise
        else:  # what check_claims decides, on the timestamps it checked when the entry was made
            now = _clock.now()
            if now >= exp + CLOCK_TOLERANCE:
                self._entries.pop(key, None)
                raise TokenExpiredError("token has expired")
            if nbf is not None and nbf > now + CLOCK_TOLERANCE:
                self._entries.pop(key, None)
                raise InvalidTokenError("token is not valid yet (nbf)")
        return claims.copy() if atomic else _fresh_copy(claims)

    def put(self, key: tuple[t.Any, ...], claims: dict[str, t.Any]) -> None:
        """Keep a copy of verified ``claims``."""
        if len(key[0]) > self.max_token_length or self.maxsize <= 0:
            return
        stored = _fresh_copy(claims)
        atomic = all(isinstance(v, _ATOMIC) for v in stored.values())
        exp, nbf = stored.get("exp"), stored.get("nbf")
        timed = is_number(exp) and all(n not in stored or is_number(stored[n]) for n in ("iat", "nbf"))
        entry = (stored, exp, nbf, atomic) if timed else (stored, None, None, atomic)
        with self._lock:
            while len(self._entries) >= self.maxsize:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key] = entry

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_ATOMIC = (str, int, float, bool, type(None))


def _fresh_copy(claims: dict[str, t.Any]) -> dict[str, t.Any]:
    return {k: v if isinstance(v, _ATOMIC) else copy.deepcopy(v) for k, v in claims.items()}
