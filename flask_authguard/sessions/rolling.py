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

At most :data:`MAX_ENTRIES` sets of cookies are kept, all of the current second.
"""

from __future__ import annotations

import json
import math
import threading
import typing as t

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
    ) -> list[str] | None:
        """The cookies ``make()`` gives for ``claims``, made at most once per second (``None``,
        a failure, is never kept).

        :param options: everything else the cookies depend on (secrets, salt, version, cookie
            attributes, chunk size, the request's session cookie names), hashable.
        :param expires: the cookies' ``Expires`` timestamp.
        """
        try:
            # Key order matters (encode keeps the caller's), the re-stamped claims' values do not.
            shape = {k: (None if k in _REISSUED else v) for k, v in claims.items()}
            text = json.dumps(shape, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            # ``Expires`` is written in whole seconds; a timestamp this close to the next one
            # might round up to it, so it is not shared.
            expires_second = math.floor(expires)
            key = (text, options, expires_second)
            hash(key)
        except (TypeError, ValueError, RecursionError, OverflowError):
            return make()  # not JSON, or unhashable options: nothing to share
        if expires - expires_second >= 0.999:
            return make()
        second = math.floor(_clock.now())
        if second == self._second:
            found = self._entries.get(key)
            if found is not None:
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
