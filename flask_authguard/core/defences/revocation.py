"""Server-side ends for JWT sessions: revocation entries in the store, and the sign-in time.

A JWT session lives in the browser; to end it anywhere else the guard keeps, in the store:

- ``<prefix>u:<sub>`` = the time before which every sign-in of that user is revoked
  (:meth:`RevocationList.revoke_user`: sign out everywhere, ban a user);
- ``<prefix>s:<sid>`` = one revoked session (:meth:`RevocationList.revoke_session`), or
  ``<prefix>j:<jti>`` for a token without a ``sid``.

Tokens are re-issued on every rolling refresh, with a new ``iat``, ``exp`` and ``jti``. So the
tokens we issue carry two claims set at sign-in and kept on every refresh: ``auth_time`` (the
sign-in time, seconds with milliseconds) and ``sid`` (a random session id). A user revocation
compares ``auth_time`` (a refreshed descendant of an old sign-in is still refused); a session
revocation names the ``sid`` (every refresh of that session is refused). A token issued by
next-auth without these claims falls back to ``iat`` and ``jti``, which next-auth renews on each
of its refreshes: the security page of the docs (Revocation) has the two lines of
``callbacks.jwt`` that add them there.

Checking a token is one round trip: one ``MGET`` of its user key and its session key.
"""

from __future__ import annotations

import logging
import typing as t
import uuid

from .. import _clock
from ..errors import BackendUnavailableError
from ..settings.config import Config
from ..tokens.claims import is_number, is_timestamp
from ..tokens.jwt import CLOCK_TOLERANCE
from .store import Store

logger = logging.getLogger("flask_authguard")

#: Where a request keeps its revocation answers (one store round trip per request and token).
_CHECKED_KEY = "authguard.revocation"

#: The sign-in time claim (OpenID Connect's name) and the stable session id claim.
AUTH_TIME = "auth_time"
SESSION_ID = "sid"
#: When the identity provider last authenticated the user, for a sign-in that says (an OpenID
#: Connect ID token's ``auth_time``): a step-up check (``max_age``) measures from it. It is kept
#: apart from ``auth_time``, the session's start, which revocations and ``session.max_lifetime``
#: measure from: a new session after "sign out everywhere" is not revoked, nor born past its
#: lifetime, because the provider remembered the user from yesterday.
IDP_AUTH_TIME = "idp_auth_time"
#: The ``idp_auth_time`` of a sign-in whose authentication time is unknown (an ID token without
#: ``auth_time``): the epoch, older than any ``max_age``.
UNKNOWN_AUTH_TIME = 0.0


def user_of(claims: t.Mapping[str, t.Any]) -> str | None:
    """The user a token is for, as revocations and the device list key it: its ``sub`` as text.
    A whole number (an app's ``callbacks.jwt`` may set ``token["sub"] = user.id``) counts as its
    decimal text, as ``revoke_user(42)`` spells it; anything else (none, empty, a bool, a float,
    a list) is no user."""
    sub = claims.get("sub")
    if isinstance(sub, str):
        return sub or None
    if isinstance(sub, int) and not isinstance(sub, bool):
        return str(sub)
    return None


def sign_in_times(authenticated_at: float | None = None) -> dict[str, float]:
    """A new session's times: ``auth_time`` (now, to the millisecond) and, when the sign-in says
    when the identity provider authenticated the user
    (:attr:`~flask_authguard.providers.base.SignInResult.authenticated_at`), that moment, at
    most now, as ``idp_auth_time``."""
    now = round(_clock.now(), 3)
    times = {AUTH_TIME: now}
    if authenticated_at is not None:
        times[IDP_AUTH_TIME] = min(round(authenticated_at, 3), now)
    return times


def sign_in_claims(authenticated_at: float | None = None) -> dict[str, t.Any]:
    """The claims a new session starts with: its times (:func:`sign_in_times`) and a random
    ``sid``."""
    return {**sign_in_times(authenticated_at), SESSION_ID: str(uuid.uuid4())}


def carry_sign_in_claims(previous: t.Mapping[str, t.Any], token: dict[str, t.Any]) -> dict[str, t.Any]:
    """``token`` (after ``callbacks.jwt``) with ``previous``'s ``auth_time``, ``sid`` and
    ``idp_auth_time``: the sign-in times and the session id never change on a refresh, whatever
    the callback returned."""
    if AUTH_TIME in previous:  # (spelt out: a loop costs more than its three steps)
        token[AUTH_TIME] = previous[AUTH_TIME]
    if SESSION_ID in previous:
        token[SESSION_ID] = previous[SESSION_ID]
    if IDP_AUTH_TIME in previous:
        token[IDP_AUTH_TIME] = previous[IDP_AUTH_TIME]
    return token


def authenticated_time(claims: t.Mapping[str, t.Any]) -> float | None:
    """When the user of ``claims`` last authenticated, as a step-up check (``max_age``) measures
    it: the session's ``auth_time``, or the identity provider's ``idp_auth_time`` when the token has
    one and it is earlier; ``None`` (unknown) when either is there but is no moment."""
    started = claims.get(AUTH_TIME)
    if not is_timestamp(started):
        return None
    authenticated = claims.get(IDP_AUTH_TIME, started)
    if not is_timestamp(authenticated):
        return None
    return float(min(started, authenticated))


def sign_in_time(claims: t.Mapping[str, t.Any]) -> float | None:
    """When the session of ``claims`` started: ``auth_time``, else ``iat``, else ``None``."""
    for name in (AUTH_TIME, "iat"):
        value = claims.get(name)
        if is_timestamp(value):  # a huge number would not convert: unknown
            return float(value)
    return None


def lifetime_left(claims: t.Mapping[str, t.Any], config: Config) -> float | None:
    """Seconds left before ``session.max_lifetime`` ends this session (``<= 0``: ended);
    ``None`` when there is no absolute limit. A token without ``auth_time`` has none left:
    its sign-in time is unknown, and an absolute limit must not be dodged by dropping it."""
    if config.max_lifetime is None:
        return None
    started = claims.get(AUTH_TIME)
    if not is_timestamp(started):
        return 0.0
    return float(started) + config.max_lifetime - _clock.now()


def _session_ttl(config: Config) -> float:
    """How long a session entry must last: as long as any token of that session may still be
    accepted (refreshes stop once it is revoked)."""
    if config.max_lifetime is not None:
        return config.max_lifetime + CLOCK_TOLERANCE
    return max(config.session_max_age, config.jwt_max_age) + CLOCK_TOLERANCE


class RevocationList:
    """The revocation entries of one store.

    :param store: where they live.
    :param config: the resolved options (lifetimes bound how long entries are kept).
    """

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        # The key prefixes, made once: every request builds its keys from them.
        prefix = store.prefix
        self._user, self._session, self._token = f"{prefix}u:", f"{prefix}s:", f"{prefix}j:"

    def live(self, environ: t.MutableMapping[str, t.Any], claims: t.Any) -> t.Any:
        """``claims``, or ``None`` when the session is past ``session.max_lifetime`` or revoked:
        what every reader of a JWT session (the guard's token, the session read) asks before
        trusting a decoded token.

        Asked once per request and token: the guard's check and a later session read share the
        answer (a store failure too, which is raised again rather than retried).

        :raises BackendUnavailableError: the store cannot be reached (the request gets 503).
        """
        if claims is None:
            return None
        if self.config.max_lifetime is not None:
            left = lifetime_left(claims, self.config)
            if left is not None and left <= 0:
                logger.debug("session past session.max_lifetime: no session")
                return None
        if self.store.is_empty():  # a memory store nobody revoked in: nothing to ask
            return claims
        keys = self.keys_for(claims)
        if not keys:
            return claims
        memo: dict[tuple[str, ...], t.Any] = environ.setdefault(_CHECKED_KEY, {})
        answer = memo.get(keys)
        if answer is None:
            try:
                answer = self.is_revoked(claims, keys)
            except BackendUnavailableError as exc:
                memo[keys] = exc
                raise
            memo[keys] = answer
        elif isinstance(answer, BackendUnavailableError):
            raise answer
        if answer:
            logger.debug("session token revoked: no session")
            return None
        return claims

    def keys_for(self, claims: t.Mapping[str, t.Any]) -> tuple[str, ...]:
        """The store keys that may revoke ``claims``: its user's and its session's."""
        sub, sid = user_of(claims), claims.get(SESSION_ID)
        user = None if sub is None else self._user + sub
        if isinstance(sid, str) and sid:
            session: str | None = self._session + sid
        else:
            jti = claims.get("jti")
            session = self._token + jti if isinstance(jti, str) and jti else None
        if user is None:
            return () if session is None else (session,)
        return (user,) if session is None else (user, session)

    def is_revoked(self, claims: t.Mapping[str, t.Any], keys: tuple[str, ...] | None = None) -> bool:
        """Whether ``claims`` were revoked; one round trip to the store.

        :param keys: ``keys_for(claims)``, when the caller has them already.
        :raises BackendUnavailableError: the store cannot be reached.
        """
        if keys is None:
            keys = self.keys_for(claims)
        if not keys or self.store.is_empty():
            return False
        values = self.store.get_many(keys)
        return self.decide(claims, keys, values)

    def decide(
        self, claims: t.Mapping[str, t.Any], keys: t.Sequence[str], values: t.Sequence[str | None]
    ) -> bool:
        """The verdict from the stored ``values`` of ``keys`` (see :meth:`keys_for`)."""
        user_prefix = self._user
        for key, value in zip(keys, values, strict=True):
            if value is None:
                continue
            if not key.startswith(user_prefix):
                return True  # the session (or this very token) was revoked
            try:
                before = float(value)
            except ValueError:
                return True  # an unreadable entry: refuse rather than guess
            if not is_number(before):
                return True  # "nan" or "inf" reads as a number, but compares as none: refuse too
            started = sign_in_time(claims)
            if started is None or started <= before:
                return True
        return False

    def revoke_user(self, user_id: str) -> None:
        """Revoke every session of ``user_id`` that started until now (its ``sub``).

        :raises BackendUnavailableError: the store cannot be reached.
        """
        ttl = None if self.config.max_lifetime is None else self.config.max_lifetime + CLOCK_TOLERANCE
        self.store.put(f"{self.store.prefix}u:{user_id}", repr(round(_clock.now(), 3)), ttl)

    def revoke_session(self, claims: t.Mapping[str, t.Any]) -> str:
        """Revoke the session of ``claims``: its ``sid`` (every refresh of it), else its ``jti``
        (this token only, until its ``exp``).

        :returns: ``"sid"`` or ``"jti"``, what was revoked.
        :raises ValueError: the token has neither claim.
        :raises BackendUnavailableError: the store cannot be reached.
        """
        prefix = self.store.prefix
        sid, jti = claims.get(SESSION_ID), claims.get("jti")
        if isinstance(sid, str) and sid:
            self.store.put(f"{prefix}s:{sid}", "1", _session_ttl(self.config))
            return "sid"
        if isinstance(jti, str) and jti:
            exp = claims.get("exp")
            left = float(exp) - _clock.now() if is_number(exp) else _session_ttl(self.config)
            self.store.put(f"{prefix}j:{jti}", "1", max(1.0, left + CLOCK_TOLERANCE))
            return "jti"
        raise ValueError("the token has neither a 'sid' nor a 'jti' claim: revoke its user instead")
