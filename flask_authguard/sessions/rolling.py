"""The rolled session cookie, issued at most once per second for the same claims.

next-auth re-issues the JWT on every session read: ``iat`` is now, ``exp`` now plus
``session.maxAge`` (both whole seconds), a new random ``jti`` and IV, and the cookie's
``Expires`` moves with it. Two reads in the same second of the same claims therefore issue
tokens that differ only in their random parts (``jti``, IV, and so the ciphertext), never in
what any reader decides on. So the ``Set-Cookie`` values made for such a read are kept for the
rest of that second and handed to the next read of the same token (its ``jti``) with the same
claims, cookie names and options: the same ``iat``, ``exp`` and ``Expires`` a fresh encode would
give, without the encryption. Keyed by the incoming ``jti`` too, so two sessions (two devices)
never share a re-issued token, whatever their claims: revoking one's ``jti`` never touches the
other. A new second, other claims (after ``callbacks.jwt``), another ``Expires`` or a
custom ``jwt.encode`` always encode anew, so the rolling window is exactly next-auth's.

The usual read re-issues the very claims the cookie decoded to (``callbacks.jwt`` returned
them unchanged): then the incoming token itself stands for them in the key, which saves
serialising them. "Unchanged" is checked strictly (same keys in the same order, plain values of
the same types, compared with a copy of the decoded claims nobody else held), so the key never
stands for claims that would encode otherwise.

At most :data:`MAX_ENTRIES` sets of cookies are kept, all of the current second.
"""

from __future__ import annotations

import json
import math
import threading
import typing as t
from operator import is_

from ..core import _clock

#: Entries kept (all of the current second): one per distinct identity reading in that second.
MAX_ENTRIES = 1024

# Set by encode(): their values never reach the new token. (``jti`` is kept in the key: it tells
# one incoming token, so one session, from another.)
_REISSUED = ("iat", "exp")


class RolledCookies:
    """The ``Set-Cookie`` values issued in the current second, by what they were made from."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._entries: dict[tuple[t.Any, ...], list[str]] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        claims: t.Mapping[str, t.Any],
        options: tuple[t.Any, ...],
        expires: float,
        make: t.Callable[[], list[str] | None],
        *,
        source: tuple[str, t.Mapping[str, t.Any]] | None = None,
    ) -> list[str] | None:
        """The cookies ``make()`` gives for ``claims``, made at most once per second (``None``,
        a failure, is never kept).

        :param options: everything else the cookies depend on (secrets, salt, version, cookie
            attributes, chunk size, the request's session cookie names), hashable.
        :param expires: the cookies' ``Expires`` timestamp.
        :param source: the incoming token and a private copy of the claims it decoded to
            (with these options; nobody else may hold it): when ``claims`` are exactly those,
            plain values only, the token stands for them in the key.
        """
        try:
            if source is not None and same_flat_json(claims, source[1]):
                described: tuple[str, str] = ("token", source[0])
            else:
                # Key order matters (encode keeps the caller's), the re-stamped claims' values do not.
                shape = {k: (None if k in _REISSUED else v) for k, v in claims.items()}
                text = json.dumps(shape, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
                described = ("claims", text)
            # ``Expires`` is written in whole seconds; a timestamp this close to the next one
            # might round up to it, so it is not shared.
            expires_second = math.floor(expires)
            key = (described, options, expires_second)
            # looked up whatever the second (the lookup hashes the key, and so checks it can
            # be); used only when the entries are this second's
            found = self._entries.get(key)
        except (TypeError, ValueError, RecursionError, OverflowError):
            return make()  # not JSON, or unhashable options: nothing to share
        if expires - expires_second >= 0.999:
            return make()
        second = math.floor(_clock.now())
        if second == self._second and found is not None:
            return list(found)
        cookies = make()
        if cookies is None or math.floor(_clock.now()) != second:
            return cookies  # the second turned while encoding: iat may be the next one
        with self._lock:
            if self._second != second:
                self._second, self._entries = second, {}
            if len(self._entries) < MAX_ENTRIES:
                self._entries[key] = list(cookies)
        return cookies


_ATOMS = frozenset({str, int, float, bool, type(None)})


def same_flat_json(a: t.Mapping[str, t.Any], b: t.Mapping[str, t.Any]) -> bool:
    """Whether two claim sets of plain values serialise to the same JSON: the same keys in the
    same order, equal values of the very same types (``1``, ``1.0`` and ``True`` are told
    apart). A nested value (or any other type) counts as different."""
    if type(a) is not dict or type(b) is not dict or len(a) != len(b):
        return False
    if all(map(is_, a, b)) and all(map(is_, a.values(), b.values())):
        # The usual read: a callback that left its copy alone holds the very same keys and
        # values in the same order (what the checks below decide for them, without the lists).
        return _ATOMS.issuperset(map(type, b.values()))
    if a != b or list(a) != list(b):
        return False
    kinds = list(map(type, a.values()))
    return kinds == list(map(type, b.values())) and _ATOMS.issuperset(kinds)
